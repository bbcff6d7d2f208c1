package natsx_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/engine-rules-sp/campaigns/platform/natsx"
)

// Connect needs a server to go to: a URL or an in-process one.
func TestConnectWithoutServer(t *testing.T) {
	t.Parallel()
	_, err := natsx.Connect(context.Background(), natsx.Config{})
	assert.ErrorContains(t, err, "no server")
}
