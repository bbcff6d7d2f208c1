// Package strictjson decodes JSON objects by the rules of every request body and tracking
// event, with errors that name the field at fault and carry no Go error text. It imports no
// HTTP framework: platform/httpx turns its errors into 400 problems, and the tracking worker
// (metrics) into dead-letter reasons.
package strictjson

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// strictJSON are the decoding rules, those of encoding/json/v2 (the go-json-experiment module
// is its reference implementation): member names match a field's name exactly, case included
// (encoding/json v1 would take "Name" for "name"); a member no field declares, a member given
// twice, and invalid UTF-8 (v1 would silently replace it with U+FFFD) are errors.
var strictJSON = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// FieldError is the field a body fails on: Field is a JSON path such as
// "settings.channels[1]", Message what is wrong with it.
type FieldError struct {
	Field   string
	Message string
}

// Error is a body that cannot be decoded: Detail says why, for the body as a whole; Fields
// names the field at fault when there is one. It unwraps to the decoder's own error (which
// wraps the error of a field's UnmarshalJSON, if one judged it).
type Error struct {
	Detail string
	Fields []FieldError
	err    error
}

func (e *Error) Error() string { return e.Detail }

// Unwrap is the decoder's error, nil for a body refused before decoding (empty, null,
// invalid UTF-8).
func (e *Error) Unwrap() error { return e.err }

// Decode parses body strictly into dst, which must be a pointer to a struct or a map. The body
// must be one JSON object (not null) in valid UTF-8. Every failure is an *Error.
func Decode(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &Error{Detail: "the request body is empty; send a JSON object"}
	}
	if string(trimmed) == "null" {
		return &Error{Detail: "the request body must be a JSON object, not null"}
	}
	if !utf8.Valid(body) {
		return &Error{Detail: fmt.Sprintf("the request body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))}
	}
	if err := json.Unmarshal(body, dst, strictJSON); err != nil {
		e := jsonError(body, err)
		e.err = err
		return e
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

var (
	legacyUnmarshaler = reflect.TypeFor[stdjson.Unmarshaler]()
	unmarshaler       = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerFrom   = reflect.TypeFor[json.UnmarshalerFrom]()
)

// bad is an Error of detail, naming at most one field.
func bad(detail string, errs ...FieldError) *Error { return &Error{Detail: detail, Fields: errs} }

// jsonError says what a decoding error means, naming the field, without Go error text.
func jsonError(body []byte, err error) *Error {
	var syntax *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &syntax):
		return bad("the request body gives a field twice",
			FieldError{Field: fieldPath(syntax.JSONPointer), Message: "appears more than once"})
	case errors.As(err, &syntax) && errors.Is(err, io.ErrUnexpectedEOF):
		return bad("the request body is truncated JSON")
	case errors.As(err, &syntax) && syntax.JSONPointer == "" && syntax.ByteOffset > 0 &&
		syntax.ByteOffset <= int64(len(body)) && jsontext.Value(body[:syntax.ByteOffset]).IsValid():
		return bad("the request body holds data after the JSON value")
	case errors.As(err, &syntax):
		return bad(fmt.Sprintf("the request body is not valid JSON (at byte %d)", syntax.ByteOffset))
	case errors.Is(err, json.ErrUnknownName) && errors.As(err, &sem):
		return bad("the request body has a field this endpoint does not accept (names match exactly, case included)",
			FieldError{Field: fieldPath(sem.JSONPointer), Message: "unknown field"})
	case errors.As(err, &sem):
		field := fieldPath(sem.JSONPointer)
		if sem.GoType != nil && hasUnmarshaler(sem.GoType) {
			if field == "" {
				return bad("the request body could not be decoded")
			}
			return bad("a field could not be decoded", FieldError{Field: field, Message: "is not a valid value"})
		}
		want := "a valid value"
		if sem.GoType != nil {
			want = jsonKind(sem.GoType.Kind())
		}
		if field == "" {
			return bad("the request body must be " + want)
		}
		return bad("a field has the wrong JSON type", FieldError{Field: field, Message: "must be " + want})
	default:
		return bad("the request body could not be decoded")
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
