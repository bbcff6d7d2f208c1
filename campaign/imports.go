package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// A large all-or-nothing import cannot be one transaction: on SQLite a transaction that writes
// holds the database's only write lock, and 40,000 creates take tens of seconds, during which
// every other writer (creates, the event relay, the aggregator's lease renewals) waits or
// fails. So the import checks every line first without writing (CheckCreate), and only then
// writes them in short transactions (Import.Chunk) behind a marker: the marker records each
// chunk's campaigns in the chunk's transaction, and the last chunk marks the import DONE in
// its own. An import that fails midway (a name taken meanwhile, the database gone, the
// deadline) deletes what it wrote (Import.RollBack); one whose process died is rolled back by
// RecoverImports once its marker has not moved for ImportStaleAfter. Until then, the chunks
// written are ordinary DRAFT campaigns, visible like any other.

// ImportState is the state of an import's marker.
type ImportState string

// The states of an import's marker.
const (
	ImportWriting     ImportState = "WRITING"      // chunks are being written
	ImportRollingBack ImportState = "ROLLING_BACK" // its campaigns are being deleted again
	ImportDone        ImportState = "DONE"         // every chunk is written; the marker is being forgotten
)

// ImportStaleAfter is how long the marker of an unfinished import may go unrenewed before
// RecoverImports takes its writer for dead and rolls it back. Each chunk renews it, and a
// chunk takes a fraction of a second.
const ImportStaleAfter = 2 * time.Minute

// importCleanupChunk is how many campaigns one transaction of a roll-back deletes, and how
// many marker rows one transaction forgets.
const importCleanupChunk = 250

// ErrImportAborted: the import's marker is no longer WRITING (a recovery took its writer for
// dead and rolls it back): the chunk wrote nothing.
var ErrImportAborted = errors.New("campaign: the import was rolled back")

// ErrImportsUnsupported: the service's store keeps no import markers (it is not an
// ImportStore).
var ErrImportsUnsupported = errors.New("campaign: the store cannot keep import markers")

// StaleImport is an import whose marker has not been renewed since before a time.
type StaleImport struct {
	ID    uuid.UUID
	State ImportState
}

// ImportStore is what chunked imports need of the Store beyond it; campaign/bunstore
// implements it, over a *bun.DB and over a transaction.
type ImportStore interface {
	// NameTaken reports whether a live campaign has this name (compared as the unique
	// index compares names).
	NameTaken(ctx context.Context, name string) (bool, error)
	// StartImport records the marker of a new import, WRITING.
	StartImport(ctx context.Context, id uuid.UUID, actor UserID, now time.Time) error
	// TouchImport renews the marker, which must be in state (else ErrImportAborted).
	TouchImport(ctx context.Context, id uuid.UUID, state ImportState, now time.Time) error
	// RecordImported records campaigns as written by the import.
	RecordImported(ctx context.Context, id uuid.UUID, campaigns []ID) error
	// SetImportState moves the marker from one state to another (else ErrImportAborted),
	// renewing it. With staleBefore set, only a marker last renewed before it moves.
	SetImportState(ctx context.Context, id uuid.UUID, from []ImportState, to ImportState, staleBefore *time.Time, now time.Time) error
	// ImportedCampaigns lists up to limit campaigns recorded for the import.
	ImportedCampaigns(ctx context.Context, id uuid.UUID, limit int) ([]ID, error)
	// ForgetImported removes campaigns from the import's record.
	ForgetImported(ctx context.Context, id uuid.UUID, campaigns []ID) error
	// DeleteImport removes the marker (and what is left of its record).
	DeleteImport(ctx context.Context, id uuid.UUID) error
	// StaleImports lists up to limit markers last renewed before the time.
	StaleImports(ctx context.Context, before time.Time, limit int) ([]StaleImport, error)
}

func (s *Service) importStore() (ImportStore, error) {
	st, ok := s.store.(ImportStore)
	if !ok {
		return nil, ErrImportsUnsupported
	}
	return st, nil
}

