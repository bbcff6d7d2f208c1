package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/config"
)

// env is a fake environment: tests never read or change the process environment.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

var noEnv = env(nil)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func requireConfigError(t *testing.T, err error, key string) *config.Error {
	t.Helper()
	require.Error(t, err)
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr), "want *config.Error, got %T: %v", err, err)
	assert.Equal(t, key, cerr.Key, "error: %v", err)
	assert.NotEmpty(t, cerr.Reason)
	assert.Contains(t, err.Error(), key)
	return cerr
}

func TestLoadDefaultsWithoutFile(t *testing.T) {
	t.Parallel()
	// The test runs in platform/config, where configs/config.yaml does not exist: the default
	// file is optional and the built-in defaults apply.
	cfg, err := config.Load("", noEnv)
	require.NoError(t, err)

	assert.Equal(t, "./data", cfg.DataDir)
	assert.Equal(t, "127.0.0.1", cfg.HTTP.Host)
	assert.Equal(t, 8080, cfg.HTTP.Port)
	assert.Equal(t, "127.0.0.1:8080", cfg.HTTP.Addr())
	assert.Equal(t, 10*time.Second, cfg.HTTP.ReadTimeout)
	assert.Equal(t, 30*time.Second, cfg.HTTP.WriteTimeout)
	assert.Equal(t, 120*time.Second, cfg.HTTP.IdleTimeout)
	assert.Equal(t, 15*time.Second, cfg.HTTP.RequestTimeout)
	assert.Equal(t, 20*time.Second, cfg.HTTP.ShutdownTimeout)
	assert.Equal(t, int64(1<<20), cfg.HTTP.BodyLimit)
	assert.Equal(t, 64<<10, cfg.HTTP.HeaderLimit)
	assert.Equal(t, config.DriverSQLite, cfg.Database.Driver)
	assert.True(t, cfg.Database.AutoMigrate)
	assert.Equal(t, filepath.Join("data", "campaigns.db"), cfg.Database.SQLitePath)
	assert.Equal(t, "localhost", cfg.Database.Host)
	assert.Equal(t, 5432, cfg.Database.Port)
	assert.Equal(t, "postgres", cfg.Database.User)
	assert.Equal(t, "campaigns_db", cfg.Database.Name)
	assert.Equal(t, "disable", cfg.Database.SSLMode)
	assert.Equal(t, 20, cfg.Database.MaxOpenConns)
	assert.Equal(t, 20, cfg.Database.MaxIdleConns)
	assert.Equal(t, 30*time.Minute, cfg.Database.ConnMaxLifetime)
	assert.Equal(t, 5*time.Minute, cfg.Database.ConnMaxIdleTime)
	assert.True(t, cfg.NATS.Embedded)
	assert.Empty(t, cfg.NATS.URL)
	assert.Equal(t, 1, cfg.NATS.Replicas)
	assert.Empty(t, cfg.RulesEngine.URL)
	assert.Equal(t, 2*time.Second, cfg.RulesEngine.Timeout)
	assert.Equal(t, []string{"PROMOTIONS"}, cfg.RulesEngine.TargetingCategories)
	assert.False(t, cfg.Activation.AllowUntargeted, "a targeting rule is required by default")
	assert.Equal(t, 50.0, cfg.RateLimit.RequestsPerSecond)
	assert.Equal(t, 100, cfg.RateLimit.Burst)
	assert.Equal(t, 2000.0, cfg.RateLimit.Serving.RequestsPerSecond, "serving traffic has its own, larger class")
	assert.Equal(t, 4000, cfg.RateLimit.Serving.Burst)
	assert.True(t, cfg.Worker.Embedded)
	assert.Equal(t, "127.0.0.1:8082", cfg.Worker.Addr(), "not 8081, rules-evaluation's default")
	assert.Equal(t, "info", cfg.Log.Level)
	assert.Equal(t, slog.LevelInfo, cfg.Log.SlogLevel())
	assert.Equal(t, "json", cfg.Log.Format)
	assert.Equal(t, "postgres://postgres@localhost:5432/campaigns_db?sslmode=disable", cfg.Database.PostgresURL())
}

func TestLoadRepositoryConfigFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		check func(t *testing.T, cfg *config.Config)
	}{
		{"../../configs/config.yaml", func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, config.DriverSQLite, cfg.Database.Driver)
			assert.Equal(t, filepath.Join("data", "campaigns.db"), cfg.Database.SQLitePath)
			assert.Equal(t, 8, cfg.Database.MaxOpenConns)
			assert.True(t, cfg.NATS.Embedded)
			assert.True(t, cfg.Worker.Embedded)
			assert.Equal(t, "127.0.0.1:8080", cfg.HTTP.Addr())
			assert.Equal(t, int64(1048576), cfg.HTTP.BodyLimit)
		}},
		{"../../configs/config.production.yaml", func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, "/var/lib/campaigns", cfg.DataDir)
			assert.Equal(t, config.DriverPostgres, cfg.Database.Driver)
			assert.False(t, cfg.Database.AutoMigrate)
			assert.Equal(t, "postgres", cfg.Database.Host)
			assert.Equal(t, "campaigns", cfg.Database.User)
			assert.Equal(t, "require", cfg.Database.SSLMode)
			assert.Equal(t, 40, cfg.Database.MaxOpenConns)
			assert.False(t, cfg.NATS.Embedded)
			assert.Equal(t, "nats://nats:4222", cfg.NATS.URL)
			assert.Equal(t, 3, cfg.NATS.Replicas, "production runs on a NATS cluster")
			assert.Equal(t, "http://rules-management-service:8080", cfg.RulesEngine.URL)
			assert.Equal(t, "http://rules-evaluation-service:8081", cfg.RulesEngine.EvaluationURL,
				"rules-evaluation listens on 8081")
			assert.Equal(t, []string{"PROMOTIONS"}, cfg.RulesEngine.TargetingCategories)
			assert.False(t, cfg.Activation.AllowUntargeted)
			assert.Equal(t, 2000.0, cfg.RateLimit.Serving.RequestsPerSecond)
			assert.Equal(t, 4000, cfg.RateLimit.Serving.Burst)
			assert.False(t, cfg.Worker.Embedded)
			assert.Equal(t, "0.0.0.0:8080", cfg.HTTP.Addr())
			assert.Equal(t, 10*time.Second, cfg.HTTP.RequestTimeout)
			assert.Equal(t, 25*time.Second, cfg.HTTP.ShutdownTimeout)
			assert.Equal(t, "postgres://campaigns@postgres:5432/campaigns_db?sslmode=require", cfg.Database.PostgresURL())
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			cfg, err := config.Load(tt.file, noEnv)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
		t.Run(filepath.Base(tt.file)+" via CAMPAIGNS_CONFIG", func(t *testing.T) {
			cfg, err := config.Load("", env(map[string]string{"CAMPAIGNS_CONFIG": tt.file}))
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestLoadFlagWinsOverConfigEnv(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../configs/config.production.yaml",
		env(map[string]string{"CAMPAIGNS_CONFIG": "../../configs/config.yaml"}))
	require.NoError(t, err)
	assert.Equal(t, config.DriverPostgres, cfg.Database.Driver)
}

func TestLoadEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, cfg *config.Config)
	}{
		{"CAMPAIGNS_HTTP_PORT", map[string]string{"CAMPAIGNS_HTTP_PORT": "9090"}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, 9090, cfg.HTTP.Port)
		}},
		{"CAMPAIGNS_ durations and bools", map[string]string{
			"CAMPAIGNS_HTTP_REQUEST_TIMEOUT": "3s", "CAMPAIGNS_NATS_EMBEDDED": "false",
			"CAMPAIGNS_NATS_URL": "nats://broker:4222", "CAMPAIGNS_DATABASE_DRIVER": "postgres",
			"CAMPAIGNS_LOG_LEVEL": "debug",
		}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, 3*time.Second, cfg.HTTP.RequestTimeout)
			assert.False(t, cfg.NATS.Embedded)
			assert.Equal(t, "nats://broker:4222", cfg.NATS.URL)
			assert.Equal(t, config.DriverPostgres, cfg.Database.Driver)
			assert.Equal(t, slog.LevelDebug, cfg.Log.SlogLevel())
		}},
		{"legacy variables", map[string]string{
			"PORT": "7070", "DB_HOST": "db.internal", "DB_PORT": "6543", "DB_USER": "svc",
			"DB_PASSWORD": "pw", "DB_NAME": "camp", "DB_SSLMODE": "verify-full",
			"NATS_URL": "nats://n1:4222", "NATS_USERNAME": "nu", "NATS_PASSWORD": "np", "NATS_TOKEN": "nt",
			"RULES_SERVICE_URL": "http://rules:8080", "RULES_EVALUATION_URL": "http://eval:8081",
		}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, 7070, cfg.HTTP.Port)
			assert.Equal(t, "db.internal", cfg.Database.Host)
			assert.Equal(t, 6543, cfg.Database.Port)
			assert.Equal(t, "svc", cfg.Database.User)
			assert.Equal(t, "pw", cfg.Database.Password)
			assert.Equal(t, "camp", cfg.Database.Name)
			assert.Equal(t, "verify-full", cfg.Database.SSLMode)
			assert.Equal(t, "nats://n1:4222", cfg.NATS.URL)
			assert.Equal(t, "nu", cfg.NATS.Username)
			assert.Equal(t, "np", cfg.NATS.Password)
			assert.Equal(t, "nt", cfg.NATS.Token)
			assert.Equal(t, "http://rules:8080", cfg.RulesEngine.URL)
			assert.Equal(t, "http://eval:8081", cfg.RulesEngine.EvaluationURL)
			assert.Equal(t, "postgres://svc:pw@db.internal:6543/camp?sslmode=verify-full", cfg.Database.PostgresURL())
		}},
		{"CAMPAIGNS_ form wins over legacy", map[string]string{
			"PORT": "7070", "CAMPAIGNS_HTTP_PORT": "9090",
			"DB_HOST": "legacy-host", "CAMPAIGNS_DATABASE_HOST": "new-host",
			"NATS_TOKEN": "legacy-token", "CAMPAIGNS_NATS_TOKEN": "new-token",
		}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, 9090, cfg.HTTP.Port)
			assert.Equal(t, "new-host", cfg.Database.Host)
			assert.Equal(t, "new-token", cfg.NATS.Token)
		}},
		{"CAMPAIGNS_DATA_DIR moves the default sqlite path", map[string]string{"CAMPAIGNS_DATA_DIR": "/srv/campaigns"}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, "/srv/campaigns", cfg.DataDir)
			assert.Equal(t, filepath.Join("/srv/campaigns", "campaigns.db"), cfg.Database.SQLitePath)
		}},
		{"explicit sqlite path is kept", map[string]string{
			"CAMPAIGNS_DATA_DIR": "/srv/campaigns", "CAMPAIGNS_DATABASE_SQLITE_PATH": "/tmp/other.db",
		}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, "/tmp/other.db", cfg.Database.SQLitePath)
		}},
		{"unrelated variables are ignored", map[string]string{"HOME": "/root", "CAMPAIGNS_UNKNOWN": "x"}, func(t *testing.T, cfg *config.Config) {
			assert.Equal(t, 8080, cfg.HTTP.Port)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("", env(tt.env))
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

// nats.replicas is the copies a JetStream cluster keeps of each stream: 1 by default, 1 to 5,
// and 1 with the embedded server, which runs alone.
func TestNATSReplicas(t *testing.T) {
	t.Parallel()
	external := map[string]string{"CAMPAIGNS_NATS_URL": "nats://n1:4222,nats://n2:4222,nats://n3:4222"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range external {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cfg, err := config.Load("", env(with(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "3"})))
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.NATS.Replicas)
	cfg, err = config.Load(writeFile(t, "nats:\n  url: nats://nats:4222\n  replicas: 5\n"), noEnv)
	require.NoError(t, err)
	assert.Equal(t, 5, cfg.NATS.Replicas)
	cfg, err = config.Load("../../configs/config.production.yaml", env(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "1"}))
	require.NoError(t, err)
	assert.Equal(t, 1, cfg.NATS.Replicas, "the environment brings a production file down to one NATS server")

	for name, e := range map[string]map[string]string{
		"zero":                 with(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "0"}),
		"six":                  with(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "6"}),
		"negative":             with(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "-1"}),
		"not a number":         with(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "three"}),
		"the embedded server":  {"CAMPAIGNS_NATS_REPLICAS": "3"},
		"embedded, explicitly": {"CAMPAIGNS_NATS_REPLICAS": "2", "CAMPAIGNS_NATS_EMBEDDED": "true"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load("", env(e))
			assert.Nil(t, cfg)
			requireConfigError(t, err, "nats.replicas")
		})
	}
	_, err = config.Load("", env(map[string]string{"CAMPAIGNS_NATS_REPLICAS": "3"}))
	assert.ErrorContains(t, err, "embedded NATS server", "the error says why")
}

