package metrics

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
