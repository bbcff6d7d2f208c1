package campaign

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/lifecycle/history"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Repository stores campaigns with Bun on PostgreSQL or SQLite.
type Repository struct {
	db bun.IDB
	// columns is campaignRow's column list, for the hot reads (hotread.go).
	columns string
}

// NewRepository returns a repository over db (a *bun.DB or a bun.Tx). Each of its writes is a
// transaction of its own over a *bun.DB, a savepoint over a bun.Tx. A Service wants one over
// a *bun.DB: to write in a transaction of your own, use Service.InTx.
func NewRepository(db bun.IDB) *Repository { return &Repository{db: db, columns: columnList(db)} }

// campaignRow is the campaigns table. It stays inside the repository: the domain carries no
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
	// The approval record (approval.go); ApprovalStatus is "" when nothing stands.
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

func toRow(c *Campaign) (*campaignRow, error) {
	rules, err := json.Marshal(c.TargetingRules())
	if err != nil {
		return nil, fmt.Errorf("encode targeting rules: %w", err)
	}
	settings, err := json.Marshal(c.Settings())
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	budget, ap := c.Budget(), c.approval
	return &campaignRow{
		ID: uuid.UUID(c.ID()), Name: c.Name(), Description: c.Description(),
		Status: string(c.Status()), Type: string(c.Type()), TargetingRules: string(rules),
		StartDate: c.StartDate(), EndDate: c.EndDate(),
		BudgetAmount: budget.Amount, BudgetCurrency: budget.Currency,
		CreatedBy: uuid.UUID(c.CreatedBy()), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt(),
		Settings: string(settings), Version: c.Version(), DeletedAt: c.DeletedAt(),
		StopCode: string(c.StopCode()), TargetingVerified: c.TargetingVerified(),
		ApprovalStatus: string(ap.Status), ApprovalSubmittedBy: (*uuid.UUID)(ap.SubmittedBy),
		ApprovalSubmittedAt: utcPtr(ap.SubmittedAt), ApprovalDecidedBy: (*uuid.UUID)(ap.DecidedBy),
		ApprovalDecidedAt: utcPtr(ap.DecidedAt), ApprovalReason: ap.Reason,
	}, nil
}

// toDomain rebuilds the campaign through Rehydrate, which refuses a row no campaign can be.
func (r *campaignRow) toDomain() (*Campaign, error) {
	p := RehydrateParams{
		ID: ID(r.ID), Name: r.Name, Description: r.Description,
		Status: lifecycle.Status(r.Status), Type: Type(r.Type),
		StartDate: r.StartDate, EndDate: r.EndDate,
		Budget:    Money{Amount: r.BudgetAmount, Currency: strings.TrimSpace(r.BudgetCurrency)},
		CreatedBy: UserID(r.CreatedBy), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Version: r.Version, DeletedAt: r.DeletedAt, StopCode: lifecycle.StopCode(r.StopCode),
		TargetingVerified: r.TargetingVerified,
		Approval: Approval{
			Status: ApprovalStatus(r.ApprovalStatus), SubmittedBy: (*UserID)(r.ApprovalSubmittedBy),
			SubmittedAt: r.ApprovalSubmittedAt, DecidedBy: (*UserID)(r.ApprovalDecidedBy),
			DecidedAt: r.ApprovalDecidedAt, Reason: r.ApprovalReason,
		},
	}
	if err := json.Unmarshal([]byte(r.TargetingRules), &p.TargetingRules); err != nil {
		return nil, fmt.Errorf("decode targeting rules of %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Settings), &p.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of %s: %w", r.ID, err)
	}
	return Rehydrate(p)
}

// The Repository is the service's Store.
var _ Store = (*Repository)(nil)

// Create inserts the new campaign c with the event of ch, in one transaction. A live campaign
// with the same name (any case) -> ErrNameTaken.
func (r *Repository) Create(ctx context.Context, c *Campaign, ch Change) error {
	row, err := toRow(c)
	if err != nil {
		return err
	}
	if r.createInOneStatement(ch) {
		return r.createOne(ctx, c, row, ch)
	}
	return r.write(ctx, func(ctx context.Context, db bun.IDB) error {
		if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
			if sqlerr.IsUniqueViolation(err) {
				return ErrNameTaken
			}
			return fmt.Errorf("insert campaign: %w", err)
		}
		return record(ctx, db, c, ch)
	})
}

