// Package jsonappend holds the pieces shared by the JSON the service writes by hand on its hot
// paths (the outbox's CloudEvents, the tracking events /track publishes): each writes exactly
// what encoding/json writes, and leaves anything off its common path to encoding/json.
package jsonappend

import (
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/google/uuid"
)

// Plain reports whether s is printable ASCII that encoding/json writes as is, between quotes:
// no quote, backslash, control character, HTML character (<, >, &) or byte beyond ASCII.
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// UUID appends id in its canonical form, as id.String() writes it.
func UUID(dst []byte, id uuid.UUID) []byte {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:], id[10:])
	return append(dst, b[:]...)
}

// Money appends {"amount":"<amount>","currency":"<currency>"}, the bytes encoding/json writes
// for a struct of those two string members; text that needs escaping (not Plain) goes through
// encoding/json. Money in the API's answers takes this form; an answer may hold a dozen.
func Money(dst []byte, amount, currency string) []byte {
	if !Plain(amount) || !Plain(currency) {
		b, _ := json.Marshal(struct { // two strings: it cannot fail
			Amount   string `json:"amount"`
			Currency string `json:"currency"`
		}{amount, currency})
		return append(dst, b...)
	}
	dst = slices.Grow(dst, len(`{"amount":"","currency":""}`)+len(amount)+len(currency))
	dst = append(dst, `{"amount":"`...)
	dst = append(dst, amount...)
	dst = append(dst, `","currency":"`...)
	dst = append(dst, currency...)
	return append(dst, `"}`...)
}
