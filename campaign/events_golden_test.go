package campaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/events")

const goldenDir = "testdata/events"

// The ids the golden files show in place of the random ones a run makes.
var (
	goldenCampaign = uuid.MustParse("01950000-0000-7000-8000-00000000000a")
	goldenOther    = uuid.MustParse("01950000-0000-7000-8000-00000000000b")
	goldenSpent    = uuid.MustParse("01950000-0000-7000-8000-00000000000c")
	goldenApproval = uuid.MustParse("01950000-0000-7000-8000-00000000000d")
	goldenPaced    = uuid.MustParse("01950000-0000-7000-8000-00000000000e")
)

// Every event type's CloudEvent, as the relay publishes it, is byte for byte the golden file
// testdata/events/<type>.json: a change of a payload's shape (a renamed, removed, added or
// reordered field, another encoding of a value) fails here. Rewrite the files with
// go test ./campaign -run TestEventsMatchTheGoldenFiles -update, and read the diff as a
// consumer would: within a schema version only new optional fields are allowed.
func TestEventsMatchTheGoldenFiles(t *testing.T) {
	events := goldenEvents(t)
	for _, typ := range campaign.EventTypes() {
		t.Run(typ, func(t *testing.T) {
			e, ok := events[typ]
			require.True(t, ok, "the scenario writes a %s", typ)
			got := goldenEnvelope(t, e)
			path := filepath.Join(goldenDir, typ+".json")
			if *update {
				require.NoError(t, os.MkdirAll(goldenDir, 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to write it")
			assert.Equal(t, string(want), string(got), "the %s event differs from %s", typ, path)
		})
	}
}

// There is one golden file per event type, and no other.
func TestEveryEventTypeHasAGoldenFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*"))
	require.NoError(t, err)
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	want := slices.Sorted(slices.Values(campaign.EventTypes()))
	assert.Equal(t, want, got)
}

// Each payload is exactly its version-1 type: decoding it strictly into that type and encoding
// it again gives the same bytes, so the Go types document every field consumers receive, and
// the envelope names that version as its dataschema.
func TestPayloadsAreTheirVersionOneTypes(t *testing.T) {
	types := map[string]func() any{
		campaign.EventCreated:   func() any { return new(campaign.CreatedV1) },
		campaign.EventUpdated:   func() any { return new(campaign.UpdatedV1) },
		campaign.EventActivated: func() any { return new(campaign.TransitionV1) },
		campaign.EventPaused:    func() any { return new(campaign.TransitionV1) },
		campaign.EventResumed:   func() any { return new(campaign.TransitionV1) },
		campaign.EventCompleted: func() any { return new(campaign.TransitionV1) },
		campaign.EventCancelled: func() any { return new(campaign.TransitionV1) },
		campaign.EventDeleted:   func() any { return new(campaign.DeletedV1) },

		campaign.EventBudgetExceeded: func() any { return new(campaign.BudgetExceededV1) },

		campaign.EventSubmittedForApproval: func() any { return new(campaign.SubmittedForApprovalV1) },
		campaign.EventApproved:             func() any { return new(campaign.ApprovalDecisionV1) },
		campaign.EventRejected:             func() any { return new(campaign.ApprovalDecisionV1) },
		campaign.EventApprovalVoided:       func() any { return new(campaign.ApprovalVoidedV1) },

		campaign.EventPacingOffPlan:          func() any { return new(campaign.PacingOffPlanV1) },
		campaign.EventDailyBudgetNearlySpent: func() any { return new(campaign.DailyBudgetNearlySpentV1) },
		campaign.EventCTRCollapsed:           func() any { return new(campaign.CTRCollapsedV1) },
	}
	for typ, e := range goldenEvents(t) {
		if typ, ok := strings.CutPrefix(typ, pacedPrefix); ok {
			types[pacedPrefix+typ] = types[typ] // the paced campaign's events: the same types
		}
		if _, ok := types[typ]; !ok {
			t.Fatalf("no payload type for %s", typ)
		}
		typ := strings.TrimPrefix(typ, pacedPrefix)
		assert.Equal(t, "urn:campaigns:events:"+typ+":1", e.DataSchema)
		assert.Equal(t, campaign.DataSchema(typ, 1), e.DataSchema)
		dec := json.NewDecoder(bytes.NewReader(e.Payload))
		dec.DisallowUnknownFields()
		v := types[typ]()
		require.NoError(t, dec.Decode(v), typ)
		again, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(e.Payload), string(again), typ)
	}
}

// goldenEvents runs a deterministic scenario (a fixed clock, actors, rules and request id)
// through the service on SQLite and returns the first stored event of each type.
func goldenEvents(t *testing.T) map[string]outbox.Event {
	t.Helper()
	db := dbtest.Open(t, dbtest.SQLiteTarget(t), sets...)
	clock := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	// Only the fourth campaign's budget is above the approval threshold.
	thresholds, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "20000.00"})
	require.NoError(t, err)
	svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{
		Now: func() time.Time { return clock }, ApprovalThresholds: thresholds})
	tick := func() { clock = clock.Add(time.Minute) }
	ctx := audit.WithCorrelationID(context.Background(), "req-golden")
	asBob := audit.WithActor(ctx, uuid.UUID(bob))
	move := func(ctx context.Context, id campaign.ID, req campaign.TransitionRequest) {
		t.Helper()
		tick()
		_, err := svc.Transition(ctx, id, req)
		require.NoError(t, err)
	}

	in := campaigntest.GoldenInput()
	c, err := svc.Create(ctx, alice, in)
	require.NoError(t, err)
	tick()
	in = editEverything(in)
	_, err = svc.Update(asBob, c.ID(), nil, in)
	require.NoError(t, err)
	move(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
	move(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &bob, Reason: "creative review"})
	move(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionResume, Actor: &bob})

	other := campaigntest.GoldenInput()
	other.Name = "Winter sale"
	o, err := svc.Create(ctx, alice, other)
	require.NoError(t, err)
	move(ctx, o.ID(), campaign.TransitionRequest{Action: lifecycle.ActionCancel, Actor: &alice, Reason: "budget withdrawn"})

	clock = in.EndDate.Add(30 * time.Second) // the automation completes it: no actor
	move(context.Background(), c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionComplete,
		Reason: "the end date has passed", Automatic: true, StopCode: lifecycle.StopEndDate})
	tick()
	require.NoError(t, svc.Delete(asBob, c.ID(), nil))
	// A third campaign spends past its budget: the automation completes it and records that.
	spent := campaigntest.GoldenInput()
	spent.Name, spent.StartDate, spent.EndDate = "Spring sale", clock.Add(time.Hour), nil
	x, err := svc.Create(ctx, alice, spent)
	require.NoError(t, err)
	move(ctx, x.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
	move(context.Background(), x.ID(), campaign.TransitionRequest{Action: lifecycle.ActionComplete,
		Reason: "the budget is spent (100.4%)", Automatic: true, StopCode: lifecycle.StopBudgetExhausted,
		BudgetExceeded: &campaign.BudgetExceeded{Spend: x.Budget().Amount.Add(decimal.RequireFromString("42.1")), Budget: x.Budget().Amount}})

	// A fourth campaign goes through approval: submitted, rejected, edited, submitted again,
	// approved, then edited again, which voids the approval.
	big := campaigntest.GoldenInput()
	big.Name, big.StartDate, big.EndDate = "Summer sale", clock.Add(48*time.Hour), nil
	big.Budget = campaign.MustMoney("25000", "EUR")
	y, err := svc.Create(ctx, alice, big)
	require.NoError(t, err)
	step := func(fn func(context.Context, campaign.ID, campaign.ApprovalRequest) (*campaign.View, error), req campaign.ApprovalRequest) {
		t.Helper()
		tick()
		_, err := fn(ctx, y.ID(), req)
		require.NoError(t, err)
	}
	edit := func(budget string) {
		t.Helper()
		tick()
		big.Budget = campaign.MustMoney(budget, "EUR")
		_, err := svc.Update(audit.WithActor(ctx, uuid.UUID(alice)), y.ID(), nil, big)
		require.NoError(t, err)
	}
	step(svc.SubmitForApproval, campaign.ApprovalRequest{Actor: alice})
	step(svc.Reject, campaign.ApprovalRequest{Actor: bob, Reason: "too much for one channel"})
	edit("22000")
	step(svc.SubmitForApproval, campaign.ApprovalRequest{Actor: alice})
	step(svc.Approve, campaign.ApprovalRequest{Actor: bob})
	edit("24000")

	// A fifth campaign has a daily budget of 200 EUR, spent ASAP, then paced evenly in Paris
	// (its only edit: settings.pacing), from 03:00 in Paris. At 14:00
	// it has spent 190 EUR (95% of the day's budget, 42.6% of it ahead of the plan), and its
	// last hour's CTR is a quarter of its trailing week's: the automation's alert check
	// records the three alerts, once.
	paced := campaigntest.GoldenInput()
	paced.Name, paced.EndDate = "Autumn sale", nil
	paced.StartDate = time.Date(2027, 4, 15, 1, 0, 0, 0, time.UTC)
	paced.Settings.SchedulingRules = nil
	daily := campaign.MustMoney("200.00", "EUR")
	paced.Settings.Pacing = &campaign.Pacing{Mode: lifecycle.PacingASAP, Period: lifecycle.PeriodDaily, DailyBudget: &daily}
	clock = time.Date(2027, 4, 15, 0, 30, 0, 0, time.UTC)
	z, err := svc.Create(ctx, alice, paced)
	require.NoError(t, err)
	tick()
	paced.Settings.Pacing = &campaign.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, DailyBudget: &daily,
		Timezone: "Europe/Paris"}
	_, err = svc.Update(asBob, z.ID(), nil, paced)
	require.NoError(t, err)
	move(ctx, z.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
	clock = time.Date(2027, 4, 15, 12, 0, 0, 0, time.UTC)
	spent190 := goldenTotals{spend: decimal.RequireFromString("190")}
	alerts := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{
		Now: func() time.Time { return clock }, Delivery: spent190, PeriodSpend: spent190})
	ctr := goldenCTR{{CampaignID: uuid.UUID(z.ID()), Hour: time.Date(2027, 4, 15, 11, 0, 0, 0, time.UTC),
		HourImpressions: 2000, HourClicks: 10, TrailingImpressions: 50000, TrailingClicks: 1000}}
	st, err := alerts.CheckAlerts(context.Background(), campaign.AlertConfig{}, ctr)
	require.NoError(t, err)
	require.Equal(t, campaign.AlertStats{Fired: 3}, st)
	st, err = alerts.CheckAlerts(context.Background(), campaign.AlertConfig{}, ctr)
	require.NoError(t, err)
	require.Equal(t, campaign.AlertStats{}, st, "once per crossing")

	out := map[string]outbox.Event{}
	for _, g := range []struct {
		id     campaign.ID
		golden uuid.UUID
		prefix string
	}{{c.ID(), goldenCampaign, ""}, {o.ID(), goldenOther, ""}, {x.ID(), goldenSpent, ""}, {y.ID(), goldenApproval, ""},
		{z.ID(), goldenPaced, ""}, {z.ID(), goldenPaced, pacedPrefix}} {
		for _, e := range storedEvents(t, db, g.id) {
			e.Payload = bytes.ReplaceAll(e.Payload, []byte(g.id.String()), []byte(g.golden.String()))
			e.AggregateID = g.golden
			if _, seen := out[g.prefix+e.Type]; !seen {
				out[g.prefix+e.Type] = e
			}
		}
	}
	return out
}

