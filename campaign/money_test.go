package campaign

import (
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, amount, code string
		wantErr            string // substring; "" means valid
		wantString         string // Money.String when valid
	}{
		{name: "EUR two decimals", amount: "10.10", code: "EUR", wantString: "10.10 EUR"},
		{name: "EUR integer", amount: "10000", code: "EUR", wantString: "10000.00 EUR"},
		{name: "EUR one decimal", amount: "0.5", code: "EUR", wantString: "0.50 EUR"},
		{name: "EUR trailing zeros beyond the minor unit", amount: "10.100", code: "EUR", wantString: "10.10 EUR"},
		{name: "EUR negative is the caller's business", amount: "-3.25", code: "EUR", wantString: "-3.25 EUR"},
		{name: "EUR zero", amount: "0", code: "EUR", wantString: "0.00 EUR"},
		{name: "EUR too many decimals", amount: "10.001", code: "EUR", wantErr: "more than 2 decimals for EUR"},
		{name: "JPY integer", amount: "500", code: "JPY", wantString: "500 JPY"},
		{name: "JPY decimals", amount: "10.5", code: "JPY", wantErr: "more than 0 decimals for JPY"},
		{name: "JPY zero fraction", amount: "10.0", code: "JPY", wantString: "10 JPY"},
		{name: "KWD three decimals", amount: "1.234", code: "KWD", wantString: "1.234 KWD"},
		{name: "KWD four decimals", amount: "1.2345", code: "KWD", wantErr: "more than 3 decimals for KWD"},
		{name: "largest amount", amount: "999999999999999.99", code: "EUR", wantString: "999999999999999.99 EUR"},
		{name: "amount at the limit", amount: "1000000000000000", code: "EUR", wantErr: "too large"},
		{name: "negative amount at the limit", amount: "-1000000000000000", code: "EUR", wantErr: "too large"},
		{name: "amount not a number", amount: "ten", code: "EUR", wantErr: "is not a decimal number"},
		{name: "amount empty", amount: "", code: "EUR", wantErr: "is not a decimal number"},
		{name: "currency lower case", amount: "1", code: "eur", wantErr: "not an ISO 4217 code"},
		{name: "currency unknown", amount: "1", code: "ABC", wantErr: "not an ISO 4217 code"},
		{name: "currency too long", amount: "1", code: "EURO", wantErr: "not an ISO 4217 code"},
		{name: "currency empty", amount: "1", code: "", wantErr: "not an ISO 4217 code"},
		{name: "currency padded", amount: "1", code: " EUR", wantErr: "not an ISO 4217 code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMoney(tt.amount, tt.code)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.code, m.Currency)
			assert.True(t, m.Amount.Equal(decimal.RequireFromString(tt.amount)), "amount %s", m.Amount)
			assert.Equal(t, tt.wantString, m.String())
		})
	}
}

func TestMustMoneyPanicsOnInvalidInput(t *testing.T) {
	t.Parallel()
	assert.NotPanics(t, func() { MustMoney("1.00", "EUR") })
	assert.Panics(t, func() { MustMoney("1.001", "EUR") })
	assert.Panics(t, func() { MustMoney("1", "XYZ") })
}

func TestMoneyScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want int32
	}{
		{"EUR", 2}, {"USD", 2}, {"JPY", 0}, {"KWD", 3}, {"BHD", 3},
		{"", 2}, {"nope", 2}, // unknown codes format with two decimals
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			assert.Equal(t, tt.want, Money{Currency: tt.code}.Scale())
		})
	}
}

func TestMoneyMarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    Money
		want string
	}{
		{"EUR integer gets the minor unit", MustMoney("10000", "EUR"), `{"amount":"10000.00","currency":"EUR"}`},
		{"EUR cents", MustMoney("0.5", "EUR"), `{"amount":"0.50","currency":"EUR"}`},
		{"EUR trailing zero dropped to scale", MustMoney("10.100", "EUR"), `{"amount":"10.10","currency":"EUR"}`},
		{"JPY has no minor unit", MustMoney("500", "JPY"), `{"amount":"500","currency":"JPY"}`},
		{"KWD has three decimals", MustMoney("1.5", "KWD"), `{"amount":"1.500","currency":"KWD"}`},
		{"large amount stays exact", MustMoney("999999999999999.99", "USD"), `{"amount":"999999999999999.99","currency":"USD"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.m)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
			// the amount is a JSON string, never a number
			var raw map[string]any
			require.NoError(t, json.Unmarshal(b, &raw))
			assert.IsType(t, "", raw["amount"])
		})
	}
}

func TestMoneyJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []Money{
		MustMoney("10000.00", "EUR"),
		MustMoney("0.01", "EUR"),
		MustMoney("500", "JPY"),
		MustMoney("1.234", "KWD"),
		MustMoney("123456789012345.67", "USD"),
	} {
		t.Run(m.String(), func(t *testing.T) {
			b, err := json.Marshal(m)
			require.NoError(t, err)
			var got Money
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, m.Currency, got.Currency)
			assert.True(t, m.Amount.Equal(got.Amount), "want %s, got %s", m.Amount, got.Amount)
			assert.Equal(t, m.String(), got.String())
			b2, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(b), string(b2))
		})
	}
}

// A pointer field and a nested value round-trip too (Settings.BudgetLimit).
func TestMoneyJSONRoundTripInSettings(t *testing.T) {
	t.Parallel()
	limit := MustMoney("250.5", "EUR")
	in := Settings{Channels: []Channel{ChannelEmail}, Frequency: FrequencyOnce, BudgetLimit: &limit}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"budgetLimit":{"amount":"250.50","currency":"EUR"}`)
	var out Settings
	require.NoError(t, json.Unmarshal(b, &out))
	require.NotNil(t, out.BudgetLimit)
	assert.True(t, limit.Amount.Equal(out.BudgetLimit.Amount))
	assert.Equal(t, "EUR", out.BudgetLimit.Currency)
}

func TestMoneyUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		amount   string // exact decimal expected
		currency string
		wantErr  string // a substring of the error; "" with wantType "" means valid
		wantType string // the JSON value a *json.UnmarshalTypeError names
	}{
		{name: "string amount", in: `{"amount":"10000.00","currency":"EUR"}`, amount: "10000", currency: "EUR"},
		{name: "number amount", in: `{"amount":10000,"currency":"EUR"}`, amount: "10000", currency: "EUR"},
		{name: "fractional number parsed exactly", in: `{"amount":0.1,"currency":"EUR"}`, amount: "0.1", currency: "EUR"},
		{name: "number beyond float64 precision stays exact", in: `{"amount":12345678901234567.89,"currency":"USD"}`, amount: "12345678901234567.89", currency: "USD"},
		{name: "number with exponent", in: `{"amount":1.5e3,"currency":"JPY"}`, amount: "1500", currency: "JPY"},
		{name: "negative number", in: `{"amount":-2.5,"currency":"EUR"}`, amount: "-2.5", currency: "EUR"},
		{name: "string with exponent", in: `{"amount":"2E2","currency":"EUR"}`, amount: "200", currency: "EUR"},
		{name: "currency is kept as given; validation checks it", in: `{"amount":"1","currency":"eur"}`, amount: "1", currency: "eur"},
		{name: "amount not numeric", in: `{"amount":"ten","currency":"EUR"}`, wantErr: "invalid number literal"},
		{name: "amount missing", in: `{"currency":"EUR"}`, wantErr: "money amount: "},
		{name: "amount empty string", in: `{"amount":"","currency":"EUR"}`, wantErr: "invalid number literal"},
		{name: "amount boolean", in: `{"amount":true,"currency":"EUR"}`, wantType: "bool"},
		{name: "amount object", in: `{"amount":{},"currency":"EUR"}`, wantType: "object"},
		{name: "currency number", in: `{"amount":"1","currency":978}`, wantType: "number"},
		{name: "not an object", in: `"10 EUR"`, wantType: "string"},
		{name: "array", in: `[1,"EUR"]`, wantType: "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Money
			err := json.Unmarshal([]byte(tt.in), &m)
			if tt.wantType != "" {
				var typeErr *json.UnmarshalTypeError
				require.ErrorAs(t, err, &typeErr)
				assert.Equal(t, tt.wantType, typeErr.Value)
				return
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, decimal.RequireFromString(tt.amount).Equal(m.Amount), "want %s, got %s", tt.amount, m.Amount)
			assert.Equal(t, tt.currency, m.Currency)
		})
	}
}

func TestMoneyUnmarshalJSONNullLeavesValue(t *testing.T) {
	t.Parallel()
	m := MustMoney("5", "EUR")
	require.NoError(t, json.Unmarshal([]byte(`null`), &m))
	assert.Equal(t, "5.00 EUR", m.String())
}
