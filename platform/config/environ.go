package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// OtherVariables are the CAMPAIGNS_* variables that name no setting yet mean something: the
// config file's path, and the prefixes of the tests', benchmarks', load generator's and API
// tour's own variables.
var OtherVariables = []string{EnvPrefix + "_CONFIG", EnvPrefix + "_TEST_*", EnvPrefix + "_BENCH_*",
	EnvPrefix + "_LOADTEST_*", EnvPrefix + "_TOUR_*"}

// EnvName is the environment variable of the setting key ("http.port": CAMPAIGNS_HTTP_PORT).
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Settings lists every setting's key, sorted.
func Settings() []string {
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckEnvironment refuses a CAMPAIGNS_* variable of environ (os.Environ's form, NAME=value)
// that names no setting, as Load refuses an unknown key of the YAML file: a typo such as
// CAMPAIGNS_HTTP_PROT would otherwise be ignored and the default used. The error names the
// nearest setting's variable.
func CheckEnvironment(environ []string) error {
	known := map[string]string{}
	for _, k := range Settings() {
		known[EnvName(k)] = k
	}
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		// Set but empty counts as unset, as in Load: deployment templates render empty values.
		if value == "" || !strings.HasPrefix(name, EnvPrefix+"_") || known[name] != "" || isOtherVariable(name) {
			continue
		}
		unknown = append(unknown, name)
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	name := unknown[0]
	reason := "names no setting"
	if near, dist := nearest(name, known); dist <= max(3, len(name)/5) {
		reason += fmt.Sprintf("; did you mean %s (%s)?", near, known[near])
	} else {
		reason += "; the settings and their variables are in the Configuration table of configs/README.md"
	}
	if len(unknown) > 1 {
		reason += fmt.Sprintf(" (and %d more: %s)", len(unknown)-1, strings.Join(unknown[1:], ", "))
	}
	return &Error{Key: "environment variable " + name, Reason: reason}
}

func isOtherVariable(name string) bool {
	for _, o := range OtherVariables {
		if prefix, ok := strings.CutSuffix(o, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == o {
			return true
		}
	}
	return false
}

// nearest is the known name closest to name by edit distance.
func nearest(name string, known map[string]string) (string, int) {
	best, bestDist := "", -1
	for k := range known {
		if d := editDistance(name, k); bestDist < 0 || d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	return best, bestDist
}

// editDistance is the Levenshtein distance of a and b (ASCII names).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
