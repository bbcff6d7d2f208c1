// Package bunstore stores the status history of campaigns in a Bun database: one row per
// lifecycle.Record, written in the same transaction as the change it records.
package bunstore

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations is the history schema, one folder per dialect.
func Migrations() migrate.Set {
	return migrate.Embedded("lifecycle", migrationFiles)
}

type recordRow struct {
	bun.BaseModel `bun:"table:campaign_status_transitions"`

	ID         uuid.UUID  `bun:"id,pk"`
	CampaignID uuid.UUID  `bun:"campaign_id"`
	Version    int64      `bun:"version"`
	From       string     `bun:"from_status"`
	To         string     `bun:"to_status"`
	Action     string     `bun:"action"`
	Reason     string     `bun:"reason"`
	StopCode   string     `bun:"stop_code"`
	Actor      *uuid.UUID `bun:"actor"`
	Automatic  bool       `bun:"automatic"`
	OccurredAt time.Time  `bun:"occurred_at"`
}

// Append writes r through db, which should be the transaction that changes the status.
func Append(ctx context.Context, db bun.IDB, r lifecycle.Record) error {
	if r.ID == uuid.Nil {
		r.ID = uuid.Must(uuid.NewV7())
	}
	row := recordRow{
		ID: r.ID, CampaignID: r.CampaignID, Version: r.Version, From: string(r.From), To: string(r.To),
		Action: string(r.Action), Reason: r.Reason, StopCode: string(r.StopCode), Actor: r.Actor, Automatic: r.Automatic,
		OccurredAt: r.OccurredAt.UTC(),
	}
	if _, err := db.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("record transition: %w", err)
	}
	return nil
}

// AutomaticWith returns the ids among campaignIDs that the automation ever moved with code.
func AutomaticWith(ctx context.Context, db bun.IDB, campaignIDs []uuid.UUID, code lifecycle.StopCode) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	if len(campaignIDs) == 0 {
		return out, nil
	}
	var ids []uuid.UUID
	err := db.NewSelect().Model((*recordRow)(nil)).Column("campaign_id").Distinct().
		Where("campaign_id IN (?)", bun.In(campaignIDs)).Where("automatic = ?", true).
		Where("stop_code = ?", string(code)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("automatic transitions: %w", err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// List returns a campaign's transitions oldest first: up to limit rows after the version
// afterVersion (0 for the first page).
func List(ctx context.Context, db bun.IDB, campaignID uuid.UUID, afterVersion int64, limit int) ([]lifecycle.Record, error) {
	var rows []recordRow
	err := db.NewSelect().Model(&rows).
		Where("campaign_id = ?", campaignID).Where("version > ?", afterVersion).
		OrderExpr("version ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list transitions: %w", err)
	}
	out := make([]lifecycle.Record, len(rows))
	for i, r := range rows {
		out[i] = lifecycle.Record{
			ID: r.ID, CampaignID: r.CampaignID, Version: r.Version, From: lifecycle.Status(r.From),
			To: lifecycle.Status(r.To), Action: lifecycle.Action(r.Action), Reason: r.Reason,
			StopCode: lifecycle.StopCode(r.StopCode),
			Actor:    r.Actor, Automatic: r.Automatic, OccurredAt: r.OccurredAt.UTC(),
		}
	}
	return out, nil
}
