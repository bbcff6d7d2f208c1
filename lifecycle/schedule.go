package lifecycle

import (
	"fmt"
	"sync"
	"time"
)

// Window is one delivery window: on each of Days, from Start to End minutes after local
// midnight in Location (End exclusive). A window whose End is not after its Start crosses
// midnight: it opens on a listed day at Start and closes at End on the next day. Times are
// wall-clock times: on a day that skips or repeats an hour (DST), the window follows the
// clock on the wall, so "09:00–17:00" is 8 hours in winter and summer alike.
type Window struct {
	Days     []time.Weekday
	Start    int // minutes after midnight, 0..1439
	End      int // minutes after midnight, 0..1439; End <= Start crosses midnight
	Location *time.Location
}

// Schedule is a campaign's delivery windows, OR-ed: it is open when any window is. An empty
// schedule is always open.
type Schedule []Window

// Open reports whether the schedule is open at now.
func (s Schedule) Open(now time.Time) bool {
	if len(s) == 0 {
		return true
	}
	for _, w := range s {
		if w.open(now) {
			return true
		}
	}
	return false
}

func (w Window) open(now time.Time) bool {
	if w.Location == nil { // a window whose zone could not be loaded is never open
		return false
	}
	local := now.In(w.Location)
	minute := local.Hour()*60 + local.Minute()
	day := local.Weekday()
	if w.Start < w.End {
		return w.on(day) && minute >= w.Start && minute < w.End
	}
	// Crosses midnight: the evening part belongs to a listed day, the morning part to the
	// day after one.
	return (w.on(day) && minute >= w.Start) || (w.on((day+6)%7) && minute < w.End)
}

func (w Window) on(d time.Weekday) bool {
	for _, x := range w.Days {
		if x == d {
			return true
		}
	}
	return false
}

// ParseWeekday reads a day as the API spells it: MON, TUE, WED, THU, FRI, SAT, SUN.
func ParseWeekday(s string) (time.Weekday, error) {
	for i, name := range []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"} {
		if s == name {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("unknown day %q", s)
}

// ParseClock reads a time of day HH:MM (00:00 to 23:59) as minutes after midnight.
func ParseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("time of day %q is not HH:MM", s)
	}
	h, m := digits(s[0:2]), digits(s[3:5])
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("time of day %q is not HH:MM", s)
	}
	return h*60 + m, nil
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// Zones loads IANA time zones once each: time.LoadLocation reads and parses a file on every
// call, too slow for a serving decision. The zero value is ready; it is safe for concurrent use.
type Zones struct {
	mu sync.RWMutex
	m  map[string]*time.Location
}

// Load returns the time zone named name ("Local" is refused: it depends on the machine). On a
// nil *Zones it loads without caching.
func (z *Zones) Load(name string) (*time.Location, error) {
	if z == nil {
		return loadZone(name)
	}
	z.mu.RLock()
	loc, ok := z.m[name]
	z.mu.RUnlock()
	if ok {
		return loc, nil
	}
	loc, err := loadZone(name)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	if z.m == nil {
		z.m = map[string]*time.Location{}
	}
	z.m[name] = loc
	z.mu.Unlock()
	return loc, nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q is not an IANA time zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}
