package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// The markers of chunked all-or-nothing imports (campaign.ImportStore): campaign_imports and
// the campaigns each has written, campaign_import_items.

var _ campaign.ImportStore = (*Store)(nil)

type importRow struct {
	bun.BaseModel `bun:"table:campaign_imports"`

	ID          uuid.UUID `bun:"id,pk"`
	CreatedBy   uuid.UUID `bun:"created_by"`
	State       string    `bun:"state"`
	StartedAt   time.Time `bun:"started_at"`
	HeartbeatAt time.Time `bun:"heartbeat_at"`
}

type importItemRow struct {
	bun.BaseModel `bun:"table:campaign_import_items"`

	ImportID   uuid.UUID `bun:"import_id,pk"`
	CampaignID uuid.UUID `bun:"campaign_id,pk"`
}

// NameTaken reports whether a live campaign has this name, through the unique index's
// expression: the name is folded here as campaign.FoldName folds it (see NamesLike).
func (s *Store) NameTaken(ctx context.Context, name string) (bool, error) {
	ok, err := s.db.NewSelect().Table("campaigns").
		Where("lower(name) = ?", campaign.FoldName(name)).Where("deleted_at IS NULL").Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("check campaign name: %w", err)
	}
	return ok, nil
}

// StartImport records a new import's marker, WRITING.
func (s *Store) StartImport(ctx context.Context, id uuid.UUID, actor campaign.UserID, now time.Time) error {
	now = now.UTC()
	row := &importRow{ID: id, CreatedBy: uuid.UUID(actor), State: string(campaign.ImportWriting), StartedAt: now, HeartbeatAt: now}
	if _, err := s.db.NewInsert().Model(row).Exec(ctx); err != nil {
		return fmt.Errorf("insert import marker: %w", err)
	}
	return nil
}

// TouchImport renews the marker, which must be in state.
func (s *Store) TouchImport(ctx context.Context, id uuid.UUID, state campaign.ImportState, now time.Time) error {
	return s.SetImportState(ctx, id, []campaign.ImportState{state}, state, nil, now)
}

// SetImportState moves the marker between states (see campaign.ImportStore). On PostgreSQL
// the UPDATE locks the marker's row until the transaction ends, so that a chunk and a
// recovery's take-over come one after the other; SQLite transactions hold the write lock.
func (s *Store) SetImportState(ctx context.Context, id uuid.UUID, from []campaign.ImportState, to campaign.ImportState, staleBefore *time.Time, now time.Time) error {
	states := make([]string, len(from))
	for i, st := range from {
		states[i] = string(st)
	}
	q := s.db.NewUpdate().Model((*importRow)(nil)).
		Set("state = ?", string(to)).Set("heartbeat_at = ?", now.UTC()).
		Where("id = ?", id).Where("state IN (?)", bun.In(states))
	if staleBefore != nil {
		q = q.Where("heartbeat_at < ?", staleBefore.UTC())
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return fmt.Errorf("update import marker: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update import marker: %w", err)
	}
	if n != 1 {
		return campaign.ErrImportAborted
	}
	return nil
}

// RecordImported records campaigns as written by import id, in one statement.
func (s *Store) RecordImported(ctx context.Context, id uuid.UUID, campaigns []campaign.ID) error {
	if len(campaigns) == 0 {
		return nil
	}
	rows := make([]importItemRow, len(campaigns))
	for i, c := range campaigns {
		rows[i] = importItemRow{ImportID: id, CampaignID: uuid.UUID(c)}
	}
	if _, err := s.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("record imported campaigns: %w", err)
	}
	return nil
}

// ImportedCampaigns lists up to limit campaigns recorded for import id.
func (s *Store) ImportedCampaigns(ctx context.Context, id uuid.UUID, limit int) ([]campaign.ID, error) {
	var ids []uuid.UUID
	err := s.db.NewSelect().Model((*importItemRow)(nil)).Column("campaign_id").
		Where("import_id = ?", id).OrderExpr("campaign_id").Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("list imported campaigns: %w", err)
	}
	out := make([]campaign.ID, len(ids))
	for i, c := range ids {
		out[i] = campaign.ID(c)
	}
	return out, nil
}

// ForgetImported removes campaigns from import id's record.
func (s *Store) ForgetImported(ctx context.Context, id uuid.UUID, campaigns []campaign.ID) error {
	if len(campaigns) == 0 {
		return nil
	}
	raw := make([]uuid.UUID, len(campaigns))
	for i, c := range campaigns {
		raw[i] = uuid.UUID(c)
	}
	_, err := s.db.NewDelete().Model((*importItemRow)(nil)).
		Where("import_id = ?", id).Where("campaign_id IN (?)", bun.In(raw)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("forget imported campaigns: %w", err)
	}
	return nil
}

// DeleteImport removes import id's marker; what is left of its record goes with it.
func (s *Store) DeleteImport(ctx context.Context, id uuid.UUID) error {
	if _, err := s.db.NewDelete().Model((*importRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("delete import marker: %w", err)
	}
	return nil
}

// StaleImports lists up to limit markers last renewed before the time, oldest first.
func (s *Store) StaleImports(ctx context.Context, before time.Time, limit int) ([]campaign.StaleImport, error) {
	var rows []importRow
	err := s.db.NewSelect().Model(&rows).Column("id", "state").
		Where("heartbeat_at < ?", before.UTC()).OrderExpr("heartbeat_at").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stale imports: %w", err)
	}
	out := make([]campaign.StaleImport, len(rows))
	for i, r := range rows {
		out[i] = campaign.StaleImport{ID: r.ID, State: campaign.ImportState(r.State)}
	}
	return out, nil
}
