package echoapi

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptedJSON writes what encoding/json writes of the same TrackResponse.
func TestAcceptedJSONIsTheTrackResponse(t *testing.T) {
	for _, n := range []int{1, 2, 1000} {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		want, err := json.Marshal(TrackResponse{Accepted: n, EventIDs: ids, Rejected: []RejectedEvent{}})
		require.NoError(t, err)
		assert.Equal(t, string(want), string(acceptedJSON(ids)))
	}
}
