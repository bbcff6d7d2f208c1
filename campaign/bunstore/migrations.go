package bunstore

import (
	"embed"

	history "github.com/engine-rules-sp/campaigns/lifecycle/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

//go:embed migrations
var migrationFiles embed.FS

// Schema is every migration set the campaign module needs, in order: its own tables, the
// status history it writes and the event store it appends to. Apply it with migrate.Up.
func Schema() []migrate.Set {
	return []migrate.Set{Migrations(), history.Migrations(), outbox.Migrations()}
}

// Migrations is the campaign tables alone, one folder per dialect.
func Migrations() migrate.Set {
	return migrate.Embedded("campaign", migrationFiles)
}