// pacedPrefix keys, in goldenEvents' answer, the events of the campaign with pacing settings:
// testdata/events-pacing holds the golden files of the ones whose payload shows them.
const pacedPrefix = "paced/"

// goldenTotals is what the golden scenario's paced campaign delivered, all-time and today.
type goldenTotals struct{ spend decimal.Decimal }

func (g goldenTotals) Delivered(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error) {
	out := map[uuid.UUID]lifecycle.Delivered{}
	for _, id := range ids {
		out[id] = lifecycle.Delivered{Impressions: 20000, Spend: g.spend}
	}
	return out, nil
}

func (g goldenTotals) SpentSince(_ context.Context, since map[uuid.UUID]time.Time) (map[uuid.UUID]decimal.Decimal, error) {
	out := map[uuid.UUID]decimal.Decimal{}
	for id := range since {
		out[id] = g.spend
	}
	return out, nil
}

// goldenCTR is the hourly impressions and clicks of the golden scenario.
type goldenCTR []campaign.CTRWindow

func (g goldenCTR) CTRWindows(context.Context, time.Time, time.Time) ([]campaign.CTRWindow, error) {
	return g, nil
}

// The events whose payload shows a campaign's pacing settings (its creation, an edit of
// them) are byte for byte testdata/events-pacing/<type>.json: settings.pacing is an optional
// member of version 1, absent for campaigns without pacing (the other golden files).
func TestPacingEventsMatchTheGoldenFiles(t *testing.T) {
	events := goldenEvents(t)
	const dir = "testdata/events-pacing"
	for _, typ := range []string{campaign.EventCreated, campaign.EventUpdated} {
		t.Run(typ, func(t *testing.T) {
			e, ok := events[pacedPrefix+typ]
			require.True(t, ok, "the scenario writes a %s for the paced campaign", typ)
			got := goldenEnvelope(t, e)
			path := filepath.Join(dir, typ+".json")
			if *update {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to write it")
			assert.Equal(t, string(want), string(got), "the %s event differs from %s", typ, path)
			assert.Contains(t, string(got), `pacing": {`)
		})
	}
}

func storedEvents(t *testing.T, db *bun.DB, id campaign.ID) []outbox.Event {
	t.Helper()
	evs, err := outbox.List(context.Background(), db, outbox.Query{AggregateID: uuid.UUID(id), Limit: 100})
	require.NoError(t, err)
	return evs
}

// editEverything changes every editable field of in, so that CampaignUpdated's golden file
// shows the path and the shape of each change.
func editEverything(in campaign.Input) campaign.Input {
	minSample := int64(5000)
	end := in.EndDate.AddDate(0, 0, 14)
	maxImp := int64(80000)
	limit := campaign.MustMoney("11000.00", "EUR")
	in.Name, in.Description, in.Type = "Spring sale (extended)", "Fifteen percent off", campaign.TypeLoyalty
	in.TargetingRules = append(in.TargetingRules, campaign.RuleID(uuid.MustParse("0194ffff-0000-7000-8000-000000000003")))
	in.StartDate, in.EndDate = in.StartDate.Add(24*time.Hour), &end
	in.Budget = campaign.MustMoney("12000", "EUR")
	in.Settings = campaign.Settings{
		TargetAudience: []string{"vip"}, Channels: []campaign.Channel{campaign.ChannelEmail, campaign.ChannelSMS},
		Frequency: campaign.FrequencyWeekly, MaxImpressions: &maxImp, BudgetLimit: &limit,
		ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
			{Key: "A", Name: "Control", Weight: 70},
			{Key: "B", Name: "Bold banner", Description: "The banner in bold type", Weight: 30, Control: true}},
			SuccessMetric: campaign.SuccessConversionRate, MinSampleSize: &minSample},
		SchedulingRules: []campaign.SchedulingRule{
			{Days: []string{"SAT"}, Start: "10:00", End: "20:00", Timezone: "Europe/Berlin"}},
		Personalization: campaign.Personalization{Enabled: false, Rules: []campaign.RuleID{}},
	}
	return in
}

// goldenEnvelope is e's CloudEvent as the relay publishes it, indented, with a fixed event
// id in place of the random one.
func goldenEnvelope(t *testing.T, e outbox.Event) []byte {
	t.Helper()
	e.ID = uuid.MustParse(fmt.Sprintf("01950000-0000-7000-8000-%012x", 0xe0+slices.Index(campaign.EventTypes(), e.Type)))
	body, err := json.MarshalIndent(outbox.Envelope(e, "/campaigns") /* the relay's default source */, "", "  ")
	require.NoError(t, err)
	return append(body, '\n')
}
