package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Op is one kind of request of the mix.
type Op string

// The operations, in report order.
const (
	OpGet       Op = "get"       // GET /campaigns/{id}
	OpList      Op = "list"      // GET /campaigns with filters
	OpMetrics   Op = "metrics"   // GET /campaigns/{id}/metrics
	OpTrack     Op = "track"     // POST /campaigns/{id}/track, a batch of events
	OpCreate    Op = "create"    // POST /campaigns
	OpUpdate    Op = "update"    // PUT /campaigns/{id} with If-Match
	OpLifecycle Op = "lifecycle" // POST /campaigns/{id}/pause or resume with If-Match (activate?dryRun=true when activation is refused)
)

// Class groups operations: reads, tracking, writes.
type Class string

// The classes and their share of the mix.
const (
	ClassRead  Class = "read"  // 80%
	ClassTrack Class = "track" // 15%
	ClassWrite Class = "write" // 5%
)

// mixEntry is an operation's weight in a deck of deckSize requests.
type mixEntry struct {
	Op     Op
	Class  Class
	Weight int
}

const deckSize = 200

// Mix is the request mix: 80% reads (35 get, 25 list, 20 metrics), 15% tracking batches, 5%
// writes (2 create, 1.5 update, 1.5 lifecycle), in percent of deckSize.
func Mix() []mixEntry {
	return []mixEntry{
		{OpGet, ClassRead, 70}, {OpList, ClassRead, 50}, {OpMetrics, ClassRead, 40},
		{OpTrack, ClassTrack, 30},
		{OpCreate, ClassWrite, 4}, {OpUpdate, ClassWrite, 3}, {OpLifecycle, ClassWrite, 3},
	}
}

func classOf(op Op) Class {
	for _, m := range Mix() {
		if m.Op == op {
			return m.Class
		}
	}
	return ""
}

// fixture is a campaign the run made. Updates and lifecycle actions need its current version
// (If-Match) and status, so at most one of them is in flight per fixture (busy).
type fixture struct {
	id      string
	name    string
	rule    string
	start   string
	end     string
	status  string // DRAFT, ACTIVE or PAUSED
	version int64
	busy    bool
	edits   int
}

// plan hands out the targets of the attack and follows the answers of the writes.
type plan struct {
	api       string // base URL + /api/v1
	apiPath   string // its path
	header    http.Header
	run       string
	batch     int
	activated bool // the fixtures could be activated: lifecycle = pause/resume

	mu         sync.Mutex
	rng        *rand.Rand
	deck       []Op
	pos        int
	reads      []*fixture // reads and tracking
	all        []*fixture // every fixture (GET, metrics)
	updates    []*fixture // DRAFTs that PUT replaces
	lifecycles []*fixture // ACTIVE/PAUSED campaigns that pause/resume toggle
	byID       map[string]*fixture
	created    []string // ids answered by create
	creates    int
	customers  int
	swapped    int // update or lifecycle turned into a create because every fixture was busy
	refreshes  sync.WaitGroup
	startDay   string
	endDay     string
}

func newPlan(base *url.URL, header http.Header, run string, batch int, seed uint64) *plan {
	api := base.String() + "/api/v1"
	now := time.Now().UTC()
	return &plan{
		api: api, apiPath: base.Path + "/api/v1", header: header, run: run, batch: batch,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), byID: map[string]*fixture{},
		startDay: now.AddDate(0, 0, -1).Format(time.DateOnly), endDay: now.AddDate(0, 0, 1).Format(time.DateOnly),
	}
}

func (p *plan) add(f *fixture) {
	p.all = append(p.all, f)
	p.byID[f.id] = f
}

// next returns the next operation. Requests come in decks of deckSize holding exactly the mix;
// each deck starts with one request of every operation, so that even a short run (or a slow
// deployment) exercises them all, then the rest of the deck in a shuffled order.
func (p *plan) next() Op {
	if p.pos == len(p.deck) {
		p.deck = p.deck[:0]
		var rest []Op
		for _, m := range Mix() {
			p.deck = append(p.deck, m.Op)
			for range m.Weight - 1 {
				rest = append(rest, m.Op)
			}
		}
		head := len(p.deck)
		p.rng.Shuffle(head, func(i, j int) { p.deck[i], p.deck[j] = p.deck[j], p.deck[i] })
		p.rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		p.deck = append(p.deck, rest...)
		p.pos = 0
	}
	op := p.deck[p.pos]
	p.pos++
	return op
}

// freeFixture picks a fixture of fs that no write holds, and marks it busy.
func (p *plan) freeFixture(fs []*fixture) *fixture {
	if len(fs) == 0 {
		return nil
	}
	start := p.rng.IntN(len(fs))
	for i := range fs {
		f := fs[(start+i)%len(fs)]
		if !f.busy {
			f.busy = true
			return f
		}
	}
	return nil
}

