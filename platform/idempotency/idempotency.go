// Package idempotency makes POST requests safe to retry. A request that carries an
// Idempotency-Key header is executed once per caller and key; a retry with the same body gets
// the stored response again, a retry with another body is refused (422), and a retry while the
// first is still running, before anything of it committed, is refused (409). Keys expire after
// a day. 5xx answers are not kept, so a failed request can be retried for real.
//
// The answer commits with the effects, in the same transaction (Stripe's atomic phases and
// recovery points). The middleware claims the key (in flight), runs the handler, then stores
// its response (done). A crash between the handler's commit and that last step must not make a
// retry run the handler again, so each write of a keyed request records a recovery point in
// its own transaction: the handler says beforehand how it answers (Expect; Step for each
// campaign of a bulk action), and the store calls Record last in the write's transaction,
// which renders the answer from what was written and inserts it, keyed by (caller, key, step).
// Hence:
//
//   - a retry that finds an in-flight key with the request's recovery point answers from it,
//     at once, whether or not the first run is still going;
//   - a key with no recovery point committed nothing: its run may be taken over once stale
//     (Config.StaleAfter); even if the first run was only slow, the two cannot both commit,
//     for the point's primary key refuses the second write (ErrRecorded), which rolls back;
//   - a bulk action with some campaigns recorded resumes at once: those answer from their
//     points (Recorded), the others run.
//
// A store joins in by calling Record in each write's transaction (campaign/bunstore does).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// Header is the request header that carries the key; ReplayedHeader marks a replayed answer.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
	MaxKeyLen      = 255
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations is the idempotency schema, one folder per dialect.
func Migrations() migrate.Set {
	return migrate.Embedded("idempotency", migrationFiles)
}

// Config tunes the store. Zero fields take the defaults noted.
type Config struct {
	TTL time.Duration // how long a key is remembered (24h)
	// StaleAfter is when an in-flight key whose request never finished (the process died) may
	// be taken over by a retry (1m). Make it longer than the request timeout.
	StaleAfter time.Duration
	// Now is the clock that dates keys and expires them (default: time.Now).
	Now func() time.Time
	// Logger hears about keys that could not be stored (default: discard).
	Logger *slog.Logger
}

// Store keeps keys and responses in the database.
type Store struct {
	db     bun.IDB
	cfg    Config
	logger *slog.Logger
}

// New returns a store over db.
func New(db bun.IDB, cfg Config) *Store {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{db: db, cfg: cfg, logger: cfg.Logger}
}

type keyRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	Caller      string    `bun:"caller,pk"`
	Key         string    `bun:"key,pk"`
	Fingerprint string    `bun:"fingerprint"`
	State       string    `bun:"state"`
	Status      int       `bun:"status"`
	Headers     string    `bun:"headers"`
	Body        string    `bun:"body"`
	LockedAt    time.Time `bun:"locked_at"`
	ExpiresAt   time.Time `bun:"expires_at"`
}

const (
	stateInFlight = "in_flight"
	stateDone     = "done"
)

// replayHeaders are the response headers worth replaying.
var replayHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag"}

// Middleware applies idempotency to POST requests that carry the header.
func (s *Store) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := c.Request().Header.Get(Header)
			if c.Request().Method != http.MethodPost || key == "" {
				return next(c)
			}
			return s.serve(c, key, next)
		}
	}
}

