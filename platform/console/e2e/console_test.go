package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// chromium finds the browser: CAMPAIGNS_TEST_CHROMIUM, else Debian's chromium (installed by
// .ci/run) or another Chromium/Chrome on the PATH. Missing, the test skips, or fails when
// CAMPAIGNS_TEST_REQUIRE_SERVICES=1 (CI).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CAMPAIGNS_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium found (apt-get install -y chromium, or set CAMPAIGNS_TEST_CHROMIUM)"
	if os.Getenv("CAMPAIGNS_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + "; CAMPAIGNS_TEST_REQUIRE_SERVICES=1 requires it")
	}
	t.Skip(msg)
	return ""
}

// artifacts is where the screenshots go: $CAMPAIGNS_TEST_ARTIFACTS/console, or a temporary
// directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAMPAIGNS_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// browserLog collects what the page reports as errors: console.error and console.warn calls,
// uncaught exceptions, and the browser's own error entries (failed loads, CSP violations).
type browserLog struct {
	mu     sync.Mutex
	errors []string
}

func (b *browserLog) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

func (b *browserLog) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// watch collects the page's errors and warnings from chromedp.Console until ctx ends.
func (b *browserLog) watch(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				where := m.URL
				if m.Source != "" {
					where = m.Source + " " + where
				}
				b.add(fmt.Sprintf("%s (%s)", m, where))
			}
		}
	}()
}

// newBrowser starts headless Chromium with a fresh profile and the flags that keep it off the
// (closed) network, at a laptop's screen size.
func newBrowser(t *testing.T) (context.Context, *browserLog) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("lang", "en-GB"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	bl := &browserLog{}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		t.Fatalf("start Chromium: %v", err)
	}
	bl.watch(ctx)
	return ctx, bl
}

// run runs the steps, failing the test with what step said.
func run(t *testing.T, ctx context.Context, step string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// get runs one action and returns its value, failing the test on error.
func get[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, expr, chromedp.Evaluate[T](expr))
}

// waitFor polls a JavaScript condition until it holds.
func waitFor(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))
}

// screenshot saves the page (sel "") or one element as dir/name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string, sel string) {
	t.Helper()
	action := chromedp.FullScreenshot(100) // 100: PNG
	if sel != "" {
		action = chromedp.Screenshot(chromedp.CSS(sel))
	}
	png := get(t, ctx, "screenshot "+name, action)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	t.Logf("screenshot %s", path)
}

// auditJS lists what fails the console's accessibility and layout rules on the current page:
// form controls without a label, buttons and links without text, text whose contrast with its
// background is below WCAG AA (4.5:1, 3:1 for large text; disabled controls are exempt), and
// a page wider than the window (a laptop's 1366 x 768).
const auditJS = `(() => {
  const out = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) {
      out.push('no label: ' + el.outerHTML.slice(0, 80));
    }
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (visible(el) && !el.textContent.trim() && !el.getAttribute('aria-label')) out.push('no text: ' + el.outerHTML.slice(0, 80));
  }
  const rgb = (c) => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || seen.has(el) || !visible(el) || el.closest('[disabled], option, .u-legend')) continue;
    seen.add(el);
    const st = getComputedStyle(el);
    const fg = lum(rgb(st.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + el.tagName + ' "' + n.textContent.trim().slice(0, 40) + '"');
  }
  if (document.documentElement.scrollWidth > window.innerWidth) out.push('wider than the window: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
  return out;
})()`

// audit fails the test with what the page breaks of the rules of auditJS.
func audit(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	if problems := eval[[]string](t, ctx, auditJS); len(problems) > 0 {
		t.Errorf("%s: %d accessibility or layout problems:\n%s", page, len(problems), strings.Join(problems, "\n"))
	}
}

func newCampaignBody(name string) map[string]any {
	return map[string]any{
		"name": name, "type": "COUPON", "startDate": time.Now().UTC().Format(time.RFC3339),
		"budget":   map[string]any{"amount": "500.00", "currency": "EUR"},
		"settings": map[string]any{"channels": []string{"SMS"}, "frequency": "ONCE"},
	}
}

