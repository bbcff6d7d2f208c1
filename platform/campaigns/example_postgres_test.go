package campaigns_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// Example_postgreSQL needs a PostgreSQL and a NATS server, which a machine with only Go lacks,
// so it carries no Output comment; this runs it against a fresh schema of the test database
// and a NATS server of its own, and checks what it prints.
func TestPostgreSQLExample(t *testing.T) {
	target := dbtest.PostgresTarget(t)
	t.Setenv("DATABASE_URL", target.URL)
	t.Setenv("NATS_URL", natstest.NewServer(t).URL())

	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	func() {
		defer func() { os.Stdout = stdout }()
		Example_postgreSQL()
	}()
	require.NoError(t, w.Close())
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	require.NoError(t, err)
	assert.Equal(t, "201\nunpublished events: 0\n", out.String())
}
