package echoapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func TestParseBulkRequest(t *testing.T) {
	t.Parallel()
	a, b := uuid.NewString(), uuid.NewString()
	ids, reason, err := echoapi.ParseBulkRequest([]byte(fmt.Sprintf(`{"ids":[%q,%q],"reason":"season over"}`, a, b)), true)
	require.NoError(t, err)
	assert.Equal(t, []string{a, b}, []string{ids[0].String(), ids[1].String()})
	assert.Equal(t, "season over", reason)

	upper := strings.ToUpper(a)
	for body, want := range map[string][]string{
		`{"ids":[]}`:                             {"ids"},
		`{}`:                                     {"ids"},
		`{"ids":null}`:                           {"ids"},
		`{"ids":["x"]}`:                          {"ids[0]"},
		fmt.Sprintf(`{"ids":[%q,%q]}`, a, upper): {"ids[1]"}, // the same id, spelled otherwise
	} {
		_, _, err := echoapi.ParseBulkRequest([]byte(body), true)
		var verr *campaign.ValidationError
		require.ErrorAs(t, err, &verr, body)
		var fields []string
		for _, f := range verr.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, want, fields, body)
	}
	many := make([]string, echoapi.MaxBulkIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("%q", uuid.NewString())
	}
	_, _, err = echoapi.ParseBulkRequest([]byte(`{"ids":[`+strings.Join(many, ",")+`]}`), true)
	var verr *campaign.ValidationError
	require.ErrorAs(t, err, &verr)
	_, _, err = echoapi.ParseBulkRequest([]byte(`{"ids":[`+strings.Join(many[1:], ",")+`]}`), true)
	require.NoError(t, err, "exactly the maximum")

	for _, body := range []string{`{"ids":["` + a + `"],"reason":"x"}`, `{"ids":"x"}`, `{"Ids":[]}`, `null`, `[]`, `{"ids":[1]}`} {
		_, _, err := echoapi.ParseBulkRequest([]byte(body), !strings.Contains(body, "reason"))
		var p *httpx.Problem
		require.ErrorAs(t, err, &p, body)
		assert.Equal(t, http.StatusBadRequest, p.Status, body)
	}
}

// FuzzParseBulkRequest: any body gives either ids (1 to MaxBulkIDs, distinct) or a 400
// problem or a validation error, never a panic.
func FuzzParseBulkRequest(f *testing.F) {
	a := uuid.NewString()
	for _, s := range []string{
		`{"ids":["` + a + `"],"reason":"x"}`, `{"ids":[]}`, `{"ids":["` + a + `","` + a + `"]}`,
		`{"ids":[null]}`, `{"ids":["x"],"reason":null}`, `{"ids":[` + strings.Repeat(`"`+a+`",`, 3) + `"y"]}`,
		`{`, `null`, "{\"ids\":[\"\xff\"]}",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, takesReason bool) {
		ids, reason, err := echoapi.ParseBulkRequest(body, takesReason)
		if err != nil {
			var p *httpx.Problem
			var verr *campaign.ValidationError
			if !errors.As(err, &p) && !errors.As(err, &verr) {
				t.Fatalf("%q: an error that is neither a problem nor a validation error: %v", body, err)
			}
			if p != nil && p.Status != http.StatusBadRequest {
				t.Fatalf("%q: status %d", body, p.Status)
			}
			return
		}
		if len(ids) < 1 || len(ids) > echoapi.MaxBulkIDs {
			t.Fatalf("%q: %d ids accepted", body, len(ids))
		}
		seen := map[campaign.ID]bool{}
		for _, id := range ids {
			if seen[id] || id == (campaign.ID{}) && !strings.Contains(string(body), "00000000-0000-0000-0000-000000000000") {
				t.Fatalf("%q: id %s repeated or empty", body, id)
			}
			seen[id] = true
		}
		if !takesReason && reason != "" {
			t.Fatalf("%q: a reason for an action that takes none", body)
		}
	})
}
