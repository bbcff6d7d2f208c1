package outbox

// SetAfterPrefetchRead makes r call f between a prefetch's read and its check for late
// commits, so that tests can commit (or mark) exactly there.
func SetAfterPrefetchRead(r *Relay, f func()) { r.afterPrefetchRead = f }
