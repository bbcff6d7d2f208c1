package campaign

import (
	"time"

	"github.com/google/uuid"
)

// The approval events' payloads (see payloads.go for the rules every payload follows).

// SubmittedForApprovalV1 is the data of CampaignSubmittedForApproval, version 1: the budget
// submitted and the threshold of its currency it is above, when it was submitted (zero for a
// currency without a threshold of its own: ApprovalThresholds.For); Resubmission
// is true when the campaign had been rejected.
type SubmittedForApprovalV1 struct {
	Budget       MoneyV1 `json:"budget"`
	Threshold    MoneyV1 `json:"threshold"`
	Resubmission bool    `json:"resubmission"`
}

// ApprovalDecisionV1 is the data of CampaignApproved and CampaignRejected, version 1: the
// decision (APPROVED or REJECTED), the budget decided on, the threshold of its currency at
// the time of the decision (zero for a currency without a threshold of its own; null when no
// threshold is configured any more), the request's submitter
// and time, and the rejection's reason ("" for an approval). The decider is the event's actor.
type ApprovalDecisionV1 struct {
	Decision    string     `json:"decision"`
	Budget      MoneyV1    `json:"budget"`
	Threshold   *MoneyV1   `json:"threshold"`
	SubmittedBy *uuid.UUID `json:"submittedBy"`
	SubmittedAt *time.Time `json:"submittedAt"`
	Reason      string     `json:"reason"`
}

// ApprovalVoidedV1 is the data of CampaignApprovalVoided, version 1: an edit changed what an
// approval covers, so the approval (VoidedStatus APPROVED) or the pending request (PENDING)
// no longer stands. ChangedFields are the covered fields the edit changed (paths as in
// CampaignUpdated), or "status" when the campaign ended (completed or cancelled) while its
// request was pending; Budget is the budget after the change. It follows the change's event
// (CampaignUpdated, CampaignCancelled...), in the same transaction and at the same version.
type ApprovalVoidedV1 struct {
	VoidedStatus  string   `json:"voidedStatus"`
	ChangedFields []string `json:"changedFields"`
	Budget        MoneyV1  `json:"budget"`
}

func (SubmittedForApprovalV1) schemaVersion() int { return 1 }
func (ApprovalDecisionV1) schemaVersion() int     { return 1 }
func (ApprovalVoidedV1) schemaVersion() int       { return 1 }
