package outbox

// SetAfterPrefetchRead makes r call f between a prefetch's read and its check for late
// commits, so that tests can commit (or mark) exactly there.
func SetAfterPrefetchRead(r *Relay, f func()) { r.afterPrefetchRead = f }

// SetAfterRead makes r call f between reading a batch and checking its lease before publishing
// it, so that tests can pause a leader exactly there.
func SetAfterRead(r *Relay, f func()) { r.afterRead = f }

// SetBeforeMark makes r call f before it marks a published batch (in the mark's goroutine).
func SetBeforeMark(r *Relay, f func()) { r.beforeMark = f }