func TestLoadEnvironmentOverridesFile(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../../configs/config.production.yaml", env(map[string]string{
		"CAMPAIGNS_HTTP_PORT": "9999", "DB_HOST": "pg.example", "CAMPAIGNS_DATA_DIR": "/data",
	}))
	require.NoError(t, err)
	assert.Equal(t, 9999, cfg.HTTP.Port)
	assert.Equal(t, "pg.example", cfg.Database.Host)
	assert.Equal(t, "/data", cfg.DataDir)
	assert.Equal(t, filepath.Join("/data", "campaigns.db"), cfg.Database.SQLitePath)
}

func TestLoadFileValues(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "data_dir: /opt/c\nhttp:\n  port: 1234\n  request_timeout: 1m30s\nlog:\n  level: warn\n  format: text\n")
	cfg, err := config.Load(p, noEnv)
	require.NoError(t, err)
	assert.Equal(t, 1234, cfg.HTTP.Port)
	assert.Equal(t, 90*time.Second, cfg.HTTP.RequestTimeout)
	assert.Equal(t, slog.LevelWarn, cfg.Log.SlogLevel())
	assert.Equal(t, "text", cfg.Log.Format)
	assert.Equal(t, filepath.Join("/opt/c", "campaigns.db"), cfg.Database.SQLitePath)
	// keys the file leaves out keep their defaults
	assert.Equal(t, 30*time.Second, cfg.HTTP.WriteTimeout)
}

