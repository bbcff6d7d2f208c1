package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// userC is a third person: a manager who neither wrote nor submitted the campaigns below.
const userC = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"

var (
	asUserB = []string{"X-User-ID", userB}
	asUserC = []string{"X-User-ID", userC}
)

// withThresholds configures approval above 10,000.00 EUR and 12,000 JPY.
func withThresholds(cfg *config.Config) {
	cfg.Approval.Thresholds = map[string]string{"EUR": "10000.00", "jpy": "12000"}
}

// bigBody is a campaign whose budget (12,000.00 EUR) is above the EUR threshold.
func bigBody(name string) map[string]any {
	b := validBody(name)
	b["budget"] = map[string]any{"amount": "12000.00", "currency": "EUR"}
	return b
}

func approvalOf(t *testing.T, c map[string]any) map[string]any {
	t.Helper()
	a, ok := c["approval"].(map[string]any)
	require.True(t, ok, "the campaign carries its approval: %v", c)
	return a
}

func step(s *apptest.Server, id, name string, body any, header ...string) *apptest.Response {
	return s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/"+name, body, header...)
}

// seen is who plus the If-Match of the campaign's current version: a decision names the
// version its decider read.
func seen(t *testing.T, s *apptest.Server, id string, who []string) []string {
	t.Helper()
	r := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil)
	tag := r.Header.Get("ETag")
	if r.Status != http.StatusOK {
		tag = `"1"` // an unknown campaign: any version
	}
	return append([]string{"If-Match", tag}, who...)
}

func getCampaign(t *testing.T, s *apptest.Server, id string) map[string]any {
	t.Helper()
	return requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
}

func TestApprovalHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withThresholds})
		col := collect(t, s.API.NATS.NC, time.Now().Add(-time.Second))
		created := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Approval walk"), asUserA...), http.StatusCreated)
		id := created["id"].(string)
		a := approvalOf(t, created)
		assert.Equal(t, "REQUIRED", a["status"])
		assert.Equal(t, map[string]any{"amount": "10000.00", "currency": "EUR"}, a["threshold"])
		assert.Nil(t, a["submittedBy"])
		var usdID string // a campaign in a currency without a threshold of its own

		t.Run("every answer that carries a campaign judges its approval", func(t *testing.T) {
			assert.Equal(t, "REQUIRED", approvalOf(t, getCampaign(t, s, id))["status"], "GET")
			list := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?q=Approval+walk", nil), http.StatusOK)
			require.NotEmpty(t, list["campaigns"])
			for _, c := range list["campaigns"].([]any) {
				assert.Equal(t, "REQUIRED", approvalOf(t, c.(map[string]any))["status"], "list")
			}
			cp := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", nil, asUserA...), http.StatusCreated)
			assert.Equal(t, "REQUIRED", approvalOf(t, cp)["status"], "duplicate")
			exp := s.Do(http.MethodGet, "/api/v1/campaigns/export?format=jsonl&q=Approval+walk", nil, asUserA...)
			require.Equal(t, http.StatusOK, exp.Status, "%s", exp.Body)
			lines := bytes.Split(bytes.TrimSpace(exp.Body), []byte("\n"))
			require.Len(t, lines, 2, "the campaign and its copy")
			for _, line := range lines {
				var c map[string]any
				require.NoError(t, json.Unmarshal(line, &c))
				assert.Equal(t, "REQUIRED", approvalOf(t, c)["status"], "export")
			}
			assert.Equal(t, http.StatusNoContent, s.Do(http.MethodDelete, "/api/v1/campaigns/"+cp["id"].(string), nil, asUserA...).Status)
		})

		t.Run("a small budget needs no approval and cannot be submitted", func(t *testing.T) {
			small := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Approval small"), asUserA...), http.StatusCreated)
			assert.Equal(t, "NOT_REQUIRED", approvalOf(t, small)["status"], "10,000.00 is not above 10,000.00")
			p := requireProblem(t, step(s, small["id"].(string), "submit-for-approval", nil, asUserA...), http.StatusConflict)
			assert.Equal(t, "urn:campaigns:problem:invalid-approval-state", p["type"])
			assert.Equal(t, "NOT_REQUIRED", p["approvalStatus"])
		})

		t.Run("a currency without a threshold of its own needs approval for every budget", func(t *testing.T) {
			usd := validBody("Approval USD")
			usd["budget"] = map[string]any{"amount": "1.00", "currency": "USD"}
			c := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", usd, asUserA...), http.StatusCreated)
			assert.Equal(t, "REQUIRED", approvalOf(t, c)["status"], "no USD threshold: approval is on, so zero applies")
			assert.Equal(t, map[string]any{"amount": "0.00", "currency": "USD"}, approvalOf(t, c)["threshold"])
			usdID = c["id"].(string)
		})

		t.Run("the activate dry run names approval; activate is blocked", func(t *testing.T) {
			d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil, asUserA...), http.StatusOK)
			assert.Equal(t, false, d["allowed"])
			require.Len(t, d["violations"], 1)
			v := d["violations"].([]any)[0].(map[string]any)
			assert.Equal(t, "approval", v["field"])
			assert.Contains(t, v["message"], "approval required")
			p := requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
			assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
			assert.Equal(t, []string{"approval"}, fieldsOf(p))
			assert.Equal(t, "DRAFT", getCampaign(t, s, id)["status"])
		})

		t.Run("nothing to decide before a submission", func(t *testing.T) {
			p := requireProblem(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusConflict)
			assert.Equal(t, "REQUIRED", p["approvalStatus"])
			requireProblem(t, step(s, id, "reject", map[string]any{"reason": "no"}, seen(t, s, id, asUserB)...), http.StatusUnprocessableEntity)
			requireProblem(t, step(s, id, "reject", map[string]any{"reason": "not now"}, seen(t, s, id, asUserB)...), http.StatusConflict)
		})

		t.Run("submit", func(t *testing.T) {
			requireProblem(t, step(s, id, "submit-for-approval", nil, asUserA[0], asUserA[1], "If-Match", `"7"`), http.StatusPreconditionFailed)
			requireProblem(t, step(s, id, "submit-for-approval", map[string]any{"note": "x"}, asUserA...), http.StatusBadRequest)
			requireProblem(t, step(s, id, "submit-for-approval", nil), http.StatusBadRequest) // no caller to record
			r := step(s, id, "submit-for-approval", nil, asUserA[0], asUserA[1], "If-Match", `"1"`)
			c := requireStatus(t, r, http.StatusOK)
			assert.Equal(t, `"2"`, r.Header.Get("ETag"))
			a := approvalOf(t, c)
			assert.Equal(t, "PENDING", a["status"])
			assert.Equal(t, userA, a["submittedBy"])
			assert.NotNil(t, a["submittedAt"])
			p := requireProblem(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusConflict)
			assert.Equal(t, "PENDING", p["approvalStatus"])
		})

		t.Run("the author cannot approve or reject", func(t *testing.T) {
			p := requireProblem(t, step(s, id, "approve", nil, seen(t, s, id, asUserA)...), http.StatusForbidden)
			assert.Equal(t, "urn:campaigns:problem:approver-is-author", p["type"])
			p = requireProblem(t, step(s, id, "reject", map[string]any{"reason": "my own"}, seen(t, s, id, asUserA)...), http.StatusForbidden)
			assert.Equal(t, "urn:campaigns:problem:approver-is-author", p["type"])
			assert.Equal(t, "PENDING", approvalOf(t, getCampaign(t, s, id))["status"])
		})

		t.Run("reject needs a reason", func(t *testing.T) {
			p := requireProblem(t, step(s, id, "reject", map[string]any{}, seen(t, s, id, asUserB)...), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"reason"}, fieldsOf(p))
			p = requireProblem(t, step(s, id, "reject", map[string]any{"reason": " x "}, seen(t, s, id, asUserB)...), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"reason"}, fieldsOf(p))
			requireProblem(t, step(s, id, "reject", nil, seen(t, s, id, asUserB)...), http.StatusBadRequest)
		})

		t.Run("reject, edit, resubmit", func(t *testing.T) {
			c := requireStatus(t, step(s, id, "reject", map[string]any{"reason": "split it by channel"}, seen(t, s, id, asUserB)...), http.StatusOK)
			a := approvalOf(t, c)
			assert.Equal(t, "REJECTED", a["status"])
			assert.Equal(t, userB, a["decidedBy"])
			assert.Equal(t, "split it by channel", a["reason"])
			assert.Equal(t, userA, a["submittedBy"])
			d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil), http.StatusOK)
			assert.Contains(t, d["violations"].([]any)[0].(map[string]any)["message"], "rejected")

			b := bigBody("Approval walk")
			b["budget"] = map[string]any{"amount": "11000.00", "currency": "EUR"}
			c = requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
			assert.Equal(t, "REJECTED", approvalOf(t, c)["status"], "a rejection stands until the next submission")
			c = requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
			a = approvalOf(t, c)
			assert.Equal(t, "PENDING", a["status"])
			assert.Nil(t, a["decidedBy"])
			assert.Nil(t, a["reason"])
		})

		t.Run("approve, and approval is voided by budget, date and targeting changes", func(t *testing.T) {
			c := requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusOK)
			a := approvalOf(t, c)
			assert.Equal(t, "APPROVED", a["status"])
			assert.Equal(t, userB, a["decidedBy"])
			d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil), http.StatusOK)
			assert.Equal(t, true, d["allowed"], "%v", d["violations"])

			// A change that an approval does not cover keeps it.
			b := getCampaign(t, s, id)
			b["description"] = "reworded"
			c = requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
			assert.Equal(t, "APPROVED", approvalOf(t, c)["status"], "GET's representation, approval included, is a valid PUT body")

			// Each covered change voids the approval; the campaign is approved again after each.
			edits := map[string]func(b map[string]any){
				"budget":    func(b map[string]any) { b["budget"] = map[string]any{"amount": "11500.00", "currency": "EUR"} },
				"endDate":   func(b map[string]any) { b["endDate"] = time.Now().Add(40 * 24 * time.Hour).UTC().Format(time.RFC3339) },
				"targeting": func(b map[string]any) { b["targetingRules"] = []string{rule1, uuid.NewString()} },
			}
			for i, name := range []string{"budget", "endDate", "targeting"} {
				if i > 0 {
					requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
					requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserC)...), http.StatusOK)
				}
				b := getCampaign(t, s, id)
				edits[name](b)
				c := requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
				a := approvalOf(t, c)
				assert.Equal(t, "REQUIRED", a["status"], "a change of %s voids the approval", name)
				assert.Nil(t, a["submittedBy"], name)
				assert.Nil(t, a["decidedBy"], name)
				requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
			}
			// A pending request is voided the same way.
			requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
			b = getCampaign(t, s, id)
			b["startDate"] = time.Now().Add(36 * time.Hour).UTC().Format(time.RFC3339)
			c = requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
			assert.Equal(t, "REQUIRED", approvalOf(t, c)["status"])
			requireProblem(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusConflict)
		})

		t.Run("approved, it activates; a paused edit voids it and blocks the resume", func(t *testing.T) {
			requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
			c := requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusOK)
			c = requireStatus(t, action(s, id, "activate", nil, "If-Match", `"`+strconv.Itoa(int(c["version"].(float64)))+`"`), http.StatusOK)
			assert.Equal(t, "ACTIVE", c["status"])
			assert.Equal(t, "APPROVED", approvalOf(t, c)["status"])
			requireProblem(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusConflict)
			requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
			b := getCampaign(t, s, id)
			b["budget"] = map[string]any{"amount": "13000.00", "currency": "EUR"}
			requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
			p := requireProblem(t, action(s, id, "resume", nil), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"approval"}, fieldsOf(p))
			requireStatus(t, step(s, id, "submit-for-approval", nil, asUserB...), http.StatusOK)
			requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserC)...), http.StatusOK)
			assert.Equal(t, "ACTIVE", requireStatus(t, action(s, id, "resume", nil), http.StatusOK)["status"])
		})

		t.Run("the history records every step", func(t *testing.T) {
			h := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions?limit=100", nil), http.StatusOK)
			var actions []string
			for _, tr := range h["transitions"].([]any) {
				m := tr.(map[string]any)
				actions = append(actions, m["action"].(string))
				if m["action"] == "reject" {
					assert.Equal(t, "split it by channel", m["reason"])
					assert.Equal(t, userB, m["actor"])
					assert.Equal(t, m["from"], m["to"])
				}
				if m["action"] == "void-approval" {
					assert.Equal(t, userA, m["actor"], "the editor who voided it")
					assert.Contains(t, m["reason"], "voided by a change of")
				}
			}
			assert.Equal(t, []string{
				"submit-for-approval", "reject", "submit-for-approval", "approve",
				"void-approval", "submit-for-approval", "approve", "void-approval", "submit-for-approval", "approve", "void-approval",
				"submit-for-approval", "void-approval",
				"submit-for-approval", "approve", "activate", "pause", "void-approval", "submit-for-approval", "approve", "resume",
			}, actions)
		})

		t.Run("events: audit trail and stream", func(t *testing.T) {
			r := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?limit=100&type=CampaignSubmittedForApproval,CampaignApproved,CampaignRejected,CampaignApprovalVoided", nil), http.StatusOK)
			count := map[string]int{}
			for _, e := range r["events"].([]any) {
				m := e.(map[string]any)
				count[m["type"].(string)]++
				if m["type"] == "CampaignRejected" {
					assert.Equal(t, userB, m["actor"])
					assert.Equal(t, "split it by channel", m["payload"].(map[string]any)["reason"])
				}
			}
			assert.Equal(t, map[string]int{"CampaignSubmittedForApproval": 7, "CampaignApproved": 5, "CampaignRejected": 1, "CampaignApprovalVoided": 5}, count)
			drain(t, s)
			got := map[string]int{}
			for _, m := range col.of(t, 1, id) {
				got[m.Type]++
			}
			for typ, n := range count {
				assert.Equal(t, n, got[typ], "%s published to NATS", typ)
			}
		})

		t.Run("the list filters by approval status", func(t *testing.T) {
			pending := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Approval queue"), asUserA...), http.StatusCreated)["id"].(string)
			requireStatus(t, step(s, pending, "submit-for-approval", nil, asUserA...), http.StatusOK)
			yen := validBody("Approval yen")
			yen["budget"] = map[string]any{"amount": "12001", "currency": "JPY"}
			required := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", yen, asUserA...), http.StatusCreated)["id"].(string)
			ids := func(q url.Values) []string {
				q.Set("limit", "100")
				q.Set("q", "Approval")
				r := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?"+q.Encode(), nil), http.StatusOK)
				var out []string
				for _, c := range r["campaigns"].([]any) {
					out = append(out, c.(map[string]any)["id"].(string))
				}
				return out
			}
			assert.Equal(t, []string{pending}, ids(url.Values{"approvalStatus": {"PENDING"}}))
			assert.Equal(t, []string{id}, ids(url.Values{"approvalStatus": {"APPROVED"}}))
			assert.ElementsMatch(t, []string{required, usdID}, ids(url.Values{"approvalStatus": {"REQUIRED"}}))
			got := ids(url.Values{"approvalStatus": {"REQUIRED,PENDING"}})
			assert.ElementsMatch(t, []string{pending, required, usdID}, got)
			notRequired := ids(url.Values{"approvalStatus": {"NOT_REQUIRED"}})
			assert.Len(t, notRequired, 1, "the small EUR one (the USD one is REQUIRED: USD has no threshold of its own)")
			assert.False(t, slices.Contains(notRequired, id) || slices.Contains(notRequired, pending) ||
				slices.Contains(notRequired, required) || slices.Contains(notRequired, usdID))
			p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns?approvalStatus=MAYBE", nil), http.StatusBadRequest)
			assert.Equal(t, []string{"approvalStatus"}, fieldsOf(p))

			// Cancelled while pending, it leaves the queue.
			requireStatus(t, action(s, pending, "cancel", map[string]any{"reason": "not this season"}), http.StatusOK)
			assert.Empty(t, ids(url.Values{"approvalStatus": {"PENDING"}}))
			assert.Equal(t, "REQUIRED", approvalOf(t, getCampaign(t, s, pending))["status"])
		})

		t.Run("a decision names the version its decider read", func(t *testing.T) {
			cid := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Decide stale"), asUserA...), http.StatusCreated)["id"].(string)
			requireStatus(t, step(s, cid, "submit-for-approval", nil, asUserA...), http.StatusOK)
			read := seen(t, s, cid, asUserB) // the approver reads the pending campaign
			for name, body := range map[string]any{"approve": nil, "reject": map[string]any{"reason": "too big"}} {
				for _, h := range [][]string{asUserB, append([]string{"If-Match", "*"}, asUserB...)} {
					p := requireProblem(t, step(s, cid, name, body, h...), http.StatusPreconditionRequired)
					assert.Equal(t, "urn:campaigns:problem:precondition-required", p["type"], name)
				}
			}
			// The author raises the budget (voiding the request) and submits again.
			b := getCampaign(t, s, cid)
			b["budget"] = map[string]any{"amount": "90000.00", "currency": "EUR"}
			requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+cid, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
			requireStatus(t, step(s, cid, "submit-for-approval", nil, asUserA...), http.StatusOK)
			requireProblem(t, step(s, cid, "approve", nil, read...), http.StatusPreconditionFailed)
			requireProblem(t, step(s, cid, "reject", map[string]any{"reason": "too big"}, read...), http.StatusPreconditionFailed)
			c := getCampaign(t, s, cid)
			assert.Equal(t, "PENDING", approvalOf(t, c)["status"], "the budget the approver never saw is not approved")
			assert.Equal(t, "90000.00", c["budget"].(map[string]any)["amount"])
			c = requireStatus(t, step(s, cid, "approve", nil, seen(t, s, cid, asUserB)...), http.StatusOK)
			assert.Equal(t, "APPROVED", approvalOf(t, c)["status"], "once read, it is approved")
		})

		t.Run("the submitter cannot decide their own request", func(t *testing.T) {
			cid := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Decide own"), asUserA...), http.StatusCreated)["id"].(string)
			// Manager C, who did not write it, raises its budget and submits it.
			b := getCampaign(t, s, cid)
			b["budget"] = map[string]any{"amount": "50000.00", "currency": "EUR"}
			requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+cid, b, "If-Match", "*", asUserC[0], asUserC[1]), http.StatusOK)
			requireStatus(t, step(s, cid, "submit-for-approval", nil, asUserC...), http.StatusOK)
			p := requireProblem(t, step(s, cid, "approve", nil, seen(t, s, cid, asUserC)...), http.StatusForbidden)
			assert.Equal(t, "urn:campaigns:problem:approver-is-submitter", p["type"])
			p = requireProblem(t, step(s, cid, "reject", map[string]any{"reason": "my own"}, seen(t, s, cid, asUserC)...), http.StatusForbidden)
			assert.Equal(t, "urn:campaigns:problem:approver-is-submitter", p["type"])
			assert.Equal(t, "PENDING", approvalOf(t, getCampaign(t, s, cid))["status"])
			c := requireStatus(t, step(s, cid, "approve", nil, seen(t, s, cid, asUserB)...), http.StatusOK)
			assert.Equal(t, userB, approvalOf(t, c)["decidedBy"], "a third manager decides")
		})

		t.Run("what the campaign serves is covered; its name and description are not", func(t *testing.T) {
			cid := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Decide covered"), asUserA...), http.StatusCreated)["id"].(string)
			edits := []struct {
				name  string
				voids bool
				edit  func(b map[string]any)
			}{
				{"name and description", false, func(b map[string]any) { b["name"], b["description"] = "Decide covered, renamed", "reworded" }},
				{"channels", true, func(b map[string]any) { b["settings"].(map[string]any)["channels"] = []string{"SMS"} }},
				{"schedulingRules", true, func(b map[string]any) {
					b["settings"].(map[string]any)["schedulingRules"] = []map[string]any{{"days": []string{"MON"}, "startTime": "09:00", "endTime": "12:00", "timezone": "UTC"}}
				}},
				{"frequency", true, func(b map[string]any) { b["settings"].(map[string]any)["frequency"] = "MONTHLY" }},
			}
			for _, e := range edits {
				requireStatus(t, step(s, cid, "submit-for-approval", nil, asUserA...), http.StatusOK)
				requireStatus(t, step(s, cid, "approve", nil, seen(t, s, cid, asUserB)...), http.StatusOK)
				b := getCampaign(t, s, cid)
				e.edit(b)
				c := requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+cid, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
				want := "APPROVED"
				if e.voids {
					want = "REQUIRED"
				}
				assert.Equal(t, want, approvalOf(t, c)["status"], e.name)
				if !e.voids { // still approved: void it with a budget change to go on
					b = getCampaign(t, s, cid)
					b["budget"] = map[string]any{"amount": "12500.00", "currency": "EUR"}
					requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+cid, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
				}
			}
		})

		t.Run("unknown and deleted campaigns are 404", func(t *testing.T) {
			for _, name := range []string{"submit-for-approval", "approve"} {
				requireProblem(t, step(s, uuid.NewString(), name, nil, "If-Match", `"1"`, asUserB[0], asUserB[1]), http.StatusNotFound)
				requireProblem(t, step(s, "not-a-uuid", name, nil, "If-Match", `"1"`, asUserB[0], asUserB[1]), http.StatusNotFound)
			}
		})
	})
}