// Update loads the live campaign id in a transaction (locking its row on PostgreSQL; SQLite
// transactions take the write lock at BEGIN), checks expectedVersion when given, applies
// change and stores the result at the next version, with the history row and the event of the
// change. See Store.
func (r *Repository) Update(ctx context.Context, id ID, expectedVersion *int64, change func(*Campaign) (Change, error)) (*Campaign, error) {
	var out *Campaign
	err := r.write(ctx, func(ctx context.Context, db bun.IDB) error {
		c, err := get(ctx, db, id, true)
		if err != nil {
			return err
		}
		read := c.version
		if expectedVersion != nil && *expectedVersion != read {
			return ErrVersionConflict
		}
		ch, err := change(c)
		if err != nil {
			return err
		}
		c.version = read + 1
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
				return ErrNameTaken
			}
			return fmt.Errorf("update campaign: %w", err)
		}
		if err := checkApplied(ctx, db, res, id); err != nil {
			return err
		}
		if err := record(ctx, db, c, ch); err != nil {
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

// record writes what ch describes, c being at its new version: the history row of a status
// change, then the event, then its follow-up events.
func record(ctx context.Context, db bun.IDB, c *Campaign, ch Change) error {
	if ch.Transition != nil {
		rec := *ch.Transition
		rec.CampaignID, rec.Version = uuid.UUID(c.id), c.version
		if rec.Actor == nil && !rec.Automatic {
			rec.Actor = eventActor(ctx, ch.Actor) // a person's change made without naming its actor
		}
		if err := history.Append(ctx, db, rec); err != nil {
			return err
		}
	}
	e, err := newEvent(ctx, c, ch)
	if err != nil {
		return err
	}
	if err := outbox.Append(ctx, db, e); err != nil {
		return err
	}
	for _, f := range ch.Then {
		e, err := newEvent(ctx, c, Change{Event: f.Event, Data: f.Data, Actor: ch.Actor, At: ch.At, EventID: f.EventID})
		if err != nil {
			return err
		}
		if err := outbox.Append(ctx, db, e); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the live campaign with this id, or ErrNotFound.
func (r *Repository) Get(ctx context.Context, id ID) (*Campaign, error) {
	if db, ok := r.preparedDB(); ok {
		return r.getPrepared(ctx, db, id)
	}
	return get(ctx, r.db, id, false)
}

// get reads the live campaign id through db; forUpdate locks its row on PostgreSQL until the
// transaction ends.
func get(ctx context.Context, db bun.IDB, id ID, forUpdate bool) (*Campaign, error) {
	var row campaignRow
	q := db.NewSelect().Model(&row).Where("id = ?", uuid.UUID(id)).Where("deleted_at IS NULL")
	if forUpdate && db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get campaign: %w", err)
	}
	return row.toDomain()
}

// GetMany returns the live campaigns among ids, by id; unknown and deleted ones are absent.
func (r *Repository) GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error) {
	out := make(map[ID]*Campaign, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	raw := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		raw[i] = uuid.UUID(id)
	}
	var rows []campaignRow
	if err := r.db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(raw)).Where("deleted_at IS NULL").Scan(ctx); err != nil {
		return nil, fmt.Errorf("get campaigns: %w", err)
	}
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[c.id] = c
	}
	return out, nil
}

