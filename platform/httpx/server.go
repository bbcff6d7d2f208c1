package httpx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/engine-rules-sp/campaigns/platform/audit"
)

// EchoConfig tunes the Echo instance. Zero fields take the defaults noted.
type EchoConfig struct {
	BodyLimit      int64         // bytes; 413 beyond it (DefaultBodyLimit)
	HeaderLimit    int           // bytes of request line and headers; 431 beyond it (DefaultHeaderLimit)
	RequestTimeout time.Duration // deadline of each request's context (DefaultRequestTimeout)

	// Logger writes the access log and the errors behind 5xx answers (default: discard).
	Logger *slog.Logger
	// Observe wraps every request just inside the access log (request metrics; default: none).
	Observe echo.MiddlewareFunc
	// Trace wraps every request just inside Observe (a server span, see Trace; default: none).
	Trace echo.MiddlewareFunc
	// Identify authenticates, rate-limits and authorises each request, in this order
	// (default: HeaderIdentity, a trusted network's X-User-ID).
	Identify []echo.MiddlewareFunc
	// CORS lets browsers on these origins call the API (default: no origins, CORS is off).
	CORS CORSConfig
	// TrustedProxies are the networks whose X-Forwarded-For names the client (default: none,
	// the client is the connection's peer).
	TrustedProxies []*net.IPNet
	// CrossOrigin refuses state-changing requests from pages on other origins (see
	// CrossOrigin); nil leaves them to the handlers.
	CrossOrigin echo.MiddlewareFunc
	// ListenHost is the host the server listens on: on loopback, a request naming another
	// Host is refused (LoopbackHosts), against DNS rebinding.
	ListenHost string
	// Routes gives some routes their own body limit and deadline, by RouteKey (default:
	// none; every route has BodyLimit and RequestTimeout).
	Routes map[string]RouteLimits
}

// CORSConfig configures cross-origin requests.
type CORSConfig struct {
	AllowOrigins     []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// Defaults of EchoConfig.
const (
	DefaultBodyLimit      = 1 << 20
	DefaultRequestTimeout = 15 * time.Second
)

// NewEcho returns an Echo instance with the service's middleware: HEAD answered as GET, request ids, a JSON access
// log, request metrics, panic recovery, security headers, the header limit, CORS, the body
// limit, the request deadline, the caller's identity, and problem+json errors.
func NewEcho(cfg EchoConfig) *echo.Echo {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	logger := cfg.Logger
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(logger)
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		trust := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range cfg.TrustedProxies {
			trust = append(trust, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trust...)
	}
	e.Pre(HeadAsGet())
	e.Use(RequestIDs(), accessLog(logger))
	if cfg.Observe != nil {
		e.Use(cfg.Observe)
	}
	if cfg.Trace != nil {
		e.Use(cfg.Trace)
	}
	e.Use(
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisableStackAll: true,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				logger.ErrorContext(c.Request().Context(), "panic recovered",
					slog.Any("error", err), slog.String("stack", string(stack)))
				return err
			},
		}),
		SecurityHeaders(),
		HeaderLimit(cfg.HeaderLimit),
	)
	if len(cfg.CORS.AllowOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     cfg.CORS.AllowOrigins,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
			AllowHeaders:     corsRequestHeaders(),
			ExposeHeaders:    corsResponseHeaders(),
			AllowCredentials: cfg.CORS.AllowCredentials,
			MaxAge:           int(cfg.CORS.MaxAge.Seconds()),
		}))
	}
	if IsLoopback(cfg.ListenHost) {
		e.Use(LoopbackHosts())
	}
	if cfg.CrossOrigin != nil {
		e.Use(cfg.CrossOrigin)
	}
	e.Use(limits(cfg))
	if cfg.Identify == nil {
		e.Use(HeaderIdentity())
	} else {
		e.Use(cfg.Identify...)
	}
	e.Use(routeLimits(cfg))
	return e
}

func corsRequestHeaders() []string {
	return []string{echo.HeaderAuthorization, "X-API-Key", echo.HeaderContentType, "If-Match",
		"Idempotency-Key", HeaderRequestID, HeaderCorrelationID, HeaderUserID}
}

func corsResponseHeaders() []string {
	return []string{"ETag", echo.HeaderLocation, HeaderRequestID, echo.HeaderRetryAfter,
		"Idempotent-Replayed", echo.HeaderWWWAuthenticate}
}

// SecurityHeaders sets the headers every response of an API should carry: no MIME sniffing,
// no framing, no referrer, a content security policy that loads nothing, HSTS behind TLS, and
// Cache-Control: no-store (answers are per caller and change; a handler may override it).
func SecurityHeaders() echo.MiddlewareFunc {
	secure := middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "", // obsolete; browsers that still read it are better without it
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            31536000,
		HSTSExcludeSubdomains: true,
		ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
		ReferrerPolicy:        "no-referrer",
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		h := secure(next)
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
			return h(c)
		}
	}
}

// DefaultHeaderLimit is the header limit when none is configured.
const DefaultHeaderLimit = 64 << 10

