package campaign_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

func TestDuplicate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return now }})
		src, err := svc.Create(ctx, alice, campaigntest.GoldenInput())
		require.NoError(t, err)
		_, err = svc.Transition(ctx, src.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		_, err = svc.Transition(ctx, src.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &alice, Reason: "review"})
		require.NoError(t, err)

		t.Run("copies the definition, not the state", func(t *testing.T) {
			cp, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			require.NoError(t, err)
			assert.NotEqual(t, src.ID(), cp.ID())
			assert.Equal(t, "Spring sale (copy)", cp.Name())
			assert.Equal(t, lifecycle.StatusDraft, cp.Status())
			assert.EqualValues(t, 1, cp.Version())
			assert.Equal(t, bob, cp.CreatedBy())
			assert.False(t, cp.TargetingVerified())
			assert.Empty(t, cp.StopCode())
			stored, err := svc.Get(ctx, src.ID()) // as read back: PostgreSQL keeps NUMERIC's scale
			require.NoError(t, err)
			got, want := campaigntest.InputOf(cp.Campaign), campaigntest.InputOf(stored.Campaign)
			got.Name = want.Name
			assert.Equal(t, want, got, "everything a creation sets is copied")

			back, err := svc.Get(ctx, cp.ID())
			require.NoError(t, err)
			assert.Equal(t, campaigntest.InputOf(cp.Campaign).Settings, campaigntest.InputOf(back.Campaign).Settings)
			hist, err := svc.Transitions(ctx, cp.ID(), 0, 10)
			require.NoError(t, err)
			assert.Empty(t, hist, "no history is copied")
			evs, err := svc.Events(ctx, cp.ID(), nil, 0, 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, campaign.EventCreated, evs[0].Type)
			var data campaign.CreatedV1
			require.NoError(t, json.Unmarshal(evs[0].Payload, &data))
			require.NotNil(t, data.DuplicatedFrom)
			assert.Equal(t, uuid.UUID(src.ID()), *data.DuplicatedFrom)
			assert.Equal(t, "DRAFT", data.Campaign.Status)

			srcEvents, err := svc.Events(ctx, src.ID(), []string{campaign.EventCreated}, 0, 10)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(srcEvents[0].Payload, &data))
			assert.Nil(t, data.DuplicatedFrom, "a campaign made from scratch copies nothing")
		})
		t.Run("names count up and free up", func(t *testing.T) {
			second, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			require.NoError(t, err)
			assert.Equal(t, "Spring sale (copy 2)", second.Name())
			ofCopy, err := svc.Duplicate(ctx, bob, second.ID(), campaign.DuplicateRequest{})
			require.NoError(t, err)
			assert.Equal(t, "Spring sale (copy 2) (copy)", ofCopy.Name())
			require.NoError(t, svc.Delete(ctx, second.ID(), nil))
			again, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			require.NoError(t, err)
			assert.Equal(t, "Spring sale (copy 2)", again.Name(), "a deleted copy's name is free again")
			// Case does not make a name free: "SPRING SALE (COPY 3)" takes (copy 3).
			in := campaigntest.GoldenInput()
			in.Name = "SPRING SALE (COPY 3)"
			_, err = svc.Create(ctx, alice, in)
			require.NoError(t, err)
			fourth, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			require.NoError(t, err)
			assert.Equal(t, "Spring sale (copy 4)", fourth.Name())
		})
		t.Run("non-ASCII names count up past the retries", func(t *testing.T) {
			// More copies than Duplicate's retries: the taken names must be found by the
			// lookup, which folds the prefix as the unique index does (ASCII only).
			in := campaigntest.GoldenInput()
			in.Name = "École d'été"
			ecole, err := svc.Create(ctx, alice, in)
			require.NoError(t, err)
			var last *campaign.View
			for i := 0; i < 12; i++ {
				last, err = svc.Duplicate(ctx, bob, ecole.ID(), campaign.DuplicateRequest{})
				require.NoError(t, err, "copy %d", i+1)
			}
			assert.Equal(t, "École d'été (copy 12)", last.Name())
		})
		t.Run("a name given is used, and a taken one refused", func(t *testing.T) {
			cp, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{Name: "Autumn sale"})
			require.NoError(t, err)
			assert.Equal(t, "Autumn sale", cp.Name())
			_, err = svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{Name: "autumn SALE"})
			require.ErrorIs(t, err, campaign.ErrNameTaken)
		})
		t.Run("a long name is shortened to fit", func(t *testing.T) {
			in := campaigntest.GoldenInput()
			in.Name = strings.Repeat("é", campaign.MaxNameLen)
			long, err := svc.Create(ctx, alice, in)
			require.NoError(t, err)
			for _, want := range []string{" (copy)", " (copy 2)"} {
				cp, err := svc.Duplicate(ctx, bob, long.ID(), campaign.DuplicateRequest{})
				require.NoError(t, err)
				assert.Equal(t, campaign.MaxNameLen, utf8.RuneCountInString(cp.Name()))
				assert.True(t, strings.HasSuffix(cp.Name(), want), cp.Name())
			}
		})
		t.Run("dates", func(t *testing.T) {
			week := 7 * 24 * time.Hour
			cp, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{Shift: week})
			require.NoError(t, err)
			assert.Equal(t, src.StartDate().Add(week), cp.StartDate())
			assert.Equal(t, src.EndDate().Add(week), *cp.EndDate())

			start := now.Add(48 * time.Hour)
			cp, err = svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{StartDate: &start, NoEndDate: true})
			require.NoError(t, err)
			assert.Equal(t, start, cp.StartDate())
			assert.Nil(t, cp.EndDate())

			var verr *campaign.ValidationError
			_, err = svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{Shift: -week})
			require.ErrorAs(t, err, &verr, "the start date would be in the past")
			assert.Equal(t, "startDate", verr.Fields[0].Field)
			_, err = svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{Shift: week, StartDate: &start})
			require.ErrorAs(t, err, &verr)
			assert.Equal(t, "shift", verr.Fields[0].Field)
			early := src.StartDate().Add(-time.Hour)
			_, err = svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{EndDate: &early})
			require.ErrorAs(t, err, &verr, "an end date before the start")
		})
		t.Run("unknown and deleted campaigns are not found", func(t *testing.T) {
			_, err := svc.Duplicate(ctx, bob, campaign.NewID(), campaign.DuplicateRequest{})
			require.ErrorIs(t, err, campaign.ErrNotFound)
			in := campaigntest.GoldenInput()
			in.Name = "Doomed original"
			gone, err := svc.Create(ctx, alice, in)
			require.NoError(t, err)
			require.NoError(t, svc.Delete(ctx, gone.ID(), nil))
			_, err = svc.Duplicate(ctx, bob, gone.ID(), campaign.DuplicateRequest{})
			require.ErrorIs(t, err, campaign.ErrNotFound)
		})
	})
}

