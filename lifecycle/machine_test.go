package lifecycle_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

var (
	now   = time.Date(2027, 5, 1, 12, 0, 0, 0, time.UTC)
	later = now.Add(24 * time.Hour)
)

// TestTransitionTable asserts every (status, action) pair of the 5x5 grid.
func TestTransitionTable(t *testing.T) {
	t.Parallel()
	const forbidden = lifecycle.Status("forbidden")
	want := map[lifecycle.Status]map[lifecycle.Action]lifecycle.Status{
		lifecycle.StatusDraft: {
			lifecycle.ActionActivate: lifecycle.StatusActive, lifecycle.ActionPause: forbidden,
			lifecycle.ActionResume: forbidden, lifecycle.ActionComplete: forbidden,
			lifecycle.ActionCancel: lifecycle.StatusCancelled,
		},
		lifecycle.StatusActive: {
			lifecycle.ActionActivate: forbidden, lifecycle.ActionPause: lifecycle.StatusPaused,
			lifecycle.ActionResume: forbidden, lifecycle.ActionComplete: lifecycle.StatusCompleted,
			lifecycle.ActionCancel: lifecycle.StatusCancelled,
		},
		lifecycle.StatusPaused: {
			lifecycle.ActionActivate: lifecycle.StatusActive, lifecycle.ActionPause: forbidden,
			lifecycle.ActionResume: lifecycle.StatusActive, lifecycle.ActionComplete: lifecycle.StatusCompleted,
			lifecycle.ActionCancel: lifecycle.StatusCancelled,
		},
		lifecycle.StatusCompleted: {
			lifecycle.ActionActivate: forbidden, lifecycle.ActionPause: forbidden, lifecycle.ActionResume: forbidden,
			lifecycle.ActionComplete: forbidden, lifecycle.ActionCancel: forbidden,
		},
		lifecycle.StatusCancelled: {
			lifecycle.ActionActivate: forbidden, lifecycle.ActionPause: forbidden, lifecycle.ActionResume: forbidden,
			lifecycle.ActionComplete: forbidden, lifecycle.ActionCancel: forbidden,
		},
	}
	require.Len(t, want, len(lifecycle.Statuses()))
	for _, st := range lifecycle.Statuses() {
		require.Len(t, want[st], len(lifecycle.Actions()), "row %s", st)
		for _, a := range lifecycle.Actions() {
			t.Run(fmt.Sprintf("%s/%s", st, a), func(t *testing.T) {
				tr, err := lifecycle.Decide(lifecycle.Subject{
					Status: st, StartDate: now, EndDate: &later, TargetingRules: 1, Reason: "a valid reason", Now: now,
				}, a)
				if want[st][a] == forbidden {
					var fe *lifecycle.ForbiddenError
					require.ErrorAs(t, err, &fe)
					assert.Equal(t, st, fe.Status)
					assert.Equal(t, a, fe.Action)
					assert.Equal(t, lifecycle.Allowed(st), fe.Allowed)
					assert.Contains(t, err.Error(), string(st))
					assert.Contains(t, err.Error(), string(a))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want[st][a], tr.To)
			})
		}
	}
}

func TestActivateOnPausedIsAResume(t *testing.T) {
	t.Parallel()
	tr, err := lifecycle.Decide(lifecycle.Subject{Status: lifecycle.StatusPaused, TargetingRules: 1, Now: now}, lifecycle.ActionActivate)
	require.NoError(t, err)
	assert.Equal(t, lifecycle.ActionResume, tr.Effective)
	assert.True(t, tr.NeedsActivationChecks)
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []lifecycle.Action{lifecycle.ActionActivate, lifecycle.ActionCancel}, lifecycle.Allowed(lifecycle.StatusDraft))
	assert.Equal(t, []lifecycle.Action{lifecycle.ActionPause, lifecycle.ActionComplete, lifecycle.ActionCancel}, lifecycle.Allowed(lifecycle.StatusActive))
	assert.Equal(t, []lifecycle.Action{lifecycle.ActionResume, lifecycle.ActionActivate, lifecycle.ActionComplete, lifecycle.ActionCancel}, lifecycle.Allowed(lifecycle.StatusPaused))
	assert.Empty(t, lifecycle.Allowed(lifecycle.StatusCompleted))
	assert.Empty(t, lifecycle.Allowed(lifecycle.StatusCancelled))
	fe := &lifecycle.ForbiddenError{Status: lifecycle.StatusCompleted, Action: lifecycle.ActionPause}
	assert.Contains(t, fe.Error(), "terminal")
}

