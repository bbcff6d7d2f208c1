package httpx

import (
	"context"
	"errors"
	"log/slog"

	"github.com/engine-rules-sp/campaigns/platform/audit"
)

// LogHandler wraps h so that every record logged with a request's context carries the
// request's id as request_id, and its authenticated caller as actor: a log line written
// anywhere during a request (handler, service, repository) can be traced back to it.
//
// A warning logged with a cancelled context is logged at debug level: the work was cut short
// by a stop (or a caller that left), which is not something to act on, and a clean shutdown
// would otherwise end with warnings from every loop it interrupted.
func LogHandler(h slog.Handler) slog.Handler { return &ctxHandler{next: h} }

type ctxHandler struct {
	next slog.Handler
}

func (h *ctxHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		if !h.next.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r = r.Clone()
		r.Level = slog.LevelDebug
	}
	id := audit.CorrelationID(ctx)
	actor, hasActor := audit.Actor(ctx)
	if id == "" && !hasActor {
		return h.next.Handle(ctx, r)
	}
	var haveID, haveActor bool
	r.Attrs(func(a slog.Attr) bool {
		haveID = haveID || a.Key == "request_id"
		haveActor = haveActor || a.Key == "actor"
		return true
	})
	r = r.Clone()
	if id != "" && !haveID {
		r.AddAttrs(slog.String("request_id", id))
	}
	if hasActor && !haveActor {
		r.AddAttrs(slog.String("actor", actor.String()))
	}
	return h.next.Handle(ctx, r)
}

func (h *ctxHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ctxHandler{next: h.next.WithAttrs(attrs)}
}

func (h *ctxHandler) WithGroup(name string) slog.Handler {
	return &ctxHandler{next: h.next.WithGroup(name)}
}