func TestEmptyEnvironmentValuesCountAsUnset(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{"PORT": "", "CAMPAIGNS_DATA_DIR": "", "DB_HOST": ""}))
	require.NoError(t, err)
	assert.Equal(t, 8080, cfg.HTTP.Port)
	assert.Equal(t, "./data", cfg.DataDir)
	assert.Equal(t, "localhost", cfg.Database.Host)
}

// An empty variable cannot clear the URL a file sets, so the Rules Engine has its own switch.
func TestRulesEngineSwitch(t *testing.T) {
	t.Parallel()
	const prod = "../../configs/config.production.yaml"
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		enabled bool
		url     string
		evalURL string
	}{
		{"default: on, but no URL", "", nil, true, "", ""},
		{"production file names it", prod, nil, true, "http://rules-management-service:8080", "http://rules-evaluation-service:8081"},
		{"empty variables do not clear the file's URLs", prod,
			map[string]string{"RULES_SERVICE_URL": "", "CAMPAIGNS_RULES_ENGINE_URL": "", "RULES_EVALUATION_URL": ""},
			true, "http://rules-management-service:8080", "http://rules-evaluation-service:8081"},
		{"switched off from the environment", prod, map[string]string{"CAMPAIGNS_RULES_ENGINE_ENABLED": "false"}, false, "", ""},
		{"off wins over URLs from the environment", "",
			map[string]string{"CAMPAIGNS_RULES_ENGINE_ENABLED": "0", "RULES_SERVICE_URL": "http://rules:8080", "RULES_EVALUATION_URL": "http://eval:8081"},
			false, "", ""},
		{"off: an invalid URL is not judged", "",
			map[string]string{"CAMPAIGNS_RULES_ENGINE_ENABLED": "false", "RULES_SERVICE_URL": "ftp://rules"}, false, "", ""},
		{"switched on explicitly", "", map[string]string{"CAMPAIGNS_RULES_ENGINE_ENABLED": "true", "RULES_SERVICE_URL": "http://rules:8080"},
			true, "http://rules:8080", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.file, env(tt.env))
			require.NoError(t, err)
			assert.Equal(t, tt.enabled, cfg.RulesEngine.Enabled)
			assert.Equal(t, tt.url, cfg.RulesEngine.URL)
			assert.Equal(t, tt.evalURL, cfg.RulesEngine.EvaluationURL)
		})
	}
	t.Run("from the file", func(t *testing.T) {
		cfg, err := config.Load(writeFile(t, "rules_engine:\n  enabled: false\n  url: http://rules:8080\n"), noEnv)
		require.NoError(t, err)
		assert.False(t, cfg.RulesEngine.Enabled)
		assert.Empty(t, cfg.RulesEngine.URL)
	})
	t.Run("not a boolean", func(t *testing.T) {
		_, err := config.Load("", env(map[string]string{"CAMPAIGNS_RULES_ENGINE_ENABLED": "nope"}))
		requireConfigError(t, err, "rules_engine.enabled")
	})
}

func TestLoadInvalidEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		key  string
	}{
		{"port not a number", map[string]string{"CAMPAIGNS_HTTP_PORT": "abc"}, "http.port"},
		{"legacy port not a number", map[string]string{"PORT": "abc"}, "http.port"},
		{"port zero", map[string]string{"CAMPAIGNS_HTTP_PORT": "0"}, "http.port"},
		{"port too large", map[string]string{"CAMPAIGNS_HTTP_PORT": "65536"}, "http.port"},
		{"port negative", map[string]string{"PORT": "-1"}, "http.port"},
		{"bad duration", map[string]string{"CAMPAIGNS_HTTP_READ_TIMEOUT": "soon"}, "http.read_timeout"},
		{"duration without unit", map[string]string{"CAMPAIGNS_HTTP_WRITE_TIMEOUT": "30"}, "http.write_timeout"},
		{"zero duration", map[string]string{"CAMPAIGNS_HTTP_REQUEST_TIMEOUT": "0s"}, "http.request_timeout"},
		{"negative duration", map[string]string{"CAMPAIGNS_DATABASE_CONN_MAX_LIFETIME": "-1m"}, "database.conn_max_lifetime"},
		{"unknown driver", map[string]string{"CAMPAIGNS_DATABASE_DRIVER": "mysql"}, "database.driver"},
		{"bad bool", map[string]string{"CAMPAIGNS_NATS_EMBEDDED": "maybe"}, "nats.embedded"},
		{"nats without url or embedded server", map[string]string{"CAMPAIGNS_NATS_EMBEDDED": "false"}, "nats.url"},
		{"body limit too small", map[string]string{"CAMPAIGNS_HTTP_BODY_LIMIT": "100"}, "http.body_limit"},
		{"body limit not a number", map[string]string{"CAMPAIGNS_HTTP_BODY_LIMIT": "1MB"}, "http.body_limit"},
		{"no connections", map[string]string{"CAMPAIGNS_DATABASE_MAX_OPEN_CONNS": "0"}, "database.max_open_conns"},
		{"legacy db port", map[string]string{"DB_PORT": "99999"}, "database.port"},
		{"rules url not http", map[string]string{"RULES_SERVICE_URL": "ftp://rules"}, "rules_engine.url"},
		{"rules url without host", map[string]string{"RULES_SERVICE_URL": "http://"}, "rules_engine.url"},
		{"evaluation url", map[string]string{"RULES_EVALUATION_URL": "not a url"}, "rules_engine.evaluation_url"},
		{"log level", map[string]string{"CAMPAIGNS_LOG_LEVEL": "verbose"}, "log.level"},
		{"log format", map[string]string{"CAMPAIGNS_LOG_FORMAT": "xml"}, "log.format"},
		{"worker port", map[string]string{"CAMPAIGNS_WORKER_PORT": "x"}, "worker.port"},
		{"event amount not a number", map[string]string{"CAMPAIGNS_METRICS_MAX_EVENT_AMOUNT": "lots"}, "metrics.max_event_amount"},
		{"event amount zero", map[string]string{"CAMPAIGNS_METRICS_MAX_EVENT_AMOUNT": "0"}, "metrics.max_event_amount"},
		{"event amount negative", map[string]string{"CAMPAIGNS_METRICS_MAX_EVENT_AMOUNT": "-5"}, "metrics.max_event_amount"},
		{"event amount beyond the totals", map[string]string{"CAMPAIGNS_METRICS_MAX_EVENT_AMOUNT": "100000000000000.01"}, "metrics.max_event_amount"},
		{"no targeting category", map[string]string{"CAMPAIGNS_RULES_ENGINE_TARGETING_CATEGORIES": " , "}, "rules_engine.targeting_categories"},
		{"untargeted switch not a bool", map[string]string{"CAMPAIGNS_ACTIVATION_ALLOW_UNTARGETED": "sometimes"}, "activation.allow_untargeted"},
		{"serving rate zero", map[string]string{"CAMPAIGNS_RATE_LIMIT_SERVING_REQUESTS_PER_SECOND": "0"}, "rate_limit.serving.requests_per_second"},
		{"serving burst zero", map[string]string{"CAMPAIGNS_RATE_LIMIT_SERVING_BURST": "0"}, "rate_limit.serving.burst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("", env(tt.env))
			assert.Nil(t, cfg)
			requireConfigError(t, err, tt.key)
		})
	}
}

