package outbox

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The relay's encoder writes exactly what json.Marshal writes for the envelope.
func FuzzAppendEnvelopeMatchesJSONMarshal(f *testing.F) {
	f.Add("CampaignPaused", `{"from":"ACTIVE","to":"PAUSED","reason":"stock out"}`, "urn:campaigns:events:CampaignPaused:1",
		"req-1", "/campaigns", int64(4), int64(1_700_000_000_123_456_789), true)
	f.Add("CampaignUpdated", "{ \"a\" : [1, 2.5e3, null, true],\n \"b\": \"<&>\u2028\" }", "", "", "/c", int64(-1), int64(0), false)
	f.Add("T\"y\\pe", `"x"`, "sch\u00e9ma", "corr\nid", "", int64(0), int64(-62135596800_000_000_0), false)
	f.Add("X", `not json`, "", "", "/", int64(1), int64(1), false)
	f.Fuzz(func(t *testing.T, typ, payload, schema, corr, source string, version, nanos int64, actor bool) {
		row := eventRow{
			ID: uuid.New(), AggregateID: uuid.New(), Type: typ, Version: version, CorrelationID: corr,
			OccurredAt: time.Unix(0, nanos), Payload: payload, DataSchema: schema,
		}
		if actor {
			a := uuid.New()
			row.Actor = &a
		}
		want, wantErr := json.Marshal(Envelope(row.event(), source))
		got, err := appendEnvelope([]byte("prefix"), &row, source)
		if wantErr != nil {
			require.Error(t, err)
			assert.Equal(t, "prefix", string(got), "nothing appended on error")
			return
		}
		require.NoError(t, err)
		assert.Equal(t, "prefix"+string(want), string(got))
	})
}
