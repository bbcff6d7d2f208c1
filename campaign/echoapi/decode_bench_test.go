package echoapi

import (
	"testing"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// benchCreateBody is a typical create request with every section filled.
const benchCreateBody = `{
  "name": "Spring sale",
  "description": "20% off for loyal customers",
  "type": "PROMOTION",
  "targetingRules": ["3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"],
  "startDate": "2027-03-01T00:00:00Z",
  "endDate": "2027-03-31T23:59:59Z",
  "budget": {"amount": "10000.00", "currency": "EUR"},
  "settings": {
    "targetAudience": ["vip"],
    "channels": ["EMAIL", "PUSH"],
    "frequency": "WEEKLY",
    "maxImpressions": 500000,
    "budgetLimit": {"amount": "9000.00", "currency": "EUR"},
    "abTestSettings": {"enabled": true, "variants": [
      {"key": "A", "name": "Control", "weight": 50},
      {"key": "B", "name": "Bold subject", "weight": 50}]},
    "schedulingRules": [{"days": ["MON", "FRI"], "startTime": "09:00", "endTime": "18:00", "timezone": "Europe/Madrid"}],
    "personalization": {"enabled": false, "rules": []}
  }}`

// BenchmarkDecodeCreateBody measures the strict decoding of a create request body.
func BenchmarkDecodeCreateBody(b *testing.B) {
	body := []byte(benchCreateBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var req campaignRequest
		if err := httpx.DecodeJSONBytes(body, &req); err != nil {
			b.Fatal(err)
		}
	}
}
