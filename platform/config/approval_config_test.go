package config_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/config"
)

// approval.thresholds: none by default; a YAML map (keys arrive lower-cased); one environment
// string of CURRENCY=amount pairs that replaces the file's map.
func TestApprovalThresholds(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", noEnv)
	require.NoError(t, err)
	assert.Empty(t, cfg.Approval.Thresholds, "off by default")

	file := writeFile(t, "approval:\n  thresholds:\n    EUR: \"10000.00\"\n    USD: 12000\n")
	cfg, err = config.Load(file, noEnv)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"eur": "10000.00", "usd": "12000"}, cfg.Approval.Thresholds)

	cfg, err = config.Load(file, env(map[string]string{"CAMPAIGNS_APPROVAL_THRESHOLDS": " jpy=500 , GBP=9000.50 "}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"JPY": "500", "GBP": "9000.50"}, cfg.Approval.Thresholds, "the environment replaces the file's map")

	for _, bad := range []string{"EUR", "EUR=", "=10", "EUR=1,eur=2"} {
		_, err := config.Load("", env(map[string]string{"CAMPAIGNS_APPROVAL_THRESHOLDS": bad}))
		var cerr *config.Error
		require.True(t, errors.As(err, &cerr), "%q: want a *config.Error, got %v", bad, err)
		assert.Equal(t, "approval.thresholds", cerr.Key, bad)
	}
}
