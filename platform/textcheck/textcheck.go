// Package textcheck is the one rule for free text that the service stores or passes to a
// database: valid UTF-8 without the NUL character. PostgreSQL refuses both (text and jsonb
// cannot hold NUL, and every string must be valid in the database encoding), so text that
// breaks the rule must be refused where it comes in, as a client error, not found by the
// database as a failed statement. Single-line text (names, keys, search terms) refuses every
// other control character too.
package textcheck

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The ways text can break the rule. Their messages are written to be shown after a field name.
var (
	ErrInvalidUTF8 = errors.New("must be valid UTF-8")
	ErrNUL         = errors.New("must not contain the NUL character")
	ErrControl     = errors.New("must not contain control characters")
)

// Text checks multi-line free text (a description, a reason): valid UTF-8 without NUL.
func Text(s string) error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	return nil
}

// Line checks single-line text (a name, a key, a search term): Text's rule, and no control
// character at all (tabs and line breaks included).
func Line(s string) error {
	if err := Text(s); err != nil {
		return err
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return ErrControl
	}
	return nil
}
