package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

func TestStatusesInLifecycleOrder(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []lifecycle.Status{
		lifecycle.StatusDraft, lifecycle.StatusActive, lifecycle.StatusPaused,
		lifecycle.StatusCompleted, lifecycle.StatusCancelled,
	}, lifecycle.Statuses())
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    lifecycle.Status
		wantErr bool
	}{
		{in: "DRAFT", want: lifecycle.StatusDraft},
		{in: "ACTIVE", want: lifecycle.StatusActive},
		{in: "PAUSED", want: lifecycle.StatusPaused},
		{in: "COMPLETED", want: lifecycle.StatusCompleted},
		{in: "CANCELLED", want: lifecycle.StatusCancelled},
		{in: "", wantErr: true},
		{in: "draft", wantErr: true},
		{in: "Draft", wantErr: true},
		{in: " DRAFT", wantErr: true},
		{in: "DRAFT ", wantErr: true},
		{in: "CANCELED", wantErr: true},
		{in: "ARCHIVED", wantErr: true},
		{in: "DRAFT,ACTIVE", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := lifecycle.ParseStatus(tt.in)
			if tt.wantErr {
				assert.EqualError(t, err, fmt.Sprintf("unknown status %q", tt.in))
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseStatusRoundTripsEveryStatus(t *testing.T) {
	t.Parallel()
	for _, st := range lifecycle.Statuses() {
		got, err := lifecycle.ParseStatus(string(st))
		require.NoError(t, err, st)
		assert.Equal(t, st, got)
	}
}

func TestStatusPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    lifecycle.Status
		terminal  bool
		editable  bool
		deletable bool
	}{
		{lifecycle.StatusDraft, false, true, true},
		{lifecycle.StatusActive, false, false, false},
		{lifecycle.StatusPaused, false, true, false},
		{lifecycle.StatusCompleted, true, false, true},
		{lifecycle.StatusCancelled, true, false, true},
		{lifecycle.Status(""), false, false, false},
		{lifecycle.Status("ARCHIVED"), false, false, false},
		{lifecycle.Status("draft"), false, false, false},
	}
	covered := map[lifecycle.Status]bool{}
	for _, tt := range tests {
		covered[tt.status] = true
		t.Run(string(tt.status), func(t *testing.T) {
			assert.Equal(t, tt.terminal, tt.status.Terminal(), "Terminal")
			assert.Equal(t, tt.editable, tt.status.Editable(), "Editable")
			assert.Equal(t, tt.deletable, tt.status.Deletable(), "Deletable")
		})
	}
	for _, st := range lifecycle.Statuses() {
		assert.True(t, covered[st], "status %s has no predicate case", st)
	}
}

// A campaign that can still run must never be deletable, and a terminal one never editable.
func TestStatusPredicateInvariants(t *testing.T) {
	t.Parallel()
	for _, st := range lifecycle.Statuses() {
		if st.Terminal() {
			assert.False(t, st.Editable(), "%s is terminal but editable", st)
			assert.True(t, st.Deletable(), "%s is terminal but not deletable", st)
		}
		if st == lifecycle.StatusActive || st == lifecycle.StatusPaused {
			assert.False(t, st.Deletable(), "%s can still run but is deletable", st)
		}
	}
}
