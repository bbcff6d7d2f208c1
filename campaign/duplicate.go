package campaign

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DuplicateRequest says how a copy differs from the campaign it copies. Its zero value copies
// everything but the name, which becomes "<name> (copy)".
type DuplicateRequest struct {
	// Name is the copy's name; "" picks the first free "<name> (copy)", "<name> (copy 2)"...
	Name string
	// StartDate and EndDate replace the source's dates; NoEndDate leaves the copy without an
	// end date. Shift moves both source dates instead; it cannot be combined with them.
	StartDate *time.Time
	EndDate   *time.Time
	NoEndDate bool
	Shift     time.Duration
}

// maxCopyNameAttempts bounds the names tried when concurrent duplicates of one campaign keep
// taking the name just chosen.
const maxCopyNameAttempts = 10

// Duplicate stores a new DRAFT campaign authored by actor with everything of the live campaign
// id that a creation sets (description, type, targeting rules, dates, budget, settings), as
// changed by req. Its status, history, metrics and targeting verification start afresh, as
// for any new campaign; its CampaignCreated event names id in duplicatedFrom. Unknown or
// deleted id -> ErrNotFound; a copy that breaks a rule (a start date now in the past, say) ->
// *ValidationError; a name given in req that is taken -> ErrNameTaken.
func (s *Service) Duplicate(ctx context.Context, actor UserID, id ID, req DuplicateRequest) (*View, error) {
	return s.duplicate(ctx, s.own(), actor, id, req)
}

// Duplicate is Service.Duplicate in the host's transaction.
func (t *TxService) Duplicate(ctx context.Context, actor UserID, id ID, req DuplicateRequest) (*View, error) {
	return t.svc.duplicate(ctx, t.scope(), actor, id, req)
}

func (s *Service) duplicate(ctx context.Context, sc scope, actor UserID, id ID, req DuplicateRequest) (*View, error) {
	src, err := sc.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.Shift != 0 && (req.StartDate != nil || req.EndDate != nil || req.NoEndDate) {
		return nil, &ValidationError{Fields: []FieldError{{Field: "shift", Message: "cannot be combined with startDate or endDate"}}}
	}
	in := copyInput(src, req)
	auto := strings.TrimSpace(req.Name) == ""
	lost := map[string]bool{} // names tried and found taken
	for attempt := 1; ; attempt++ {
		if auto {
			taken, err := s.takenCopyNames(ctx, sc.store, src.Name())
			if err != nil {
				return nil, err
			}
			for n := range lost {
				taken[n] = true
			}
			in.Name = copyName(src.Name(), taken)
		}
		from := src.ID()
		c, err := s.create(ctx, sc, actor, in, &from)
		if errors.Is(err, ErrNameTaken) && auto && attempt < maxCopyNameAttempts {
			// A concurrent duplicate (or create) took the name between the read and the
			// insert: the unique index refused it, so pick again.
			lost[FoldName(in.Name)] = true
			continue
		}
		return c, err
	}
}

// copyInput is the creation input of src, with req's name and dates.
func copyInput(src *Campaign, req DuplicateRequest) Input {
	in := Input{
		Name: req.Name, Description: src.Description(), Type: src.Type(), TargetingRules: src.TargetingRules(),
		StartDate: src.StartDate(), EndDate: src.EndDate(), Budget: src.Budget(), Settings: src.Settings(),
	}
	switch {
	case req.Shift != 0:
		in.StartDate = in.StartDate.Add(req.Shift)
		if in.EndDate != nil {
			end := in.EndDate.Add(req.Shift)
			in.EndDate = &end
		}
	default:
		if req.StartDate != nil {
			in.StartDate = *req.StartDate
		}
		if req.EndDate != nil {
			end := *req.EndDate
			in.EndDate = &end
		}
		if req.NoEndDate {
			in.EndDate = nil
		}
	}
	return in
}

// takenCopyNames lists the names, folded, that a copy of name might take and that are taken.
func (s *Service) takenCopyNames(ctx context.Context, store Store, name string) (map[string]bool, error) {
	names, err := store.NamesLike(ctx, copyPrefix(name))
	if err != nil {
		return nil, fmt.Errorf("list copy names: %w", err)
	}
	taken := make(map[string]bool, len(names))
	for _, n := range names {
		taken[FoldName(n)] = true
	}
	return taken, nil
}

// copyName is the first of "<name> (copy)", "<name> (copy 2)"... not in taken (folded
// names), the name shortened where needed so that the copy's fits MaxNameLen.
func copyName(name string, taken map[string]bool) string {
	for n := 1; ; n++ {
		suffix := " (copy)"
		if n > 1 {
			suffix = " (copy " + strconv.Itoa(n) + ")"
		}
		candidate := copyBase(name, suffix) + suffix
		if !taken[FoldName(candidate)] {
			return candidate
		}
	}
}

// copyPrefix starts every name copyName may pick for name: the name and " (copy", or the
// name as shortened for the longest suffix.
func copyPrefix(name string) string {
	base := copyBase(name, " (copy 99999)")
	if base == strings.TrimSpace(name) {
		return base + " (copy"
	}
	return base
}

// copyBase is name cut to leave room for suffix within MaxNameLen characters.
func copyBase(name, suffix string) string {
	name = strings.TrimSpace(name)
	room := MaxNameLen - utf8.RuneCountInString(suffix)
	if utf8.RuneCountInString(name) <= room {
		return name
	}
	return strings.TrimSpace(string([]rune(name)[:room]))
}

// FoldName folds a name as the stores' unique index does: lower() of PostgreSQL over the C
// collation and of SQLite changes ASCII letters only.
func FoldName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
