package app

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
)

// OpenDatabase connects to the database the configuration names (PostgreSQL through pgx, or
// the SQLite file), applies its pool settings and checks it answers.
func OpenDatabase(ctx context.Context, cfg config.Database) (*bun.DB, error) {
	switch cfg.Driver {
	case config.DriverPostgres:
		return database.OpenPostgres(ctx, cfg.PostgresURL(), PoolOf(cfg))
	case config.DriverSQLite:
		return sqlite.Open(ctx, cfg.SQLitePath, PoolOf(cfg))
	default:
		return nil, fmt.Errorf("database: unknown driver %q", cfg.Driver)
	}
}

// PoolOf is the pool the configuration asks for.
func PoolOf(cfg config.Database) database.Pool {
	return database.Pool{
		MaxOpenConns: cfg.MaxOpenConns, MaxIdleConns: cfg.MaxIdleConns,
		ConnMaxLifetime: cfg.ConnMaxLifetime, ConnMaxIdleTime: cfg.ConnMaxIdleTime,
	}
}
