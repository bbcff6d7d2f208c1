package textcheck_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/engine-rules-sp/campaigns/platform/textcheck"
)

func TestTextAndLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		text error // want from Text
		line error // want from Line
	}{
		{"plain", "Spring sale", nil, nil},
		{"empty", "", nil, nil},
		{"accents and emoji", "Soldes d'été 🌞", nil, nil},
		{"line break", "first\nsecond", nil, textcheck.ErrControl},
		{"tab", "a\tb", nil, textcheck.ErrControl},
		{"DEL", "a\x7fb", nil, textcheck.ErrControl},
		{"C1 control", "a\u0085b", nil, textcheck.ErrControl},
		{"NUL", "abc\x00def", textcheck.ErrNUL, textcheck.ErrNUL},
		{"NUL at the end", "abc\x00", textcheck.ErrNUL, textcheck.ErrNUL},
		{"invalid byte", "a\xffb", textcheck.ErrInvalidUTF8, textcheck.ErrInvalidUTF8},
		{"truncated sequence", "caf\xc3", textcheck.ErrInvalidUTF8, textcheck.ErrInvalidUTF8},
		{"encoded surrogate", "\xed\xa0\x80", textcheck.ErrInvalidUTF8, textcheck.ErrInvalidUTF8},
		{"long", strings.Repeat("a", 10000), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := textcheck.Text(tt.in); !errors.Is(err, tt.text) || (err == nil) != (tt.text == nil) {
				t.Errorf("Text(%q) = %v, want %v", tt.in, err, tt.text)
			}
			if err := textcheck.Line(tt.in); !errors.Is(err, tt.line) || (err == nil) != (tt.line == nil) {
				t.Errorf("Line(%q) = %v, want %v", tt.in, err, tt.line)
			}
		})
	}
}
