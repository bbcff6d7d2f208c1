package jsonappend_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/engine-rules-sp/campaigns/platform/jsonappend"
)

func TestUUIDIsItsString(t *testing.T) {
	for range 100 {
		id := uuid.New()
		assert.Equal(t, id.String(), string(jsonappend.UUID(nil, id)))
	}
}

// A string Plain passes is written by encoding/json as it is, between quotes.
func FuzzPlainIsWrittenAsIs(f *testing.F) {
	for _, s := range []string{"EMAIL", "c-42", "a<b", "caf\u00e9", "x\"y", "\x7f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !jsonappend.Plain(s) {
			return
		}
		b, err := json.Marshal(s)
		assert.NoError(t, err)
		assert.Equal(t, `"`+s+`"`, string(b))
	})
}
