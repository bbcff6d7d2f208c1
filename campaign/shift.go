package campaign

import (
	"errors"
	"regexp"
	"strconv"
	"time"
)

// MaxShift bounds a duplicate's date shift either way: about a hundred years.
const MaxShift = 36_600 * 24 * time.Hour

// shiftPattern is the ISO 8601 duration subset ParseShift reads: weeks alone, or days and/or
// hours, minutes, seconds, each a whole number, with an optional leading minus.
var shiftPattern = regexp.MustCompile(`^(-)?P(?:([0-9]{1,9})W|([0-9]{1,9})D)?(?:T(?:([0-9]{1,9})H)?(?:([0-9]{1,9})M)?(?:([0-9]{1,9})S)?)?$`)

var errShiftTooLong = errors.New("must be at most 36600 days either way")

// ErrBadShift: a shift is not a duration ParseShift reads.
var ErrBadShift = errors.New("must be an ISO 8601 duration of weeks, days, hours, minutes and seconds, such as P7D, PT36H or -P1W")

// ParseShift reads the date shift of a duplicate: an ISO 8601 duration of whole weeks (P2W),
// or of days, hours, minutes and seconds (P1DT12H, PT90M), optionally negative (-P7D), at most
// MaxShift either way. A day is 24 hours: dates are UTC. Years and months are refused (their
// length varies), as are fractions, lower-case designators, and a designator without a time
// part after T. P0D is a zero shift.
func ParseShift(s string) (time.Duration, error) {
	m := shiftPattern.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "-P" || m[0][len(m[0])-1] == 'T' {
		return 0, ErrBadShift
	}
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var total time.Duration
	for i, unit := range units {
		if m[i+2] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+2], 10, 64) // at most 9 digits: cannot fail
		if err != nil {
			return 0, ErrBadShift
		}
		// Checked before multiplying: 999999999 weeks would overflow a Duration.
		if n > int64(MaxShift/unit) || total+time.Duration(n)*unit > MaxShift {
			return 0, errShiftTooLong
		}
		total += time.Duration(n) * unit
	}
	if m[1] == "-" {
		total = -total
	}
	return total, nil
}
