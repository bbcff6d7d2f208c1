package targeting

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// Buckets is the resolution of A/B assignment: 10,000 buckets, so weights in whole percent map
// to exact bucket ranges.
const Buckets = 10_000

// Bucket is where a customer falls for a campaign: the first 8 bytes of
// SHA-256("<campaign id>:<customer id>") as a big-endian unsigned integer, modulo 10,000. The
// campaign id is in its canonical lower-case 36-character form; the customer id is used as
// sent (UTF-8).
func Bucket(campaignID uuid.UUID, customerID string) int {
	sum := sha256.Sum256([]byte(campaignID.String() + ":" + customerID))
	return int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
}

// Assign returns the key of the variant a customer sees, or "" when the campaign runs no A/B
// test. Variants take consecutive bucket ranges in their listed order, each of weight x 100
// buckets: with A=50, B=50, buckets 0-4999 see A and 5000-9999 see B. The same customer always
// gets the same variant, in every process, as long as the variants do not change.
func Assign(campaignID uuid.UUID, customerID string, ab *campaign.ABTestSettings) string {
	if ab == nil || !ab.Enabled || len(ab.Variants) == 0 {
		return ""
	}
	b := Bucket(campaignID, customerID)
	upper := 0
	for _, v := range ab.Variants {
		upper += v.Weight * Buckets / 100
		if b < upper {
			return v.Key
		}
	}
	return ab.Variants[len(ab.Variants)-1].Key // weights sum to 100: unreachable
}
