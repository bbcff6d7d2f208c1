package observability_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/observability"
)

// The gauges the alerts read (a stuck relay, a stalled automation, a partition nobody reads)
// are exported with the values their sources report.
func TestBackgroundGaugesReportTheirSources(t *testing.T) {
	m := observability.New("worker", observability.Config{})
	var last time.Time
	m.WatchOutboxOldest(func(context.Context) (time.Duration, error) { return 90 * time.Second, nil })
	m.WatchAutomation(func() time.Time { return last })
	// Partition 5 is a leftover beyond P=4 being drained: it has a lag but covers none of the 4.
	m.WatchPartitions(func() int { return 4 }, func() map[int]uint64 { return map[int]uint64{1: 7, 3: 0, 5: 2} })

	// Before its first tick the automation has no series, so that "not ticking" is not
	// mistaken for "ticked at 1970".
	n, err := testutil.GatherAndCount(m.Registry(), "campaigns_automation_last_tick_timestamp_seconds")
	require.NoError(t, err)
	assert.Zero(t, n)

	last = time.Unix(1_800_000_000, 500_000_000)
	want := `
# HELP campaigns_automation_last_tick_timestamp_seconds Unix time at which the automation (end dates, budgets) last finished a tick.
# TYPE campaigns_automation_last_tick_timestamp_seconds gauge
campaigns_automation_last_tick_timestamp_seconds 1.8000000005e+09
# HELP campaigns_outbox_oldest_event_age_seconds Age of the oldest domain event committed and not yet published to JetStream (0: none waiting).
# TYPE campaigns_outbox_oldest_event_age_seconds gauge
campaigns_outbox_oldest_event_age_seconds 90
# HELP campaigns_tracking_partition_pending_messages Tracking messages of a partition this worker holds not yet counted (its lag), by partition.
# TYPE campaigns_tracking_partition_pending_messages gauge
campaigns_tracking_partition_pending_messages{partition="1"} 7
campaigns_tracking_partition_pending_messages{partition="3"} 0
campaigns_tracking_partition_pending_messages{partition="5"} 2
# HELP campaigns_tracking_partitions Tracking partitions the stream is spread over (P).
# TYPE campaigns_tracking_partitions gauge
campaigns_tracking_partitions 4
# HELP campaigns_tracking_partitions_held Tracking partitions (of the P) this worker holds the lease of and reads.
# TYPE campaigns_tracking_partitions_held gauge
campaigns_tracking_partitions_held 2
`
	require.NoError(t, testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"campaigns_automation_last_tick_timestamp_seconds", "campaigns_outbox_oldest_event_age_seconds",
		"campaigns_tracking_partition_pending_messages", "campaigns_tracking_partitions", "campaigns_tracking_partitions_held"))
}
