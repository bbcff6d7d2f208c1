package metrics

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

// wireSeeds are events in the common form and near it: every member, escapes, nulls, numbers,
// duplicates, unknown members, trailing data, invalid UTF-8.
var wireSeeds = []string{
	`{"eventId":"0191f0a4-5c3e-7d2a-9b1e-2f4a6c8e0b1d","type":"IMPRESSION","occurredAt":"2026-12-07T10:00:00Z","variant":"A","channel":"EMAIL","customerId":"c42"}`,
	`{"campaignId":"0191f0a4-5c3e-7d2a-9b1e-2f4a6c8e0b1d","type":"CONVERSION","revenue":{"amount":"59.90","currency":"EUR"}}`,
	` { "type" : "COST" , "cost" : { "currency" : "EUR" , "amount" : 12.5e1 } } `,
	`{"type":"COST","cost":{"amount":-0.5,"currency":"EUR"}}`,
	`{"type":"COST","cost":{"amount":01,"currency":"EUR"}}`,
	`{"type":"COST","cost":{"amount":null,"currency":"EUR"}}`,
	`{"type":"COST","cost":null}`,
	`{"type":"COST","cost":{}}`,
	`{"type":"CLICK","personalizationRuleId":"0191f0a4-5c3e-7d2a-9b1e-2f4a6c8e0b1d"}`,
	`{"type":"CLICK","customerId":"caf\u00e9"}`,
	`{"type":"CLICK","customerId":"café ☕"}`,
	`{"type":"CLICK","customerId":null}`,
	`{"type":"CLICK","type":"IMPRESSION"}`,
	`{"type":"CLICK","Type":"IMPRESSION"}`,
	`{"type":"CLICK","extra":1}`,
	`{"type":"CLICK"} {}`,
	`{"type":"CLICK",}`,
	`{"type":"CLICK"`,
	"{\"type\":\"CLICK\",\"customerId\":\"a\xffb\"}",
	"{\"type\":\"CLICK\",\"customerId\":\"a\tb\"}",
	`{}`, `[]`, `null`, ``, `"x"`,
}

// decodeWire gives what the strict decoder gives, for any input: the same event, or an error
// where it errs with the same words. The fast reader's own answer, when it has one, is the
// strict decoder's.
func FuzzDecodeWireMatchesStrict(f *testing.F) {
	for _, s := range wireSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want wireEvent
		err := decodeWire(data, &got)
		werr := strictjson.Decode(data, &want)
		if werr != nil {
			require.Error(t, err)
			assert.Equal(t, werr.Error(), err.Error())
			return
		}
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
}

// The fast reader takes the common forms itself (the strict decoder only sees the rest), and
// whatever else it takes (in valid UTF-8, which decodeWire checks first) is the strict
// decoder's event.
func TestWireScannerReadsTheCommonForms(t *testing.T) {
	for _, s := range wireSeeds[:4] {
		var w wireEvent
		assert.True(t, (&wireScanner{b: s}).event(&w), s)
	}
	for _, s := range wireSeeds[4:] {
		var w wireEvent
		if utf8.Valid([]byte(s)) && (&wireScanner{b: s}).event(&w) {
			var want wireEvent
			require.NoError(t, strictjson.Decode([]byte(s), &want), s)
			assert.Equal(t, want, w, s)
		}
	}
}

