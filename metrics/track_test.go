package metrics_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// noCampaigns is a campaign source for trackers that only publish.
type noCampaigns struct{}

func (noCampaigns) Get(context.Context, campaign.ID) (*campaign.View, error) {
	return nil, campaign.ErrNotFound
}

// clicks returns n click events of one campaign, each with its own id.
func clicks(n int) []metrics.Event {
	cid := uuid.New()
	out := make([]metrics.Event, n)
	for i := range out {
		out[i] = metrics.Event{EventID: uuid.New(), CampaignID: cid, Type: metrics.Click, OccurredAt: time.Now().UTC()}
	}
	return out
}

// connectTo connects to the server at url, as the binaries do.
func connectTo(t *testing.T, url string) *natsx.Conn {
	t.Helper()
	nc, err := natsx.Connect(t.Context(), natsx.Config{URL: url, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// streamMsgs is how many messages the tracking stream holds.
func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(t.Context(), "CAMPAIGN_TRACKING")
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	return info.State.Msgs
}

func requireOutcomes(t *testing.T, err error, want ...metrics.Outcome) *metrics.PublishError {
	t.Helper()
	var pe *metrics.PublishError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, want, pe.Outcomes)
	return pe
}

func repeat(o metrics.Outcome, n int) []metrics.Outcome {
	out := make([]metrics.Outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// Publish says what became of each event, and "not stored" is true: an event refused while the
// connection is down is not sent once it is back.
func TestFaultPublishSaysWhatBecameOfEachEvent(t *testing.T) {
	t.Parallel()

	t.Run("connection down: not stored, at once, and not sent later", func(t *testing.T) {
		t.Parallel()
		srv := natstest.NewServer(t)
		nc := connectTo(t, srv.URL())
		require.NoError(t, metrics.EnsureStream(t.Context(), nc.JS, metrics.StreamConfig{}))
		tr := metrics.NewTracker(nc.JS, noCampaigns{}, metrics.TrackerConfig{})
		events := clicks(50)

		srv.Stop()
		require.Eventually(t, func() bool { return !nc.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
		start := time.Now()
		err := tr.Publish(t.Context(), events)
		took := time.Since(start)
		pe := requireOutcomes(t, err, repeat(metrics.NotStored, len(events))...)
		assert.ErrorIs(t, err, metrics.ErrNotConnected)
		assert.False(t, pe.InDoubt())
		assert.Less(t, took, 100*time.Millisecond, "refused without waiting")

		srv.Start()
		require.Eventually(t, func() bool { return nc.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
		// A marker, acked: anything a buffer held would have been sent, and stored, before it.
		require.NoError(t, tr.Publish(t.Context(), clicks(1)))
		assert.EqualValues(t, 1, streamMsgs(t, nc.JS), "an event answered not stored was stored after all")

		require.NoError(t, tr.Publish(t.Context(), events))
		require.NoError(t, tr.Publish(t.Context(), events), "the same ids again are duplicates, acked")
		assert.EqualValues(t, 1+len(events), streamMsgs(t, nc.JS))
	})

	t.Run("refused by JetStream: stored up to the limit, not stored after", func(t *testing.T) {
		t.Parallel()
		nc := natstest.Connect(t, natstest.Embedded(t))
		_, err := nc.JS.CreateStream(t.Context(), jetstream.StreamConfig{
			Name: "CAMPAIGN_TRACKING", Subjects: []string{metrics.SubjectPrefix + ".*.*"},
			MaxMsgs: 2, Discard: jetstream.DiscardNew,
		})
		require.NoError(t, err)
		tr := metrics.NewTracker(nc.JS, noCampaigns{}, metrics.TrackerConfig{})
		pe := requireOutcomes(t, tr.Publish(t.Context(), clicks(4)),
			metrics.Stored, metrics.Stored, metrics.NotStored, metrics.NotStored)
		var api *jetstream.APIError
		assert.ErrorAs(t, pe, &api)
		assert.False(t, pe.InDoubt())
	})

	t.Run("no stream takes the subject: not stored", func(t *testing.T) {
		t.Parallel()
		nc := natstest.Connect(t, natstest.Embedded(t))
		tr := metrics.NewTracker(nc.JS, noCampaigns{}, metrics.TrackerConfig{})
		err := tr.Publish(t.Context(), clicks(3))
		requireOutcomes(t, err, repeat(metrics.NotStored, 3)...)
		assert.ErrorIs(t, err, jetstream.ErrNoStreamResponse)
	})

	t.Run("sent without an ack: unknown, after the ack timeout", func(t *testing.T) {
		t.Parallel()
		nc := natstest.Connect(t, natstest.Embedded(t))
		// Something receives the events but never acks them, as a server that stored them
		// and whose ack was lost.
		sub, err := nc.NC.SubscribeSync(metrics.SubjectPrefix + ".>")
		require.NoError(t, err)
		tr := metrics.NewTracker(nc.JS, noCampaigns{}, metrics.TrackerConfig{AckTimeout: 200 * time.Millisecond})
		start := time.Now()
		err = tr.Publish(t.Context(), clicks(3))
		took := time.Since(start)
		pe := requireOutcomes(t, err, repeat(metrics.Unknown, 3)...)
		assert.True(t, pe.InDoubt())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.GreaterOrEqual(t, took, 200*time.Millisecond)
		assert.Less(t, took, time.Second)
		n, _, err := sub.Pending()
		require.NoError(t, err)
		assert.Equal(t, 3, n, "the events were sent")
		require.NoError(t, sub.Unsubscribe()) // or closing the connection drains them
	})
}
