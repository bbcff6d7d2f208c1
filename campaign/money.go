package campaign

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/engine-rules-sp/campaigns/platform/jsonappend"
)

// maxAmount is the largest amount NUMERIC(19,4) holds with room to spare.
var maxAmount = decimal.New(1, 15)

// Money is an exact amount in an ISO 4217 currency.
type Money struct {
	Amount   decimal.Decimal
	Currency string
}

// NewMoney parses an amount and a currency code, checking that the code is ISO 4217 and that
// the amount has no more decimals than the currency's minor unit.
func NewMoney(amount, code string) (Money, error) {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return Money{}, fmt.Errorf("amount %q is not a decimal number", amount)
	}
	m := Money{Amount: d, Currency: code}
	return m, m.check()
}

// MustMoney is NewMoney for literals known to be valid; it panics otherwise.
func MustMoney(amount, code string) Money {
	m, err := NewMoney(amount, code)
	if err != nil {
		panic(err)
	}
	return m
}

// Scale is the number of decimals of the currency's minor unit (2 for EUR, 0 for JPY).
func (m Money) Scale() int32 {
	unit, err := currency.ParseISO(m.Currency)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(unit)
	return int32(scale)
}

// String formats the amount with exactly the currency's minor-unit decimals.
func (m Money) String() string { return m.Amount.StringFixed(m.Scale()) + " " + m.Currency }

// check validates the currency code and the amount's precision and range (sign is the caller's
// business: a budget must be positive, a refund need not be).
func (m Money) check() error {
	unit, err := currency.ParseISO(m.Currency)
	if err != nil || unit.String() != m.Currency {
		return fmt.Errorf("currency %q is not an ISO 4217 code", m.Currency)
	}
	scale, _ := currency.Standard.Rounding(unit)
	if -m.Amount.Exponent() > int32(scale) && !m.Amount.Equal(m.Amount.Round(int32(scale))) {
		return fmt.Errorf("amount has more than %d decimals for %s", scale, m.Currency)
	}
	if m.Amount.Abs().GreaterThanOrEqual(maxAmount) {
		return errors.New("amount is too large")
	}
	return nil
}

// MarshalJSON writes {"amount": "10.00", "currency": "EUR"}: the amount is a string so that no
// JSON reader turns it into a float.
func (m Money) MarshalJSON() ([]byte, error) {
	return jsonappend.Money(nil, m.Amount.StringFixed(m.Scale()), m.Currency), nil
}

// UnmarshalJSON reads the form MarshalJSON writes; the amount may also be a JSON number.
func (m *Money) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // encoding/json convention: null leaves the value unchanged
	}
	var raw struct {
		Amount   json.Number `json:"amount"`
		Currency string      `json:"currency"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d, err := decimal.NewFromString(raw.Amount.String())
	if err != nil {
		return fmt.Errorf("money amount: %w", err)
	}
	*m = Money{Amount: d, Currency: raw.Currency}
	return nil
}