// Concurrent duplicates of one campaign all succeed, each with a name of its own: the unique
// index refuses a name taken between the read and the insert, and the duplicate picks again.
func TestConcurrentDuplicatesGetDistinctNames(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return now }})
		src, err := svc.Create(ctx, alice, campaigntest.GoldenInput())
		require.NoError(t, err)
		const n = 6
		names := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				cp, err := svc.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
				if errs[i] = err; err == nil {
					names[i] = cp.Name()
				}
			})
		}
		close(start)
		wg.Wait()
		seen := map[string]bool{}
		for i := range n {
			require.NoError(t, errs[i])
			assert.False(t, seen[names[i]], "name %q given twice", names[i])
			seen[names[i]] = true
		}
		assert.True(t, seen["Spring sale (copy)"], "%v", names)
	})
}

func TestParseShift(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for s, want := range map[string]time.Duration{
		"P7D": 7 * day, "P2W": 14 * day, "PT36H": 36 * time.Hour, "P1DT12H": 36 * time.Hour,
		"PT90M": 90 * time.Minute, "PT1H30M15S": time.Hour + 30*time.Minute + 15*time.Second,
		"-P1D": -day, "P0D": 0, "P36600D": campaign.MaxShift, "-P36600D": -campaign.MaxShift,
	} {
		got, err := campaign.ParseShift(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{
		"", "P", "-P", "PT", "P1DT", "7D", "P1Y", "P1M", "P1.5D", "p7d", "P7d", "P-1D", "+P1D",
		"P1W2D", "PT1H1H", "P36601D", "P5229W", "P999999999W", "PT999999999H", "P36600DT1S",
		"168h", " P1D", "P1D ", "--P1D", "P1DT1H1M1S1",
	} {
		_, err := campaign.ParseShift(s)
		assert.Error(t, err, "%q", s)
	}
}

// FuzzParseShift: any input either fails or gives a shift within MaxShift that its own
// digits account for; nothing panics.
func FuzzParseShift(f *testing.F) {
	for _, s := range []string{"P7D", "PT36H", "-P2W", "P1DT1H1M1S", "P999999999W", "P", "PT", "P1Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := campaign.ParseShift(s)
		if err != nil {
			return
		}
		if d > campaign.MaxShift || d < -campaign.MaxShift {
			t.Fatalf("%q -> %s, beyond the bound", s, d)
		}
		if !strings.HasPrefix(strings.TrimPrefix(s, "-"), "P") {
			t.Fatalf("%q accepted without the P designator", s)
		}
	})
}

// A duplicate made in the host's transaction lands with it or not at all.
func TestDuplicateInTx(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return now }})
		src, err := svc.Create(ctx, alice, campaigntest.GoldenInput())
		require.NoError(t, err)
		var copyID campaign.ID
		rollback := assert.AnError
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			cp, err := svc.InTx(bunstore.New(tx)).Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			if err != nil {
				return err
			}
			copyID = cp.ID()
			return rollback
		})
		require.ErrorIs(t, err, rollback)
		_, err = svc.Get(ctx, copyID)
		require.ErrorIs(t, err, campaign.ErrNotFound, "rolled back with the host")

		var w *campaign.TxService
		require.NoError(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			w = svc.InTx(bunstore.New(tx))
			cp, err := w.Duplicate(ctx, bob, src.ID(), campaign.DuplicateRequest{})
			if err != nil {
				return err
			}
			copyID = cp.ID()
			return nil
		}))
		require.NoError(t, w.Committed(ctx))
		cp, err := svc.Get(ctx, copyID)
		require.NoError(t, err)
		assert.Equal(t, "Spring sale (copy)", cp.Name(), "the rolled-back copy's name is free")
	})
}