// exists reports whether a campaign with this id was ever stored, deleted or not.
func (r *Repository) exists(ctx context.Context, id ID) error {
	ok, err := r.db.NewSelect().Table("campaigns").Where("id = ?", uuid.UUID(id)).Exists(ctx)
	if err != nil {
		return fmt.Errorf("check campaign: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// write runs fn in a transaction of the repository's, or in a savepoint of the transaction it
// is bound to: all of fn's writes land or none.
func (r *Repository) write(ctx context.Context, fn func(ctx context.Context, db bun.IDB) error) error {
	if tx, ok := r.tx(); ok {
		return inSavepoint(ctx, tx, func(sp bun.Tx) error { return fn(ctx, sp) })
	}
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return fn(ctx, tx) })
}

// tx returns the transaction the repository is bound to, if it is.
func (r *Repository) tx() (bun.Tx, bool) {
	switch tx := r.db.(type) {
	case bun.Tx:
		return tx, true
	case *bun.Tx:
		return *tx, true
	default:
		return bun.Tx{}, false
	}
}

// Joined reports whether the repository is bound to a transaction (a bun.Tx), which its
// caller commits.
func (r *Repository) Joined() bool {
	_, ok := r.tx()
	return ok
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

// Due is a campaign the automation may have to act on.
type Due struct {
	ID      ID
	Version int64
}

// EndedBy returns up to limit ACTIVE or PAUSED campaigns whose end date is at or before now,
// earliest first, through a partial index (no table scan).
func (r *Repository) EndedBy(ctx context.Context, now time.Time, limit int) ([]Due, error) {
	var rows []struct {
		ID      uuid.UUID `bun:"id"`
		Version int64     `bun:"version"`
	}
	err := r.db.NewSelect().Table("campaigns").Column("id", "version").
		Where("status IN (?)", bun.In([]string{string(lifecycle.StatusActive), string(lifecycle.StatusPaused)})).
		Where("deleted_at IS NULL").Where("end_date IS NOT NULL").Where("end_date <= ?", now.UTC()).
		OrderExpr("end_date ASC").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("find ended campaigns: %w", err)
	}
	out := make([]Due, len(rows))
	for i, row := range rows {
		out[i] = Due{ID: ID(row.ID), Version: row.Version}
	}
	return out, nil
}

// Budgets returns the live ACTIVE or PAUSED campaigns among ids with their budgets and
// whether the automation paused them at the budget threshold (see Store).
func (r *Repository) Budgets(ctx context.Context, ids []uuid.UUID) ([]automation.Budget, error) {
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
	err := r.db.NewSelect().Table("campaigns").Column("id", "version", "status", "budget_amount", "settings").
		Where("id IN (?)", bun.In(ids)).Where("deleted_at IS NULL").
		Where("status IN (?)", bun.In([]string{string(lifecycle.StatusActive), string(lifecycle.StatusPaused)})).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("campaign budgets: %w", err)
	}
	paused, err := history.AutomaticWith(ctx, r.db, ids, lifecycle.StopBudgetThreshold)
	if err != nil {
		return nil, err
	}
	out := make([]automation.Budget, len(rows))
	for i, row := range rows {
		var set Settings
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
// history of a deleted campaign stays readable. Never stored -> ErrNotFound.
func (r *Repository) Transitions(ctx context.Context, id ID, afterVersion int64, limit int) ([]lifecycle.Record, error) {
	if err := r.exists(ctx, id); err != nil {
		return nil, err
	}
	return history.List(ctx, r.db, uuid.UUID(id), afterVersion, limit)
}

// Events lists a campaign's domain events, oldest first, after the store sequence afterSeq,
// optionally of some types only; a deleted campaign keeps its events. Never stored ->
// ErrNotFound.
func (r *Repository) Events(ctx context.Context, id ID, types []string, afterSeq int64, limit int) ([]outbox.Event, error) {
	if err := r.exists(ctx, id); err != nil {
		return nil, err
	}
	return outbox.List(ctx, r.db, outbox.Query{AggregateID: uuid.UUID(id), Types: types, AfterSeq: afterSeq, Limit: limit})
}

// EventsStored reports which of the events the database holds.
func (r *Repository) EventsStored(ctx context.Context, eventIDs []uuid.UUID) (map[uuid.UUID]bool, error) {
	return outbox.Stored(ctx, r.db, eventIDs)
}

// checkApplied tells a lost optimistic-lock race (the row exists) from a vanished row.
func checkApplied(ctx context.Context, db bun.IDB, res sql.Result, id ID) error {
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
		return ErrVersionConflict
	}
	return ErrNotFound
}

// SortField is a key campaigns can be listed by.
type SortField string

// The list sort keys.
const (
	SortCreatedAt SortField = "createdAt"
	SortName      SortField = "name"
	SortStartDate SortField = "startDate"
)

// SortFields lists every sort key.
func SortFields() []SortField { return []SortField{SortCreatedAt, SortName, SortStartDate} }

// sortExpr is the SQL of each sort key; each has a partial index ending in id.
var sortExpr = map[SortField]string{
	SortCreatedAt: "created_at",
	SortName:      "lower(name)",
	SortStartDate: "start_date",
}

// Filter selects and orders a page of live campaigns.
type Filter struct {
	Statuses  []lifecycle.Status
	Types     []Type
	Channel   Channel
	CreatedBy *UserID
	Serving   []lifecycle.ServingStatus
	Now       time.Time // the instant serving statuses are judged at
	Query     string    // case-insensitive substring of the name
	StartFrom *time.Time
	StartTo   *time.Time // exclusive
	Sort      SortField
	Desc      bool
	Limit     int
	After     *Cursor
	// Approval keeps campaigns whose approval status (under the service's thresholds) is one
	// of these.
	Approval []ApprovalStatus

	// Set by Service.List: what a servingStatus filter judges schedules and totals with.
	delivery   DeliveryTotals
	zones      *lifecycle.Zones
	thresholds ApprovalThresholds
}

// Cursor marks the last row of a page: its sort key value and id. It is bound to the sort it
// was made under.
type Cursor struct {
	Sort  SortField `json:"s"`
	Desc  bool      `json:"d,omitempty"`
	Value string    `json:"v"`
	ID    ID        `json:"i"`
}

// ErrBadCursor: the cursor is malformed or belongs to another sort order.
var ErrBadCursor = errors.New("invalid cursor")

// Encode returns the cursor's opaque text form.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c) // plain struct: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by Encode.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || sortExpr[c.Sort] == "" {
		return nil, ErrBadCursor
	}
	if c.Sort != SortName {
		if _, err := time.Parse(time.RFC3339Nano, c.Value); err != nil {
			return nil, ErrBadCursor
		}
	}
	return &c, nil
}