// CheckCreate runs Create's checks without writing anything: the input's validation (a
// *ValidationError), then whether a live campaign has the name (ErrNameTaken). It returns the
// campaign Create would have made, unsaved; holds no write lock.
func (s *Service) CheckCreate(ctx context.Context, actor UserID, in Input) (*View, error) {
	st, err := s.importStore()
	if err != nil {
		return nil, err
	}
	c, err := New(NewID(), actor, in, s.clock())
	if err != nil {
		return nil, err
	}
	taken, err := st.NameTaken(ctx, c.Name())
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, ErrNameTaken
	}
	return s.view(c, lifecycle.Delivered{}), nil
}

// Import is one all-or-nothing import being written in chunks, by actor.
type Import struct {
	svc   *Service
	store ImportStore
	id    uuid.UUID
	actor UserID
}

// StartImport records the marker of a new import by actor, whose campaigns Chunk then writes.
func (s *Service) StartImport(ctx context.Context, actor UserID) (*Import, error) {
	st, err := s.importStore()
	if err != nil {
		return nil, err
	}
	imp := &Import{svc: s, store: st, id: uuid.Must(uuid.NewV7()), actor: actor}
	if err := st.StartImport(ctx, imp.id, actor, s.Now()); err != nil {
		return nil, fmt.Errorf("campaign: start an import: %w", err)
	}
	return imp, nil
}

// ID is the import's marker.
func (imp *Import) ID() uuid.UUID { return imp.id }

// ImportTx creates the campaigns of one chunk, in its transaction.
type ImportTx struct {
	tx      *TxService
	actor   UserID
	created []ID
}

// Create is TxService.Create by the import's author, recorded for a roll-back.
func (w *ImportTx) Create(ctx context.Context, in Input) (*View, error) {
	v, err := w.tx.Create(ctx, w.actor, in)
	if err != nil {
		return nil, err
	}
	w.created = append(w.created, v.ID())
	return v, nil
}

// Chunk runs fn in one transaction (Service.Batch): it renews the marker first
// (ErrImportAborted when a recovery took the import over, and then nothing is written),
// records the campaigns fn created, and when fn reports the chunk is the last, marks the
// import DONE in the same transaction: the import is complete exactly when that commits. An
// error of fn rolls the chunk back and is returned.
func (imp *Import) Chunk(ctx context.Context, fn func(ctx context.Context, w *ImportTx) (last bool, err error)) (bool, error) {
	var last bool
	err := imp.svc.Batch(ctx, func(ctx context.Context, t *TxService) error {
		st, ok := t.store.(ImportStore)
		if !ok {
			return ErrImportsUnsupported
		}
		now := imp.svc.Now()
		if err := st.TouchImport(ctx, imp.id, ImportWriting, now); err != nil {
			return err
		}
		w := &ImportTx{tx: t, actor: imp.actor}
		var err error
		if last, err = fn(ctx, w); err != nil {
			return err
		}
		if err := st.RecordImported(ctx, imp.id, w.created); err != nil {
			return err
		}
		if last {
			return st.SetImportState(ctx, imp.id, []ImportState{ImportWriting}, ImportDone, nil, now)
		}
		return nil
	})
	return last && err == nil, err
}

// Finish forgets the record of a DONE import, in short transactions. A failure leaves it to
// RecoverImports; the campaigns are complete either way.
func (imp *Import) Finish(ctx context.Context) error {
	return imp.svc.forgetImport(ctx, imp.store, imp.id)
}

// RollBack deletes what the import wrote (see Service.RecoverImports for how), and reports
// how many campaigns it kept because they changed since.
func (imp *Import) RollBack(ctx context.Context) (kept int, err error) {
	if err := imp.store.SetImportState(ctx, imp.id, []ImportState{ImportWriting}, ImportRollingBack, nil, imp.svc.Now()); err != nil {
		return 0, fmt.Errorf("campaign: roll back import %s: %w", imp.id, err)
	}
	return imp.svc.rollBackImport(ctx, imp.store, imp.id)
}

