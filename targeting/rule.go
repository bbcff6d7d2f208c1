// Package targeting connects campaigns to the external ENGINE-RULES-SP Rules Engine: a
// resilient client of its two services (rules-management and rules-evaluation), the
// activation check that vets a campaign's rules before it serves, customer eligibility
// evaluation, and deterministic A/B variant assignment. See README.md in this folder.
//
// It imports campaign (it satisfies campaign.ActivationCheck and reads campaigns through a
// small interface) and never metrics; lifecycle and campaign never import it.
package targeting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// RuleStatus is a rule's status in rules-management.
type RuleStatus string

// The rule statuses the Rules Engine knows. Only ACTIVE rules may target customers.
const (
	RuleDraft       RuleStatus = "DRAFT"
	RuleUnderReview RuleStatus = "UNDER_REVIEW"
	RuleApproved    RuleStatus = "APPROVED"
	RuleActive      RuleStatus = "ACTIVE"
	RuleInactive    RuleStatus = "INACTIVE"
	RuleDeprecated  RuleStatus = "DEPRECATED"
)

// RuleStatuses lists every rule status.
func RuleStatuses() []RuleStatus {
	return []RuleStatus{RuleDraft, RuleUnderReview, RuleApproved, RuleActive, RuleInactive, RuleDeprecated}
}

// Rule is a rule's metadata as rules-management serves it.
type Rule struct {
	ID          uuid.UUID
	Name        string
	Description string
	DSLContent  string
	Status      RuleStatus
	Priority    string // LOW, MEDIUM, HIGH, CRITICAL in today's engine; kept as sent
	Version     int
	Category    string // the rule_category rules-evaluation dispatches on
	Tags        []string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Evaluation is one answer of rules-evaluation.
type Evaluation struct {
	// Verdict: the result has a boolean eligible member. Only rules of the engine's
	// boolean-answer categories (PROMOTIONS) give one; a TAXES rule answers {"tax_rate": 0.21}.
	Verdict bool
	// Eligible is the verdict (false without one).
	Eligible bool
	// Result is the engine's whole result object as it sent it ({"eligible": true, ...}):
	// the extra members (a discount, say) are what personalization rules produce.
	Result json.RawMessage
}

// ruleWire is the snake_case JSON of GET /api/v1/rules/{id}. Members we do not use are
// ignored, so that the engine may add some without breaking us; those we use are checked.
type ruleWire struct {
	ID          *string         `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	DSLContent  string          `json:"dsl_content"`
	Status      *string         `json:"status"`
	Priority    json.RawMessage `json:"priority"`
	Version     int             `json:"version"`
	Category    string          `json:"category"`
	Tags        []string        `json:"tags"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   *time.Time      `json:"created_at"`
	UpdatedAt   *time.Time      `json:"updated_at"`
}

// parseRule validates a rules-management answer for rule want. Every failure wraps
// ErrInvalidResponse: the engine's answers are untrusted input.
func parseRule(body []byte, want uuid.UUID) (*Rule, error) {
	var w ruleWire
	if err := decodeOne(body, &w); err != nil {
		return nil, fmt.Errorf("%w: rule %s: %w", ErrInvalidResponse, want, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: rule %s: %s", ErrInvalidResponse, want, fmt.Sprintf(format, args...))
	}
	if w.ID == nil || *w.ID == "" {
		return nil, bad("the id is missing")
	}
	id, err := uuid.Parse(*w.ID)
	if err != nil {
		return nil, bad("the id %.64q is not a UUID", *w.ID)
	}
	if id != want {
		return nil, bad("the engine answered with rule %s", id)
	}
	if w.Status == nil {
		return nil, bad("the status is missing")
	}
	status := RuleStatus(*w.Status)
	if !slices.Contains(RuleStatuses(), status) {
		return nil, bad("unknown status %.64q", *w.Status)
	}
	if w.Version < 0 {
		return nil, bad("negative version %d", w.Version)
	}
	priority, err := parsePriority(w.Priority)
	if err != nil {
		return nil, bad("%s", err)
	}
	r := &Rule{
		ID: id, Name: w.Name, Description: w.Description, DSLContent: w.DSLContent, Status: status,
		Priority: priority, Version: w.Version, Category: w.Category, Tags: w.Tags, CreatedBy: w.CreatedBy,
	}
	if w.CreatedAt != nil {
		r.CreatedAt = w.CreatedAt.UTC()
	}
	if w.UpdatedAt != nil {
		r.UpdatedAt = w.UpdatedAt.UTC()
	}
	return r, nil
}

// parsePriority accepts the engine's string priorities and, should it send them, numbers.
func parsePriority(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if _, err := strconv.ParseFloat(string(n), 64); err == nil {
			return string(n), nil
		}
	}
	return "", errors.New("the priority is neither a string nor a number")
}

// evaluateRequest is the body of POST /v1/evaluate.
type evaluateRequest struct {
	RuleCategory string          `json:"rule_category"`
	DSLContent   string          `json:"dsl_content"`
	Context      json.RawMessage `json:"context"`
}

// parseEvaluation validates a rules-evaluation answer: {"result": {...}}. A result without a
// boolean eligible member is an answer without a verdict, not an invalid one: it is what the
// engine gives for categories that compute something else (TAXES: tax_rate).
func parseEvaluation(body []byte) (*Evaluation, error) {
	var w struct {
		Result json.RawMessage `json:"result"`
	}
	if err := decodeOne(body, &w); err != nil {
		return nil, fmt.Errorf("%w: evaluation: %w", ErrInvalidResponse, err)
	}
	if !isObject(w.Result) {
		return nil, fmt.Errorf("%w: evaluation: result is missing or not an object", ErrInvalidResponse)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(w.Result, &members); err != nil {
		return nil, fmt.Errorf("%w: evaluation: %w", ErrInvalidResponse, err)
	}
	var eligible bool
	raw, ok := members["eligible"]
	verdict := ok && string(bytes.TrimSpace(raw)) != "null" && json.Unmarshal(raw, &eligible) == nil
	var compact bytes.Buffer
	if err := json.Compact(&compact, w.Result); err != nil {
		return nil, fmt.Errorf("%w: evaluation: %w", ErrInvalidResponse, err)
	}
	return &Evaluation{Verdict: verdict, Eligible: verdict && eligible, Result: compact.Bytes()}, nil
}

// decodeOne decodes exactly one JSON value (an object for our structs) with nothing after it.
func decodeOne(body []byte, dst any) error {
	if !isObject(body) {
		return errors.New("the body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
