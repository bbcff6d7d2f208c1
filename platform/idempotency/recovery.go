package idempotency

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Answer is what a keyed request answers: what a retry is given again.
type Answer struct {
	Status int
	Header map[string]string // Content-Type, Location, ETag
	Body   []byte
}

// JSONAnswer is the answer status with v as its JSON body, byte for byte as Echo's c.JSON
// writes it, and the headers given (nil values are left out).
func JSONAnswer(status int, v any, header map[string]string) (Answer, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return Answer{}, fmt.Errorf("idempotency: encode the answer: %w", err)
	}
	h := map[string]string{echo.HeaderContentType: echo.MIMEApplicationJSON}
	for k, v := range header {
		if v != "" {
			h[k] = v
		}
	}
	return Answer{Status: status, Header: h, Body: b.Bytes()}, nil
}

// Render turns what a write stored (for the campaign store, the *campaign.Campaign as the write
// leaves it) into the answer the request gives once that write has committed. It runs inside
// the write's transaction: it must not query the database.
type Render func(ctx context.Context, written any) (Answer, error)

// FinalStep is the step of a request whose one write decides its whole answer.
const FinalStep = ""

// ErrRecorded: the step's recovery point is already stored (another run of the same keyed
// request committed it first), so this write was refused and rolled back. Its answer is the
// recorded one (Recorded).
var ErrRecorded = errors.New("idempotency: this step of the request has already committed")

type pointRow struct {
	bun.BaseModel `bun:"table:idempotency_points"`

	Caller    string    `bun:"caller,pk"`
	Key       string    `bun:"key,pk"`
	Step      string    `bun:"step,pk"`
	Status    int       `bun:"status"`
	Headers   string    `bun:"headers"`
	Body      string    `bun:"body"`
	ExpiresAt time.Time `bun:"expires_at"`
}

func (p *pointRow) answer() Answer {
	var h map[string]string
	_ = json.Unmarshal([]byte(p.Headers), &h) // written by Record: cannot be malformed
	return Answer{Status: p.Status, Header: h, Body: []byte(p.Body)}
}

// request is the keyed request being served, in its context.
type request struct {
	store       *Store
	caller, key string
	expiresAt   time.Time

	mu       sync.Mutex
	render   Render          // the final step's, set by Expect
	recorded map[string]bool // steps this run committed (or is committing)
}

type requestKey struct{}

type stepKey struct{}

// step is a step of a request (a bulk action's campaign), in the context of its write.
type step struct {
	name   string
	render Render
}

func requestOf(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// Keyed reports whether ctx is the context of a request served with an Idempotency-Key.
func Keyed(ctx context.Context) bool { return requestOf(ctx) != nil }

// Expect tells how the request served in c answers once its one write has committed: render
// makes that answer inside the write's transaction, where Record stores it as the request's
// recovery point. Call it before the write. It does nothing for a request without a key.
func Expect(c echo.Context, render Render) {
	if r := requestOf(c.Request().Context()); r != nil {
		r.mu.Lock()
		r.render = render
		r.mu.Unlock()
	}
}

// Step returns the context of one step of a keyed request that writes several times, each
// write in a transaction of its own (a bulk action, one campaign each): its write records the
// step's own recovery point, rendered by render. name tells the steps of one request apart.
// Without a key, ctx is returned as it is.
func Step(ctx context.Context, name string, render Render) context.Context {
	if requestOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, stepKey{}, &step{name: name, render: render})
}

// Record stores, through db (the write's transaction), the recovery point of the keyed
// request in ctx: the answer of the step being written (Step), else of the request (Expect),
// so that the answer commits with the write or not at all. A step already recorded refuses
// the write with ErrRecorded. A keyed request that gives no render records that it committed
// without an answer: its retries are refused rather than run again. Without a key it does
// nothing. A store calls it last in each write's transaction.
func Record(ctx context.Context, db bun.IDB, written any) error {
	r := requestOf(ctx)
	if r == nil {
		return nil
	}
	name, render := FinalStep, Render(nil)
	if st, ok := ctx.Value(stepKey{}).(*step); ok {
		name, render = st.name, st.render
	} else {
		r.mu.Lock()
		render = r.render
		r.mu.Unlock()
	}
	a := Answer{Status: statusNoAnswer}
	if render != nil {
		var err error
		if a, err = render(ctx, written); err != nil {
			return fmt.Errorf("idempotency: render the recovery point: %w", err)
		}
	}
	hb, _ := json.Marshal(a.Header)
	row := pointRow{Caller: r.caller, Key: r.key, Step: name, Status: a.Status, Headers: string(hb),
		Body: string(a.Body), ExpiresAt: r.expiresAt}
	r.mu.Lock()
	r.recorded[name] = true
	r.mu.Unlock()
	if _, err := db.NewInsert().Model(&row).Exec(ctx); err != nil {
		r.mu.Lock()
		delete(r.recorded, name)
		r.mu.Unlock()
		if sqlerr.IsUniqueViolation(err) {
			return ErrRecorded
		}
		return fmt.Errorf("idempotency: record the recovery point: %w", err)
	}
	return nil
}

// statusNoAnswer marks a recovery point of a write whose request gave no render.
const statusNoAnswer = 0

// Recorded returns the committed recovery point of the step name of the keyed request in ctx
// (FinalStep for the request's own), if there is one. A bulk action answers a campaign from
// it instead of acting again.
func Recorded(ctx context.Context, name string) (Answer, bool, error) {
	r := requestOf(ctx)
	if r == nil {
		return Answer{}, false, nil
	}
	return r.store.point(ctx, r.caller, r.key, name)
}

func (s *Store) point(ctx context.Context, caller, key, name string) (Answer, bool, error) {
	var p pointRow
	err := s.db.NewSelect().Model(&p).Where("caller = ?", caller).Where("key = ?", key).
		Where("step = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Answer{}, false, nil
	}
	if err != nil {
		return Answer{}, false, fmt.Errorf("idempotency: read the recovery point: %w", err)
	}
	return p.answer(), true, nil
}

// hasPoints reports whether any write of the request committed.
func (s *Store) hasPoints(ctx context.Context, caller, key string) (bool, error) {
	ok, err := s.db.NewSelect().Model((*pointRow)(nil)).Where("caller = ?", caller).Where("key = ?", key).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("idempotency: read the recovery points: %w", err)
	}
	return ok, nil
}

// recordedHere reports whether this run committed (or tried to commit) step name.
func (r *request) recordedHere(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorded[name]
}
