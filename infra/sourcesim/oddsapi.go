package sourcesim

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// The Odds API v4 historical shapes.

type oddsEvent struct {
	ID           string `json:"id"`
	SportKey     string `json:"sport_key"`
	SportTitle   string `json:"sport_title"`
	CommenceTime string `json:"commence_time"`
	HomeTeam     string `json:"home_team"`
	AwayTeam     string `json:"away_team"`
}

type oddsOutcome struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Price       any     `json:"price"` // float64 (decimal, the default) or int (american)
	Point       float64 `json:"point"`
}

type oddsMarket struct {
	Key        string        `json:"key"`
	LastUpdate string        `json:"last_update"`
	Outcomes   []oddsOutcome `json:"outcomes"`
}

type oddsBookmaker struct {
	Key        string       `json:"key"`
	Title      string       `json:"title"`
	LastUpdate string       `json:"last_update"`
	Markets    []oddsMarket `json:"markets"`
}

type oddsEventOdds struct {
	oddsEvent
	Bookmakers []oddsBookmaker `json:"bookmakers"`
}

type oddsHistorical[T any] struct {
	Timestamp         string  `json:"timestamp"`
	PreviousTimestamp *string `json:"previous_timestamp"`
	NextTimestamp     *string `json:"next_timestamp"`
	Data              T       `json:"data"`
}

const (
	sportKey = "basketball_nba"
	// historyStart is the first historical snapshot The Odds API has.
	historyStart = "2020-06-06T00:00:00Z"
	// eventListedBefore and eventListedAfter bound when an event is listed around tip-off.
	eventListedBefore = 4 * 24 * time.Hour
	eventListedAfter  = 3 * time.Hour
	snapshotInterval  = 5 * time.Minute
)

func oddsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// snapshot resolves the `date` parameter to the latest 5-minute snapshot at or before it
// (and at or before Now).
func (s *Sim) snapshot(r *http.Request) (time.Time, *response) {
	v := r.URL.Query().Get("date")
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		resp := oddsError(http.StatusUnprocessableEntity, "Invalid date parameter. Use an ISO 8601 timestamp such as 2024-10-22T16:00:00Z.", "INVALID_HISTORICAL_TIMESTAMP")
		return time.Time{}, &resp
	}
	start, _ := time.Parse(time.RFC3339, historyStart)
	if t.Before(start) {
		resp := oddsError(http.StatusUnprocessableEntity, "Historical data is available from "+historyStart+".", "INVALID_HISTORICAL_TIMESTAMP")
		return time.Time{}, &resp
	}
	if now := s.now(); t.After(now) {
		t = now
	}
	return t.UTC().Truncate(snapshotInterval), nil
}

func (s *Sim) oddsDates(r *http.Request) []string {
	t, err := time.Parse(time.RFC3339, r.URL.Query().Get("date"))
	if err != nil {
		return nil
	}
	return []string{t.In(s.eastern).Format(dateLayout)}
}

func (s *Sim) historical(ts time.Time, data any) oddsHistorical[any] {
	prev := oddsTime(ts.Add(-snapshotInterval))
	h := oddsHistorical[any]{Timestamp: oddsTime(ts), PreviousTimestamp: &prev, Data: data}
	if next := ts.Add(snapshotInterval); !next.After(s.now()) {
		n := oddsTime(next)
		h.NextTimestamp = &n
	}
	return h
}

// oddsTeamName is The Odds API's team name. The Clippers appear as "Los Angeles Clippers" on
// most events and "LA Clippers" on others, chosen per event.
func (s *Sim) oddsTeamName(t int, g Game) string {
	if teams[t].Tricode == "LAC" && hashKey(g.OddsEventID)%3 == 0 {
		return "LA Clippers"
	}
	return teams[t].OddsName
}

func (s *Sim) oddsEventOf(g Game) oddsEvent {
	return oddsEvent{
		ID: g.OddsEventID, SportKey: sportKey, SportTitle: "NBA", CommenceTime: oddsTime(g.Start),
		HomeTeam: s.oddsTeamName(g.home, g), AwayTeam: s.oddsTeamName(g.away, g),
	}
}

func listed(g Game, ts time.Time) bool {
	return !ts.Before(g.Start.Add(-eventListedBefore)) && ts.Before(g.Start.Add(eventListedAfter))
}

