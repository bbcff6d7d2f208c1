// Package bunstore is the campaign Store over Bun, on PostgreSQL (pgdialect, through pgx's
// database/sql driver or Bun's pgdriver) or SQLite (sqlitedialect, modernc.org/sqlite): the
// campaigns table, with the status history (lifecycle/history) and the event store
// (platform/outbox) each write records in its transaction. Schema lists the migrations.
package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	history "github.com/engine-rules-sp/campaigns/lifecycle/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Store keeps campaigns with Bun on PostgreSQL or SQLite.
type Store struct {
	db bun.IDB
	// columns is campaignRow's column list, for the hot reads (hotread.go).
	columns string
}

// New returns a store over db (a *bun.DB or a bun.Tx). Each of its writes is a transaction of
// its own over a *bun.DB, a savepoint over a bun.Tx. A campaign.Service wants one over a
// *bun.DB: to write in a transaction of your own, bind the service to a store over it with
// Service.InTx.
func New(db bun.IDB) *Store { return &Store{db: db, columns: columnList(db)} }

// The Store is the campaign service's store, and over a bun.Tx a store bound to it.
var (
	_ campaign.Store   = (*Store)(nil)
	_ campaign.TxStore = (*Store)(nil)
)

// campaignRow is the campaigns table. It stays inside the store: the domain carries no
// storage tags.
type campaignRow struct {
	bun.BaseModel `bun:"table:campaigns"`

	ID             uuid.UUID       `bun:"id,pk"`
	Name           string          `bun:"name"`
	Description    string          `bun:"description"`
	Status         string          `bun:"status"`
	Type           string          `bun:"type"`
	TargetingRules string          `bun:"targeting_rules"`
	StartDate      time.Time       `bun:"start_date"`
	EndDate        *time.Time      `bun:"end_date"`
	BudgetAmount   decimal.Decimal `bun:"budget_amount"`
	BudgetCurrency string          `bun:"budget_currency"`
	CreatedBy      uuid.UUID       `bun:"created_by"`
	CreatedAt      time.Time       `bun:"created_at"`
	UpdatedAt      time.Time       `bun:"updated_at"`
	Settings       string          `bun:"settings"`
	Version        int64           `bun:"version"`
	DeletedAt      *time.Time      `bun:"deleted_at"`
	StopCode       string          `bun:"stop_code"`
	// TargetingVerified: see Campaign.TargetingVerified. Its own column (not a settings member)
	// because the service sets it, never the client.
	TargetingVerified bool `bun:"targeting_verified"`
	// The approval record (campaign.Approval); ApprovalStatus is "" when nothing stands.
	ApprovalStatus      string     `bun:"approval_status"`
	ApprovalSubmittedBy *uuid.UUID `bun:"approval_submitted_by"`
	ApprovalSubmittedAt *time.Time `bun:"approval_submitted_at"`
	ApprovalDecidedBy   *uuid.UUID `bun:"approval_decided_by"`
	ApprovalDecidedAt   *time.Time `bun:"approval_decided_at"`
	ApprovalReason      string     `bun:"approval_reason"`

	// NameKey is lower(name) as the database computes it, read when listing by name so that
	// the next-page cursor compares exactly as the database sorts.
	NameKey string `bun:"name_key,scanonly"`
}

func toRow(c *campaign.Campaign) (*campaignRow, error) {
	rules, err := json.Marshal(c.TargetingRules())
	if err != nil {
		return nil, fmt.Errorf("encode targeting rules: %w", err)
	}
	settings, err := json.Marshal(c.Settings())
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	budget, ap := c.Budget(), c.Approval()
	return &campaignRow{
		ID: uuid.UUID(c.ID()), Name: c.Name(), Description: c.Description(),
		Status: string(c.Status()), Type: string(c.Type()), TargetingRules: string(rules),
		StartDate: c.StartDate(), EndDate: c.EndDate(),
		BudgetAmount: budget.Amount, BudgetCurrency: budget.Currency,
		CreatedBy: uuid.UUID(c.CreatedBy()), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt(),
		Settings: string(settings), Version: c.Version(), DeletedAt: c.DeletedAt(),
		StopCode: string(c.StopCode()), TargetingVerified: c.TargetingVerified(),
		ApprovalStatus: string(ap.Status), ApprovalSubmittedBy: (*uuid.UUID)(ap.SubmittedBy),
		ApprovalSubmittedAt: ap.SubmittedAt, ApprovalDecidedBy: (*uuid.UUID)(ap.DecidedBy),
		ApprovalDecidedAt: ap.DecidedAt, ApprovalReason: ap.Reason,
	}, nil
}

