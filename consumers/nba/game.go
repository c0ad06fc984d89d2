package nba

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DateLayout is the form of every game date: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// ErrBadValue is wrapped by the parsers of this package when a source value is malformed.
var ErrBadValue = errors.New("malformed source value")

// eastern is America/New_York; the time/tzdata import of package messages guarantees it.
var eastern = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("nba: load %s: %v", name, err))
	}
	return loc
}

// Eastern returns the US Eastern time zone that defines a game date.
func Eastern() *time.Location { return eastern }

// GameDate is the US Eastern calendar date of an instant: a tip-off at 2024-10-23T00:30Z is
// a 2024-10-22 game. (Ball Don't Lie's datetime is UTC and often the next day.)
func GameDate(t time.Time) string { return t.In(eastern).Format(DateLayout) }

// GameID is the canonical game key YYYYMMDD_AWAY_HOME. date is YYYY-MM-DD (the Eastern game
// date); away and home are any spelling Team accepts.
func GameID(date, away, home string) (string, error) {
	d, err := time.Parse(DateLayout, date)
	if err != nil {
		return "", fmt.Errorf("%w: game date %q: want YYYY-MM-DD", ErrBadValue, date)
	}
	a, err := Team(away)
	if err != nil {
		return "", fmt.Errorf("away team: %w", err)
	}
	h, err := Team(home)
	if err != nil {
		return "", fmt.Errorf("home team: %w", err)
	}
	if a == h {
		return "", fmt.Errorf("%w: game %s has %s on both sides", ErrBadValue, date, a)
	}
	return d.Format("20060102") + "_" + a + "_" + h, nil
}

// ParseEasternWallClock reads an NBA.com *Est field ("2024-10-22T19:30:00Z"): despite the Z,
// the digits are US Eastern wall-clock time, so the Z is ignored and the time placed in
// America/New_York.
func ParseEasternWallClock(s string) (time.Time, error) {
	v := strings.TrimSuffix(s, "Z")
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.000", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, eastern); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: NBA.com Eastern time %q", ErrBadValue, s)
}

// ParseUTC reads an instant that carries its zone: "2024-10-23T00:00:00.000Z",
// "2024-10-22T23:30:00Z" or with an offset.
func ParseUTC(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp %q: want RFC 3339", ErrBadValue, s)
	}
	return t.UTC(), nil
}

// SeasonYear is the start year of the season a game date belongs to: seasons start in
// October and end by the following September, so 2025-03-01 is in season 2024.
func SeasonYear(date string) (int, error) {
	d, err := time.Parse(DateLayout, date)
	if err != nil {
		return 0, fmt.Errorf("%w: game date %q: want YYYY-MM-DD", ErrBadValue, date)
	}
	if d.Month() >= time.October {
		return d.Year(), nil
	}
	return d.Year() - 1, nil
}

// Minutes reads a minutes-played value as the sources print it: "38", "38:12", "38.5", "",
// "00" or a JSON number. It returns decimal minutes.
func Minutes(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, nil
		}
		if m, sec, ok := strings.Cut(s, ":"); ok {
			mi, err1 := strconv.Atoi(m)
			se, err2 := strconv.Atoi(sec)
			if err1 != nil || err2 != nil || mi < 0 || se < 0 || se >= 60 {
				break
			}
			return float64(mi) + float64(se)/60, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			break
		}
		return f, nil
	}
	return 0, fmt.Errorf("%w: minutes %v: want 38, 38:12 or 38.5", ErrBadValue, v)
}

// AmericanOdds reads a price as The Odds API prints it and returns the American price:
// with oddsFormat=american the price already is one (-110, +150); with the default decimal
// format (1.91, 2.5) it is converted, rounded to the nearest integer. American prices are
// never between -100 and +100, decimal odds always are above 1 and below 100.
func AmericanOdds(price float64) (int64, error) {
	switch {
	case math.IsNaN(price) || math.IsInf(price, 0):
	case price >= 100 || price <= -100:
		if price != math.Trunc(price) {
			break
		}
		return int64(price), nil
	case price > 1 && price < 100:
		if price >= 2 {
			return int64(math.Round((price - 1) * 100)), nil
		}
		return int64(math.Round(-100 / (price - 1))), nil
	}
	return 0, fmt.Errorf("%w: price %v is neither American (|p| >= 100) nor decimal (1 < p < 100)", ErrBadValue, price)
}

// MinutesBeforeTipoff is the whole minutes from a snapshot to tip-off, rounded down: a
// snapshot 30 s after tip-off is -1, so that "minutes_before_tipoff >= 0" means pre-tip.
func MinutesBeforeTipoff(snapshot, tipoff time.Time) int64 {
	return int64(math.Floor(tipoff.Sub(snapshot).Minutes()))
}
