package httpx

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"
)

// strictJSON are the decoding rules of every request body, those of encoding/json/v2 (the
// go-json-experiment module is its reference implementation): member names match a field's
// name exactly, case included (encoding/json v1 would take "Name" for "name"); a member no field
// declares, a member given twice, and invalid UTF-8 (v1 would silently replace it with U+FFFD)
// are errors.
var strictJSON = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
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
// body must be one JSON object (not null) in valid UTF-8.
func DecodeJSONBytes(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errEmptyBody()
	}
	if string(trimmed) == "null" {
		return BadRequest("the request body must be a JSON object, not null")
	}
	if !utf8.Valid(body) {
		return BadRequest(fmt.Sprintf("the request body is not valid UTF-8 (at byte %d)", invalidUTF8At(body)))
	}
	if err := json.Unmarshal(body, dst, strictJSON); err != nil {
		return jsonError(body, err)
	}
	return nil
}

// invalidUTF8At is the offset of the first byte that is not part of valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func readError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.Is(err, echo.ErrStatusRequestEntityTooLarge) || errors.As(err, &tooBig) {
		return statusProblem(http.StatusRequestEntityTooLarge)
	}
	return BadRequest("the request body could not be read")
}

var (
	legacyUnmarshaler = reflect.TypeFor[stdjson.Unmarshaler]()
	unmarshaler       = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerFrom   = reflect.TypeFor[json.UnmarshalerFrom]()
)

// jsonError turns a decoding error into a 400 naming the field, without Go error text.
func jsonError(body []byte, err error) error {
	var p *Problem
	if errors.As(err, &p) {
		return p // a field's own UnmarshalJSON judged it
	}
	var syntax *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syntax):
		return BadRequest("the request body gives a field twice",
			FieldError{Field: fieldPath(syntax.JSONPointer), Message: "appears more than once"})
	case errors.As(err, &syntax) && errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body is truncated JSON")
	case errors.As(err, &syntax) && syntax.JSONPointer == "" && syntax.ByteOffset > 0 &&
		syntax.ByteOffset <= int64(len(body)) && jsontext.Value(body[:syntax.ByteOffset]).IsValid():
		return BadRequest("the request body holds data after the JSON value")
	case errors.As(err, &syntax):
		return BadRequest(fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntax.ByteOffset))
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &sem):
		return BadRequest("the request body has a field this endpoint does not accept (names match exactly, case included)",
			FieldError{Field: fieldPath(sem.JSONPointer), Message: "unknown field"})
	case errors.As(err, &sem):
		field := fieldPath(sem.JSONPointer)
		if sem.GoType != nil && hasUnmarshaler(sem.GoType) {
			if field == "" {
				return BadRequest("the request body could not be decoded")
			}
			return BadRequest("a field could not be decoded", FieldError{Field: field, Message: "is not a valid value"})
		}
		want := "a valid value"
		if sem.GoType != nil {
			want = jsonKind(sem.GoType.Kind())
		}
		if field == "" {
			return BadRequest("the request body must be " + want)
		}
		return BadRequest("a field has the wrong JSON type", FieldError{Field: field, Message: "must be " + want})
	default:
		return BadRequest("the request body could not be decoded")
	}
}

func hasUnmarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(legacyUnmarshaler) || pt.Implements(unmarshaler) || pt.Implements(unmarshalerFrom)
}

// fieldPath writes a JSON pointer (/settings/channels/1) the way problems name fields
// (settings.channels[1]).
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if isIndex(tok) {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func isIndex(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

// jsonKind names a Go kind as the JSON type a client should send.
func jsonKind(kind reflect.Kind) string {
	switch kind {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "a valid value"
	}
}
