// Package idempotency makes POST requests safe to retry. A request that carries an
// Idempotency-Key header is executed once per caller and key; a retry with the same body gets
// the stored response again, a retry with another body is refused (422), and a retry while the
// first is still running is refused (409). Keys expire after a day. 5xx answers are not kept,
// so a failed request can be retried for real.
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

	prior, err := s.claim(ctx, caller, key, fp)
	if err != nil {
		return err
	}
	if prior != nil {
		return s.answerPrior(c, prior, fp)
	}

	rec := &recorder{ResponseWriter: c.Response().Writer, status: http.StatusOK}
	c.Response().Writer = rec
	if err := next(c); err != nil {
		c.Error(err) // write the error now, so that it is recorded like any answer
	}
	// The key's fate must be settled even if the client went away.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rec.status >= 500 || httpx.AnswerForgotten(c) {
		s.release(sctx, caller, key)
		return nil
	}
	s.complete(sctx, caller, key, c.Response().Header(), rec)
	return nil
}

// claim inserts an in-flight key. It returns the existing row when the key is already known
// (and not expired or abandoned).
func (s *Store) claim(ctx context.Context, caller, key, fp string) (*keyRow, error) {
	for attempt := 0; attempt < 3; attempt++ {
		now := s.cfg.Now().UTC()
		row := keyRow{Caller: caller, Key: key, Fingerprint: fp, State: stateInFlight,
			Headers: "{}", LockedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
		res, err := s.db.NewInsert().Model(&row).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
		var prior keyRow
		err = s.db.NewSelect().Model(&prior).Where("caller = ?", caller).Where("key = ?", key).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted meanwhile: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency: read key: %w", err)
		}
		switch {
		case !prior.ExpiresAt.After(now):
			// Expired: forget it and claim afresh.
			if _, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("caller = ?", caller).
				Where("key = ?", key).Where("expires_at <= ?", now).Exec(ctx); err != nil {
				return nil, fmt.Errorf("idempotency: expire key: %w", err)
			}
			continue
		case prior.State == stateInFlight && prior.Fingerprint == fp && !prior.LockedAt.After(now.Add(-s.cfg.StaleAfter)):
			// Abandoned by a request that never finished: take it over, once.
			res, err := s.db.NewUpdate().Model((*keyRow)(nil)).Set("locked_at = ?", now).
				Where("caller = ?", caller).Where("key = ?", key).Where("state = ?", stateInFlight).
				Where("locked_at = ?", prior.LockedAt).Exec(ctx)
			if err != nil {
				return nil, fmt.Errorf("idempotency: take over key: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return nil, nil
			}
			continue
		}
		return &prior, nil
	}
	return nil, httpx.Conflict("idempotency-in-flight", "a request with this Idempotency-Key is being processed; retry later")
}

func (s *Store) answerPrior(c echo.Context, prior *keyRow, fp string) error {
	switch {
	case prior.Fingerprint != fp:
		return httpx.NewProblem(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused",
			"this Idempotency-Key was used for a different request; use a new key for a new request")
	case prior.State == stateInFlight:
		p := httpx.Conflict("idempotency-in-flight", "a request with this Idempotency-Key is still being processed; retry later")
		p.Headers = map[string]string{"Retry-After": "1"}
		return p
	}
	var headers map[string]string
	_ = json.Unmarshal([]byte(prior.Headers), &headers) // written by complete: cannot be malformed
	h := c.Response().Header()
	for k, v := range headers {
		h.Set(k, v)
	}
	h.Set(ReplayedHeader, "true")
	c.Response().WriteHeader(prior.Status)
	_, err := c.Response().Write([]byte(prior.Body))
	return err
}

func (s *Store) complete(ctx context.Context, caller, key string, h http.Header, rec *recorder) {
	headers := map[string]string{}
	for _, k := range replayHeaders {
		if v := h.Get(k); v != "" {
			headers[k] = v
		}
	}
	hb, _ := json.Marshal(headers)
	_, err := s.db.NewUpdate().Model((*keyRow)(nil)).
		Set("state = ?", stateDone).Set("status = ?", rec.status).
		Set("headers = ?", string(hb)).Set("body = ?", rec.body.String()).
		Where("caller = ?", caller).Where("key = ?", key).Exec(ctx)
	if err != nil {
		s.logger.ErrorContext(ctx, "idempotency: store response", slog.Any("error", err))
	}
}

func (s *Store) release(ctx context.Context, caller, key string) {
	if _, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("caller = ?", caller).
		Where("key = ?", key).Exec(ctx); err != nil {
		s.logger.ErrorContext(ctx, "idempotency: release key", slog.Any("error", err))
	}
}

// Purge deletes expired keys; the automation loop calls it.
func (s *Store) Purge(ctx context.Context) error {
	_, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("expires_at <= ?", s.cfg.Now().UTC()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("idempotency: purge: %w", err)
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
