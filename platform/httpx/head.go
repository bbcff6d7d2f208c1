package httpx

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// HeadAsGet answers a HEAD request as the GET of the same URL would be answered, without the
// body (RFC 9110, section 9.3.2): link checkers, proxies and `curl -I` ask for pages and
// documents that way, and Echo routes HEAD only where a HEAD route is registered. It must run
// before routing (Echo's Pre).
//
// The route, its permission and its middleware see a GET (Echo routes the request it was
// given, so the method is changed in place). The answer is held back and only counted, then
// sent with the GET's status and headers and, when the handler gave none, the Content-Length
// its body would have had.
func HeadAsGet() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodHead {
				return next(c)
			}
			r.Method = http.MethodGet
			c.Set(headKey, true) // the access log says HEAD, and that no body was sent
			res := c.Response()
			hw := &headWriter{ResponseWriter: res.Writer, status: http.StatusOK}
			res.Writer = hw
			if err := next(c); err != nil {
				c.Error(err) // here, so that the problem's headers and length are counted too
			}
			r.Method = http.MethodHead
			res.Writer = hw.ResponseWriter
			hw.send()
			return nil
		}
	}
}

// headKey marks, in the echo.Context, a HEAD request answered as its GET.
const headKey = "httpx.head"

// IsHead reports whether c is a HEAD request that HeadAsGet answers as its GET (the route and
// its middleware see GET).
func IsHead(c echo.Context) bool {
	head, _ := c.Get(headKey).(bool)
	return head
}

// headWriter counts a body instead of sending it, and sends the headers once the handler is
// done.
type headWriter struct {
	http.ResponseWriter
	status int
	n      int
}

func (w *headWriter) WriteHeader(code int) { w.status = code }

func (w *headWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// Flush holds the headers back too: a streamed answer (an export) is counted to its end.
func (w *headWriter) Flush() {}

func (w *headWriter) send() {
	h := w.ResponseWriter.Header()
	if h.Get(echo.HeaderContentLength) == "" && h.Get("Transfer-Encoding") == "" && w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		h.Set(echo.HeaderContentLength, strconv.Itoa(w.n))
	}
	w.ResponseWriter.WriteHeader(w.status)
}
