package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// TestHostileInput walks every operation of the OpenAPI document, so that a new route is
// walked without anyone adding it here, on every database. It sends hostile values in every
// path, query, header and body parameter the document declares (NUL, invalid UTF-8, huge
// numbers, year 0 and year 10000 dates, empty and 10,000-character strings, wrong JSON types,
// null, arrays for objects, deep nesting), against a real campaign (in the status the
// operation needs, so that handlers get past the 404 and the state checks) and against hostile
// ids. Every answer must be below 500, every 4xx a valid problem (type, title, status of the
// answer), and every answer documented (apptest validates it). It also holds every route to
// the strict request rules: unknown or repeated single-valued query parameters, field names in
// another case, null bodies and bodies that are not JSON are refused.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	ops := operations(apptest.Document(t))
	require.NotEmpty(t, ops)
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		start := time.Now()
		// An approval threshold below approvalCampaign's budget and above the walk's others.
		w := &walker{s: apptest.New(t, target, apptest.ServerConfig{Configure: func(cfg *config.Config) {
			cfg.Approval.Thresholds = map[string]string{"EUR": "5000"}
		}}), ready: map[lifecycle.Status]string{}}
		w.shared = w.campaign(t, lifecycle.StatusDraft)
		w.replaced = w.campaign(t, lifecycle.StatusDraft)
		for _, op := range ops {
			t.Run(op.method+" "+op.path, func(t *testing.T) { w.walk(t, op) })
		}
		t.Logf("%s: %d operations, %d requests sent, %d answered 5xx, %d problems malformed, in %s",
			target.Name, len(ops), w.sent, w.serverErrors, w.badProblems, time.Since(start).Round(time.Millisecond))
		if w.serverErrors > 0 || w.badProblems > 0 {
			t.Errorf("%d answers were 5xx and %d 4xx answers were not valid problems (the first are listed above)",
				w.serverErrors, w.badProblems)
		}
	})
}

// operation is one method of one path of the OpenAPI document.
type operation struct {
	method, path string // the path as documented: /api/v1/campaigns/{id}
	op           *openapi3.Operation
	params       openapi3.Parameters // the path's, then the operation's
}

// operations lists every operation of doc in a stable order.
func operations(doc *openapi3.T) []operation {
	var out []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...)
			out = append(out, operation{method: method, path: path, op: op, params: params})
		}
	}
	slices.SortFunc(out, func(a, b operation) int {
		return strings.Compare(a.path+" "+a.method, b.path+" "+b.method)
	})
	return out
}

// request is one request of the walk. A nil body sends none; id "" means the real campaign.
type request struct {
	id     string
	query  string // raw, already encoded
	header map[string]string
	body   []byte
	ctype  string // Content-Type; "" sends none
	about  string // what the request tries, for failure messages
}

// walker sends the requests and checks every answer.
type walker struct {
	s                         *apptest.Server
	shared                    string // a DRAFT campaign the read-only operations use
	replaced                  string // a DRAFT campaign the PUTs replace
	sent                      int
	serverErrors, badProblems int
	seq                       int
	// ready holds, per status, a campaign no request has changed yet: a request that failed
	// changed nothing, so the next one may use the same campaign.
	ready map[lifecycle.Status]string
}

const realID = "" // request.id of the real campaign

// campaign creates a campaign in status through the service (fast, and not a request of the
// walk) and returns its id.
func (w *walker) campaign(t *testing.T, status lifecycle.Status) string {
	t.Helper()
	ctx := context.Background()
	w.seq++
	budget, err := campaign.NewMoney("1000.00", "EUR")
	require.NoError(t, err)
	in := campaign.Input{
		Name: fmt.Sprintf("Hostile walk %d %s", w.seq, uuid.NewString()[:8]), Type: campaign.TypePromotion,
		TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.MustParse(rule1))},
		StartDate:      time.Now().Add(time.Hour).UTC(), Budget: budget,
		Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail, campaign.ChannelPush},
			Frequency: campaign.FrequencyOnce, ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
				{Key: "A", Name: "Control", Weight: 50}, {Key: "B", Name: "New", Weight: 50}}}},
	}
	actor := campaign.UserID(uuid.MustParse(userA))
	c, err := w.s.API.Campaigns.Create(ctx, actor, in)
	require.NoError(t, err)
	var path []lifecycle.Action
	switch status {
	case lifecycle.StatusActive:
		path = []lifecycle.Action{lifecycle.ActionActivate}
	case lifecycle.StatusPaused:
		path = []lifecycle.Action{lifecycle.ActionActivate, lifecycle.ActionPause}
	}
	for _, a := range path {
		_, err := w.s.API.Campaigns.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: a, Actor: &actor})
		require.NoError(t, err)
	}
	return c.ID().String()
}

