package httpx

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

// DecodeJSON reads the request body strictly into dst, which must be a pointer to a struct or
// a map: the media type must be JSON, the body one JSON object, and every failure is a 400,
// 413 or 415 problem that names the field when it can.
func DecodeJSON(c echo.Context, dst any) error {
	body, err := ReadJSON(c)
	if err != nil {
		return err
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeOptionalJSON is DecodeJSON for endpoints whose body may be left out: an empty body
// leaves dst as it is; a body that is there is held to every rule of DecodeJSON, its media type
// included.
func DecodeOptionalJSON(c echo.Context, dst any) error {
	req := c.Request()
	if req.ContentLength == 0 {
		return nil
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return readError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := checkMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	return DecodeJSONBytes(body, dst)
}

// ReadJSON reads a required JSON request body: an absent or empty body is a 400, a body whose
// Content-Type is missing or not JSON a 415 (checked before reading), a body over the limit a
// 413.
func ReadJSON(c echo.Context) ([]byte, error) {
	req := c.Request()
	if req.ContentLength == 0 {
		return nil, errEmptyBody()
	}
	if err := checkMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, readError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody()
	}
	return body, nil
}

func errEmptyBody() *Problem {
	return BadRequest("the request body is empty; send a JSON object")
}

// UnsupportedMediaType is a body that is not JSON.
func UnsupportedMediaType() *Problem {
	return NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
		"Unsupported media type", "send the body as application/json")
}

// checkMediaType accepts application/json and any +json type. A body without a Content-Type
// is refused too: guessing its format is how form posts from other sites slip in.
func checkMediaType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return UnsupportedMediaType()
	}
	return nil
}

// DecodeJSONBytes is DecodeJSON's parsing step, for callers that already hold the body. The
// body must be one JSON object (not null) in valid UTF-8 (the rules of platform/strictjson);
// a failure is a 400 problem that names the field when it can.
func DecodeJSONBytes(body []byte, dst any) error {
	err := strictjson.Decode(body, dst)
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		return p // a field's own UnmarshalJSON judged it
	}
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return BadRequest("the request body could not be decoded")
	}
	var errs []FieldError
	for _, f := range e.Fields {
		errs = append(errs, FieldError{Field: f.Field, Message: f.Message})
	}
	return BadRequest(e.Detail, errs...)
}

func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooBig) {
		return statusProblem(http.StatusRequestEntityTooLarge)
	}
	return BadRequest("the request body could not be read")
}
