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

// Money appends what encoding/json writes for the same two members, whether it writes them by
// hand or, for text that needs escaping, through encoding/json.
func FuzzMoneyIsMarshal(f *testing.F) {
	for _, s := range [][2]string{{"10.00", "EUR"}, {"-0.5", "JPY"}, {"1", ""}, {"1<2", "EUR"}, {"3", "€"}, {"4", `E"R`}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, amount, currency string) {
		got := jsonappend.Money([]byte("x"), amount, currency)
		want, err := json.Marshal(struct {
			Amount   string `json:"amount"`
			Currency string `json:"currency"`
		}{amount, currency})
		assert.NoError(t, err)
		assert.Equal(t, "x"+string(want), string(got))
	})
}