// target is the real campaign of a request to op: for an operation that changes the
// campaign's status (a lifecycle action, a delete), one in the status the operation needs and
// that no earlier request changed; else a shared one. changes says the answer must retire it.
func (w *walker) target(t *testing.T, op operation) (id string, changes *lifecycle.Status) {
	if op.method == http.MethodPut {
		return w.replaced, nil
	}
	if !strings.Contains(op.path, "{id}") {
		return w.shared, nil // a bulk action names its campaigns in the body (baseBody)
	}
	status, ok := lifecycle.Status(""), false
	if op.method == http.MethodDelete {
		status, ok = lifecycle.StatusDraft, true
	}
	seg := op.path[strings.LastIndex(op.path, "/")+1:]
	if op.method == http.MethodPost && (seg == "submit-for-approval" || seg == "approve" || seg == "reject") {
		// A campaign of its own in the approval status the step needs, by another author.
		key := lifecycle.Status("approval " + seg)
		if w.ready[key] == "" {
			w.ready[key] = approvalCampaign(t, w.s, seg != "submit-for-approval")
		}
		return w.ready[key], &key
	}
	if a, err := lifecycle.ParseAction(seg); err == nil && op.method == http.MethodPost {
		for _, tr := range lifecycle.Table() {
			if tr.Action == a {
				status, ok = tr.From, true
				break
			}
		}
	}
	if !ok {
		return w.shared, nil
	}
	if w.ready[status] == "" {
		w.ready[status] = w.campaign(t, status)
	}
	return w.ready[status], &status
}

func (w *walker) send(t *testing.T, op operation, r request) *apptest.Response {
	t.Helper()
	id, changes := r.id, (*lifecycle.Status)(nil)
	if id == realID {
		id, changes = w.target(t, op)
	}
	target := w.s.URL + strings.ReplaceAll(op.path, "{id}", url.PathEscape(id))
	if r.query != "" {
		target += "?" + r.query
	}
	var body io.Reader = http.NoBody
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(op.method, target, body)
	require.NoError(t, err)
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	req.Header.Set("X-User-ID", userA)
	for k, v := range r.header {
		if v == currentVersion {
			v = w.etag(t, id)
		}
		req.Header.Set(k, v)
	}
	resp := w.s.Send(req, r.body)
	w.sent++
	if changes != nil && resp.Status < 300 {
		delete(w.ready, *changes) // it may have changed (a dry run did not, but cannot tell)
	}
	w.check(t, op, r, resp)
	return resp
}

// currentVersion in a request's header stands for the ETag of its target's current version.
const currentVersion = "\x00current-version"

// etag is the ETag of campaign id's current version; one that matches no version when id is
// not a campaign's.
func (w *walker) etag(t *testing.T, id string) string {
	uid, err := uuid.Parse(id)
	if err != nil {
		return `"1"`
	}
	c, err := w.s.API.Campaigns.Get(context.Background(), campaign.ID(uid))
	if err != nil {
		return `"1"`
	}
	return `"` + strconv.FormatInt(c.Version(), 10) + `"`
}

// check holds every answer to the rules of the walk: below 500, and every 4xx a problem.
func (w *walker) check(t *testing.T, op operation, r request, resp *apptest.Response) {
	t.Helper()
	if resp.Status >= 500 {
		w.serverErrors++
		if w.serverErrors <= 25 {
			t.Errorf("%s %s (%s) -> %d %s", op.method, op.path, r.about, resp.Status, clip(resp.Body))
		}
		return
	}
	if resp.Status < 400 {
		return
	}
	var p map[string]any
	err := json.Unmarshal(resp.Body, &p)
	typ, _ := p["type"].(string)
	title, _ := p["title"].(string)
	status, _ := p["status"].(float64)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") || err != nil ||
		typ == "" || title == "" || int(status) != resp.Status {
		w.badProblems++
		if w.badProblems <= 25 {
			t.Errorf("%s %s (%s) -> %d is not a problem: %s %s", op.method, op.path, r.about, resp.Status,
				resp.Header.Get("Content-Type"), clip(resp.Body))
		}
	}
}

