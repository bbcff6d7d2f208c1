package strictjson_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

type event struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// errJudged is what a field's own UnmarshalJSON says.
var errJudged = errors.New("judged")

type judged struct{}

func (*judged) UnmarshalJSON([]byte) error { return errJudged }

// Each failure says why in Detail and names the field when there is one; the error of a
// field's own UnmarshalJSON stays reachable.
func TestDecodeNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		body, detail string
		fields       []strictjson.FieldError
	}{
		{"  ", "the request body is empty; send a JSON object", nil},
		{"null", "the request body must be a JSON object, not null", nil},
		{"{\"type\":\"\xff\"}", "the request body is not valid UTF-8 (at byte 9)", nil},
		{`{"type":"A","Type":"B"}`, "the request body has a field this endpoint does not accept (names match exactly, case included)",
			[]strictjson.FieldError{{Field: "Type", Message: "unknown field"}}},
		{`{"type":"A","type":"B"}`, "the request body gives a field twice", []strictjson.FieldError{{Field: "type", Message: "appears more than once"}}},
		{`{"count":"1"}`, "a field has the wrong JSON type", []strictjson.FieldError{{Field: "count", Message: "must be an integer"}}},
		{`{"type":"A"} {}`, "the request body holds data after the JSON value", nil},
		{`{"type":`, "the request body is truncated JSON", nil},
		{`[1]`, "the request body must be an object", nil},
	} {
		var dst event
		err := strictjson.Decode([]byte(tt.body), &dst)
		var e *strictjson.Error
		require.True(t, errors.As(err, &e), "%q: %v", tt.body, err)
		assert.Equal(t, tt.detail, e.Detail, tt.body)
		assert.Equal(t, tt.fields, e.Fields, tt.body)
	}

	var dst struct {
		J judged `json:"j"`
	}
	err := strictjson.Decode([]byte(`{"j":1}`), &dst)
	assert.ErrorIs(t, err, errJudged)
	var e *strictjson.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, []strictjson.FieldError{{Field: "j", Message: "is not a valid value"}}, e.Fields)

	var ok event
	require.NoError(t, strictjson.Decode([]byte(`{"type":"A","count":2}`), &ok))
	assert.Equal(t, event{Type: "A", Count: 2}, ok)
}