// toDomain rebuilds the campaign through Rehydrate, which refuses a row no campaign can be.
func (r *campaignRow) toDomain() (*campaign.Campaign, error) {
	p := campaign.RehydrateParams{
		ID: campaign.ID(r.ID), Name: r.Name, Description: r.Description,
		Status: lifecycle.Status(r.Status), Type: campaign.Type(r.Type),
		StartDate: r.StartDate, EndDate: r.EndDate,
		Budget:    campaign.Money{Amount: r.BudgetAmount, Currency: strings.TrimSpace(r.BudgetCurrency)},
		CreatedBy: campaign.UserID(r.CreatedBy), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Version: r.Version, DeletedAt: r.DeletedAt, StopCode: lifecycle.StopCode(r.StopCode),
		TargetingVerified: r.TargetingVerified,
		Approval: campaign.Approval{
			Status: campaign.ApprovalStatus(r.ApprovalStatus), SubmittedBy: (*campaign.UserID)(r.ApprovalSubmittedBy),
			SubmittedAt: r.ApprovalSubmittedAt, DecidedBy: (*campaign.UserID)(r.ApprovalDecidedBy),
			DecidedAt: r.ApprovalDecidedAt, Reason: r.ApprovalReason,
		},
	}
	if err := json.Unmarshal([]byte(r.TargetingRules), &p.TargetingRules); err != nil {
		return nil, fmt.Errorf("decode targeting rules of %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Settings), &p.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of %s: %w", r.ID, err)
	}
	return campaign.Rehydrate(p)
}

// Create inserts the new campaign c with the record of ch, in one transaction. A live
// campaign with the same name (any case) -> campaign.ErrNameTaken.
func (s *Store) Create(ctx context.Context, c *campaign.Campaign, ch campaign.Change) error {
	row, err := toRow(c)
	if err != nil {
		return err
	}
	if s.createInOneStatement(ctx, ch) {
		return s.createOneRetried(ctx, c, row, ch)
	}
	return s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
			if sqlerr.IsUniqueViolation(err) {
				return campaign.ErrNameTaken
			}
			return fmt.Errorf("insert campaign: %w", err)
		}
		if err := record(ctx, db, c, ch); err != nil {
			return err
		}
		return idempotency.Record(ctx, db, c)
	})
}