// expect asserts the status of an answer and, when field is not empty, that its problem names
// field.
func expect(t *testing.T, op operation, r request, resp *apptest.Response, statuses []int, field string) {
	t.Helper()
	if !slices.Contains(statuses, resp.Status) {
		t.Errorf("%s %s (%s) -> %d, want %v: %s", op.method, op.path, r.about, resp.Status, statuses, clip(resp.Body))
		return
	}
	if field != "" && !slices.Contains(problemFields(resp), field) {
		t.Errorf("%s %s (%s) -> %d does not name %q: %s", op.method, op.path, r.about, resp.Status, field, clip(resp.Body))
	}
}

func problemFields(resp *apptest.Response) []string {
	var p struct {
		Errors []struct{ Field, Message string }
	}
	_ = json.Unmarshal(resp.Body, &p)
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

// problemMessage is the message of the problem's error for field ("" when none).
func problemMessage(resp *apptest.Response, field string) string {
	var p struct {
		Errors []struct{ Field, Message string }
	}
	_ = json.Unmarshal(resp.Body, &p)
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// walk sends every request of one operation.
func (w *walker) walk(t *testing.T, op operation) {
	base := w.baseRequest(t, op)
	w.send(t, op, base)
	w.walkIDs(t, op, base)
	w.walkQuery(t, op, base)
	w.walkHeaders(t, op, base)
	w.walkBody(t, op, base)
}

// baseRequest is a request the operation accepts, to which one hostile value at a time is
// added.
func (w *walker) baseRequest(t *testing.T, op operation) request {
	r := request{id: realID, about: "base"}
	if op.method == http.MethodPut {
		r.header = map[string]string{"If-Match": "*"}
	}
	if seg := op.path[strings.LastIndex(op.path, "/")+1:]; op.method == http.MethodPost && (seg == "approve" || seg == "reject") {
		r.header = map[string]string{"If-Match": currentVersion} // a decision requires the version read
	}
	if rb := op.op.RequestBody; rb != nil {
		mt := rb.Value.Content.Get("application/json")
		if mt == nil {
			return w.fileRequest(t, op) // an import: JSON Lines or CSV
		}
		r.body, r.ctype = mustJSON(t, w.baseBody(t, mt.Schema, op)), "application/json"
	}
	return r
}

// baseBody is a valid body for schema: a hand-written one for the schemas the API has today
// (valid, so that hostile values reach the deepest checks), else one made from the schema.
func (w *walker) baseBody(t *testing.T, ref *openapi3.SchemaRef, op operation) any {
	event := map[string]any{"type": "CLICK", "variant": "A", "channel": "EMAIL", "customerId": "c-1"}
	switch schemaName(ref) {
	case "CampaignCreate":
		return map[string]any{
			"name": "Hostile create", "description": "made by the walk", "type": "LOYALTY",
			"targetingRules": []string{rule1}, "startDate": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
			"endDate": time.Now().Add(96 * time.Hour).UTC().Format(time.RFC3339),
			"budget":  map[string]any{"amount": "100.00", "currency": "EUR"},
			"settings": map[string]any{
				"targetAudience": []string{"vip"}, "channels": []string{"SMS"}, "frequency": "DAILY",
				"maxImpressions": 10, "budgetLimit": map[string]any{"amount": "50", "currency": "EUR"},
				"abTestSettings": map[string]any{"enabled": true, "variants": []map[string]any{
					{"key": "A", "name": "One", "weight": 50}, {"key": "B", "name": "Two", "weight": 50}}},
				"schedulingRules": []map[string]any{{"days": []string{"MON"}, "startTime": "09:00", "endTime": "17:00", "timezone": "Europe/Paris"}},
				"personalization": map[string]any{"enabled": true, "rules": []string{rule1}},
			},
		}
	case "CampaignUpdate":
		// What GET returns, read-only members and all.
		r := w.s.Do(http.MethodGet, "/api/v1/campaigns/"+w.replaced, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		return r.Map(t)
	case "TransitionRequest", "RejectRequest":
		return map[string]any{"reason": "walked with hostile input"}
	case "DuplicateRequest":
		// Copies of the shared campaign (its dates lie ahead); each accepted request makes one.
		return map[string]any{"startDate": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339), "endDate": nil}
	case "BulkActionRequest", "BulkDeleteRequest":
		// A campaign of its own in the status the action needs (acted on by the first accepted
		// request; the later ones get that campaign's 409 as a result), and an unknown one.
		status := lifecycle.StatusDraft
		if a, err := lifecycle.ParseAction(op.path[strings.LastIndex(op.path, "/")+1:]); err == nil {
			for _, tr := range lifecycle.Table() {
				if tr.Action == a {
					status = tr.From
					break
				}
			}
		}
		body := map[string]any{"ids": []string{w.campaign(t, status), uuid.NewString()}}
		if schemaName(ref) == "BulkActionRequest" {
			body["reason"] = "walked with hostile input"
		}
		return body
	case "TrackRequest":
		return event
	case "TrackingEvent":
		return event
	case "TrackingBatch":
		return map[string]any{"events": []any{event}}
	case "EligibilityRequest":
		return map[string]any{"customerId": "c-1", "context": map[string]any{"country": "ES"}, "channel": "EMAIL"}
	default:
		t.Logf("%s %s: no hand-written body for schema %q; one is made from the schema", op.method, op.path, schemaName(ref))
		return sample(ref.Value, 0)
	}
}

func schemaName(ref *openapi3.SchemaRef) string {
	return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
}

// sample makes a value of schema: its example, default or first enum value, else a value of
// its type.
func sample(s *openapi3.Schema, depth int) any {
	switch {
	case s == nil || depth > 8:
		return nil
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.OneOf) > 0:
		return sample(s.OneOf[0].Value, depth+1)
	case len(s.AllOf) > 0:
		return sample(s.AllOf[0].Value, depth+1)
	}
	switch {
	case s.Type.Is("object"):
		m := map[string]any{}
		for name, p := range s.Properties {
			m[name] = sample(p.Value, depth+1)
		}
		return m
	case s.Type.Is("array"):
		return []any{sample(s.Items.Value, depth+1)}
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return false
	case s.Format == "uuid":
		return uuid.NewString()
	case s.Format == "date-time":
		return time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	case s.Format == "date":
		return time.Now().UTC().Format(time.DateOnly)
	default:
		return strings.Repeat("x", max(int(s.MinLength), 3))
	}
}

// Hostile values.

// hostileText are values of path, query and header parameters: control bytes, broken
// encodings, the extremes of size, and the extremes of every format the API parses (numbers,
// dates, ids, lists, cursors).
func hostileText() []string {
	forged := func(c campaign.Cursor) string { return c.Encode() }
	return []string{
		"", " ", "\x00", "abc\x00def", "\xff", "caf\xc3", "\xed\xa0\x80", "\t\r\n", "\u202eevil", "💥",
		strings.Repeat("x", 10_000), strings.Repeat("é", 5_000),
		"-1", "0", "1.5", "1e400", "99999999999999999999999999", "9223372036854775808", "NaN",
		"true", "null", "[]", "{}", "a,,b,", "DRAFT,\x00", "%00", "'; DROP TABLE campaigns; --", `\u0000`,
		"0000-01-01", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "10000-01-01",
		"9999-12-31T23:30:00-05:00", "2026-02-30", "-0001-01-01",
		"00000000-0000-0000-0000-000000000000", strings.ToUpper(uuid.NewString()),
		forged(campaign.Cursor{Sort: campaign.SortName, Value: "\x00"}),
		forged(campaign.Cursor{Sort: campaign.SortName, Value: "\xff"}),
		forged(campaign.Cursor{Sort: campaign.SortCreatedAt, Desc: true, Value: "0000-01-01T00:00:00Z"}),
		forged(campaign.Cursor{Sort: campaign.SortStartDate, Value: "0001-01-01T00:00:00+01:00"}),
	}
}

// hostileIDs are campaign ids that name no campaign, or not quite.
func hostileIDs() []string {
	id := uuid.NewString()
	return []string{
		"not-a-uuid", "00000000-0000-0000-0000-000000000000", id, strings.ToUpper(id), "{" + id + "}",
		"urn:uuid:" + id, strings.ReplaceAll(id, "-", ""), "\x00", "\xff", strings.Repeat("a", 10_000),
		"1e400", "-1", "null", "..", "%00",
	}
}

// hostileJSON are JSON values put in place of one member of a valid body. They are raw
// text, so that invalid UTF-8 reaches the server as it is.
func hostileJSON() []string {
	return []string{
		`null`, `""`, `"abc\u0000def"`, "\"\xff\xfe\"", `"\ud800"`, `"` + strings.Repeat("x", 10_000) + `"`,
		`-1`, `1.5`, `1e400`, `99999999999999999999999999`, `true`, `{}`, `[]`, `[null]`, `["\u0000"]`,
		`"0000-01-01T00:00:00Z"`, `"0001-01-01T00:00:00+01:00"`, `"10000-01-01T00:00:00Z"`,
		`"9999-12-31T23:59:59-23:59"`, `"00000000-0000-0000-0000-000000000000"`,
		strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100), strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	}
}

