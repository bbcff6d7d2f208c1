package campaign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Page sizes of lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

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
}

// WithDefaults fills the sort (newest first) and the page size a caller left out; an unknown
// sort is an error.
func (f Filter) WithDefaults() (Filter, error) {
	if f.Sort == "" {
		f.Sort = SortCreatedAt
	}
	if !slices.Contains(SortFields(), f.Sort) {
		return f, fmt.Errorf("list campaigns: unknown sort %q", f.Sort)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	return f, nil
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
	if err := json.Unmarshal(b, &c); err != nil || !slices.Contains(SortFields(), c.Sort) {
		return nil, ErrBadCursor
	}
	if c.Sort != SortName {
		if _, err := time.Parse(time.RFC3339Nano, c.Value); err != nil {
			return nil, ErrBadCursor
		}
	}
	return &c, nil
}

// Key is the cursor's sort key value as a store compares it (the name's key, or a time); a
// cursor of another sort order is ErrBadCursor.
func (c *Cursor) Key(sort SortField, desc bool) (any, error) {
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

// CursorAfter is the cursor that resumes a list sorted by sort after c; nameKey is c's name
// as the store's sort compares names (lower(name) as the database computes it).
func CursorAfter(c *Campaign, nameKey string, sort SortField, desc bool) Cursor {
	cur := Cursor{Sort: sort, Desc: desc, ID: c.id}
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

// Page is one keyset page a Store read: the campaigns in order, the cursor that resumes the
// list after each, and whether more campaigns follow the last.
type Page struct {
	Campaigns []*Campaign
	Cursors   []Cursor
	More      bool
}

// next is the cursor of the page that follows p, nil on the last page.
func (p Page) next() *Cursor {
	if !p.More || len(p.Cursors) == 0 {
		return nil
	}
	return &p.Cursors[len(p.Cursors)-1]
}

// List returns a page of live campaigns and the next page's cursor (nil on the last page).
// A servingStatus filter is judged as GET judges it: schedules, caps and budgets included.
func (s *Service) List(ctx context.Context, f Filter) ([]*View, *Cursor, error) {
	f, err := f.WithDefaults()
	if err != nil {
		return nil, nil, err
	}
	if f.Now.IsZero() {
		f.Now = s.clock()
	}
	if slices.ContainsFunc(f.Serving, lifecycle.ServingStatus.Refined) {
		return s.listRefined(ctx, f)
	}
	page, err := s.store.List(ctx, f, s.cfg.ApprovalThresholds)
	if err != nil {
		return nil, nil, err
	}
	out, err := s.views(ctx, page.Campaigns, f.Now)
	if err != nil {
		return nil, nil, err
	}
	return out, page.next(), nil
}

// refineBatch is how many candidate rows a refined list reads at a time.
const refineBatch = 100

// listRefined lists with a servingStatus filter that SQL cannot judge alone (schedules in time
// zones, delivered totals): the store keeps the candidates (by status, stop code and dates),
// and Serving judges each, batch after batch along the keyset, until the page is full and one
// more match proves a next page. Pages hold f.Limit campaigns like any other.
func (s *Service) listRefined(ctx context.Context, f Filter) ([]*View, *Cursor, error) {
	batch := f
	batch.Limit = max(f.Limit, refineBatch)
	var out []*View
	var cursors []Cursor
	for {
		page, err := s.store.List(ctx, batch, s.cfg.ApprovalThresholds)
		if err != nil {
			return nil, nil, err
		}
		cands, err := s.views(ctx, page.Campaigns, f.Now)
		if err != nil {
			return nil, nil, err
		}
		for i, c := range cands {
			if !slices.Contains(f.Serving, c.Serving(f.Now)) {
				continue
			}
			if len(out) == f.Limit { // a match past the page: there is a next page
				return out, &cursors[f.Limit-1], nil
			}
			out, cursors = append(out, c), append(cursors, page.Cursors[i])
		}
		if !page.More {
			return out, nil, nil
		}
		batch.After = &page.Cursors[len(page.Cursors)-1]
	}
}