// One event of each common kind, read by decodeWire against the strict decoder alone, in the
// same run:
//
//	go test ./metrics -run '^$' -bench DecodeWire -benchmem
func BenchmarkDecodeWire(b *testing.B) {
	events := [][]byte{[]byte(wireSeeds[0]), []byte(wireSeeds[1]), []byte(wireSeeds[2]),
		[]byte(`{"eventId":"0191f0a4-5c3e-7d2a-9b1e-2f4a6c8e0b1d","type":"CLICK","variant":"B","channel":"PUSH"}`)}
	for name, decode := range map[string]func([]byte, *wireEvent) error{
		"decodeWire": decodeWire,
		"strictjson": func(b []byte, w *wireEvent) error { return strictjson.Decode(b, w) },
	} {
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				var w wireEvent
				if err := decode(events[i%len(events)], &w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// encodeWire writes what json.Marshal writes, for any event: the same bytes, or an error
// where it errs. Its own path takes the common events (FuzzEncodeWireMatchesMarshal's seeds
// with plain text), json.Marshal the rest.
func FuzzEncodeWireMatchesMarshal(f *testing.F) {
	f.Add("CLICK", int64(1796000000), int64(0), 0, "A", "EMAIL", "c42", "", "", "", "", "")
	f.Add("CONVERSION", int64(1796000000), int64(123456789), 3600, "", "", "", "59.90", "EUR", "", "", "rule-1")
	f.Add("COST", int64(-62135596800), int64(0), -7200, "B", "PUSH", "", "", "", "-12.5", "JPY", "")
	f.Add("IMPRESSION", int64(253402300800), int64(0), 0, "<A>", "SMS", "caf\u00e9", "1", "\"X\"", "2", "a&b", "\x01")
	f.Fuzz(func(t *testing.T, typ string, sec, nsec int64, offset int, variant, channel, customer,
		revenue, revenueCurrency, cost, costCurrency, rule string) {
		e := Event{EventID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(typ)), CampaignID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(customer)),
			Type: EventType(typ), OccurredAt: time.Unix(sec, nsec).In(time.FixedZone("", offset)), Variant: variant,
			Channel: campaign.Channel(channel), CustomerID: customer, PersonalizationRuleID: rule}
		if d, err := decimal.NewFromString(revenue); err == nil {
			e.Revenue = &campaign.Money{Amount: d, Currency: revenueCurrency}
		}
		if d, err := decimal.NewFromString(cost); err == nil {
			e.Cost = &campaign.Money{Amount: d, Currency: costCurrency}
		}
		got, err := encodeWire(&e)
		want, werr := json.Marshal(e)
		if werr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	})
}

// The common events take encodeWire's own path (json.Marshal is not reached for them).
func TestAppendWireTakesTheCommonEvents(t *testing.T) {
	at := time.Date(2027, 3, 5, 10, 15, 0, 123, time.UTC)
	for _, e := range []Event{
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Click, OccurredAt: at, Variant: "A", Channel: "EMAIL"},
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Impression, OccurredAt: at, CustomerID: "c-42"},
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Conversion, OccurredAt: at,
			Revenue: &campaign.Money{Amount: decimal.RequireFromString("59.9"), Currency: "EUR"}, PersonalizationRuleID: "r1"},
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Cost, OccurredAt: at,
			Cost: &campaign.Money{Amount: decimal.RequireFromString("12"), Currency: "JPY"}},
	} {
		got, ok := appendWire(nil, &e)
		require.True(t, ok, "%+v", e)
		want, err := json.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
}

// One event of each common kind, encoded by encodeWire against json.Marshal, in the same run:
//
//	go test ./metrics -run '^$' -bench EncodeWire -benchmem
func BenchmarkEncodeWire(b *testing.B) {
	at := time.Date(2027, 3, 5, 10, 15, 0, 0, time.UTC)
	events := []Event{
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Click, OccurredAt: at, Variant: "A", Channel: "EMAIL"},
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Impression, OccurredAt: at, Variant: "B", Channel: "PUSH", CustomerID: "c-42"},
		{EventID: uuid.New(), CampaignID: uuid.New(), Type: Conversion, OccurredAt: at,
			Revenue: &campaign.Money{Amount: decimal.RequireFromString("59.90"), Currency: "EUR"}},
	}
	for name, encode := range map[string]func(*Event) ([]byte, error){
		"encodeWire": encodeWire,
		"json":       func(e *Event) ([]byte, error) { return json.Marshal(e) },
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := encode(&events[i%len(events)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