// The largest amount of one tracking event is an exact decimal, from the environment or from
// a YAML string or integer.
func TestMaxEventAmount(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", noEnv)
	require.NoError(t, err)
	assert.Equal(t, "1000000000", cfg.Metrics.MaxEventAmount.String())
	cfg, err = config.Load("", env(map[string]string{"CAMPAIGNS_METRICS_MAX_EVENT_AMOUNT": "2500000.75"}))
	require.NoError(t, err)
	assert.Equal(t, "2500000.75", cfg.Metrics.MaxEventAmount.String())
	for _, yaml := range []string{"metrics:\n  max_event_amount: 5000\n", "metrics:\n  max_event_amount: \"5000\"\n"} {
		cfg, err = config.Load(writeFile(t, yaml), noEnv)
		require.NoError(t, err, yaml)
		assert.Equal(t, "5000", cfg.Metrics.MaxEventAmount.String(), yaml)
	}
}

func TestLoadInvalidFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		key     string
	}{
		{"unknown top-level key", "colour: blue\n", "colour"},
		{"unknown nested key", "http:\n  prot: 8080\n", "http.prot"},
		{"unknown deeply placed key", "database:\n  pool:\n    size: 3\n", "database.pool"},
		{"port not a number", "http:\n  port: abc\n", "http.port"},
		{"port a list", "http:\n  port: [1]\n", "http.port"},
		{"section not a map", "http: 3\n", "http"},
		{"bad duration", "http:\n  idle_timeout: forever\n", "http.idle_timeout"},
		// A bare number is not a duration: 5 would silently mean 5ns.
		{"duration without unit", "http:\n  read_timeout: 5\n", "http.read_timeout"},
		{"unknown driver", "database:\n  driver: oracle\n", "database.driver"},
		{"database port zero", "database:\n  port: 0\n", "database.port"},
		{"event amount a list", "metrics:\n  max_event_amount: [1]\n", "metrics.max_event_amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(writeFile(t, tt.content), noEnv)
			assert.Nil(t, cfg)
			requireConfigError(t, err, tt.key)
		})
	}
}

func TestLoadBrokenYAML(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "http:\n  port: [unclosed\n")
	_, err := config.Load(p, noEnv)
	cerr := requireConfigError(t, err, "file "+p)
	assert.NotEmpty(t, cerr.Reason)
}

func TestLoadMissingExplicitFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	t.Run("flag", func(t *testing.T) {
		_, err := config.Load(missing, noEnv)
		requireConfigError(t, err, "file "+missing)
	})
	t.Run("CAMPAIGNS_CONFIG", func(t *testing.T) {
		_, err := config.Load("", env(map[string]string{"CAMPAIGNS_CONFIG": missing}))
		requireConfigError(t, err, "file "+missing)
	})
}

const secret = "Sup3r-S3cret-Value-42"

func logConfig(t *testing.T, cfg *config.Config) string {
	t.Helper()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config loaded", slog.Any("config", cfg))
	logger.Info("config loaded by value", slog.Any("config", *cfg))
	require.True(t, json.Valid(bytes.TrimSpace(bytes.Split(buf.Bytes(), []byte("\n"))[0])), buf.String())
	return buf.String()
}