// hostileHeaders are values of header parameters: those of hostileText a client can send in
// a header at all (no control bytes), and the extremes of the headers the API reads
// (ETags, keys, user ids).
func hostileHeaders() []string {
	return []string{
		"", " ", "\xff", "caf\xc3", "💥", strings.Repeat("x", 10_000), strings.Repeat("é", 5_000),
		"-1", "1e400", "null", `\u0000`, "*", `W/"1"`, `"0"`, `"99999999999999999999"`, `"1", "2"`,
		"00000000-0000-0000-0000-000000000000", strings.ToUpper(uuid.NewString()),
	}
}

// The walks.

func (w *walker) walkIDs(t *testing.T, op operation, base request) {
	if !strings.Contains(op.path, "{id}") {
		return
	}
	for _, id := range hostileIDs() {
		r := base
		r.id, r.about = id, fmt.Sprintf("id %.40q", id)
		w.send(t, op, r)
	}
}

func (w *walker) walkQuery(t *testing.T, op operation, base request) {
	// Every operation refuses what it does not declare, and a malformed query string.
	r := base
	r.query, r.about = "zz_unknown=1", "an undeclared query parameter"
	expect(t, op, r, w.send(t, op, r), []int{http.StatusBadRequest}, "zz_unknown")
	r.query, r.about = "limit=%zz", "a malformed query string"
	expect(t, op, r, w.send(t, op, r), []int{http.StatusBadRequest}, "")
	for _, pr := range op.params {
		p := pr.Value
		if p.In != "query" {
			continue
		}
		repeatable := p.Schema.Value.Type.Is("array")
		good := fmt.Sprint(sampleParam(p))
		// A declared parameter is accepted as a name (its value may still be refused).
		r := base
		r.query, r.about = url.Values{p.Name: {good}}.Encode(), "declared parameter "+p.Name
		resp := w.send(t, op, r)
		if msg := problemMessage(resp, p.Name); strings.Contains(msg, "unknown") || strings.Contains(msg, "once") {
			t.Errorf("%s %s: the documented parameter %s is refused: %s", op.method, op.path, p.Name, msg)
		}
		r.query, r.about = url.Values{p.Name: {good, good}}.Encode(), "repeated parameter "+p.Name
		resp = w.send(t, op, r)
		if repeatable {
			if msg := problemMessage(resp, p.Name); strings.Contains(msg, "once") {
				t.Errorf("%s %s: the repeatable parameter %s is refused twice: %s", op.method, op.path, p.Name, msg)
			}
		} else {
			expect(t, op, r, resp, []int{http.StatusBadRequest}, p.Name)
		}
		for _, v := range hostileText() {
			r.query, r.about = url.Values{p.Name: {v}}.Encode(), fmt.Sprintf("%s=%.40q", p.Name, v)
			w.send(t, op, r)
		}
	}
}