// TestConsoleInBrowser creates a campaign through the console, activates it (after the dry
// run's verdict), sends tracking events through the API and watches the KPIs and the chart
// update on their own; it looks at the list's filters and paging, and checks the browser
// reported no error on the way. Screenshots of the main pages are saved (see artifacts).
func TestConsoleInBrowser(t *testing.T) {
	ctx, blog := newBrowser(t)
	dir := artifacts(t)
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	bg, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.API.RunBackground(bg) }() // the worker: aggregation
	t.Cleanup(func() { stop(); <-done })

	// Two campaigns made through the API, so that the list has more than one page at 2 a page.
	const user = "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11"
	for _, name := range []string{"Winter clearance", "Loyalty welcome"} {
		r := s.Do(http.MethodPost, "/api/v1/campaigns", newCampaignBody(name), "X-User-ID", user)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
		}
	}

	// The list, with no credentials: the `none` mode on loopback just works.
	run(t, ctx, "open the list",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#campaign-table")),
	)
	rows := eval[int](t, ctx, `document.querySelectorAll('#campaign-table tbody tr').length`)
	if rows != 2 {
		t.Fatalf("the list shows %d campaigns, want 2", rows)
	}

	// Create a campaign through the console's form, with an A/B test on two channels.
	const name = "Console spring sale"
	run(t, ctx, "fill the form",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=description]`), "20% off, made in the console"),
		// Activation needs a targeting rule (activation.allow_untargeted is off); the test API
		// has no Rules Engine, so the rule is not looked up.
		chromedp.SendKeys(chromedp.CSS(`textarea[name=targetingRules]`), "3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"),
		chromedp.Click(chromedp.CSS(`#channel-push`)),
		chromedp.Click(chromedp.CSS(`#ab-enabled`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=variantKey]`)),
	)
	audit(t, ctx, "the new-campaign form")
	screenshot(t, ctx, dir, "2-new-campaign-form", "")
	run(t, ctx, "submit the form",
		chromedp.Click(chromedp.CSS(`form.create button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=DRAFT]`)),
	)
	path := eval[string](t, ctx, `window.location.pathname`)
	id := strings.TrimPrefix(path, "/console/campaigns/")
	if id == path || id == "" {
		t.Fatalf("after creating, the console is at %q, not a campaign page", path)
	}
	created := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
	if created["name"] != name || created["status"] != "DRAFT" {
		t.Fatalf("the API has %v %v, want %q DRAFT", created["name"], created["status"], name)
	}
	settings := created["settings"].(map[string]any)
	if ab, _ := settings["abTestSettings"].(map[string]any); ab == nil || ab["enabled"] != true {
		t.Fatalf("the campaign has no A/B test: %v", settings["abTestSettings"])
	}

	// A cancel shows its dry-run reasons before anything is confirmed: without a reason it is
	// blocked; with one it is allowed. Going back changes nothing.
	run(t, ctx, "judge a cancel",
		chromedp.Click(chromedp.CSS(`button[data-action=cancel]`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-verdict [data-allowed=false]`)),
	)
	reasons := get(t, ctx, "read the reasons", chromedp.Text(chromedp.CSS(`#action-verdict .reasons`)))
	if !strings.Contains(reasons, "reason") {
		t.Fatalf("the blocked cancel shows %q, want the missing reason", reasons)
	}
	confirmDisabled := eval[bool](t, ctx, `document.querySelector('#action-dialog button[type=submit]').disabled`)
	if !confirmDisabled {
		t.Fatal("a blocked action can be confirmed")
	}
	audit(t, ctx, "the cancel dialog")
	screenshot(t, ctx, dir, "3-cancel-dry-run-blocked", "#action-dialog")
	run(t, ctx, "give a reason",
		chromedp.SendKeys(chromedp.CSS(`#action-dialog textarea[name=reason]`), "changed my mind"),
		chromedp.WaitVisible(chromedp.CSS(`#action-verdict [data-allowed=true]`)),
		chromedp.Click(chromedp.Search(`//dialog[@id="action-dialog"]//button[text()="Back"]`)),
		waitFor(`!document.getElementById('action-dialog').open`, 5*time.Second),
	)

	// Activate: the dry run says it is allowed, then the user confirms.
	run(t, ctx, "activate",
		chromedp.Click(chromedp.CSS(`button[data-action=activate]`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-verdict [data-allowed=true]`)),
		chromedp.SendKeys(chromedp.CSS(`#action-dialog textarea[name=reason]`), "launch"),
		chromedp.WaitVisible(chromedp.CSS(`#action-verdict [data-allowed=true]`)),
	)
	screenshot(t, ctx, dir, "4-activate-dry-run", "#action-dialog")
	run(t, ctx, "confirm the activation",
		waitFor(`!document.querySelector('#action-dialog button[type=submit]').disabled`, 5*time.Second),
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=ACTIVE]`)),
		chromedp.WaitVisible(chromedp.CSS(`#serving-status[data-status=SERVING]`)),
		waitFor(`[...document.querySelectorAll('#transition-table tbody th')].some(th => th.textContent === 'activate')`, 5*time.Second),
		waitFor(`[...document.querySelectorAll('#event-table tbody th')].some(th => th.textContent === 'CampaignActivated')`, 5*time.Second),
	)
	if st := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"]; st != "ACTIVE" {
		t.Fatalf("after the console's activation the API says %v", st)
	}
	cancelled := eval[int](t, ctx, `[...document.querySelectorAll('#transition-table tbody th')].filter(th => th.textContent === 'cancel').length`)
	if cancelled != 0 {
		t.Fatal("the abandoned cancel was applied")
	}

	// Nothing counted yet: zero impressions and an empty chart.
	run(t, ctx, "empty figures",
		waitFor(`document.querySelector('[data-kpi=impressions]').textContent === '0'`, 5*time.Second),
		waitFor(`document.getElementById('performance-chart').dataset.points === '0'`, 5*time.Second),
	)

	// Tracking events through the API; the page refreshes on its own.
	now := time.Now().UTC().Format(time.RFC3339)
	var batch []map[string]any
	for i := range 6 {
		batch = append(batch, map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "EMAIL", "customerId": fmt.Sprintf("a-%d", i), "occurredAt": now})
	}
	for i := range 4 {
		batch = append(batch, map[string]any{"type": "IMPRESSION", "variant": "B", "channel": "PUSH", "customerId": fmt.Sprintf("b-%d", i), "occurredAt": now})
	}
	batch = append(batch,
		map[string]any{"type": "CLICK", "variant": "A", "channel": "EMAIL", "customerId": "a-1", "occurredAt": now},
		map[string]any{"type": "CLICK", "variant": "B", "channel": "PUSH", "customerId": "b-1", "occurredAt": now},
		map[string]any{"type": "CONVERSION", "variant": "A", "channel": "EMAIL", "customerId": "a-1", "occurredAt": now,
			"revenue": map[string]any{"amount": "59.90", "currency": "EUR"}},
		map[string]any{"type": "COST", "channel": "EMAIL", "occurredAt": now, "cost": map[string]any{"amount": "12.50", "currency": "EUR"}},
	)
	if r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/track", map[string]any{"events": batch}); r.Status != http.StatusAccepted {
		t.Fatalf("track: %d %s", r.Status, r.Body)
	}
	run(t, ctx, "the KPIs update",
		waitFor(`document.querySelector('[data-kpi=impressions]').textContent === '10'`, 30*time.Second),
		waitFor(`document.querySelector('[data-kpi=clicks]').textContent === '2'`, 10*time.Second),
		waitFor(`document.querySelector('[data-kpi=ctr]').textContent === '20.00 %'`, 10*time.Second),
		waitFor(`document.querySelector('[data-kpi=revenue]').textContent === '59.90 EUR'`, 10*time.Second),
		waitFor(`document.querySelector('[data-kpi=roas]').textContent === '4.79'`, 10*time.Second),
	)
	// One line per variant, and one for the events without one (the cost).
	run(t, ctx, "the chart updates: impressions per variant",
		waitFor(`(() => { const c = document.getElementById('performance-chart');
			return c.dataset.series === '3' && c.dataset.total === '10' && c.querySelector('canvas') !== null })()`, 10*time.Second),
	)
	legend := eval[[]string](t, ctx, `[...document.querySelectorAll('#performance-chart .u-legend th')].map(th => th.textContent.trim()).filter(Boolean)`)
	if strings.Join(legend, ",") != "Hour (UTC),No variant,A,B" {
		t.Fatalf("the chart's legend is %q, want the hour, the events without a variant, and variants A and B", legend)
	}
	audit(t, ctx, "the campaign page")
	screenshot(t, ctx, dir, "5-campaign-page", "")
	run(t, ctx, "scroll to the figures", chromedp.ScrollIntoView(chromedp.CSS(`#kpis-title`)))
	screenshot(t, ctx, dir, "6-kpis-and-chart", "main")

	// Per channel: EMAIL has the 6 impressions of A, PUSH the 4 of B.
	run(t, ctx, "group by channel",
		chromedp.SetValue(chromedp.CSS(`select[name=groupBy]`), "channel"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('select[name=groupBy]').dispatchEvent(new Event('change', {bubbles: true}))`),
		waitFor(`[...document.querySelectorAll('#performance-chart .u-legend th')].map(th => th.textContent.trim()).join(',') === 'Hour (UTC),EMAIL,PUSH'`, 10*time.Second),
	)
	cells := eval[[]string](t, ctx, `[...document.querySelectorAll('.table-wrap table.compact tbody tr:first-child td')].slice(0, 2).map(td => td.textContent)`)
	if strings.Join(cells, ",") != "6,4" {
		t.Fatalf("the chart's table gives %q per channel, want 6 (EMAIL) and 4 (PUSH)", cells)
	}

	// The list again: filtered to ACTIVE it holds the new campaign only; paged by 2 it has a
	// second page, reached by keyboard.
	run(t, ctx, "filter the list",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-table`)),
		chromedp.SetValue(chromedp.CSS(`select[name=status]`), "ACTIVE"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
		waitFor(`location.search === '?status=ACTIVE' && document.querySelectorAll('#campaign-table tbody tr').length === 1`, 10*time.Second),
	)
	first := get(t, ctx, "read the row", chromedp.Text(chromedp.CSS(`#campaign-table tbody tr th`)))
	if first != name {
		t.Fatalf("the ACTIVE filter lists %q, want %q", first, name)
	}
	run(t, ctx, "every campaign by name",
		chromedp.Navigate(s.URL+"/console/?sort=name"),
		waitFor(`document.querySelectorAll('#campaign-table tbody tr').length === 3`, 10*time.Second),
	)
	audit(t, ctx, "the list")
	screenshot(t, ctx, dir, "1-campaign-list", "")
	run(t, ctx, "page by 2",
		chromedp.Navigate(s.URL+"/console/?limit=2&sort=name"),
		waitFor(`document.querySelectorAll('#campaign-table tbody tr').length === 2`, 10*time.Second),
		waitFor(`document.querySelector('select[name=limit]').value === '2'`, time.Second),
	)
	run(t, ctx, "next page by keyboard",
		chromedp.Focus(chromedp.Search(`//nav[@class="pager"]/button[text()="Next page"]`)),
		chromedp.KeyEvent("\r"),
		waitFor(`document.querySelector('#campaign-table caption')?.textContent.startsWith('Page 2: 1 campaign')`, 10*time.Second),
	)
	last := get(t, ctx, "read page 2", chromedp.Text(chromedp.CSS(`#campaign-table tbody tr th`)))
	if last != "Winter clearance" {
		t.Fatalf("page 2 by name lists %q, want Winter clearance", last)
	}

	if errs := blog.list(); len(errs) > 0 {
		t.Fatalf("the browser reported %d errors:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

// TestConsoleAsksForCredentials: when the API wants an API key, the console says so (from
// the API's 401) and asks for one; entered once, it is sent with every request.
func TestConsoleAsksForCredentials(t *testing.T) {
	ctx, blog := newBrowser(t)
	const key = "console-test-key-1"
	sum := sha256.Sum256([]byte(key))
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthAPIKey
		cfg.Auth.APIKeys = []config.APIKey{{Name: "console", SHA256: hex.EncodeToString(sum[:]), Roles: []string{"viewer"},
			Owner: "3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f607"}}
	}})
	run(t, ctx, "open the list without credentials",
		chromedp.Navigate(s.URL+"/console/"),
		waitFor(`document.getElementById('access-dialog').open`, 10*time.Second),
	)
	why := get(t, ctx, "read why", chromedp.Text(chromedp.CSS(`#access-dialog .error`)))
	if !strings.Contains(why, "X-API-Key") {
		t.Fatalf("the console says %q, want the API's request for an API key", why)
	}
	run(t, ctx, "enter the key",
		chromedp.Click(chromedp.CSS(`#access-mode-apikey`)),
		chromedp.SendKeys(chromedp.CSS(`#access-dialog input[name=secret]`), key),
		chromedp.Click(chromedp.CSS(`#access-dialog button[type=submit]`)),
		waitFor(`!document.getElementById('access-dialog').open && document.querySelector('#main .empty') !== null`, 10*time.Second),
	)
	button := get(t, ctx, "read the access button", chromedp.Text(chromedp.CSS(`#access-button`)))
	if button != "Access: API key" {
		t.Fatalf("the access button says %q", button)
	}
	// The only errors: the browser noting the first (refused) loads.
	for _, e := range blog.list() {
		if !strings.Contains(e, "status of 401") {
			t.Errorf("browser error: %s", e)
		}
	}
}

// TestAuditFindsProblems keeps the accessibility audit honest: on a page spoiled on purpose
// (an unlabelled field, an empty button, pale text, a page wider than the window) it reports
// each problem.
func TestAuditFindsProblems(t *testing.T) {
	ctx, _ := newBrowser(t)
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	run(t, ctx, "open and spoil the page",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`form.filters`)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			// Styles through the CSSOM: the console's content security policy refuses style attributes.
			const m = document.getElementById('main');
			const input = document.createElement('input'); input.name = 'spoiled';
			const button = document.createElement('button'); button.type = 'button';
			const pale = document.createElement('p'); pale.textContent = 'pale text'; pale.style.color = '#bbb';
			const wide = document.createElement('div'); wide.textContent = 'wide'; wide.style.width = '3000px';
			m.append(input, button, pale, wide);
		})()`),
	)
	problems := strings.Join(eval[[]string](t, ctx, auditJS), "\n")
	for _, want := range []string{`no label: <input name="spoiled">`, `no text: <button type="button">`, `"pale text"`, "wider than the window"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the audit misses %q; it reports:\n%s", want, problems)
		}
	}
}