func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"sqlite with every secret set", map[string]string{
			"DB_PASSWORD": secret, "NATS_PASSWORD": secret, "NATS_TOKEN": secret,
			"CAMPAIGNS_RULES_ENGINE_TOKEN": secret,
		}},
		{"postgres from parts", map[string]string{
			"CAMPAIGNS_DATABASE_DRIVER": "postgres", "DB_PASSWORD": secret, "NATS_TOKEN": secret,
		}},
		{"postgres url with password", map[string]string{
			"CAMPAIGNS_DATABASE_DRIVER": "postgres",
			"CAMPAIGNS_DATABASE_URL":    "postgres://svc:" + secret + "@db:5432/campaigns?sslmode=require",
		}},
		{"postgres url with password parameter", map[string]string{
			"CAMPAIGNS_DATABASE_DRIVER": "postgres",
			"CAMPAIGNS_DATABASE_URL":    "postgres://svc@db:5432/campaigns?password=" + secret,
		}},
		{"postgres keyword/value DSN", map[string]string{
			"CAMPAIGNS_DATABASE_DRIVER": "postgres",
			"CAMPAIGNS_DATABASE_URL":    "host=db user=svc password=" + secret + " dbname=campaigns",
		}},
		{"nats url with credentials", map[string]string{
			"NATS_URL": "nats://user:" + secret + "@nats-1:4222", "CAMPAIGNS_NATS_EMBEDDED": "false",
		}},
		{"nats cluster urls with credentials", map[string]string{
			"NATS_URL":                "nats://user:" + secret + "@nats-1:4222,nats://user:" + secret + "@nats-2:4222",
			"CAMPAIGNS_NATS_EMBEDDED": "false",
		}},
		{"rules url with credentials", map[string]string{
			"RULES_SERVICE_URL": "http://svc:" + secret + "@rules:8080",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("", env(tt.env))
			require.NoError(t, err)
			out := logConfig(t, cfg)
			assert.NotContains(t, out, secret)
			assert.Contains(t, out, `"config":{`, "the config is logged as a group")
		})
	}
}

func TestLogValueShowsWhatIsSafe(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{
		"CAMPAIGNS_DATABASE_DRIVER": "postgres", "DB_HOST": "pg.internal", "DB_PASSWORD": secret,
		"NATS_TOKEN": secret, "NATS_URL": "nats://nats-1:4222",
	}))
	require.NoError(t, err)
	out := logConfig(t, cfg)
	assert.NotContains(t, out, secret)
	assert.Contains(t, out, "pg.internal", "the database host is useful in logs")
	assert.Contains(t, out, "nats://nats-1:4222")
	assert.Contains(t, out, `"nats.token":"[redacted]"`, "a set secret shows as redacted")
	assert.Contains(t, out, `"nats.password":""`, "an unset secret shows as empty")
}

// Both Rules Engine URLs appear in the start-up log: the evaluation URL defaults to the
// management one, and a wrong port shows at a glance.
func TestLogValueShowsBothRulesEngineURLs(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{
		"RULES_SERVICE_URL": "http://rules:8080", "RULES_EVALUATION_URL": "http://eval:" + secret + "@evaluation:8081",
	}))
	require.NoError(t, err)
	out := logConfig(t, cfg)
	assert.Contains(t, out, `"rules_engine.url":"http://rules:8080"`)
	assert.Contains(t, out, `"rules_engine.evaluation_url":"http://eval:xxxxx@evaluation:8081"`)
	assert.NotContains(t, out, secret)

	cfg, err = config.Load("", env(map[string]string{"RULES_SERVICE_URL": "http://rules:8080"}))
	require.NoError(t, err)
	assert.Contains(t, logConfig(t, cfg), `"rules_engine.evaluation_url":"http://rules:8080"`, "the URL the client uses")
}

func TestActivationAndServingSettings(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{
		"CAMPAIGNS_ACTIVATION_ALLOW_UNTARGETED":            "true",
		"CAMPAIGNS_RULES_ENGINE_TARGETING_CATEGORIES":      "PROMOTIONS, LOYALTY",
		"CAMPAIGNS_RATE_LIMIT_SERVING_REQUESTS_PER_SECOND": "500",
		"CAMPAIGNS_RATE_LIMIT_SERVING_BURST":               "50",
	}))
	require.NoError(t, err)
	assert.True(t, cfg.Activation.AllowUntargeted)
	assert.Equal(t, []string{"PROMOTIONS", "LOYALTY"}, cfg.RulesEngine.TargetingCategories)
	assert.Equal(t, 500.0, cfg.RateLimit.Serving.RequestsPerSecond)
	assert.Equal(t, 50, cfg.RateLimit.Serving.Burst)

	cfg, err = config.Load(writeFile(t, "activation:\n  allow_untargeted: true\nrate_limit:\n  serving:\n    burst: 7\n"), noEnv)
	require.NoError(t, err)
	assert.True(t, cfg.Activation.AllowUntargeted)
	assert.Equal(t, 7, cfg.RateLimit.Serving.Burst)
	assert.Equal(t, 2000.0, cfg.RateLimit.Serving.RequestsPerSecond, "the other key keeps its default")
}
