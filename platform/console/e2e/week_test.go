package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// The console's own user (X-User-ID), set before the first page loads, and two colleagues.
const (
	consoleUser = "0b6a3c1e-2f4d-4e5a-8b7c-9d0e1f2a3b4c"
	colleague   = "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f"
	otherUser   = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
	ruleID      = "3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
)

// weekCampaign is a campaign body starting tomorrow, with a targeting rule (so that it can be
// activated) unless untargeted.
func weekCampaign(name, budget string, targeted bool) map[string]any {
	b := map[string]any{
		"name": name, "type": "PROMOTION", "startDate": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"endDate":  time.Now().Add(15 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"budget":   map[string]any{"amount": budget, "currency": "EUR"},
		"settings": map[string]any{"channels": []string{"EMAIL"}, "frequency": "DAILY"},
	}
	if targeted {
		b["targetingRules"] = []string{ruleID}
	}
	return b
}

// create makes a campaign through the API as user and returns it.
func create(t *testing.T, s *apptest.Server, body map[string]any, user string) map[string]any {
	t.Helper()
	r := s.Do(http.MethodPost, "/api/v1/campaigns", body, "X-User-ID", user)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %v: %d %s", body["name"], r.Status, r.Body)
	}
	return r.Map(t)
}

// campaignOf reads a campaign through the API.
func campaignOf(t *testing.T, s *apptest.Server, id string) map[string]any {
	t.Helper()
	r := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get %s: %d %s", id, r.Status, r.Body)
	}
	return r.Map(t)
}

// click clicks the element that the JavaScript expression returns (for rows found by content).
func click(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const el = ` + expr + `; if (!el) throw new Error('nothing to click: ` +
		strings.ReplaceAll(expr, `'`, `"`) + `'); el.click() })()`)
}

