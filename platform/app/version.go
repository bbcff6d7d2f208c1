package app

import (
	"fmt"
	"runtime/debug"
)

// Version describes the running binary from the build information Go embeds: the module's
// version ("(devel)" for a build from a checkout), the VCS revision and time, "+dirty" when the
// work tree had changes, and the Go version. name is the command's name.
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " (no build information)"
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := fmt.Sprintf("%s %s", name, bi.Main.Version)
	if rev != "" {
		if dirty {
			rev += "+dirty"
		}
		out += fmt.Sprintf(" (revision %s, %s)", rev, at)
	}
	return out + " " + bi.GoVersion
}
