package metrics

import "slices"

// dealt is the set of partitions dealt to worker self among the live workers ids (sorted):
// the i-th partition of parts goes to the worker at i mod len(ids), so each has
// len(parts)/N partitions, plus or minus one, and every worker computes the same deal from
// the same rows.
func dealt(ids []string, self string, parts []int) map[int]bool {
	i := slices.Index(ids, self)
	out := map[int]bool{}
	if i < 0 {
		return out
	}
	for k := i; k < len(parts); k += len(ids) {
		out[parts[k]] = true
	}
	return out
}