func (s *Store) serve(c echo.Context, key string, next echo.HandlerFunc) error {
	if !validKey(key) {
		return httpx.BadRequest("the Idempotency-Key header is invalid",
			httpx.FieldError{Field: Header, Message: fmt.Sprintf("must be 1 to %d printable ASCII characters", MaxKeyLen)})
	}
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) {
			return err
		}
		return httpx.BadRequest("the request body could not be read")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	ctx := req.Context()
	caller := "anonymous"
	if id, ok := audit.Actor(ctx); ok {
		caller = id.String()
	}
	sum := sha256.Sum256(append([]byte(req.Method+" "+req.URL.RequestURI()+"\n"), body...))
	fp := hex.EncodeToString(sum[:])

	row, got, err := s.claim(ctx, caller, key, fp)
	if err != nil {
		return err
	}
	if got != claimedFresh {
		switch {
		case row.Fingerprint != fp:
			return reused()
		case row.State == stateDone:
			return answer(c, row.answer())
		}
		// In flight. A committed write that decides the answer gives it, whether or not its
		// run is still going: it committed, so no run may write again.
		a, ok, err := s.point(ctx, caller, key, FinalStep)
		if err != nil {
			return err
		}
		if ok {
			return s.answerPoint(c, caller, key, a)
		}
		some, err := s.hasPoints(ctx, caller, key)
		if err != nil {
			return err
		}
		if !some && got == knownBefore {
			p := httpx.Conflict("idempotency-in-flight", "a request with this Idempotency-Key is still being processed; retry later")
			p.Headers = map[string]string{"Retry-After": "1"}
			return p
		}
		// Taken over, or some of the request's writes committed (some campaigns of a bulk
		// action): run it now. Each committed step answers from its recovery point; the
		// others run, and a step that another run commits first cannot commit twice
		// (ErrRecorded).
	}

	r := &request{store: s, caller: caller, key: key, expiresAt: row.ExpiresAt, recorded: map[string]bool{}}
	c.SetRequest(req.WithContext(context.WithValue(ctx, requestKey{}, r)))
	rec := &recorder{ResponseWriter: c.Response().Writer, status: http.StatusOK}
	c.Response().Writer = rec
	// The key's fate must be settled even if the client went away.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := next(c); err != nil {
		if !c.Response().Committed && !r.recordedHere(FinalStep) {
			// Another run of the request may have committed its write first (this one's was
			// refused): then its answer is the request's.
			if a, ok, perr := s.point(sctx, caller, key, FinalStep); perr == nil && ok {
				return s.answerPoint(c, caller, key, a)
			}
		}
		c.Error(err) // write the error now, so that it is recorded like any answer
	}
	if rec.status >= 500 || httpx.AnswerForgotten(c) {
		s.release(sctx, caller, key)
		return nil
	}
	s.complete(sctx, caller, key, Answer{Status: rec.status, Header: replayed(c.Response().Header()), Body: rec.body.Bytes()})
	return nil
}

func reused() error {
	return httpx.NewProblem(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused",
		"this Idempotency-Key was used for a different request; use a new key for a new request")
}

// answer writes a kept answer again.
func answer(c echo.Context, a Answer) error {
	h := c.Response().Header()
	for k, v := range a.Header {
		h.Set(k, v)
	}
	h.Set(ReplayedHeader, "true")
	c.Response().WriteHeader(a.Status)
	_, err := c.Response().Write(a.Body)
	return err
}

// answerPoint answers from the request's recovery point, and keeps it as the key's answer
// (if that fails, the next retry answers from the point again).
func (s *Store) answerPoint(c echo.Context, caller, key string, a Answer) error {
	if a.Status == statusNoAnswer {
		return httpx.Conflict("idempotency-answer-lost",
			"the request with this Idempotency-Key took effect, but its answer was not kept; read the resource it changed")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 5*time.Second)
	defer cancel()
	s.complete(sctx, caller, key, a)
	return answer(c, a)
}

// claimed is how claim found a key.
type claimed int

const (
	claimedFresh claimed = iota // inserted now
	takenOver                   // in flight, abandoned by its request: this one runs it now
	knownBefore                 // done, or in flight and not abandoned
)