func cursorOf(c *Campaign, nameKey string, sort SortField, desc bool) *Cursor {
	cur := &Cursor{Sort: sort, Desc: desc, ID: c.id}
	switch sort {
	case SortName:
		cur.Value = nameKey
	case SortStartDate:
		cur.Value = c.startDate.Format(time.RFC3339Nano)
	default:
		cur.Value = c.createdAt.Format(time.RFC3339Nano)
	}
	return cur
}

// List returns one page of live campaigns matching f and the cursor of the next page (nil on
// the last page). Pages are keyset pages: as fast deep in the table as at its start.
func (r *Repository) List(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error) {
	f, err := f.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	if slices.ContainsFunc(f.Serving, lifecycle.ServingStatus.Refined) {
		return r.listRefined(ctx, f)
	}
	rows, err := r.listRows(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	out, next, err := pageOf(rows, f)
	if err != nil {
		return nil, nil, err
	}
	if err := fillDelivered(ctx, f.delivery, f.zones, out, f.Now); err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// listRows reads one keyset page of rows matching f in SQL, one row more than the page.
func (r *Repository) listRows(ctx context.Context, f Filter) ([]campaignRow, error) {
	if db, ok := r.preparedDB(); ok && f.unfiltered() {
		return r.listPrepared(ctx, db, f)
	}
	var rows []campaignRow
	q := r.db.NewSelect().Model(&rows).Where("deleted_at IS NULL")
	q = r.where(q, f)
	q, err := page(q, f)
	if err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return rows, nil
}

// refineBatch is how many candidate rows a refined list reads at a time.
const refineBatch = 100

// listRefined lists with a servingStatus filter that SQL cannot judge alone (schedules in time
// zones, delivered totals): SQL keeps the candidates (by status, stop code and dates), and
// Serving judges each, batch after batch along the keyset, until the page is full and one more
// match proves a next page. Pages hold f.Limit campaigns like any other.
func (r *Repository) listRefined(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error) {
	batch := f
	batch.Limit = max(f.Limit, refineBatch)
	var out []*Campaign
	var keys []string
	for {
		rows, err := r.listRows(ctx, batch)
		if err != nil {
			return nil, nil, err
		}
		cands, _, err := pageOf(rows, batch)
		if err != nil {
			return nil, nil, err
		}
		if err := fillDelivered(ctx, f.delivery, f.zones, cands, f.Now); err != nil {
			return nil, nil, err
		}
		for i, c := range cands {
			if !slices.Contains(f.Serving, c.Serving(f.Now)) {
				continue
			}
			if len(out) == f.Limit { // a match past the page: there is a next page
				return out, cursorOf(out[f.Limit-1], keys[f.Limit-1], f.Sort, f.Desc), nil
			}
			out, keys = append(out, c), append(keys, rows[i].NameKey)
		}
		if len(rows) <= batch.Limit {
			return out, nil, nil
		}
		last := len(cands) - 1
		batch.After = cursorOf(cands[last], rows[last].NameKey, batch.Sort, batch.Desc)
	}
}

// Live returns every live ACTIVE campaign (on channel, when given), in creation order.
func (r *Repository) Live(ctx context.Context, channel Channel) ([]*Campaign, error) {
	var rows []campaignRow
	q := r.db.NewSelect().Model(&rows).Where("deleted_at IS NULL").Where("status = ?", string(lifecycle.StatusActive))
	if channel != "" {
		q = r.onChannel(q, channel)
	}
	if err := q.OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list live campaigns: %w", err)
	}
	out := make([]*Campaign, len(rows))
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// withDefaults fills the sort (newest first) and the page size a caller left out.
func (f Filter) withDefaults() (Filter, error) {
	if f.Sort == "" {
		f.Sort = SortCreatedAt
	}
	if _, ok := sortExpr[f.Sort]; !ok {
		return f, fmt.Errorf("list campaigns: unknown sort %q", f.Sort)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	return f, nil
}

// where adds f's filters to q.
func (r *Repository) where(q *bun.SelectQuery, f Filter) *bun.SelectQuery {
	if len(f.Statuses) > 0 {
		q = q.Where("status IN (?)", bun.In(f.Statuses))
	}
	if len(f.Types) > 0 {
		q = q.Where("type IN (?)", bun.In(f.Types))
	}
	if f.Channel != "" {
		q = r.onChannel(q, f.Channel)
	}
	if len(f.Serving) > 0 {
		q = servingIn(q, f.Serving, f.Now)
	}
	if f.CreatedBy != nil {
		q = q.Where("created_by = ?", uuid.UUID(*f.CreatedBy))
	}
	if f.Query != "" {
		q = q.Where(`lower(name) LIKE lower(?) ESCAPE '\'`, "%"+escapeLike(f.Query)+"%")
	}
	if f.StartFrom != nil {
		q = q.Where("start_date >= ?", f.StartFrom.UTC())
	}
	if f.StartTo != nil {
		q = q.Where("start_date < ?", f.StartTo.UTC())
	}
	if len(f.Approval) > 0 {
		q = r.approvalIn(q, f.Approval, f.thresholds)
	}
	return q
}

// onChannel keeps the campaigns whose settings list ch, in each dialect's JSON.
func (r *Repository) onChannel(q *bun.SelectQuery, ch Channel) *bun.SelectQuery {
	if r.db.Dialect().Name() == dialect.PG {
		return q.Where("settings -> 'channels' @> ?::jsonb", `["`+string(ch)+`"]`)
	}
	return q.Where("EXISTS (SELECT 1 FROM json_each(settings, '$.channels') WHERE value = ?)", string(ch))
}

// servingIn keeps the campaigns whose serving status at now is one of serving.
func servingIn(q *bun.SelectQuery, serving []lifecycle.ServingStatus, now time.Time) *bun.SelectQuery {
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, s := range serving {
			q = q.WhereOr(servingSQL[s], servingArgs(s, now)...)
		}
		return q
	})
}

// page orders q by f's sort key then id, starts it after f's cursor and reads one row more
// than the page, which tells whether another page follows.
func page(q *bun.SelectQuery, f Filter) (*bun.SelectQuery, error) {
	expr := sortExpr[f.Sort]
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if f.Sort == SortName {
		q = q.ColumnExpr("?TableAlias.*").ColumnExpr("lower(name) AS name_key")
	}
	if f.After != nil {
		key, err := f.After.key(f.Sort, f.Desc)
		if err != nil {
			return nil, err
		}
		q = q.Where("("+expr+", id) "+cmp+" (?, ?)", key, uuid.UUID(f.After.ID))
	}
	return q.OrderExpr(expr + " " + dir).OrderExpr("id " + dir).Limit(int64(f.Limit + 1)), nil
}

// key is the cursor's sort key value as the database compares it; a cursor of another sort
// order is ErrBadCursor.
func (c *Cursor) key(sort SortField, desc bool) (any, error) {
	if c.Sort != sort || c.Desc != desc {
		return nil, ErrBadCursor
	}
	if sort == SortName {
		return c.Value, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.Value)
	if err != nil {
		return nil, ErrBadCursor
	}
	return t.UTC(), nil
}

// pageOf turns the rows read by page into the page and the next page's cursor.
func pageOf(rows []campaignRow, f Filter) ([]*Campaign, *Cursor, error) {
	n := min(len(rows), f.Limit)
	out := make([]*Campaign, n)
	for i := range out {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, nil, err
		}
		out[i] = c
	}
	if len(rows) <= f.Limit {
		return out, nil, nil
	}
	return out, cursorOf(out[n-1], rows[n-1].NameKey, f.Sort, f.Desc), nil
}