// Update loads the live campaign id in a transaction (locking its row on PostgreSQL; SQLite
// transactions take the write lock at BEGIN), checks expectedVersion when given, applies
// change and stores the result at the next version, with the history row and the events of
// the change. See campaign.Store.
func (s *Store) Update(ctx context.Context, id campaign.ID, expectedVersion *int64, change func(*campaign.Campaign) (campaign.Change, error)) (*campaign.Campaign, error) {
	var out *campaign.Campaign
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		c, err := get(ctx, db, id, true)
		if err != nil {
			return err
		}
		read := c.Version()
		if expectedVersion != nil && *expectedVersion != read {
			return campaign.ErrVersionConflict
		}
		ch, err := change(c)
		if err != nil {
			return err
		}
		c.Stored(read + 1)
		row, err := toRow(c)
		if err != nil {
			return err
		}
		// The version guard stays, though the row is locked: it is what a lost race looks
		// like to a store that does not lock.
		res, err := db.NewUpdate().Model(row).
			ExcludeColumn("id", "created_by", "created_at").
			Where("id = ?", row.ID).Where("version = ?", read).Where("deleted_at IS NULL").
			Exec(ctx)
		if err != nil {
			if sqlerr.IsUniqueViolation(err) {
				return campaign.ErrNameTaken
			}
			return fmt.Errorf("update campaign: %w", err)
		}
		if err := checkApplied(ctx, db, res, id); err != nil {
			return err
		}
		if err := record(ctx, db, c, ch); err != nil {
			return err
		}
		// The answer of a keyed request commits with its write (platform/idempotency).
		if err := idempotency.Record(ctx, db, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// record writes what ch records (campaign.Change.Record), c being at its new version: the
// history row of a status change, then its events, in order.
func record(ctx context.Context, db bun.IDB, c *campaign.Campaign, ch campaign.Change) error {
	rec, err := ch.Record(ctx, c)
	if err != nil {
		return err
	}
	if rec.History != nil {
		if err := history.Append(ctx, db, *rec.History); err != nil {
			return err
		}
	}
	for _, e := range rec.Events {
		if err := outbox.Append(ctx, db, toOutbox(e)); err != nil {
			return err
		}
	}
	return nil
}

// toOutbox is e as the event store keeps it.
func toOutbox(e campaign.Event) outbox.Event {
	return outbox.Event{
		ID: e.ID, AggregateID: uuid.UUID(e.CampaignID), Type: e.Type, Version: e.Version, Actor: e.Actor,
		CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt, Payload: e.Payload, DataSchema: e.DataSchema,
	}
}

// fromOutbox is an event of the event store as the campaign's audit trail shows it.
func fromOutbox(e outbox.Event) campaign.Event {
	return campaign.Event{
		ID: e.ID, CampaignID: campaign.ID(e.AggregateID), Type: e.Type, Version: e.Version, Actor: e.Actor,
		CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt, Payload: e.Payload, DataSchema: e.DataSchema,
		Seq: e.Seq, PublishedAt: e.PublishedAt,
	}
}

// Get returns the live campaign with this id, or campaign.ErrNotFound.
func (s *Store) Get(ctx context.Context, id campaign.ID) (*campaign.Campaign, error) {
	if db, ok := s.preparedDB(); ok {
		return s.getPrepared(ctx, db, id)
	}
	return get(ctx, s.db, id, false)
}

// get reads the live campaign id through db; forUpdate locks its row on PostgreSQL until the
// transaction ends.
func get(ctx context.Context, db bun.IDB, id campaign.ID, forUpdate bool) (*campaign.Campaign, error) {
	var row campaignRow
	q := db.NewSelect().Model(&row).Where("id = ?", uuid.UUID(id)).Where("deleted_at IS NULL")
	if forUpdate && db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, campaign.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get campaign: %w", err)
	}
	return row.toDomain()
}

// GetMany returns the live campaigns among ids, by id; unknown and deleted ones are absent.
func (s *Store) GetMany(ctx context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.Campaign, error) {
	out := make(map[campaign.ID]*campaign.Campaign, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	raw := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		raw[i] = uuid.UUID(id)
	}
	var rows []campaignRow
	if err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(raw)).Where("deleted_at IS NULL").Scan(ctx)
	}); err != nil {
		return nil, fmt.Errorf("get campaigns: %w", err)
	}
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[c.ID()] = c
	}
	return out, nil
}

// exists reports whether a campaign with this id was ever stored, deleted or not.
func (s *Store) exists(ctx context.Context, id campaign.ID) error {
	ok, err := s.db.NewSelect().Table("campaigns").Where("id = ?", uuid.UUID(id)).Exists(ctx)
	if err != nil {
		return fmt.Errorf("check campaign: %w", err)
	}
	if !ok {
		return campaign.ErrNotFound
	}
	return nil
}