func TestGuards(t *testing.T) {
	t.Parallel()
	past := now.Add(-time.Minute)
	long := strings.Repeat("r", lifecycle.MaxReasonLen+1)
	tests := []struct {
		name   string
		status lifecycle.Status
		action lifecycle.Action
		end    *time.Time
		reason string
		fields []string
	}{
		{"activate after the end date", lifecycle.StatusDraft, lifecycle.ActionActivate, &past, "", []string{"endDate"}},
		{"activate exactly at the end date", lifecycle.StatusDraft, lifecycle.ActionActivate, &now, "", []string{"endDate"}},
		{"activate without end date", lifecycle.StatusDraft, lifecycle.ActionActivate, nil, "", nil},
		{"resume after the end date", lifecycle.StatusPaused, lifecycle.ActionResume, &past, "", []string{"endDate"}},
		{"activate on paused after the end date", lifecycle.StatusPaused, lifecycle.ActionActivate, &past, "", []string{"endDate"}},
		{"pause after the end date is fine", lifecycle.StatusActive, lifecycle.ActionPause, &past, "", nil},
		{"complete after the end date is fine", lifecycle.StatusActive, lifecycle.ActionComplete, &past, "", nil},
		{"pause reason too long", lifecycle.StatusActive, lifecycle.ActionPause, nil, long, []string{"reason"}},
		{"cancel without reason", lifecycle.StatusDraft, lifecycle.ActionCancel, nil, "", []string{"reason"}},
		{"cancel with blank reason", lifecycle.StatusActive, lifecycle.ActionCancel, nil, "   ", []string{"reason"}},
		{"cancel with short reason", lifecycle.StatusPaused, lifecycle.ActionCancel, nil, "no", []string{"reason"}},
		{"cancel with 3 characters", lifecycle.StatusPaused, lifecycle.ActionCancel, nil, "dup", nil},
		{"cancel with 500 characters", lifecycle.StatusDraft, lifecycle.ActionCancel, nil, strings.Repeat("é", 500), nil},
		{"cancel with 501 characters", lifecycle.StatusDraft, lifecycle.ActionCancel, nil, long, []string{"reason"}},
		// NUL and invalid UTF-8 cannot be stored in the history: a blocked transition, not a failed write.
		{"activate with NUL in the reason", lifecycle.StatusDraft, lifecycle.ActionActivate, nil, "abc\x00def", []string{"reason"}},
		{"pause with invalid UTF-8 in the reason", lifecycle.StatusActive, lifecycle.ActionPause, nil, "caf\xc3", []string{"reason"}},
		{"cancel with NUL in the reason", lifecycle.StatusDraft, lifecycle.ActionCancel, nil, "abc\x00def", []string{"reason"}},
		{"cancel with line breaks is fine", lifecycle.StatusDraft, lifecycle.ActionCancel, nil, "first line\nsecond line", nil},
		{"every failed guard is reported", lifecycle.StatusPaused, lifecycle.ActionResume, &past, long, []string{"endDate", "reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lifecycle.Decide(lifecycle.Subject{Status: tt.status, StartDate: now.Add(-time.Hour), EndDate: tt.end,
				TargetingRules: 1, Reason: tt.reason, Now: now}, tt.action)
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			var be *lifecycle.BlockedError
			require.True(t, errors.As(err, &be), "got %v", err)
			var fields []string
			for _, v := range be.Violations {
				fields = append(fields, v.Field)
				assert.NotEmpty(t, v.Message)
			}
			assert.Equal(t, tt.fields, fields)
		})
	}
}

func TestParseAction(t *testing.T) {
	t.Parallel()
	for _, a := range lifecycle.Actions() {
		got, err := lifecycle.ParseAction(string(a))
		require.NoError(t, err)
		assert.Equal(t, a, got)
	}
	got, err := lifecycle.ParseAction("stop")
	require.NoError(t, err)
	assert.Equal(t, lifecycle.ActionComplete, got)
	_, err = lifecycle.ParseAction("restart")
	assert.EqualError(t, err, `unknown action "restart"`)
}

