package metrics

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// benchTrackBatch is a /track body of n events of every kind, with ids, as a client that
// retries safely sends them.
func benchTrackBatch(n int) []byte {
	events := make([]string, n)
	for i := range events {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "event-%d", i))
		switch i % 4 {
		case 0:
			events[i] = fmt.Sprintf(`{"eventId":%q,"type":"IMPRESSION","variant":"A","channel":"EMAIL","customerId":"c-%d"}`, id, i)
		case 1:
			events[i] = fmt.Sprintf(`{"eventId":%q,"type":"CLICK","variant":"B","channel":"PUSH","customerId":"c-%d","occurredAt":"2027-03-05T10:15:00Z"}`, id, i)
		case 2:
			events[i] = fmt.Sprintf(`{"eventId":%q,"type":"CONVERSION","revenue":{"amount":"59.90","currency":"EUR"},"customerId":"c-%d"}`, id, i)
		default:
			events[i] = fmt.Sprintf(`{"eventId":%q,"type":"COST","cost":{"amount":"12.50","currency":"EUR"}}`, id)
		}
	}
	return []byte(`{"events": [` + strings.Join(events, ",") + `]}`)
}

// BenchmarkDecodeTrackBatch measures what /track does to read a batch of 100 events before it
// checks them against the campaign: the body, the batch wrapper and every event, strictly.
func BenchmarkDecodeTrackBatch(b *testing.B) {
	body := benchTrackBatch(100)
	cid := uuid.New()
	now := time.Date(2027, 3, 5, 12, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var probe map[string]json.RawMessage
		if err := httpx.DecodeJSONBytes(body, &probe); err != nil {
			b.Fatal(err)
		}
		var req struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := httpx.DecodeJSONBytes(body, &req); err != nil {
			b.Fatal(err)
		}
		for _, raw := range req.Events {
			if _, errs := decodeEvent(raw, cid, now, Limits{}.withDefaults()); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	}
}