// Targeter is vegeta's source of requests. Workers call it concurrently.
func (p *plan) Targeter() vegeta.Targeter {
	return func(t *vegeta.Target) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		op := p.next()
		h := p.header.Clone()
		t.Header = h
		switch op {
		case OpGet:
			t.Method, t.URL = http.MethodGet, p.api+"/campaigns/"+p.all[p.rng.IntN(len(p.all))].id
		case OpList:
			t.Method, t.URL = http.MethodGet, p.api+"/campaigns?"+p.listQuery()
		case OpMetrics:
			f := p.all[p.rng.IntN(len(p.all))]
			t.Method, t.URL = http.MethodGet, p.api+"/campaigns/"+f.id+"/metrics"
			if p.rng.IntN(2) == 0 {
				t.URL += "?from=" + p.startDay + "&to=" + p.endDay
			}
		case OpTrack:
			f := p.reads[p.rng.IntN(len(p.reads))]
			t.Method, t.URL = http.MethodPost, p.api+"/campaigns/"+f.id+"/track"
			t.Body = p.trackBody()
			h.Set("Content-Type", "application/json")
		case OpUpdate, OpLifecycle:
			pool := p.updates
			if op == OpLifecycle {
				pool = p.lifecycles
			}
			f := p.freeFixture(pool)
			if f == nil {
				p.swapped++
				p.createTarget(t)
				return nil
			}
			if op == OpUpdate {
				f.edits++
				t.Method, t.URL = http.MethodPut, p.api+"/campaigns/"+f.id
				t.Body = mustJSON(fixtureBody(f, p.run, fmt.Sprintf("edit %d", f.edits), 1_000_000+f.edits))
				h.Set("Content-Type", "application/json")
				h.Set("If-Match", strconv.Quote(strconv.FormatInt(f.version, 10)))
				return nil
			}
			p.lifecycleTarget(t, f)
		default: // OpCreate
			p.createTarget(t)
		}
		return nil
	}
}

func (p *plan) lifecycleTarget(t *vegeta.Target, f *fixture) {
	switch {
	case !p.activated:
		// The deployment refuses activation (no Rules Engine rule...): judge it without
		// changing anything, which still runs every guard and check.
		t.Method, t.URL = http.MethodPost, p.api+"/campaigns/"+f.id+"/activate?dryRun=true"
		f.busy = false
		return
	case f.status == "ACTIVE":
		t.Method, t.URL = http.MethodPost, p.api+"/campaigns/"+f.id+"/pause"
		t.Body = []byte(`{"reason":"load test"}`)
		t.Header.Set("Content-Type", "application/json")
	default:
		t.Method, t.URL = http.MethodPost, p.api+"/campaigns/"+f.id+"/resume"
	}
	t.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(f.version, 10)))
}

func (p *plan) createTarget(t *vegeta.Target) {
	p.creates++
	t.Method, t.URL = http.MethodPost, p.api+"/campaigns"
	start := time.Now().UTC().Add(time.Hour).Truncate(time.Second).Format(time.RFC3339)
	t.Body = mustJSON(map[string]any{
		"name": fmt.Sprintf("%s-new-%d", p.run, p.creates), "type": "COUPON", "startDate": start,
		"description": "made by a load test",
		"budget":      map[string]any{"amount": "100.00", "currency": "EUR"},
		"settings":    map[string]any{"channels": []string{"EMAIL"}, "frequency": "ONCE"},
	})
	t.Header.Set("Content-Type", "application/json")
}

// listQuery rotates over the list filters a console or a client uses, each limited to the
// run's campaigns by the name search.
func (p *plan) listQuery() string {
	q := url.Values{"q": {p.run}}
	switch p.rng.IntN(5) {
	case 0:
		q.Set("limit", "20")
	case 1:
		q.Set("status", "ACTIVE")
		q.Set("sort", "-createdAt")
		q.Set("limit", "20")
	case 2:
		q.Set("type", "PROMOTION")
		q.Set("channel", "EMAIL")
		q.Set("limit", "50")
	case 3:
		q.Set("servingStatus", "SERVING")
		q.Set("limit", "20")
	default:
		q.Set("sort", "name")
		q.Set("limit", "10")
	}
	return q.Encode()
}

// trackBody is a batch of events a storefront or a messaging service would send: mostly
// impressions, some clicks, a few conversions and costs, on the fixtures' variants and
// channels.
func (p *plan) trackBody() []byte {
	type money struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}
	type event struct {
		EventID    string `json:"eventId"`
		Type       string `json:"type"`
		Variant    string `json:"variant,omitempty"`
		Channel    string `json:"channel,omitempty"`
		CustomerID string `json:"customerId,omitempty"`
		Revenue    *money `json:"revenue,omitempty"`
		Cost       *money `json:"cost,omitempty"`
	}
	events := make([]event, p.batch)
	for i := range events {
		p.customers++
		e := event{EventID: uuid.NewString(), Variant: []string{"A", "B"}[p.rng.IntN(2)],
			Channel: []string{"EMAIL", "PUSH"}[p.rng.IntN(2)], CustomerID: "lt-c-" + strconv.Itoa(p.customers%5000)}
		switch r := p.rng.IntN(100); {
		case r < 60:
			e.Type = "IMPRESSION"
		case r < 85:
			e.Type = "CLICK"
		case r < 90:
			e.Type = "CONVERSION"
			e.Revenue = &money{"19.90", "EUR"}
		default:
			e.Type, e.CustomerID = "COST", ""
			e.Cost = &money{"0.05", "EUR"}
		}
		events[i] = e
	}
	return mustJSON(map[string]any{"events": events})
}