// withinDates is an ACTIVE campaign that lifecycle.Serving says is SERVING: the candidates of
// the statuses a schedule or the delivered totals decide (ServingStatus.Refined).
const withinDates = "(status = 'ACTIVE' AND start_date <= ? AND (end_date IS NULL OR end_date > ?))"

// servingSQL is each serving status as a predicate; it mirrors lifecycle.Serving. For the
// refined statuses it keeps the candidates, which listRefined then judges one by one.
var servingSQL = map[lifecycle.ServingStatus]string{
	lifecycle.ServingNone:            "status = 'DRAFT'",
	lifecycle.ServingPending:         "(status = 'ACTIVE' AND start_date > ?)",
	lifecycle.ServingServing:         withinDates,
	lifecycle.ServingOutOfSchedule:   withinDates,
	lifecycle.ServingCapReached:      "((status = 'PAUSED' AND stop_code = 'CAP_REACHED') OR " + withinDates + ")",
	lifecycle.ServingPaused:          "(status = 'PAUSED' AND stop_code NOT IN ('BUDGET_EXHAUSTED', 'BUDGET_LIMIT', 'CAP_REACHED'))",
	lifecycle.ServingBudgetExhausted: "((status = 'PAUSED' AND stop_code IN ('BUDGET_EXHAUSTED', 'BUDGET_LIMIT')) OR (status = 'COMPLETED' AND stop_code = 'BUDGET_EXHAUSTED') OR " + withinDates + ")",
	lifecycle.ServingEnded:           "((status = 'ACTIVE' AND start_date <= ? AND end_date <= ?) OR (status = 'COMPLETED' AND stop_code <> 'BUDGET_EXHAUSTED'))",
	lifecycle.ServingCancelled:       "status = 'CANCELLED'",
}

func servingArgs(s lifecycle.ServingStatus, now time.Time) []any {
	now = now.UTC()
	switch s {
	case lifecycle.ServingPending:
		return []any{now}
	case lifecycle.ServingServing, lifecycle.ServingEnded, lifecycle.ServingOutOfSchedule,
		lifecycle.ServingCapReached, lifecycle.ServingBudgetExhausted:
		return []any{now, now}
	default:
		return nil
	}
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