// HeaderLimit answers 431 (a problem, with the security headers of every answer) to a request
// whose request line and headers exceed limit bytes (0: DefaultHeaderLimit). Go's server
// would answer such a request in plain text before any handler runs, so Serve lets it read
// headers up to HeaderReadLimit and the limit is enforced here.
func HeaderLimit(limit int) echo.MiddlewareFunc {
	if limit <= 0 {
		limit = DefaultHeaderLimit
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if headerSize(c.Request()) <= limit {
				return next(c)
			}
			c.Response().Header().Set(echo.HeaderConnection, "close") // do not read what follows
			return NewProblem(http.StatusRequestHeaderFieldsTooLarge, "headers-too-large",
				"Request header fields too large",
				fmt.Sprintf("the request line and headers are larger than %d bytes", limit))
		}
	}
}

// headerSize counts the request line and header lines as they came on the wire (as
// http.Server.MaxHeaderBytes does), without the final blank line.
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
}

// HeaderReadLimit is how much of a request's headers the server reads before giving up with
// its own plain-text 431: well above limit, so that HeaderLimit answers the requests over the
// limit that a client may plausibly send (at least 4 MiB), yet bounded.
func HeaderReadLimit(limit int) int {
	if limit <= 0 {
		limit = DefaultHeaderLimit
	}
	return max(4*limit, 4<<20)
}

func accessLog(logger *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogURIPath: true, LogRoutePath: true, LogStatus: true,
		LogLatency: true, LogRemoteIP: true, LogResponseSize: true,
		HandleError: true, // let the error handler write the response before we log its status
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			if IsHead(c) { // answered as its GET, without the body
				v.Method, v.ResponseSize = http.MethodHead, 0
			}
			logger.LogAttrs(c.Request().Context(), level, "http request",
				slog.String("request_id", audit.CorrelationID(c.Request().Context())),
				slog.String("method", v.Method), slog.String("path", v.URIPath),
				slog.String("route", v.RoutePath), slog.Int("status", v.Status),
				slog.Float64("duration_ms", float64(v.Latency.Microseconds())/1000),
				slog.Int64("bytes_out", v.ResponseSize), slog.String("remote_ip", v.RemoteIP),
			)
			return nil
		},
	})
}

// ServerConfig is the listener's timeouts and header limit. Zero fields take the defaults
// noted.
type ServerConfig struct {
	ReadTimeout     time.Duration // request line, headers and body (10s)
	WriteTimeout    time.Duration // from the end of the headers to the end of the answer (30s)
	IdleTimeout     time.Duration // a keep-alive connection between requests (120s)
	ShutdownTimeout time.Duration // grace of in-flight requests at shutdown (20s)
	// HeaderLimit is the handler's header limit (EchoConfig.HeaderLimit; DefaultHeaderLimit);
	// the server reads up to HeaderReadLimit of it so that the handler, not Go's server,
	// answers the 431.
	HeaderLimit int
	// Logger hears about the listener and the errors of Go's server (default: discard).
	Logger *slog.Logger
}

// Serve runs h on ln until ctx is done, then shuts down gracefully: it stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout) and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg ServerConfig) error {
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 10*time.Second)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, 30*time.Second)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 120*time.Second)
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 20*time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	logger := cfg.Logger
	srv := &http.Server{
		Handler:           h,
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    HeaderReadLimit(cfg.HeaderLimit),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("http shutting down", slog.Duration("grace", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// The grace period is over: cut the connections still open (which cancels their
		// requests' contexts) rather than leave them running behind a returned Serve.
		_ = srv.Close()
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}

// Check is one readiness dependency.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
	// Degrades marks a dependency the process can serve without, less well: when only such
	// checks fail, /ready stays 200 with status "degraded", so that an orchestrator keeps the
	// instance in service while its other routes still work.
	Degrades bool
}

// RegisterHealth mounts GET /health (liveness: the process answers; no dependencies) and
// GET /ready: 200 "ready" when every check passes within two seconds, 200 "degraded" when
// only checks marked Degrades fail, else 503 "unavailable". Each check's result is in the body.
func RegisterHealth(e *echo.Echo, logger *slog.Logger, checks ...Check) {
	e.GET("/health", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}, Query())
	e.GET("/ready", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		status, word := http.StatusOK, "ready"
		results := make(map[string]string, len(checks))
		for _, ck := range checks {
			if err := ck.Fn(ctx); err != nil {
				logger.WarnContext(ctx, "readiness check failed", slog.String("check", ck.Name),
					slog.Bool("degrades", ck.Degrades), slog.Any("error", err))
				results[ck.Name] = "unavailable"
				if ck.Degrades {
					if status == http.StatusOK {
						word = "degraded"
					}
					continue
				}
				status, word = http.StatusServiceUnavailable, "unavailable"
				continue
			}
			results[ck.Name] = "ok"
		}
		return c.JSON(status, map[string]any{"status": word, "checks": results})
	}, Query())
}
