package campaign_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The approval filters against the status filter they sit beside, on one page of 20 out of
// 2,000 campaigns on SQLite (a tenth pending, half above the EUR threshold): PENDING reads
// the partial index; REQUIRED compares each candidate's budget with its currency's threshold.
// Run the cases interleaved (-count) and compare them as ratios of status=DRAFT.
func BenchmarkListByApprovalStatus(b *testing.B) {
	db := dbtest.Open(b, dbtest.SQLiteTarget(b), sets...)
	clock := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	th, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "20000"})
	if err != nil {
		b.Fatal(err)
	}
	svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return clock }, ApprovalThresholds: th})
	ctx := context.Background()
	for i := range 2000 {
		budget := "10000"
		if i%2 == 0 {
			budget = "25000"
		}
		c, err := svc.Create(ctx, alice, approvalInput(fmt.Sprintf("Bench %04d", i), clock, budget))
		if err != nil {
			b.Fatal(err)
		}
		if i%20 == 0 {
			if _, err := svc.SubmitForApproval(ctx, c.ID(), campaign.ApprovalRequest{Actor: alice}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct {
		name string
		f    campaign.Filter
	}{
		{"status=DRAFT", campaign.Filter{Statuses: []lifecycle.Status{lifecycle.StatusDraft}, Limit: 20}},
		{"approvalStatus=PENDING", campaign.Filter{Approval: []campaign.ApprovalStatus{campaign.ApprovalPending}, Limit: 20}},
		{"approvalStatus=REQUIRED", campaign.Filter{Approval: []campaign.ApprovalStatus{campaign.ApprovalRequired}, Limit: 20}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				page, _, err := svc.List(ctx, bc.f)
				if err != nil || len(page) != 20 {
					b.Fatalf("%d campaigns, %v", len(page), err)
				}
			}
		})
	}
}
