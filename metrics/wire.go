package metrics

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/jsonappend"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

// decodeWire decodes one tracking event strictly (strictjson's rules: exact member names,
// each at most once, valid UTF-8, one object). The common form, an object of the event's own
// members with plain string values (revenue and cost: objects of an amount and a currency),
// is read without reflection: the worker and /track decode every event, and the strict
// decoder's reflection was a fifth of the worker's CPU. Anything else goes to the strict
// decoder, which accepts or refuses it and words the error. FuzzDecodeWireMatchesStrict holds
// the two to the same result.
func decodeWire(data []byte, w *wireEvent) error {
	if utf8.Valid(data) {
		var f wireEvent
		// One string for the whole event: its fields are substrings of it, not copies.
		if (&wireScanner{b: string(data)}).event(&f) {
			*w = f
			return nil
		}
	}
	return strictjson.Decode(data, w)
}

// wireScanner reads the common form of an event; any step that meets something else reports
// false. It never accepts what the strict decoder refuses, and yields what it would.
type wireScanner struct {
	b string
	i int
}

func (s *wireScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c.
func (s *wireScanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek skips white space and reports whether c comes next, without consuming it.
func (s *wireScanner) peek(c byte) bool {
	s.space()
	return s.i < len(s.b) && s.b[s.i] == c
}

// str reads a string without escapes (an escape or a control character: false).
func (s *wireScanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// number reads a JSON number.
func (s *wireScanner) number() bool {
	s.space()
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// memberSet records the members an object has given, one bit each.
type memberSet uint16

// first records bit and reports whether it is the member's first time: a member given twice
// is left to the strict decoder, which words the error.
func (m *memberSet) first(bit memberSet) bool {
	if *m&bit != 0 {
		return false
	}
	*m |= bit
	return true
}

// members reads an object's members, calling member for each name; member reads the value.
func (s *wireScanner) members(member func(name string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		name, ok := s.str()
		if !ok || !s.next(':') || !member(name) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// event reads the whole input as one event.
func (s *wireScanner) event(w *wireEvent) bool {
	var seen memberSet
	text := func(bit memberSet, dst *string) bool {
		v, ok := s.str()
		if ok && seen.first(bit) {
			*dst = v
			return true
		}
		return false
	}
	ok := s.members(func(name string) bool {
		switch name {
		case "eventId":
			return text(1<<0, &w.EventID)
		case "campaignId":
			return text(1<<1, &w.CampaignID)
		case "type":
			return text(1<<2, (*string)(&w.Type))
		case "occurredAt":
			return text(1<<3, &w.OccurredAt)
		case "variant":
			return text(1<<4, &w.Variant)
		case "channel":
			return text(1<<5, (*string)(&w.Channel))
		case "customerId":
			return text(1<<6, &w.CustomerID)
		case "personalizationRuleId":
			return text(1<<7, &w.PersonalizationRuleID)
		case "revenue":
			return seen.first(1<<8) && s.money(&w.Revenue)
		case "cost":
			return seen.first(1<<9) && s.money(&w.Cost)
		}
		return false // not a member of an event: the strict decoder names it
	})
	s.space()
	return ok && s.i == len(s.b)
}

// money reads {"amount": <string or number>, "currency": <string>}, either member optional.
func (s *wireScanner) money(dst **wireMoney) bool {
	if !s.peek('{') {
		return false // null or another kind of value
	}
	m := &wireMoney{}
	var seen memberSet
	ok := s.members(func(name string) bool {
		switch name {
		case "amount":
			if !seen.first(1 << 0) {
				return false
			}
			s.space()
			start := s.i
			if s.peek('"') {
				if _, ok := s.str(); !ok {
					return false
				}
			} else if !s.number() {
				return false
			}
			m.Amount = json.RawMessage(s.b[start:s.i])
			return true
		case "currency":
			if !seen.first(1 << 1) {
				return false
			}
			v, ok := s.str()
			m.Currency = v
			return ok
		}
		return false
	})
	if ok {
		*dst = m
	}
	return ok
}

// encodeWire is json.Marshal(e), the form an event is published in, written without
// reflection: /track encodes every event it accepts. Strings that JSON escapes (a quote, a
// backslash, a control character, <, >, &, anything not ASCII) go to json.Marshal, as does
// a time json.Marshal refuses. FuzzEncodeWireMatchesMarshal holds the two to the same bytes.
func encodeWire(e *Event) ([]byte, error) {
	if b, ok := appendWire(make([]byte, 0, 256), e); ok {
		return b, nil
	}
	return json.Marshal(e)
}

// appendWire appends e as json.Marshal writes it, or reports false where it leaves that to
// json.Marshal.
func appendWire(b []byte, e *Event) ([]byte, bool) {
	at, err := e.OccurredAt.MarshalJSON()
	if err != nil {
		return nil, false
	}
	b = append(b, `{"eventId":"`...)
	b = jsonappend.UUID(b, e.EventID)
	b = append(b, `","campaignId":"`...)
	b = jsonappend.UUID(b, e.CampaignID)
	b = append(b, `","type":`...)
	ok := true
	b, ok = appendPlain(b, string(e.Type), ok)
	b = append(b, `,"occurredAt":`...)
	b = append(b, at...)
	for _, m := range []struct {
		name, value string
	}{{`,"variant":`, e.Variant}, {`,"channel":`, string(e.Channel)}, {`,"customerId":`, e.CustomerID}} {
		if m.value != "" {
			b = append(b, m.name...)
			b, ok = appendPlain(b, m.value, ok)
		}
	}
	for _, m := range []struct {
		name  string
		money *campaign.Money
	}{{`,"revenue":`, e.Revenue}, {`,"cost":`, e.Cost}} {
		if m.money != nil {
			b = append(b, m.name...)
			b = append(b, `{"amount":"`...)
			b = append(b, m.money.Amount.StringFixed(m.money.Scale())...)
			b = append(b, `","currency":`...)
			b, ok = appendPlain(b, m.money.Currency, ok)
			b = append(b, '}')
		}
	}
	if e.PersonalizationRuleID != "" {
		b = append(b, `,"personalizationRuleId":`...)
		b, ok = appendPlain(b, e.PersonalizationRuleID, ok)
	}
	return append(b, '}'), ok
}

// appendPlain appends s quoted; ok turns false when JSON would escape any of its bytes.
func appendPlain(b []byte, s string, ok bool) ([]byte, bool) {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), ok && jsonappend.Plain(s)
}

// OneEvent reports whether data is one tracking event in its common form (the form the fast
// reader takes: an object of the event's own members), so certainly not a batch of events: a
// /track body that is one needs no other look before its event is checked.
func OneEvent(data []byte) bool {
	var w wireEvent
	return utf8.Valid(data) && (&wireScanner{b: string(data)}).event(&w)
}