// approvalCampaign creates, through the service, a campaign of 12,000.00 EUR written by a
// person of its own (so that any caller may decide it), submitted when pending, and returns
// its id. The server's EUR threshold must be below its budget.
func approvalCampaign(t *testing.T, s *apptest.Server, pending bool) string {
	t.Helper()
	ctx := context.Background()
	author := campaign.UserID(uuid.New())
	in := campaign.Input{
		Name: "Approval " + uuid.NewString()[:8], Type: campaign.TypePromotion,
		TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.MustParse(rule1))},
		StartDate:      time.Now().Add(time.Hour).UTC(), Budget: campaign.MustMoney("12000.00", "EUR"),
		Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}, Frequency: campaign.FrequencyOnce},
	}
	c, err := s.API.Campaigns.Create(ctx, author, in)
	require.NoError(t, err)
	require.Equal(t, campaign.ApprovalRequired, c.ApprovalStatus())
	if pending {
		_, err := s.API.Campaigns.SubmitForApproval(ctx, c.ID(), campaign.ApprovalRequest{Actor: author})
		require.NoError(t, err)
	}
	return c.ID().String()
}

// A threshold the money rules refuse stops the API before it opens anything: a *config.Error
// naming the key (the binaries exit 2).
func TestBadApprovalThresholdIsAConfigError(t *testing.T) {
	t.Parallel()
	for raw, why := range map[string]string{"ABC": "ISO 4217", "EUR": "positive"} {
		cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
		amount := "0"
		if raw == "ABC" {
			amount = "10"
		}
		cfg.Approval.Thresholds = map[string]string{raw: amount}
		a, err := app.NewAPI(context.Background(), cfg, discardLogger(), app.APIConfig{})
		if a != nil {
			_ = a.Close()
		}
		var cerr *config.Error
		require.True(t, errors.As(err, &cerr), "want a *config.Error, got %v", err)
		assert.Equal(t, "approval.thresholds."+raw, cerr.Key)
		assert.Contains(t, err.Error(), why)
	}
}

