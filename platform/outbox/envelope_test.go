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
	// seconds and nanoseconds since 1970 (UTC) make the time: years -292277022657 to 292277026596.
	const year0, year10000 = int64(-62167219200), int64(253402300800)
	// The fast path: plain strings, payloads without HTML characters, years 0-9999.
	f.Add("CampaignPaused", `{"from":"ACTIVE","to":"PAUSED","reason":"stock out"}`, "urn:campaigns:events:CampaignPaused:1",
		"req-1", "/campaigns", int64(4), int64(1_700_000_000), int64(123_456_789), true)
	f.Add("CampaignCreated", `{"campaign":{"id":"x","budget":{"amount":"10.00"}}}`, "", "", "/campaigns", int64(1),
		int64(1_800_000_000), int64(0), false) // whole second: RFC3339Nano writes no fraction
	f.Add("CampaignResumed", "{\n  \"a\" : [ 1 , 2.5e3 , null ] \t}", "urn:x", "c", "", int64(9), int64(1), int64(120_000_000), true)
	f.Add("CampaignDeleted", `[]`, "", "r", "/", int64(1<<62), int64(year0), int64(0), false)              // year 0
	f.Add("CampaignDeleted", `"s"`, "d", "", "/", int64(-5), int64(year10000-1), int64(999_999_999), true) // 9999-12-31T23:59:59.999999999
	f.Add("CampaignUpdated", `1.5e-7`, "", "", "/campaigns", int64(0), int64(0), int64(-1), false)         // 1969
	f.Add("CampaignUpdated", `{"k":"é, \u00e9 and ~"}`, "", "", "/c", int64(2), int64(86400), int64(7), false)
	// The fallback: strings to escape, HTML characters, years outside 0-9999 (an error).
	f.Add("CampaignUpdated", "{ \"a\" : [1, 2.5e3, null, true],\n \"b\": \"<&>\u2028\" }", "", "", "/c", int64(-1), int64(0), int64(0), false)
	f.Add("T\"y\\pe", `"x"`, "sch\u00e9ma", "corr\nid", "", int64(0), int64(-62135596800), int64(0), false)
	f.Add("X", `not json`, "", "", "/", int64(1), int64(1), int64(1), false)
	f.Add("X", ``, "", "", "/", int64(1), int64(1), int64(1), false)
	f.Add("X", `{}`, "", "", "/", int64(1), int64(year0-1), int64(999_999_999), false) // year -1
	f.Add("X", `{}`, "", "", "/", int64(1), int64(year10000), int64(0), true)          // year 10000
	f.Add("X", `{}`, "", "", "/", int64(1), int64(-1)<<40, int64(0), false)            // year -32873
	f.Add("X", `{}`, "s", "c", "/", int64(1), int64(1)<<40, int64(5), true)            // year 36812
	f.Add("Pa<used>", `{}`, "", "", "/a&b", int64(1), int64(1), int64(1), false)
	f.Fuzz(func(t *testing.T, typ, payload, schema, corr, source string, version, secs, nanos int64, actor bool) {
		row := eventRow{
			ID: uuid.New(), AggregateID: uuid.New(), Type: typ, Version: version, CorrelationID: corr,
			OccurredAt: time.Unix(secs, nanos), Payload: payload, DataSchema: schema,
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

// The trace context travels as the CloudEvents distributed-tracing extension, written by the
// fast path exactly as json.Marshal writes it, and is absent when the change was not traced.
func TestEnvelopeCarriesTheTraceParent(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	row := eventRow{ID: uuid.New(), AggregateID: uuid.New(), Type: "CampaignUpdated", Version: 2,
		OccurredAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC), Payload: `{"a":1}`, TraceParent: parent}
	want, err := json.Marshal(Envelope(row.event(), "/campaigns"))
	require.NoError(t, err)
	got, err := appendEnvelope(nil, &row, "/campaigns")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	assert.Contains(t, string(got), `"traceparent":"`+parent+`"`)

	row.TraceParent = ""
	got, err = appendEnvelope(nil, &row, "/campaigns")
	require.NoError(t, err)
	assert.NotContains(t, string(got), "traceparent")
}