// listedGames returns the games listed at snapshot ts, by tip-off.
func (s *Sim) listedGames(ts time.Time) []Game {
	var out []Game
	et := ts.In(s.eastern)
	day := time.Date(et.Year(), et.Month(), et.Day(), 0, 0, 0, 0, time.UTC)
	for d := day.AddDate(0, 0, -1); !d.After(day.AddDate(0, 0, 5)); d = d.AddDate(0, 0, 1) {
		gs, err := s.GamesOn(d.Format(dateLayout))
		if err != nil {
			continue
		}
		for _, g := range gs {
			if listed(g, ts) {
				out = append(out, g)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func (s *Sim) checkSport(r *http.Request) *response {
	if r.PathValue("sport") != sportKey {
		resp := oddsError(http.StatusNotFound, "Unknown sport. The simulator serves "+sportKey+" only.", "UNKNOWN_SPORT")
		return &resp
	}
	return nil
}

func (s *Sim) oddsEvents(r *http.Request, mode serveMode) response {
	if bad := s.checkSport(r); bad != nil {
		return *bad
	}
	ts, bad := s.snapshot(r)
	if bad != nil {
		return *bad
	}
	events := []oddsEvent{}
	if !mode.empty {
		for _, g := range s.listedGames(ts) {
			if mode.skip(g) {
				continue
			}
			events = append(events, s.oddsEventOf(g))
		}
	}
	resp := jsonResponse(http.StatusOK, s.historical(ts, events))
	if len(events) > 0 {
		resp.cost = 1
	}
	return resp
}

func splitList(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (s *Sim) findEvent(id string, ts time.Time) (*seasonModel, int, bool) {
	season := SeasonOf(ts.In(s.eastern))
	for _, y := range []int{season, season - 1, season + 1} {
		m, err := s.season(y)
		if err != nil {
			continue
		}
		if gi, ok := m.byEvent[id]; ok {
			return m, gi, true
		}
	}
	return nil, 0, false
}

func (s *Sim) oddsEventOdds(r *http.Request, mode serveMode) response {
	if bad := s.checkSport(r); bad != nil {
		return *bad
	}
	q := r.URL.Query()
	regions, markets := splitList(q.Get("regions")), splitList(q.Get("markets"))
	if len(regions) == 0 {
		return oddsError(http.StatusUnprocessableEntity, "Missing regions parameter, for example regions=us.", "MISSING_REGION")
	}
	if len(markets) == 0 {
		return oddsError(http.StatusUnprocessableEntity, "Missing markets parameter, for example markets=player_points.", "MISSING_MARKET")
	}
	american := false
	switch q.Get("oddsFormat") {
	case "", "decimal":
	case "american":
		american = true
	default:
		return oddsError(http.StatusUnprocessableEntity, "Invalid oddsFormat. Use decimal or american.", "INVALID_ODDS_FORMAT")
	}
	ts, bad := s.snapshot(r)
	if bad != nil {
		return *bad
	}
	m, gi, ok := s.findEvent(r.PathValue("id"), ts)
	if !ok || !listed(m.games[gi], ts) || mode.skip(m.games[gi]) {
		return oddsError(http.StatusNotFound, "Event not found. The event may have expired or the event id is invalid.", "EVENT_NOT_FOUND")
	}
	g := m.games[gi]
	data := oddsEventOdds{oddsEvent: s.oddsEventOf(g), Bookmakers: []oddsBookmaker{}}
	gp := s.gameProps(m, gi)
	if !mode.empty && gp != nil && contains(regions, "us") && contains(markets, "player_points") {
		for i := range gp.books {
			bp := &gp.books[i]
			u := bp.at(ts)
			if u == nil {
				continue
			}
			players := make([]int, 0, len(u.lines))
			for p := range u.lines {
				players = append(players, p)
			}
			sort.Slice(players, func(a, b int) bool { return s.pool[players[a]].OddsName() < s.pool[players[b]].OddsName() })
			mk := oddsMarket{Key: "player_points", LastUpdate: oddsTime(u.at)}
			for _, p := range players {
				l := u.lines[p]
				name := s.pool[p].OddsName()
				mk.Outcomes = append(mk.Outcomes,
					oddsOutcome{Name: "Over", Description: name, Price: price(l.over, american), Point: l.point},
					oddsOutcome{Name: "Under", Description: name, Price: price(l.under, american), Point: l.point})
			}
			data.Bookmakers = append(data.Bookmakers, oddsBookmaker{Key: bp.book.Key, Title: bp.book.Title, LastUpdate: oddsTime(u.at), Markets: []oddsMarket{mk}})
		}
	}
	resp := jsonResponse(http.StatusOK, s.historical(ts, data))
	if len(data.Bookmakers) > 0 {
		resp.cost = 10 * len(regions) * len(markets)
	}
	return resp
}

func price(a int, american bool) any {
	if american {
		return a
	}
	return decimalOdds(a)
}
