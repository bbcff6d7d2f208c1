package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// alertRow is one campaign's alert of one kind.
type alertRow struct {
	bun.BaseModel `bun:"table:campaign_alerts,alias:campaign_alerts"`

	CampaignID uuid.UUID `bun:"campaign_id,pk"`
	Kind       string    `bun:"kind,pk"`
	Period     string    `bun:"period"`
	Firing     bool      `bun:"firing"`
	ChangedAt  time.Time `bun:"changed_at"`
}

// Alert records the state of one of a campaign's alerts (campaign.Store). Firing, it turns
// the alert's row to firing for a.Period and appends e, in one transaction, only when the
// row was not firing for that period. Not firing, it re-arms a firing row. changed reports
// whether the row changed. Each is one conditional statement, so concurrent automation
// instances fire an alert once.
func (s *Store) Alert(ctx context.Context, a campaign.AlertState, e *campaign.Event) (changed bool, err error) {
	err = s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		now := time.Now().UTC()
		if e != nil {
			now = e.OccurredAt
		}
		if !a.Firing {
			res, err := db.NewUpdate().Model((*alertRow)(nil)).Set("firing = ?", false).Set("changed_at = ?", now).
				Where("campaign_id = ?", uuid.UUID(a.CampaignID)).Where("kind = ?", a.Kind).Where("firing = ?", true).Exec(ctx)
			if err != nil {
				return fmt.Errorf("re-arm alert: %w", err)
			}
			n, err := res.RowsAffected()
			changed = n > 0
			return err
		}
		row := &alertRow{CampaignID: uuid.UUID(a.CampaignID), Kind: a.Kind, Period: a.Period, Firing: true, ChangedAt: now}
		res, err := db.NewInsert().Model(row).
			On("CONFLICT (campaign_id, kind) DO UPDATE").
			Set("period = EXCLUDED.period, firing = EXCLUDED.firing, changed_at = EXCLUDED.changed_at").
			Where("campaign_alerts.firing = ? OR campaign_alerts.period <> EXCLUDED.period", false).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("fire alert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		changed = true
		if e == nil {
			return nil
		}
		return outbox.Append(ctx, db, toOutbox(*e))
	})
	return changed && err == nil, err
}
