package campaign

import (
	"time"

	"github.com/google/uuid"
)

// CTRWindow is a campaign's impressions and clicks in one hour and in the trailing hours
// before it, what the CTR-collapse alert judges.
type CTRWindow struct {
	CampaignID                          uuid.UUID
	Hour                                time.Time // the hour's start
	HourImpressions, HourClicks         int64
	TrailingImpressions, TrailingClicks int64
}
