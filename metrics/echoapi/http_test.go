package echoapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptedJSON writes what c.JSON writes of the same TrackResponse: encoding/json's bytes
// and a newline, which line-based clients (and the README's tour) read the answer by.
func TestAcceptedJSONIsTheTrackResponse(t *testing.T) {
	for _, n := range []int{1, 2, 1000} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		var want strings.Builder
		require.NoError(t, json.NewEncoder(&want).Encode(TrackResponse{Accepted: n, EventIDs: ids, Rejected: []RejectedEvent{}}))
		assert.Equal(t, want.String(), string(acceptedJSON(ids)))
	}
}