// claim inserts an in-flight key and returns it. When the key is already known (and neither
// expired nor abandoned), it returns that row instead. An in-flight key whose request
// never finished is taken over once stale; that is safe even if that request still runs, for
// each write records its recovery point in its own transaction and no step commits twice.
func (s *Store) claim(ctx context.Context, caller, key, fp string) (*keyRow, claimed, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := s.cfg.Now().UTC()
		row := keyRow{Caller: caller, Key: key, Fingerprint: fp, State: stateInFlight,
			Headers: "{}", LockedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
		res, err := s.db.NewInsert().Model(&row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return &row, claimedFresh, nil
		}
		var prior keyRow
		err = s.db.NewSelect().Model(&prior).Where("caller = ?", caller).Where("key = ?", key).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted meanwhile: claim again
		}
		if err != nil {
			return nil, 0, fmt.Errorf("idempotency: read key: %w", err)
		}
		switch {
		case !prior.ExpiresAt.After(now):
			// Expired: forget it (and what its writes recorded) and claim afresh.
			if err := s.forget(ctx, caller, key, now); err != nil {
				return nil, 0, err
			}
			continue
		case prior.State == stateInFlight && prior.Fingerprint == fp && !prior.LockedAt.After(now.Add(-s.cfg.StaleAfter)):
			// Abandoned by a request that never finished: take it over, once.
			res, err := s.db.NewUpdate().Model((*keyRow)(nil)).Set("locked_at = ?", now).
				Where("caller = ?", caller).Where("key = ?", key).Where("state = ?", stateInFlight).
				Where("locked_at = ?", prior.LockedAt).Exec(ctx)
			if err != nil {
				return nil, 0, fmt.Errorf("idempotency: take over key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				prior.LockedAt = now
				return &prior, takenOver, nil
			}
			continue
		}
		return &prior, knownBefore, nil
	}
	return nil, 0, httpx.Conflict("idempotency-in-flight", "a request with this Idempotency-Key is being processed; retry later")
}

// forget deletes the expired key and its recovery points.
func (s *Store) forget(ctx context.Context, caller, key string, now time.Time) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*keyRow)(nil)).Where("caller = ?", caller).
			Where("key = ?", key).Where("expires_at <= ?", now).Exec(ctx)
		if err != nil {
			return fmt.Errorf("idempotency: expire key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // claimed afresh meanwhile
		}
		if _, err := tx.NewDelete().Model((*pointRow)(nil)).Where("caller = ?", caller).
			Where("key = ?", key).Exec(ctx); err != nil {
			return fmt.Errorf("idempotency: expire recovery points: %w", err)
		}
		return nil
	})
}

func (k *keyRow) answer() Answer {
	var h map[string]string
	_ = json.Unmarshal([]byte(k.Headers), &h) // written by complete: cannot be malformed
	return Answer{Status: k.Status, Header: h, Body: []byte(k.Body)}
}

// replayed are the headers of h worth replaying.
func replayed(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range replayHeaders {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// complete keeps a as the key's answer. This is the step a crash can skip: a retry then
// answers from the recovery point the request's write committed with its effects.
func (s *Store) complete(ctx context.Context, caller, key string, a Answer) {
	hb, _ := json.Marshal(a.Header)
	_, err := s.db.NewUpdate().Model((*keyRow)(nil)).
		Set("state = ?", stateDone).Set("status = ?", a.Status).
		Set("headers = ?", string(hb)).Set("body = ?", string(a.Body)).
		Where("caller = ?", caller).Where("key = ?", key).Exec(ctx)
	if err != nil {
		s.logger.ErrorContext(ctx, "idempotency: store response; a retry answers from the recovery point", slog.Any("error", err))
	}
}

// release forgets a key whose answer is not kept (a 5xx), so that a retry runs for real;
// unless some of its writes committed: then the key stays, and a retry resumes from them.
func (s *Store) release(ctx context.Context, caller, key string) {
	points := s.db.NewSelect().TableExpr("idempotency_points AS p").ColumnExpr("1").
		Where("p.caller = ?", caller).Where("p.key = ?", key)
	if _, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("caller = ?", caller).
		Where("key = ?", key).Where("NOT EXISTS (?)", points).Exec(ctx); err != nil {
		s.logger.ErrorContext(ctx, "idempotency: release key", slog.Any("error", err))
	}
}

// Purge deletes expired keys and their recovery points; the automation loop calls it.
func (s *Store) Purge(ctx context.Context) error {
	now := s.cfg.Now().UTC()
	if _, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("expires_at <= ?", now).Exec(ctx); err != nil {
		return fmt.Errorf("idempotency: purge: %w", err)
	}
	if _, err := s.db.NewDelete().Model((*pointRow)(nil)).Where("expires_at <= ?", now).Exec(ctx); err != nil {
		return fmt.Errorf("idempotency: purge recovery points: %w", err)
	}
	return nil
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// recorder keeps a copy of what the handler writes.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