// The reproduction: an approved 12,000 EUR campaign whose budget becomes 5,000,000 USD, with
// only EUR (and JPY) listed, needs an approval again before it starts or resumes. A currency
// without a threshold of its own has a threshold of zero while approval is on.
func TestApprovalCurrencySwitchNeedsApproval(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withThresholds})
		id := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Currency switch"), asUserA...), http.StatusCreated)["id"].(string)
		requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
		requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusOK)
		assert.Equal(t, "ACTIVE", requireStatus(t, action(s, id, "activate", nil), http.StatusOK)["status"])
		requireStatus(t, action(s, id, "pause", nil), http.StatusOK)

		b := getCampaign(t, s, id)
		b["budget"] = map[string]any{"amount": "5000000.00", "currency": "USD"}
		c := requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", "*", asUserA[0], asUserA[1]), http.StatusOK)
		a := approvalOf(t, c)
		assert.Equal(t, "REQUIRED", a["status"], "the switch voided the approval, and USD needs one")
		assert.Equal(t, map[string]any{"amount": "0.00", "currency": "USD"}, a["threshold"])

		p := requireProblem(t, action(s, id, "resume", nil), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"approval"}, fieldsOf(p))
		assert.Contains(t, p["errors"].([]any)[0].(map[string]any)["message"], "no approval threshold is set for USD")
		assert.Equal(t, "PAUSED", getCampaign(t, s, id)["status"])

		// The list's SQL judges it as the aggregate does.
		q := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?approvalStatus=REQUIRED&q=Currency+switch", nil), http.StatusOK)
		require.Len(t, q["campaigns"], 1)
		assert.Equal(t, id, q["campaigns"].([]any)[0].(map[string]any)["id"])

		// Approved again in USD by someone else than the author, it resumes.
		requireStatus(t, step(s, id, "submit-for-approval", nil, asUserA...), http.StatusOK)
		requireStatus(t, step(s, id, "approve", nil, seen(t, s, id, asUserB)...), http.StatusOK)
		assert.Equal(t, "ACTIVE", requireStatus(t, action(s, id, "resume", nil), http.StatusOK)["status"])
		ev := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?type=CampaignSubmittedForApproval", nil), http.StatusOK)
		events := ev["events"].([]any)
		require.Len(t, events, 2)
		assert.Equal(t, map[string]any{"amount": "0.00", "currency": "USD"},
			events[1].(map[string]any)["payload"].(map[string]any)["threshold"], "the event records the zero that applied")
	})
}
