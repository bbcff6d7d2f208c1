package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// TestConsolePacing: an EVEN campaign with a daily budget of 100 EUR in New York, 50 EUR spent
// by 10:30 (the plan: 42.55): the list shows its pacing index (and none for an unpaced
// campaign) and sorts by it; its page shows the index, the mode and the chart of spend
// against the plan, both lines, with the numbers the API gives; the create form sets a
// campaign's pacing. The service runs on a clock
// two days back, so that the tracked spend is in the past of the real clock (/track refuses
// future events).
func TestConsolePacing(t *testing.T) {
	ctx, blog := newBrowser(t)
	dir := artifacts(t)
	engine := enginetest.New(t)
	engine.SetRule(uuid.MustParse(ruleID), "ACTIVE", enginetest.PromotionDSL)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(ny).AddDate(0, 0, -2).Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, ny)
	var clock atomic.Int64
	clock.Store(midnight.Add(30 * time.Minute).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Now: now, Configure: func(cfg *config.Config) {
		cfg.RulesEngine.URL = engine.URL
	}})

	paced := weekCampaign("Even daily mail", "1000.00", true)
	paced["startDate"] = now().Format(time.RFC3339)
	paced["endDate"] = now().Add(10 * 24 * time.Hour).Format(time.RFC3339)
	paced["settings"].(map[string]any)["pacing"] = map[string]any{"mode": "EVEN", "period": "DAILY",
		"dailyBudget": map[string]any{"amount": "100.00", "currency": "EUR"}, "timezone": "America/New_York"}
	even := create(t, s, paced, consoleUser)
	evenID := even["id"].(string)
	plain := weekCampaign("Unpaced mail", "1000.00", true)
	plain["startDate"], plain["endDate"] = paced["startDate"], paced["endDate"]
	plainID := create(t, s, plain, consoleUser)["id"].(string)
	for _, id := range []string{evenID, plainID} {
		if r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", nil, "X-User-ID", consoleUser); r.Status != http.StatusOK {
			t.Fatalf("activate %s: %d %s", id, r.Status, r.Body)
		}
	}
	// 10:30 in New York: 10 of the day's 23.5 hours (it began at 00:30, the start date).
	// 50 EUR spent at 03:10 and 07:10, 20 EUR by the unpaced campaign.
	clock.Store(midnight.Add(10*time.Hour + 30*time.Minute).UnixNano())
	for _, c := range []struct {
		id, cost string
		at       time.Duration
	}{{evenID, "30", 3*time.Hour + 10*time.Minute}, {evenID, "20", 7*time.Hour + 10*time.Minute}, {plainID, "20", 4 * time.Hour}} {
		r := s.Do(http.MethodPost, "/api/v1/campaigns/"+c.id+"/track", map[string]any{"type": "COST",
			"cost": map[string]any{"amount": c.cost, "currency": "EUR"}, "occurredAt": midnight.Add(c.at).Format(time.RFC3339)})
		if r.Status != http.StatusAccepted {
			t.Fatalf("track: %d %s", r.Status, r.Body)
		}
	}
	if err := s.API.Aggregator.Drain(context.Background()); err != nil {
		t.Fatalf("aggregate: %v", err)
	}

	// The API's figures, which the console must show.
	var list struct {
		Campaigns []struct {
			ID     string `json:"id"`
			Totals struct {
				Pacing *struct {
					Mode        string   `json:"mode"`
					PacingIndex *float64 `json:"pacingIndex"`
				} `json:"pacing"`
			} `json:"totals"`
		} `json:"campaigns"`
	}
	s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=true", nil).Decode(t, &list)
	var index float64
	for _, c := range list.Campaigns {
		switch {
		case c.ID == evenID && c.Totals.Pacing != nil && c.Totals.Pacing.PacingIndex != nil:
			index = *c.Totals.Pacing.PacingIndex
		case c.ID == plainID && c.Totals.Pacing != nil:
			t.Errorf("the unpaced campaign has a pacing report in the list: %+v", c.Totals.Pacing)
		}
	}
	if want := (50.0 / 100) / (10.0 / 23.5); index < want-0.001 || index > want+0.001 {
		t.Fatalf("the list's pacing index is %v, want %.3f", index, want)
	}
	shownIndex := fmt.Sprintf("%.2f", index)

	run(t, ctx, "open the list",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem('campaigns-console.user', '`+consoleUser+`')`),
		chromedp.Navigate(s.URL+"/console/?sort=name"),
		waitFor(`document.querySelectorAll('#campaign-table tbody tr').length === 2`, 10*time.Second),
	)
	cell := func(id string) string {
		return eval[string](t, ctx, `document.querySelector('#campaign-table tr[data-id="`+id+`"] td[data-period=pacing]').textContent`)
	}
	if got, want := cell(evenID), shownIndex+"even"; got != want { // the mode on a line of its own
		t.Errorf("the paced campaign's pacing cell reads %q, want %q", got, want)
	}
	if got := cell(plainID); got != "—" {
		t.Errorf("the unpaced campaign's pacing cell reads %q, want —", got)
	}
	run(t, ctx, "sort by pacing index", chromedp.Click(chromedp.CSS(`button[data-sort=pacing]`)),
		waitFor(`document.querySelector('th[aria-sort=descending] button[data-sort=pacing]') !== null`, 5*time.Second))
	order := eval[[]string](t, ctx, `[...document.querySelectorAll('#campaign-table tbody th')].map(th => th.textContent)`)
	if strings.Join(order, ",") != "Even daily mail,Unpaced mail" {
		t.Errorf("sorted by pacing index the page reads %q", order)
	}
	// The whole table fits a 1366 px window: no column scrolled out of sight.
	if w := eval[[]int](t, ctx, `(() => { const w = document.querySelector('#results .table-wrap, .results .table-wrap'); return [w.scrollWidth, w.clientWidth] })()`); w[0] > w[1] {
		t.Errorf("the list's table is %d px wide in %d px: a column is out of sight", w[0], w[1])
	}
	if got := eval[string](t, ctx, `document.querySelector('#campaign-table caption').textContent`); !strings.HasSuffix(got, "sorted by pacing index") {
		t.Errorf("the caption reads %q", got)
	}
	audit(t, ctx, "the list with the pacing column")
	screenshot(t, ctx, dir, "16-pacing-list", "")

	run(t, ctx, "open the paced campaign",
		chromedp.Click(chromedp.Search(`//table[@id="campaign-table"]//a[text()="Even daily mail"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=ACTIVE]`)),
		waitFor(`document.querySelector('#pacing-chart')?.dataset.series === '2'`, 10*time.Second),
	)
	var metrics struct {
		Pacing struct {
			PacingIndex *float64 `json:"pacingIndex"`
			Series      []struct {
				Spent   string `json:"spent"`
				Planned string `json:"planned"`
			} `json:"series"`
		} `json:"pacing"`
	}
	s.Do(http.MethodGet, "/api/v1/campaigns/"+evenID+"/metrics", nil).Decode(t, &metrics)
	series := metrics.Pacing.Series
	if len(series) != 12 || series[len(series)-1].Spent != "50.0000" || series[len(series)-1].Planned != "42.5532" {
		t.Fatalf("the API's pacing series: %+v", series)
	}
	page := eval[map[string]string](t, ctx, `(() => {
		const c = document.getElementById('pacing-chart');
		const q = (k) => document.querySelector('[data-pacing=' + k + ']').textContent;
		return { points: c.dataset.points, spent: c.dataset.spent, planned: c.dataset.planned,
			canvas: String(c.querySelectorAll('canvas').length),
			legend: [...c.querySelectorAll('.u-legend .u-series .u-label')].map(l => l.textContent).join(','),
			index: q('pacingIndex'), mode: q('mode'), spentKPI: q('spent'), plannedKPI: q('planned'),
			rows: String(document.querySelectorAll('#pacing-table tbody tr').length),
			settings: [...document.querySelectorAll('#settings div')].find(d => d.querySelector('dt').textContent === 'Pacing')?.querySelector('dd').textContent || '',
			clipped: String([...document.querySelectorAll('#pacing-summary dd')].filter(dd => dd.scrollWidth > dd.clientWidth).length) };
	})()`)
	want := map[string]string{"points": "12", "spent": "50", "planned": "42.5532", "canvas": "1",
		"legend": "Time (UTC),Spent,Planned", "index": fmt.Sprintf("%.2f", *metrics.Pacing.PacingIndex), "mode": "Even",
		"spentKPI": "50.00 EUR", "plannedKPI": "42.55 EUR", "rows": "12",
		"settings": "Even, daily budget 100.00 EUR, days in America/New_York", "clipped": "0"}
	for k, v := range want {
		if page[k] != v {
			t.Errorf("the pacing panel's %s is %q, want %q", k, page[k], v)
		}
	}
	audit(t, ctx, "the pacing chart")
	run(t, ctx, "scroll to the pacing chart", chromedp.ScrollIntoView(chromedp.CSS(`#pacing`)))
	screenshot(t, ctx, dir, "17-pacing-chart", "#pacing")

	// The unpaced campaign's page has no pacing panel.
	run(t, ctx, "open the unpaced campaign",
		chromedp.Navigate(s.URL+"/console/campaigns/"+plainID),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=ACTIVE]`)),
		waitFor(`document.querySelector('[data-kpi=cost]')?.textContent === '20.00 EUR'`, 10*time.Second),
	)
	if hidden := eval[bool](t, ctx, `document.getElementById('pacing').hidden`); !hidden {
		t.Error("the unpaced campaign shows a pacing panel")
	}
	// The create form sets pacing: EVEN, a daily budget of 40 EUR, days in Paris.
	run(t, ctx, "create a paced campaign",
		chromedp.Navigate(s.URL+"/console/new"),
		chromedp.WaitVisible(chromedp.CSS(`form.create select[name=pacingMode]`)),
		chromedp.SendKeys(chromedp.CSS(`form.create input[name=name]`), "Paced from the form"),
		chromedp.SetValue(chromedp.CSS(`form.create select[name=pacingMode]`), "EVEN"),
		chromedp.SetValue(chromedp.CSS(`form.create select[name=pacingPeriod]`), "DAILY"),
		chromedp.SendKeys(chromedp.CSS(`form.create input[name=dailyBudget]`), "40.00"),
		chromedp.SendKeys(chromedp.CSS(`form.create input[name=pacingTimezone]`), "Europe/Paris"),
	)
	audit(t, ctx, "the create form with pacing")
	run(t, ctx, "submit the form",
		chromedp.Click(chromedp.CSS(`form.create button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#campaign-status[data-status=DRAFT]`)),
		waitFor(`!document.getElementById('pacing').hidden`, 10*time.Second),
	)
	formID := strings.TrimPrefix(eval[string](t, ctx, `location.pathname`), "/console/campaigns/")
	got := fmt.Sprint(campaignOf(t, s, formID)["settings"].(map[string]any)["pacing"])
	if want := "map[dailyBudget:map[amount:40.00 currency:EUR] mode:EVEN period:DAILY timezone:Europe/Paris]"; got != want {
		t.Errorf("the form's campaign has pacing %s, want %s", got, want)
	}
	for _, e := range blog.list() {
		t.Errorf("browser error: %s", e)
	}
}
