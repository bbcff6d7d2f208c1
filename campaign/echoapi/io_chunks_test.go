package echoapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// racingStore is the bunstore whose name check misses one name: the campaign with that name
// stands for one created between an import's checks and its writing.
type racingStore struct {
	*bunstore.Store
	missed string
}

func (s *racingStore) NameTaken(ctx context.Context, name string) (bool, error) {
	if name == s.missed {
		return false, nil
	}
	return s.Store.NameTaken(ctx, name)
}

func countRows(t *testing.T, db *bun.DB, table, where string) int {
	t.Helper()
	q := db.NewSelect().Table(table)
	if where != "" {
		q = q.Where(where)
	}
	n, err := q.Count(context.Background())
	require.NoError(t, err)
	return int(n)
}

// A line that fails while an all-or-nothing import writes (its name was taken after the checks)
// rolls back the chunks already committed: the answer is the usual 422 import-failed, no
// campaign of the file is left live, each one written has its CampaignDeleted event after its
// CampaignCreated, and no marker is left. With onConflict=rename the line takes another name
// and the import completes.
func TestFaultImportLineFailsWhileWriting(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		const lines, raced = 2*echoapi.ImportChunkLines + 100, 2*echoapi.ImportChunkLines + 50 // past two chunks
		store := &racingStore{Store: bunstore.New(db), missed: fmt.Sprintf("Race %d", raced)}
		svc := campaign.NewService(store, campaign.ServiceConfig{})
		srv := ioServer(t, svc, db, echoapi.IOConfig{})
		var file strings.Builder
		for i := 1; i <= lines; i++ {
			file.WriteString(validLine(fmt.Sprintf("Race %d", i)) + "\n")
		}
		_, err := svc.Create(context.Background(), alice, campaign.Input{
			Name: store.missed, Type: campaign.TypeLoyalty, StartDate: time.Now().Add(time.Hour),
			Budget: campaign.MustMoney("10.00", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelWeb}},
		})
		require.NoError(t, err)

		a := postImport(t, srv, "mode=all-or-nothing", echoapi.MediaJSONLines, strings.NewReader(file.String()))
		require.Equal(t, http.StatusUnprocessableEntity, a.status)
		assert.Equal(t, httpx.ProblemTypePrefix+"import-failed", a.Type)
		assert.Equal(t, echoapi.ImportSummary{Lines: lines, Valid: lines - 1, Failed: 1, Mode: echoapi.ImportAllOrNothing, Complete: true}, a.Summary)
		require.Len(t, a.Results, lines)
		for i, r := range a.Results {
			assert.Nil(t, r.ID, "line %d", r.Line)
			if i+1 == raced {
				assert.Equal(t, echoapi.LineFailed, r.Status)
				require.NotNil(t, r.Problem)
				assert.Equal(t, httpx.ProblemTypePrefix+"name-taken", r.Problem.Type)
			} else {
				assert.Equal(t, echoapi.LineValid, r.Status, "line %d", r.Line)
			}
		}
		assert.Equal(t, 1, liveCount(t, db), "only the campaign that took the name")
		written := countRows(t, db, "campaigns", "deleted_at IS NOT NULL")
		assert.Positive(t, written, "chunks before the failed line's were written, then deleted")
		assert.Less(t, written, raced)
		assert.Equal(t, written, countRows(t, db, "outbox_events", "type = 'CampaignDeleted'"))
		assert.Equal(t, written+1, countRows(t, db, "outbox_events", "type = 'CampaignCreated'"))
		assert.Zero(t, countRows(t, db, "campaign_imports", ""))
		assert.Zero(t, countRows(t, db, "campaign_import_items", ""))

		a = postImport(t, srv, "onConflict=rename", echoapi.MediaJSONLines, strings.NewReader(file.String()))
		require.Equal(t, http.StatusOK, a.status, "%+v", a.Summary)
		assert.Equal(t, lines, a.Summary.Created)
		assert.Equal(t, store.missed+" (import)", a.Results[raced-1].Name)
		assert.Equal(t, lines+1, liveCount(t, db))
		assert.Zero(t, countRows(t, db, "campaign_imports", ""))
		assert.Zero(t, countRows(t, db, "campaign_import_items", ""))
	})
}

// An import whose writer died midway (its marker no longer renewed) is rolled back by
// RecoverImports: each campaign it wrote is deleted, unless it changed since (then it is kept);
// a chunk of the dead writer, should it wake up, writes nothing; a live import is left alone.
func TestFaultImportWriterDiesMidway(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Now()
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return now }})
		input := func(name string) campaign.Input {
			return campaign.Input{Name: name, Type: campaign.TypeLoyalty, StartDate: now.Add(time.Hour),
				Budget: campaign.MustMoney("10.00", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelWeb}}}
		}
		dead, err := svc.StartImport(ctx, alice)
		require.NoError(t, err)
		var ids []campaign.ID
		for c := range 3 {
			last, err := dead.Chunk(ctx, func(ctx context.Context, w *campaign.ImportTx) (bool, error) {
				for i := range 100 {
					v, err := w.Create(ctx, input(fmt.Sprintf("Dead %d-%d", c, i)))
					if err != nil {
						return false, err
					}
					ids = append(ids, v.ID())
				}
				return false, nil
			})
			require.NoError(t, err)
			require.False(t, last)
		}
		// Someone edits one of them meanwhile: it is theirs now.
		edited, err := svc.Update(ctx, ids[7], nil, input("Dead but edited"))
		require.NoError(t, err)
		assert.EqualValues(t, 2, edited.Version())

		now = now.Add(campaign.ImportStaleAfter / 2)
		alive, err := svc.StartImport(ctx, alice)
		require.NoError(t, err)
		n, err := svc.RecoverImports(ctx, 0)
		require.NoError(t, err)
		assert.Zero(t, n, "not stale yet")
		assert.Equal(t, 300, liveCount(t, db))

		now = now.Add(campaign.ImportStaleAfter)
		_, err = alive.Chunk(ctx, func(ctx context.Context, w *campaign.ImportTx) (bool, error) {
			_, err := w.Create(ctx, input("Alive"))
			return true, err
		})
		require.NoError(t, err, "a chunk renews its import")
		n, err = svc.RecoverImports(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the dead import only")
		assert.Equal(t, 2, liveCount(t, db), "the edited campaign and the live import's")
		_, err = svc.Get(ctx, ids[7])
		require.NoError(t, err)
		assert.Equal(t, 299, countRows(t, db, "outbox_events", "type = 'CampaignDeleted'"))

		// The dead writer wakes up: its chunk writes nothing.
		_, err = dead.Chunk(ctx, func(ctx context.Context, w *campaign.ImportTx) (bool, error) {
			_, err := w.Create(ctx, input("Dead again"))
			return true, err
		})
		require.ErrorIs(t, err, campaign.ErrImportAborted)
		assert.Equal(t, 2, liveCount(t, db))

		// The finished import's record goes at the next recovery once stale, if Finish did not.
		now = now.Add(2 * campaign.ImportStaleAfter)
		n, err = svc.RecoverImports(ctx, 0)
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Zero(t, countRows(t, db, "campaign_imports", ""))
		assert.Zero(t, countRows(t, db, "campaign_import_items", ""))
		assert.Equal(t, 2, liveCount(t, db))
	})
}