func TestServing(t *testing.T) {
	t.Parallel()
	start, end := now.Add(time.Hour), now.Add(48*time.Hour)
	tests := []struct {
		name   string
		status lifecycle.Status
		code   lifecycle.StopCode
		at     time.Time
		end    *time.Time
		want   lifecycle.ServingStatus
	}{
		{"draft", lifecycle.StatusDraft, "", now, &end, lifecycle.ServingNone},
		{"active before start", lifecycle.StatusActive, "", now, &end, lifecycle.ServingPending},
		{"active at start", lifecycle.StatusActive, "", start, &end, lifecycle.ServingServing},
		{"active without end", lifecycle.StatusActive, "", later.Add(1000 * time.Hour), nil, lifecycle.ServingServing},
		{"active at end", lifecycle.StatusActive, "", end, &end, lifecycle.ServingEnded},
		{"paused", lifecycle.StatusPaused, "", now, &end, lifecycle.ServingPaused},
		{"paused near the budget", lifecycle.StatusPaused, lifecycle.StopBudgetThreshold, now, &end, lifecycle.ServingPaused},
		{"paused with budget spent", lifecycle.StatusPaused, lifecycle.StopBudgetExhausted, now, &end, lifecycle.ServingBudgetExhausted},
		{"completed", lifecycle.StatusCompleted, "", now, &end, lifecycle.ServingEnded},
		{"completed at end date", lifecycle.StatusCompleted, lifecycle.StopEndDate, now, &end, lifecycle.ServingEnded},
		{"completed with budget spent", lifecycle.StatusCompleted, lifecycle.StopBudgetExhausted, now, &end, lifecycle.ServingBudgetExhausted},
		{"cancelled", lifecycle.StatusCancelled, "", now, &end, lifecycle.ServingCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, lifecycle.Serving(tt.status, tt.code, start, tt.end, tt.at))
		})
	}
	for _, s := range lifecycle.ServingStatuses() {
		got, err := lifecycle.ParseServingStatus(string(s))
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := lifecycle.ParseServingStatus("LIVE")
	assert.EqualError(t, err, `unknown serving status "LIVE"`)
}

func TestTargetingRuleRequired(t *testing.T) {
	t.Parallel()
	past := now.Add(-time.Minute)
	tests := []struct {
		name   string
		status lifecycle.Status
		action lifecycle.Action
		rules  int
		allow  bool
		end    *time.Time
		fields []string
	}{
		{"activate without rules", lifecycle.StatusDraft, lifecycle.ActionActivate, 0, false, nil, []string{"targetingRules"}},
		{"resume without rules", lifecycle.StatusPaused, lifecycle.ActionResume, 0, false, nil, []string{"targetingRules"}},
		{"activate on paused without rules", lifecycle.StatusPaused, lifecycle.ActionActivate, 0, false, nil, []string{"targetingRules"}},
		{"listed with the other guards", lifecycle.StatusDraft, lifecycle.ActionActivate, 0, false, &past, []string{"endDate", "targetingRules"}},
		{"activate with one rule", lifecycle.StatusDraft, lifecycle.ActionActivate, 1, false, nil, nil},
		{"activate untargeted when allowed", lifecycle.StatusDraft, lifecycle.ActionActivate, 0, true, nil, nil},
		{"resume untargeted when allowed", lifecycle.StatusPaused, lifecycle.ActionResume, 0, true, nil, nil},
		{"pause without rules is fine", lifecycle.StatusActive, lifecycle.ActionPause, 0, false, nil, nil},
		{"complete without rules is fine", lifecycle.StatusPaused, lifecycle.ActionComplete, 0, false, nil, nil},
		{"cancel without rules is fine", lifecycle.StatusDraft, lifecycle.ActionCancel, 0, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lifecycle.Decide(lifecycle.Subject{Status: tt.status, StartDate: now.Add(-time.Hour), EndDate: tt.end,
				TargetingRules: tt.rules, AllowUntargeted: tt.allow, Reason: "a valid reason", Now: now}, tt.action)
			if tt.fields == nil {
				require.NoError(t, err)
				return
			}
			var be *lifecycle.BlockedError
			require.ErrorAs(t, err, &be)
			var fields []string
			for _, v := range be.Violations {
				fields = append(fields, v.Field)
			}
			assert.Equal(t, tt.fields, fields)
			assert.Contains(t, err.Error(), "at least one targeting rule is required")
		})
	}
}