// sampleParam is a valid value of a parameter.
func sampleParam(p *openapi3.Parameter) any {
	s := p.Schema.Value
	if s.Type.Is("array") {
		return sample(s.Items.Value, 0)
	}
	if p.Example != nil {
		return p.Example
	}
	return sample(s, 0)
}

func (w *walker) walkHeaders(t *testing.T, op operation, base request) {
	for _, pr := range op.params {
		p := pr.Value
		if p.In != "header" {
			continue
		}
		for _, v := range hostileHeaders() {
			r := base
			r.header = map[string]string{p.Name: v}
			for k, v := range base.header {
				if k != p.Name {
					r.header[k] = v
				}
			}
			r.about = fmt.Sprintf("header %s: %.40q", p.Name, v)
			w.send(t, op, r)
		}
	}
}

func (w *walker) walkBody(t *testing.T, op operation, base request) {
	rb := op.op.RequestBody
	if rb == nil {
		// An operation without a body ignores none: a body it does not read is harmless, and
		// never a 5xx.
		r := base
		r.body, r.ctype, r.about = []byte(`{"a":1}`), "application/json", "a body the operation does not take"
		w.send(t, op, r)
		return
	}
	if rb.Value.Content.Get("application/json") == nil {
		w.walkFile(t, op, base)
		return
	}
	required := rb.Value.Required
	const ctJSON = "application/json"
	limit := int(w.s.API.Config.HTTP.BodyLimit)
	generic := []struct {
		body, about string
		want        []int
		field       string
	}{
		{`null`, "a null body", []int{http.StatusBadRequest}, ""},
		{`[]`, "an array body", []int{http.StatusBadRequest}, ""},
		{`"text"`, "a string body", []int{http.StatusBadRequest}, ""},
		{`1`, "a number body", []int{http.StatusBadRequest}, ""},
		{`true`, "a boolean body", []int{http.StatusBadRequest}, ""},
		{`{`, "truncated JSON", []int{http.StatusBadRequest}, ""},
		{`{"a":1,}`, "malformed JSON", []int{http.StatusBadRequest}, ""},
		{`{} {}`, "two JSON values", []int{http.StatusBadRequest}, ""},
		{"\xff", "invalid UTF-8", []int{http.StatusBadRequest}, ""},
		{"{\"a\":\"\xff\"}", "invalid UTF-8 in a string", []int{http.StatusBadRequest}, ""},
		{`{"a":1,"a":2}`, "a member given twice", []int{http.StatusBadRequest}, "a"},
		{strings.Repeat("[", 20_000), "deeply nested arrays", []int{http.StatusBadRequest}, ""},
		{strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000), "deeply nested objects", []int{http.StatusBadRequest}, ""},
		{`{"a":"` + strings.Repeat("x", limit) + `"}`, "a body over the limit", []int{http.StatusRequestEntityTooLarge}, ""},
		{`{}`, "an empty object", nil, ""},
	}
	for _, g := range generic {
		r := base
		r.body, r.ctype, r.about = []byte(g.body), ctJSON, g.about
		resp := w.send(t, op, r)
		if g.want != nil {
			expect(t, op, r, resp, g.want, g.field)
		}
	}
	// The media type: a body must say it is JSON.
	r := base
	r.ctype, r.about = "text/plain", "a JSON body sent as text/plain"
	expect(t, op, r, w.send(t, op, r), []int{http.StatusUnsupportedMediaType}, "")
	r.ctype, r.about = "", "a JSON body without Content-Type"
	expect(t, op, r, w.send(t, op, r), []int{http.StatusUnsupportedMediaType}, "")
	r.ctype, r.about = "application/json; charset=utf-8", "a charset parameter"
	w.send(t, op, r)
	r.body, r.ctype, r.about = nil, "", "no body at all"
	resp := w.send(t, op, r)
	if required {
		expect(t, op, r, resp, []int{http.StatusBadRequest}, "")
	} else if resp.Status == http.StatusUnsupportedMediaType || resp.Status == http.StatusBadRequest {
		t.Errorf("%s %s: an optional body left out -> %d: %s", op.method, op.path, resp.Status, clip(resp.Body))
	}

	// One member at a time: hostile values, and its name in another case.
	schema := rb.Value.Content.Get(ctJSON).Schema
	for _, alt := range alternatives(schema) {
		var baseValue any
		require.NoError(t, json.Unmarshal(mustJSON(t, w.baseBody(t, alt, op)), &baseValue))
		for _, path := range members(alt.Value, nil, 0) {
			for _, v := range hostileJSON() {
				r := base
				r.body, r.about = withMember(t, baseValue, path, v), fmt.Sprintf("%s = %.40s", pathText(path), v)
				w.send(t, op, r)
			}
			if renamed, ok := withRenamed(t, baseValue, path); ok {
				r := base
				r.body, r.about = renamed, pathText(path)+" in another case"
				// A batch's events and a single event are judged one by one (422 naming the field).
				expect(t, op, r, w.send(t, op, r), []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, renamedPath(path))
			}
		}
	}
}

