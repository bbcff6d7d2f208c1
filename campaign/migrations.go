package campaign

import (
	"embed"
	"io/fs"

	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations is the campaign schema, one folder per dialect, for migrate.Up.
func Migrations() migrate.Set {
	sub, _ := fs.Sub(migrationFiles, "migrations") // cannot fail: the folder is embedded
	return migrate.Set{Name: "campaign", FS: sub}
}