// TestConsoleWeekOfWork drives the flows of a marketer's week through the console, each
// checked in the page and through the API: the list's performance columns and their sort,
// a bulk action with its per-campaign results, duplicate with a date shift, planning an A/B
// test, the approvals queue (approve and reject, If-Match carried), import (dry run first,
// then the real import) and export. Readable labels, the accessibility audit and the layout
// at 1366 x 768 are checked on each new screen, whose screenshot is saved.
func TestConsoleWeekOfWork(t *testing.T) {
	ctx, blog := newBrowser(t)
	dir := artifacts(t)
	// A Rules Engine (its real contract, faked) that knows the campaigns' rule by name.
	engine := enginetest.New(t)
	engine.SetRule(uuid.MustParse(ruleID), "ACTIVE", enginetest.PromotionDSL)
	engine.Rename(uuid.MustParse(ruleID), "Spring shoppers")
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.Approval.Thresholds = map[string]string{"EUR": "5000.00"}
		cfg.RulesEngine.URL = engine.URL
		cfg.RulesEngine.BreakerFailures = 1000
	}})

	// Three campaigns with figures; "Untargeted" cannot be activated (no targeting rule).
	alpha := create(t, s, weekCampaign("Alpha spring mail", "500.00", true), colleague)
	beta := create(t, s, weekCampaign("Beta loyalty mail", "200.00", true), colleague)
	gamma := create(t, s, weekCampaign("Gamma untargeted", "300.00", false), colleague)
	abBody := weekCampaign("Delta subject test", "1000.00", true)
	abBody["settings"].(map[string]any)["abTestSettings"] = map[string]any{"enabled": true, "variants": []map[string]any{
		{"key": "A", "name": "Plain", "weight": 50, "control": true}, {"key": "B", "name": "Emoji", "weight": 50}}}
	delta := create(t, s, abBody, consoleUser)
	now := time.Now().UTC()
	key := func(c map[string]any, variant string) metrics.Key {
		return metrics.Key{CampaignID: uuid.MustParse(c["id"].(string)), Hour: metrics.HourOf(now), Variant: variant, Channel: "EMAIL"}
	}
	if err := s.API.Metrics.Commit(context.Background(), metrics.Batch{Consumer: "e2e", From: 0, To: 1,
		Rollups: map[metrics.Key]metrics.Totals{
			key(alpha, ""):  {Impressions: 1000, Clicks: 50, CostE4: 100_0000},
			key(beta, ""):   {Impressions: 200, Clicks: 20, CostE4: 10_0000},
			key(delta, "A"): {Impressions: 4000, Clicks: 200},
			key(delta, "B"): {Impressions: 4000, Clicks: 230},
		}}, now); err != nil {
		t.Fatalf("commit totals: %v", err)
	}

	run(t, ctx, "set the console's user",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('campaigns-console.user', '`+consoleUser+`')`),
		chromedp.Navigate(s.URL+"/console/?sort=name"),
		waitFor(`document.querySelectorAll('#campaign-table tbody tr').length === 4`, 10*time.Second),
	)

	// The list: impressions, CTR, spend and budget used per row.
	cells := func(id string) string {
		return eval[string](t, ctx, `[...document.querySelectorAll('#campaign-table tr[data-id="`+id+`"] td[data-col]')].map(td => td.textContent).join(' | ')`)
	}
	if got, want := cells(alpha["id"].(string)), "1,000 | 5.00 % | 100.00 EUR | 20.00 %"; got != want {
		t.Errorf("Alpha's figures are %q, want %q", got, want)
	}
	if got, want := cells(gamma["id"].(string)), "0 | — | 0.00 EUR | 0.00 %"; got != want {
		t.Errorf("Gamma's figures are %q, want %q", got, want)
	}
	// Sorted by CTR (this page, highest first): Beta 10 %, Delta 5.375 %, Alpha 5 %, Gamma none.
	run(t, ctx, "sort by CTR", chromedp.Click(chromedp.CSS(`button[data-sort=ctr]`)),
		waitFor(`document.querySelector('th[aria-sort=descending] button[data-sort=ctr]') !== null`, 5*time.Second))
	order := eval[[]string](t, ctx, `[...document.querySelectorAll('#campaign-table tbody th')].map(th => th.textContent)`)
	if strings.Join(order, ",") != "Beta loyalty mail,Delta subject test,Alpha spring mail,Gamma untargeted" {
		t.Errorf("sorted by CTR the page reads %q", order)
	}
	run(t, ctx, "sort by spend, ascending", chromedp.Click(chromedp.CSS(`button[data-sort=spend]`)), chromedp.Click(chromedp.CSS(`button[data-sort=spend]`)),
		waitFor(`document.querySelector('th[aria-sort=ascending] button[data-sort=spend]') !== null`, 5*time.Second))
	order = eval[[]string](t, ctx, `[...document.querySelectorAll('#campaign-table tbody th')].map(th => th.textContent)`)
	if order[len(order)-1] != "Alpha spring mail" {
		t.Errorf("by spend, ascending, the page reads %q: Alpha (100 EUR) should be last", order)
	}

	// Bulk: activate Alpha, Beta and Gamma. The dry run judges each; Gamma fails (no targeting
	// rule) while the two others are activated.
	for _, c := range []map[string]any{alpha, beta, gamma} {
		run(t, ctx, "select "+c["name"].(string), chromedp.Click(chromedp.CSS(`#campaign-table tr[data-id="`+c["id"].(string)+`"] input[type=checkbox]`)))
	}
	run(t, ctx, "three selected", waitFor(`document.getElementById('selected-count').textContent === '3 selected'`, 5*time.Second))
	audit(t, ctx, "the list with a selection")
	screenshot(t, ctx, dir, "7-list-performance-and-selection", "")
	run(t, ctx, "bulk activate: the dry run",
		chromedp.Click(chromedp.CSS(`button[data-bulk=activate]`)),
		waitFor(`document.querySelector('#bulk-verdict [data-possible]')?.dataset.possible === '2'`, 10*time.Second),
	)
	if st := campaignOf(t, s, alpha["id"].(string))["status"]; st != "DRAFT" {
		t.Fatalf("the dry run changed Alpha: %v", st)
	}
	run(t, ctx, "bulk activate: confirm",
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		waitFor(`document.querySelector('#bulk-verdict [data-succeeded]')?.dataset.succeeded === '2'`, 10*time.Second),
	)
	results := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('#bulk-results tbody tr')].map(tr => [tr.dataset.id, tr.dataset.status + ' ' + tr.cells[2].textContent]))`)
	if !strings.HasPrefix(results[alpha["id"].(string)], "200 Now Active") || !strings.HasPrefix(results[beta["id"].(string)], "200") ||
		!strings.HasPrefix(results[gamma["id"].(string)], "422") || !strings.Contains(results[gamma["id"].(string)], "targetingRules") {
		t.Errorf("the bulk results are %v", results)
	}
	audit(t, ctx, "the bulk results")
	screenshot(t, ctx, dir, "8-bulk-activate-results", "#action-dialog")
	for c, want := range map[string]string{alpha["id"].(string): "ACTIVE", beta["id"].(string): "ACTIVE", gamma["id"].(string): "DRAFT"} {
		if st := campaignOf(t, s, c)["status"]; st != want {
			t.Errorf("after the bulk activation %s is %v, want %s", c, st, want)
		}
	}
	run(t, ctx, "close: the list shows the new statuses",
		chromedp.Click(chromedp.Search(`//dialog[@id="action-dialog"]//button[text()="Close"]`)),
		waitFor(`document.querySelector('#campaign-table tr[data-id="`+alpha["id"].(string)+`"] .badge')?.textContent === 'Active'`, 10*time.Second),
		waitFor(`document.getElementById('selected-count')?.textContent.startsWith('Select')`, 5*time.Second),
	)

	// The campaign page: readable labels, KPIs in even rows, duplicate with a shift of 14 days.
	run(t, ctx, "open Alpha",
		chromedp.Click(chromedp.Search(`//table[@id="campaign-table"]//a[text()="Alpha spring mail"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=ACTIVE]`)),
		waitFor(`document.querySelector('[data-kpi=impressions]').textContent === '1,000'`, 10*time.Second),
	)
	created := eval[[]string](t, ctx, `(() => { const a = document.querySelector('#created-by abbr'); return [a.textContent, a.title] })()`)
	if created[0] != colleague[:8]+"…" || created[1] != colleague {
		t.Errorf("the author shows %q, want the short id with the whole id on hover", created)
	}
	run(t, ctx, "the rule named", waitFor(`document.querySelector('#targeting-rules abbr').textContent === 'Spring shoppers'`, 10*time.Second))
	rule := eval[string](t, ctx, `document.querySelector('#targeting-rules abbr').title`)
	if rule != ruleID {
		t.Errorf("the targeting rule's title is %q, want its whole id on hover", rule)
	}
	layout := eval[map[string]float64](t, ctx, `(() => {
		const kpis = [...document.querySelectorAll('#kpis .kpi')];
		const rows = new Map();
		for (const k of kpis) rows.set(k.offsetTop, (rows.get(k.offsetTop) || 0) + 1);
		const dd = document.querySelector('[data-kpi=budgetRemaining]');
		return { kpis: kpis.length, rows: rows.size, smallest: Math.min(...rows.values()), budgetLines: dd.getClientRects().length,
			clipped: dd.scrollWidth > dd.clientWidth ? 1 : 0, height: dd.offsetHeight, impressionsHeight: document.querySelector('[data-kpi=impressions]').offsetHeight };
	})()`)
	if layout["rows"] != 3 || layout["smallest"] != 5 || layout["clipped"] != 0 || layout["height"] != layout["impressionsHeight"] {
		t.Errorf("the KPIs' layout at 1366 x 768: %v (want 15 figures in 3 rows of 5, Budget remaining on one line)", layout)
	}
	audit(t, ctx, "the campaign page")
	screenshot(t, ctx, dir, "9-campaign-page-kpis", "")
	run(t, ctx, "duplicate, 2 weeks later",
		chromedp.Click(chromedp.CSS(`#duplicate-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-dialog input[name=shift]`)),
		chromedp.SetValue(chromedp.CSS(`#action-dialog input[name=shift]`), "2"),
		chromedp.SetValue(chromedp.CSS(`#action-dialog select[name=shiftUnit]`), "weeks"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#action-dialog select[name=shiftUnit]').dispatchEvent(new Event('change'))`),
		waitFor(`document.getElementById('duplicate-preview').textContent.startsWith('The copy runs from')`, 5*time.Second),
	)
	audit(t, ctx, "the duplicate dialog")
	screenshot(t, ctx, dir, "10-duplicate-dialog", "#action-dialog")
	run(t, ctx, "confirm the duplicate",
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=DRAFT]`)),
	)
	copyID := strings.TrimPrefix(eval[string](t, ctx, `location.pathname`), "/console/campaigns/")
	cp := campaignOf(t, s, copyID)
	srcStart, _ := time.Parse(time.RFC3339, alpha["startDate"].(string))
	cpStart, _ := time.Parse(time.RFC3339, cp["startDate"].(string))
	if cp["name"] != "Alpha spring mail (copy)" || cp["status"] != "DRAFT" || cpStart.Sub(srcStart) != 14*24*time.Hour {
		t.Errorf("the copy is %v %v starting %v, want a DRAFT named Alpha spring mail (copy) 14 days after %v", cp["name"], cp["status"], cpStart, srcStart)
	}

	// Plan the test: Delta's A/B panel sizes it for another lift and power.
	run(t, ctx, "open Delta",
		chromedp.Navigate(s.URL+"/console/campaigns/"+delta["id"].(string)),
		chromedp.WaitVisible(chromedp.CSS(`#plan-form`)),
		chromedp.SetValue(chromedp.CSS(`#plan-form input[name=mde]`), "20"),
		chromedp.SetValue(chromedp.CSS(`#plan-form input[name=power]`), "90"),
		chromedp.Click(chromedp.CSS(`#plan-form button[type=submit]`)),
		waitFor(`document.querySelector('#experiment-plan p')?.textContent.includes('20.00 % lift')`, 10*time.Second),
	)
	var exp struct {
		Plan struct {
			PerVariant int64 `json:"perVariant"`
		} `json:"plan"`
	}
	s.Do(http.MethodGet, "/api/v1/campaigns/"+delta["id"].(string)+"/experiment?mde=0.2&power=0.9", nil).Decode(t, &exp)
	shown := eval[string](t, ctx, `document.querySelector('#experiment-plan [data-per-variant]').dataset.perVariant`)
	if exp.Plan.PerVariant == 0 || shown != jsonNumber(exp.Plan.PerVariant) {
		t.Errorf("the console plans %s per variant, the API %d", shown, exp.Plan.PerVariant)
	}
	if by := eval[string](t, ctx, `document.querySelector('#created-by abbr').textContent`); by != "You" {
		t.Errorf("the console's own campaign says it was created by %q, want You", by)
	}
	audit(t, ctx, "plan the test")
	run(t, ctx, "scroll to the plan", chromedp.ScrollIntoView(chromedp.CSS(`#experiment`)))
	screenshot(t, ctx, dir, "11-plan-the-test", "#experiment")

	// Approvals: two campaigns above 5,000 EUR submitted by a colleague; one written by the
	// console's user is not "mine to decide".
	pending := func(name string, author, submitter string) map[string]any {
		c := create(t, s, weekCampaign(name, "8000.00", true), author)
		r := s.Do(http.MethodPost, "/api/v1/campaigns/"+c["id"].(string)+"/submit-for-approval", nil, "X-User-ID", submitter)
		if r.Status != http.StatusOK {
			t.Fatalf("submit %s: %d %s", name, r.Status, r.Body)
		}
		return r.Map(t)
	}
	// Submitted from the console: the campaign page shows the approval it needs.
	submitted := create(t, s, weekCampaign("Spring big push", "9000.00", true), colleague)
	run(t, ctx, "submit for approval",
		chromedp.Navigate(s.URL+"/console/campaigns/"+submitted["id"].(string)),
		chromedp.WaitVisible(chromedp.CSS(`#approval-status[data-status=REQUIRED]`)),
		chromedp.Click(chromedp.CSS(`#submit-approval`)),
		chromedp.WaitVisible(chromedp.CSS(`#approval-status[data-status=PENDING]`)),
	)
	if a := campaignOf(t, s, submitted["id"].(string))["approval"].(map[string]any); a["status"] != "PENDING" || a["submittedBy"] != consoleUser {
		t.Errorf("after the console's submission: %v", a)
	}
	toApprove := pending("Summer big push", colleague, colleague)
	toReject := pending("Autumn big push", otherUser, otherUser)
	own := pending("Winter own push", consoleUser, colleague)
	run(t, ctx, "open the queue",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/approvals"]`)),
		waitFor(`document.querySelectorAll('#approval-table tbody tr').length === 2`, 10*time.Second),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll('#approval-table tr[data-id="`+own["id"].(string)+`"]').length`); n != 0 {
		t.Error("the console's own campaign is in 'mine to decide'")
	}
	audit(t, ctx, "the approvals queue")
	screenshot(t, ctx, dir, "12-approvals-queue", "")
	run(t, ctx, "approve",
		click(`document.querySelector('#approval-table tr[data-id="`+toApprove["id"].(string)+`"] button[data-decide=approve]')`),
		chromedp.WaitVisible(chromedp.CSS(`#action-dialog button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		waitFor(`document.querySelectorAll('#approval-table tbody tr').length === 1`, 10*time.Second),
	)
	approval := campaignOf(t, s, toApprove["id"].(string))["approval"].(map[string]any)
	if approval["status"] != "APPROVED" || approval["decidedBy"] != consoleUser {
		t.Errorf("after the console's approval: %v", approval)
	}
	// A reject pinned to a version that has changed meanwhile is refused (412), then made
	// on the version read again.
	if r := s.Do(http.MethodPut, "/api/v1/campaigns/"+toReject["id"].(string), updateBody(toReject), "X-User-ID", otherUser, "If-Match", `"`+jsonNumber(int64(toReject["version"].(float64)))+`"`); r.Status != http.StatusOK {
		t.Fatalf("edit the pending campaign: %d %s", r.Status, r.Body)
	}
	run(t, ctx, "reject a stale version",
		click(`document.querySelector('#approval-table tr[data-id="`+toReject["id"].(string)+`"] button[data-decide=reject]')`),
		chromedp.WaitVisible(chromedp.CSS(`#action-dialog textarea[name=reason]`)),
		chromedp.SendKeys(chromedp.CSS(`#action-dialog textarea[name=reason]`), "Split the budget by channel"),
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		waitFor(`document.getElementById('decision-result').textContent.includes('changed since')`, 10*time.Second),
	)
	screenshot(t, ctx, dir, "13-approval-stale-version", "#action-dialog")
	if st := campaignOf(t, s, toReject["id"].(string))["approval"].(map[string]any)["status"]; st == "REJECTED" {
		t.Fatal("a decision on a stale version was applied")
	}
	run(t, ctx, "reject again on the fresh version",
		chromedp.Click(chromedp.Search(`//dialog[@id="action-dialog"]//button[text()="Back"]`)),
		waitFor(`!document.getElementById('action-dialog').open`, 5*time.Second),
	)
	ver := campaignOf(t, s, toReject["id"].(string))["version"].(float64)
	run(t, ctx, "reject",
		waitFor(`document.querySelector('#approval-table tr[data-id="`+toReject["id"].(string)+`"]')?.dataset.version === '`+jsonNumber(int64(ver))+`'`, 10*time.Second),
		click(`document.querySelector('#approval-table tr[data-id="`+toReject["id"].(string)+`"] button[data-decide=reject]')`),
		chromedp.WaitVisible(chromedp.CSS(`#action-dialog textarea[name=reason]`)),
		chromedp.SendKeys(chromedp.CSS(`#action-dialog textarea[name=reason]`), "Split the budget by channel"),
		chromedp.Click(chromedp.CSS(`#action-dialog button[type=submit]`)),
		waitFor(`document.querySelector('#approval-queue .empty') !== null`, 10*time.Second),
	)
	approval = campaignOf(t, s, toReject["id"].(string))["approval"].(map[string]any)
	if approval["status"] != "REJECTED" || approval["reason"] != "Split the budget by channel" {
		t.Errorf("after the console's rejection: %v", approval)
	}
	run(t, ctx, "every pending campaign",
		chromedp.Click(chromedp.CSS(`#scope-all`)),
		waitFor(`document.querySelector('#approval-table tr[data-id="`+own["id"].(string)+`"] .decide')?.textContent === 'You wrote it'`, 10*time.Second),
		waitFor(`document.querySelector('#approval-table tr[data-id="`+submitted["id"].(string)+`"] .decide')?.textContent === 'You submitted it'`, 10*time.Second),
	)

	// Export: JSON Lines, downloaded by the browser.
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	run(t, ctx, "export",
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/transfer"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#export-form`)),
		chromedp.Click(chromedp.CSS(`#export-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#export-link`)),
	)
	name := eval[string](t, ctx, `document.getElementById('export-link').download`)
	var exported []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(downloads, name)); err == nil && len(b) > 0 {
			exported = b
			break
		}
	}
	var live struct {
		Campaigns []map[string]any `json:"campaigns"`
	}
	s.Do(http.MethodGet, "/api/v1/campaigns?limit=100", nil).Decode(t, &live)
	if lines := strings.Count(string(exported), "\n"); lines != len(live.Campaigns) || !strings.HasSuffix(name, ".jsonl") {
		t.Errorf("the export %q has %d lines, want one per live campaign (%d)", name, lines, len(live.Campaigns))
	}

	// The same export as CSV: a header row, then one record per campaign.
	run(t, ctx, "export as CSV",
		chromedp.SetValue(chromedp.CSS(`#export-form select[name=format]`), "csv"),
		chromedp.Click(chromedp.CSS(`#export-form button[type=submit]`)),
		waitFor(`document.getElementById('export-link')?.download.endsWith('.csv')`, 10*time.Second),
	)
	csvName := eval[string](t, ctx, `document.getElementById('export-link').download`)
	var csvFile []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(downloads, csvName)); err == nil && len(b) > 0 {
			csvFile = b
			break
		}
	}
	records, err := csv.NewReader(bytes.NewReader(csvFile)).ReadAll()
	if err != nil || len(records) != len(live.Campaigns)+1 || len(records[0]) < 2 || records[0][0] != "id" || records[0][1] != "name" {
		t.Errorf("the CSV export %q: %d records (want a header and %d), header %v, err %v", csvName, len(records), len(live.Campaigns), records[:min(1, len(records))], err)
	}
	audit(t, ctx, "the export")

	// Import: the dry run shows the bad line's problems and offers nothing to import (all or
	// nothing); best effort, checked again, imports the good line.
	file := filepath.Join(t.TempDir(), "campaigns.jsonl")
	good, _ := json.Marshal(weekCampaign("Imported autumn mail", "750.00", true))
	bad := weekCampaign("x", "-5", true)
	bad["startDate"] = "2020-01-01T00:00:00Z"
	badLine, _ := json.Marshal(bad)
	if err := os.WriteFile(file, []byte(string(good)+"\n"+string(badLine)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "check the file",
		chromedp.SetUploadFiles(chromedp.CSS(`#import-form input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(`#import-form button[type=submit]`)),
		waitFor(`document.getElementById('import-summary')?.dataset.failed === '1'`, 10*time.Second),
	)
	problems := eval[string](t, ctx, `document.querySelector('#import-lines tr[data-line="2"]').cells[3].textContent`)
	if first := eval[string](t, ctx, `document.querySelector('#import-lines tr[data-line="1"]').cells[1].textContent`); first != "Imported autumn mail" {
		t.Errorf("line 1 is named %q in the report", first)
	}
	for _, want := range []string{"name", "budget", "startDate"} {
		if !strings.Contains(problems, want) {
			t.Errorf("line 2's problems %q do not name %s", problems, want)
		}
	}
	if !eval[bool](t, ctx, `document.getElementById('import-run').disabled`) {
		t.Error("an all-or-nothing import with a bad line can be run")
	}
	audit(t, ctx, "the import's dry run")
	screenshot(t, ctx, dir, "14-import-dry-run", "")
	if r := s.Do(http.MethodGet, "/api/v1/campaigns?q=Imported", nil).Map(t); len(r["campaigns"].([]any)) != 0 {
		t.Fatal("the dry run created a campaign")
	}
	run(t, ctx, "best effort: check, then import",
		chromedp.SetValue(chromedp.CSS(`#import-form select[name=mode]`), "best-effort"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#import-form select[name=mode]').dispatchEvent(new Event('change'))`),
		waitFor(`document.getElementById('import-run').disabled`, time.Second),
		chromedp.Click(chromedp.CSS(`#import-form button[type=submit]`)),
		waitFor(`!document.getElementById('import-run').disabled`, 10*time.Second),
		chromedp.Click(chromedp.CSS(`#import-run`)),
		waitFor(`document.getElementById('import-summary')?.dataset.created === '1'`, 10*time.Second),
	)
	audit(t, ctx, "the import's result")
	screenshot(t, ctx, dir, "15-import-done", "")
	imported := s.Do(http.MethodGet, "/api/v1/campaigns?q=Imported", nil).Map(t)["campaigns"].([]any)
	if len(imported) != 1 || imported[0].(map[string]any)["createdBy"] != consoleUser {
		t.Errorf("after the import the API lists %v", imported)
	}

	// The only error: the browser noting the refused (stale) reject.
	for _, e := range blog.list() {
		if !strings.Contains(e, "status of 412") || !strings.Contains(e, "/reject") {
			t.Errorf("browser error: %s", e)
		}
	}
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// updateBody is the PUT body that keeps c as it is but for its description.
func updateBody(c map[string]any) map[string]any {
	return map[string]any{
		"name": c["name"], "description": "edited while pending", "type": c["type"], "targetingRules": c["targetingRules"],
		"startDate": c["startDate"], "endDate": c["endDate"], "budget": c["budget"],
		"settings": map[string]any{"channels": []string{"EMAIL"}, "frequency": "DAILY"},
	}
}