// write runs fn in a transaction of the store's, or in a savepoint of the transaction it is
// bound to: all of fn's writes land or none. A transaction of the store's that a connection
// fault broke before COMMIT is run again on a fresh connection (database.RunInTx): fn reads
// what it changes in its transaction, so it is safe to run again.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	if tx, ok := s.tx(); ok {
		return inSavepoint(ctx, tx, func(sp bun.Tx) error { return fn(ctx, sp) })
	}
	return database.RunInTx(ctx, s.db, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// read runs fn, a read: over a *bun.DB again on a connection fault (database.Retry); over a
// transaction once, as a fault has broken the transaction.
func (s *Store) read(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.Joined() {
		return fn(ctx)
	}
	return database.Retry(ctx, fn)
}

// tx returns the transaction the store is bound to, if it is.
func (s *Store) tx() (bun.Tx, bool) {
	switch tx := s.db.(type) {
	case bun.Tx:
		return tx, true
	case *bun.Tx:
		return *tx, true
	default:
		return bun.Tx{}, false
	}
}

// Joined reports whether the store is bound to a transaction (a bun.Tx), which its caller
// commits.
func (s *Store) Joined() bool {
	_, ok := s.tx()
	return ok
}

// InTx runs fn in one transaction: a transaction of the store's over a *bun.DB, a savepoint of
// the transaction it is bound to over a bun.Tx. fn's writes land when it returns nil. fn runs
// once: it is the caller's, which may not be safe to run again (an import reads its lines as
// it goes), so a connection fault is returned, with nothing written.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx campaign.TxStore) error) error {
	if tx, ok := s.tx(); ok {
		return inSavepoint(ctx, tx, func(sp bun.Tx) error { return fn(ctx, New(sp)) })
	}
	return database.RunInTxOnce(ctx, s.db, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, New(tx)) })
}

// Ended reports whether the transaction the store is bound to has ended; a store over a
// *bun.DB is bound to none, which has ended as soon as each write returned.
func (s *Store) Ended(ctx context.Context) (bool, error) {
	tx, ok := s.tx()
	if !ok {
		return true, nil
	}
	// Any statement on a finished transaction fails with sql.ErrTxDone without reaching the
	// database; on an open one, SELECT 1 is harmless. (A done ctx would fail it first.)
	switch _, err := tx.Tx.ExecContext(context.WithoutCancel(ctx), "SELECT 1"); {
	case err == nil:
		return false, nil
	case errors.Is(err, sql.ErrTxDone):
		return true, nil
	default:
		return false, err
	}
}

// inSavepoint runs fn in a savepoint of tx: a failed write is undone without aborting the rest
// of tx (PostgreSQL would refuse every later statement of it), so the host can carry on.
// Unlike bun's Tx.RunInTx, the caller's ctx (request id, actor) stays the writes' context. The
// savepoint's own statements ignore cancellation: a failed write must always be undone, lest
// a host that commits anyway keep half of it.
func inSavepoint(ctx context.Context, tx bun.Tx, fn func(sp bun.Tx) error) error {
	sp, err := tx.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(sp); err != nil {
		if rerr := sp.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
		}
		return err
	}
	if err := sp.Commit(); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// EndedBy returns up to limit ACTIVE or PAUSED campaigns whose end date is at or before now,
// earliest first, through a partial index (no table scan).
func (s *Store) EndedBy(ctx context.Context, now time.Time, limit int) ([]campaign.Due, error) {
	var rows []struct {
		ID      uuid.UUID `bun:"id"`
		Version int64     `bun:"version"`
	}
	err := s.db.NewSelect().Table("campaigns").Column("id", "version").
		Where("status IN (?)", bun.In([]string{string(lifecycle.StatusActive), string(lifecycle.StatusPaused)})).
		Where("deleted_at IS NULL").Where("end_date IS NOT NULL").Where("end_date <= ?", now.UTC()).
		OrderExpr("end_date ASC").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("find ended campaigns: %w", err)
	}
	out := make([]campaign.Due, len(rows))
	for i, row := range rows {
		out[i] = campaign.Due{ID: campaign.ID(row.ID), Version: row.Version}
	}
	return out, nil
}

