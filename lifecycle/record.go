package lifecycle

import (
	"time"

	"github.com/google/uuid"
)

// Record is one entry of a campaign's status history: a transition, or an approval step
// (whose status stays as it is). The history keeps one per change, written in the same
// transaction as the change.
type Record struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	Version    int64 // the campaign's version after the change
	From       Status
	To         Status
	Action     Action
	Reason     string
	StopCode   StopCode   // why the automation acted; empty for people
	Actor      *uuid.UUID // nil for the automation
	Automatic  bool
	OccurredAt time.Time
}
