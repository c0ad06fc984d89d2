package messages

import (
	"fmt"
	"time"
	_ "time/tzdata" // game dates are US Eastern; production images may lack a zoneinfo database
)

// DateLayout is the only date form in messages, ledgers and object names.
const DateLayout = "2006-01-02"

// Eastern is the time zone that defines an NBA game date.
var Eastern = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is embedded, so this cannot happen
	}
	return loc
}

// ParseDate accepts exactly a real calendar date in YYYY-MM-DD form: "TODAY", "2024-2-3"
// and "2024-02-30" are errors wrapping ErrBadDate.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return time.Time{}, fmt.Errorf("%w %q: want a real calendar date as YYYY-MM-DD, e.g. 2024-10-22", ErrBadDate, s)
	}
	return t, nil
}

// DateRange expands start..end inclusive. It fails if either date is malformed or end is
// before start.
func DateRange(start, end string) ([]string, error) {
	s, err := ParseDate(start)
	if err != nil {
		return nil, fmt.Errorf("start date: %w", err)
	}
	e, err := ParseDate(end)
	if err != nil {
		return nil, fmt.Errorf("end date: %w", err)
	}
	if e.Before(s) {
		return nil, fmt.Errorf("%w: end date %s is before start date %s", ErrBadDate, end, start)
	}
	var out []string
	for d := s; !d.After(e); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(DateLayout))
	}
	return out, nil
}

// GameDate returns the US Eastern calendar date of an instant: a game that tips off at
// 2024-10-23T00:30Z is a 2024-10-22 game.
func GameDate(t time.Time) string { return t.In(Eastern).Format(DateLayout) }