// Budgets returns the live ACTIVE or PAUSED campaigns among ids with their budgets and
// whether the automation paused them at the budget threshold (see campaign.Store).
func (s *Store) Budgets(ctx context.Context, ids []uuid.UUID) ([]automation.Budget, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []struct {
		ID       uuid.UUID       `bun:"id"`
		Version  int64           `bun:"version"`
		Status   string          `bun:"status"`
		Amount   decimal.Decimal `bun:"budget_amount"`
		Settings string          `bun:"settings"`
	}
	err := s.db.NewSelect().Table("campaigns").Column("id", "version", "status", "budget_amount", "settings").
		Where("id IN (?)", bun.In(ids)).Where("deleted_at IS NULL").
		Where("status IN (?)", bun.In([]string{string(lifecycle.StatusActive), string(lifecycle.StatusPaused)})).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("campaign budgets: %w", err)
	}
	paused, err := history.AutomaticWith(ctx, s.db, ids, lifecycle.StopBudgetThreshold)
	if err != nil {
		return nil, err
	}
	out := make([]automation.Budget, len(rows))
	for i, row := range rows {
		var set campaign.Settings
		if err := json.Unmarshal([]byte(row.Settings), &set); err != nil {
			return nil, fmt.Errorf("decode settings of %s: %w", row.ID, err)
		}
		out[i] = automation.Budget{
			Target: automation.Target{ID: row.ID, Version: row.Version}, Status: lifecycle.Status(row.Status),
			Amount: row.Amount, MaxImpressions: set.MaxImpressions, ThresholdPaused: paused[row.ID],
		}
		if set.BudgetLimit != nil {
			limit := set.BudgetLimit.Amount
			out[i].Limit = &limit
		}
	}
	return out, nil
}

// Transitions lists a campaign's status history, oldest first, after the given version; the
// history of a deleted campaign stays readable. Never stored -> campaign.ErrNotFound.
func (s *Store) Transitions(ctx context.Context, id campaign.ID, afterVersion int64, limit int) ([]lifecycle.Record, error) {
	var out []lifecycle.Record
	err := s.read(ctx, func(ctx context.Context) error {
		if err := s.exists(ctx, id); err != nil {
			return err
		}
		var err error
		out, err = history.List(ctx, s.db, uuid.UUID(id), afterVersion, limit)
		return err
	})
	return out, err
}

// Events lists a campaign's domain events, oldest first, after the store sequence afterSeq,
// optionally of some types only; a deleted campaign keeps its events. Never stored ->
// campaign.ErrNotFound.
func (s *Store) Events(ctx context.Context, id campaign.ID, types []string, afterSeq int64, limit int) ([]campaign.Event, error) {
	var evs []outbox.Event
	err := s.read(ctx, func(ctx context.Context) error {
		if err := s.exists(ctx, id); err != nil {
			return err
		}
		var err error
		evs, err = outbox.List(ctx, s.db, outbox.Query{AggregateID: uuid.UUID(id), Types: types, AfterSeq: afterSeq, Limit: limit})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]campaign.Event, len(evs))
	for i, e := range evs {
		out[i] = fromOutbox(e)
	}
	return out, nil
}

// EventsStored reports which of the events the database holds.
func (s *Store) EventsStored(ctx context.Context, eventIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	return outbox.Stored(ctx, s.db, eventIDs)
}

// checkApplied tells a lost optimistic-lock race (the row exists) from a vanished row.
func checkApplied(ctx context.Context, db bun.IDB, res sql.Result, id campaign.ID) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 1 {
		return nil
	}
	exists, err := db.NewSelect().Table("campaigns").
		Where("id = ?", uuid.UUID(id)).Where("deleted_at IS NULL").Exists(ctx)
	if err != nil {
		return fmt.Errorf("check campaign: %w", err)
	}
	if exists {
		return campaign.ErrVersionConflict
	}
	return campaign.ErrNotFound
}
