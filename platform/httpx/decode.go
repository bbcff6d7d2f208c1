package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// DecodeJSON reads the request body strictly into dst: the media type must be JSON, unknown
// fields and trailing data are rejected, and every failure is a 400 or 413 problem that names
// the field when it can.
func DecodeJSON(c echo.Context, dst any) error {
	req := c.Request()
	if err := checkMediaType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return readError(err)
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeOptionalJSON is DecodeJSON for endpoints whose body may be left out: an empty body
// leaves dst as it is.
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

func checkMediaType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"Unsupported media type", "send the body as application/json")
	}
	return nil
}

// DecodeJSONBytes is DecodeJSON's parsing step, for callers that already hold the body.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("the request body holds data after the JSON value")
	}
	return nil
}

func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooBig) {
		return statusProblem(http.StatusRequestEntityTooLarge)
	}
	return BadRequest("the request body could not be read")
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return BadRequest(fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body is truncated JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return BadRequest(fmt.Sprintf("the request body must be %s", jsonKind(typ.Type.Kind().String())))
		}
		return BadRequest("a field has the wrong JSON type",
			FieldError{Field: field, Message: "must be " + jsonKind(typ.Type.Kind().String())})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return BadRequest("the request body has a field this endpoint does not accept",
			FieldError{Field: name, Message: "unknown field"})
	default:
		var p *Problem
		if errors.As(err, &p) {
			return p
		}
		return BadRequest("the request body could not be decoded")
	}
}

// jsonKind names a Go kind as the JSON type a client should send.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	default:
		return "a " + kind
	}
}