// alternatives are the schemas a body may follow: each of a oneOf, else the schema itself.
func alternatives(ref *openapi3.SchemaRef) []*openapi3.SchemaRef {
	if len(ref.Value.OneOf) > 0 {
		return ref.Value.OneOf
	}
	return []*openapi3.SchemaRef{ref}
}

// members lists the paths of every member the schema declares, nested objects and array
// items ("[]") included, in a stable order.
func members(s *openapi3.Schema, prefix []string, depth int) [][]string {
	if s == nil || depth > 8 {
		return nil
	}
	var out [][]string
	for _, sub := range append(append([]*openapi3.SchemaRef{}, s.AllOf...), s.OneOf...) {
		out = append(out, members(sub.Value, prefix, depth+1)...)
	}
	if s.Type.Is("array") && s.Items != nil {
		item := append(slices.Clone(prefix), "[]")
		out = append(out, item)
		out = append(out, members(s.Items.Value, item, depth+1)...)
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := append(slices.Clone(prefix), name)
		out = append(out, p)
		out = append(out, members(s.Properties[name].Value, p, depth+1)...)
	}
	return slices.CompactFunc(out, slices.Equal)
}

func pathText(path []string) string {
	var b strings.Builder
	for _, seg := range path {
		if seg == "[]" {
			b.WriteString("[0]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// renamedPath is the field a problem names for path with its last member capitalised.
func renamedPath(path []string) string {
	p := slices.Clone(path)
	p[len(p)-1] = capitalise(p[len(p)-1])
	return pathText(p)
}

func capitalise(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

const placeholder = "\x01hostile\x01"

// withMember is base (a JSON value) with the member at path replaced by raw, creating the
// objects and the first array items on the way.
func withMember(t *testing.T, base any, path []string, raw string) []byte {
	t.Helper()
	root := set(clone(t, base), path, placeholder)
	b := mustJSON(t, root)
	quoted := mustJSON(t, placeholder)
	require.Equal(t, 1, bytes.Count(b, quoted))
	return bytes.Replace(b, quoted, []byte(raw), 1)
}

func set(node any, path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	if path[0] == "[]" {
		arr, _ := node.([]any)
		if len(arr) == 0 {
			arr = []any{map[string]any{}}
		}
		arr[0] = set(arr[0], path[1:], v)
		return arr
	}
	obj, ok := node.(map[string]any)
	if !ok {
		obj = map[string]any{}
	}
	obj[path[0]] = set(obj[path[0]], path[1:], v)
	return obj
}

// withRenamed is base with the member at path renamed in another case; false when base does
// not have the member.
func withRenamed(t *testing.T, base any, path []string) ([]byte, bool) {
	t.Helper()
	last := path[len(path)-1]
	if last == "[]" || capitalise(last) == last {
		return nil, false
	}
	root := clone(t, base)
	node := root
	for _, seg := range path[:len(path)-1] {
		switch n := node.(type) {
		case map[string]any:
			node = n[seg]
		case []any:
			if seg != "[]" || len(n) == 0 {
				return nil, false
			}
			node = n[0]
		default:
			return nil, false
		}
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := obj[last]
	if !ok {
		return nil, false
	}
	delete(obj, last)
	obj[capitalise(last)] = v
	return mustJSON(t, root), true
}

func clone(t *testing.T, v any) any {
	t.Helper()
	var out any
	require.NoError(t, json.Unmarshal(mustJSON(t, v), &out))
	return out
}