// fixtureBody is the create/replace body of a fixture: a long-running promotion with a huge
// budget, so that the run's costs never pause it, two A/B variants and two channels.
func fixtureBody(f *fixture, run, description string, budget int) map[string]any {
	return map[string]any{
		"name": f.name, "type": "PROMOTION", "description": run + " " + description,
		"targetingRules": []string{f.rule},
		"startDate":      f.start, "endDate": f.end,
		"budget": map[string]any{"amount": strconv.Itoa(budget) + ".00", "currency": "EUR"},
		"settings": map[string]any{
			"channels": []string{"EMAIL", "PUSH"}, "frequency": "DAILY",
			"abTestSettings": map[string]any{"enabled": true, "variants": []map[string]any{
				{"key": "A", "name": "Control", "weight": 50}, {"key": "B", "name": "Challenger", "weight": 50}}},
		},
	}
}

// observe follows the answer of one request: created ids, and the versions and statuses of
// the fixtures that updates and lifecycle actions changed. A write that failed leaves its
// fixture busy until refresh has read it again.
func (p *plan) observe(ctx context.Context, c *client, res *vegeta.Result, op Op, id string) {
	switch op {
	case OpCreate:
		if res.Code == http.StatusCreated {
			loc := res.Headers.Get("Location")
			if i := strings.LastIndexByte(loc, '/'); i >= 0 {
				p.mu.Lock()
				p.created = append(p.created, loc[i+1:])
				p.mu.Unlock()
			}
		}
	case OpUpdate, OpLifecycle:
		if !p.activated && op == OpLifecycle {
			return // dry runs change nothing and hold nothing
		}
		p.mu.Lock()
		f := p.byID[id]
		if f == nil {
			p.mu.Unlock()
			return
		}
		switch v := etagVersion(res.Headers); {
		case res.Code == http.StatusOK && v > 0:
			f.version = v
			if op == OpLifecycle {
				f.status = map[string]string{"ACTIVE": "PAUSED", "PAUSED": "ACTIVE"}[f.status]
			}
			f.busy = false
			p.mu.Unlock()
			return
		case res.Code >= 400 && res.Code < 500 && res.Code != http.StatusConflict && res.Code != http.StatusPreconditionFailed:
			// Refused before any change (rate-limited, invalid...): the fixture is as it was.
			f.busy = false
			p.mu.Unlock()
			return
		}
		// No answer, a 5xx, or a stale version (409, 412): read the campaign again.
		p.mu.Unlock()
		p.refreshes.Add(1)
		go func() {
			defer p.refreshes.Done()
			p.refresh(ctx, c, f)
		}()
	}
}

// refresh reads a fixture's version and status after a write whose outcome is unknown (no
// answer, a 5xx) or whose version was stale (409, 412), and frees it.
func (p *plan) refresh(ctx context.Context, c *client, f *fixture) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/campaigns/"+f.id, nil)
	var body struct {
		Status string `json:"status"`
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || json.Unmarshal(resp.Body, &body) != nil {
		return // stays busy: the run goes on with the other fixtures
	}
	f.version, f.status = etagVersion(resp.Header), body.Status
	// A fixture the run can no longer edit or toggle (completed or cancelled meanwhile, by
	// the automation or someone else) stays busy, so that it is never picked again.
	switch f.status {
	case "DRAFT", "ACTIVE", "PAUSED":
		f.busy = false
	}
}

// classify names the operation of a request and the campaign id in its path.
func (p *plan) classify(method, rawURL string) (Op, string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", ""
	}
	rest, ok := strings.CutPrefix(u.Path, p.apiPath+"/campaigns")
	if !ok {
		return "", ""
	}
	if rest == "" {
		if method == http.MethodPost {
			return OpCreate, ""
		}
		return OpList, ""
	}
	id, sub, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case sub == "" && method == http.MethodGet:
		return OpGet, id
	case sub == "" && method == http.MethodPut:
		return OpUpdate, id
	case sub == "metrics":
		return OpMetrics, id
	case sub == "track":
		return OpTrack, id
	case sub == "pause" || sub == "resume" || sub == "activate":
		return OpLifecycle, id
	}
	return "", id
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("loadtest: encode %T: %v", v, err)) // only maps and structs of strings and numbers
	}
	return b
}