// RecoverImports finishes the imports whose writer stopped: each marker not renewed for
// staleAfter (ImportStaleAfter when 0). An unfinished one (WRITING, or ROLLING_BACK) is rolled
// back: each campaign it wrote that is still at version 1 (untouched since) is deleted like a
// DELETE of the API (soft-deleted, its name free again, with a CampaignDeleted event after
// its CampaignCreated), in short transactions; a campaign changed since is kept. A DONE
// one's record is forgotten. It returns how many imports it rolled back. Several instances
// may run it at once: a marker is taken over by one of them only.
func (s *Service) RecoverImports(ctx context.Context, staleAfter time.Duration) (int, error) {
	st, err := s.importStore()
	if err != nil {
		return 0, err
	}
	if staleAfter <= 0 {
		staleAfter = ImportStaleAfter
	}
	before := s.Now().Add(-staleAfter)
	stale, err := st.StaleImports(ctx, before, 100)
	if err != nil {
		return 0, err
	}
	rolled := 0
	for _, imp := range stale {
		if imp.State == ImportDone {
			if err := s.forgetImport(ctx, st, imp.ID); err != nil {
				return rolled, err
			}
			continue
		}
		err := st.SetImportState(ctx, imp.ID, []ImportState{ImportWriting, ImportRollingBack}, ImportRollingBack, &before, s.Now())
		if errors.Is(err, ErrImportAborted) {
			continue // taken over by another instance, or renewed meanwhile
		}
		if err != nil {
			return rolled, err
		}
		kept, err := s.rollBackImport(ctx, st, imp.ID)
		if err != nil {
			return rolled, err
		}
		rolled++
		s.cfg.Logger.WarnContext(ctx, "campaign: rolled back an import whose writer stopped",
			slog.String("import_id", imp.ID.String()), slog.Int("kept", kept))
	}
	return rolled, nil
}

// rollBackImport deletes the campaigns import id recorded, importCleanupChunk per transaction,
// then its marker.
func (s *Service) rollBackImport(ctx context.Context, st ImportStore, id uuid.UUID) (kept int, err error) {
	one := int64(1)
	for {
		ids, err := st.ImportedCampaigns(ctx, id, importCleanupChunk)
		if err != nil {
			return kept, err
		}
		if len(ids) == 0 {
			break
		}
		keptHere := 0
		err = s.Batch(ctx, func(ctx context.Context, t *TxService) error {
			keptHere = 0
			tst, ok := t.store.(ImportStore)
			if !ok {
				return ErrImportsUnsupported
			}
			if err := tst.TouchImport(ctx, id, ImportRollingBack, s.Now()); err != nil {
				return err
			}
			for _, cid := range ids {
				err := t.Delete(ctx, cid, &one)
				var se *StateError
				switch {
				case err == nil, errors.Is(err, ErrNotFound):
				case errors.Is(err, ErrVersionConflict), errors.As(err, &se):
					keptHere++ // changed since the import wrote it: it is someone's now
				default:
					return err
				}
			}
			return tst.ForgetImported(ctx, id, ids)
		})
		if err != nil {
			return kept, fmt.Errorf("campaign: roll back import %s: %w", id, err)
		}
		kept += keptHere
	}
	if err := st.DeleteImport(ctx, id); err != nil {
		return kept, fmt.Errorf("campaign: roll back import %s: %w", id, err)
	}
	return kept, nil
}

// forgetImport removes the record of a DONE import, importCleanupChunk rows per transaction,
// then its marker.
func (s *Service) forgetImport(ctx context.Context, st ImportStore, id uuid.UUID) error {
	for {
		ids, err := st.ImportedCampaigns(ctx, id, importCleanupChunk*8)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := st.ForgetImported(ctx, id, ids); err != nil {
			return err
		}
	}
	if err := st.DeleteImport(ctx, id); err != nil {
		return fmt.Errorf("campaign: forget import %s: %w", id, err)
	}
	return nil
}
