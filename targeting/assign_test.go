package targeting_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/targeting"
)

func abTest(weights ...int) *campaign.ABTestSettings {
	ab := &campaign.ABTestSettings{Enabled: true}
	for i, w := range weights {
		ab.Variants = append(ab.Variants, campaign.Variant{Key: fmt.Sprintf("v%d", i), Name: "x", Weight: w})
	}
	return ab
}

// chiSquare is Pearson's statistic of observed counts against the expected shares.
func chiSquare(counts map[string]int, ab *campaign.ABTestSettings, n int) float64 {
	var x2 float64
	for _, v := range ab.Variants {
		exp := float64(n) * float64(v.Weight) / 100
		d := float64(counts[v.Key]) - exp
		x2 += d * d / exp
	}
	return x2
}

func TestAssignmentDistribution(t *testing.T) {
	t.Parallel()
	const n = 100_000
	// Critical values of the chi-square distribution at p = 0.001: a correct hash fails this
	// once in a thousand campaigns; the campaign id is fixed, so the test is deterministic.
	critical := map[int]float64{1: 10.83, 2: 13.82}
	cid := uuid.MustParse("3b241101-e2bb-4255-8caf-4136c566a962")
	for _, weights := range [][]int{{50, 50}, {10, 30, 60}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			ab := abTest(weights...)
			counts := map[string]int{}
			for i := range n {
				counts[targeting.Assign(cid, fmt.Sprintf("customer-%d", i), ab)]++
			}
			x2 := chiSquare(counts, ab, n)
			assert.Less(t, x2, critical[len(weights)-1], "counts %v", counts)
		})
	}
}

func TestAssignmentIsStable(t *testing.T) {
	t.Parallel()
	ab := abTest(10, 30, 60)
	cid := uuid.MustParse("3b241101-e2bb-4255-8caf-4136c566a962")
	for i := range 1000 {
		id := fmt.Sprintf("c-%d", i)
		first := targeting.Assign(cid, id, ab)
		for range 3 {
			assert.Equal(t, first, targeting.Assign(cid, id, ab))
		}
	}
	// A published vector, so that other services can check their implementation.
	assert.Equal(t, 3791, targeting.Bucket(cid, "customer-42")) // also computed independently (Python hashlib)
	assert.Equal(t, "v1", targeting.Assign(cid, "customer-42", ab))
}

func TestAssignmentWithoutABTest(t *testing.T) {
	t.Parallel()
	cid := uuid.New()
	assert.Empty(t, targeting.Assign(cid, "c", nil))
	assert.Empty(t, targeting.Assign(cid, "c", &campaign.ABTestSettings{Enabled: false, Variants: abTest(50, 50).Variants}))
}
