package sourcesim

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
	_ "time/tzdata" // tip-off times need America/New_York even where the OS has no zoneinfo
)

// Keys are the credentials the simulated sources accept. A request to BDL without
// `Authorization: <BDLKey>`, or to The Odds API without `apiKey=<OddsKey>`, gets 401.
// Empty keys accept any request, including one without a key.
type Keys struct {
	BDLKey  string
	OddsKey string
}

// LogValue redacts the keys so that logging a Config never leaks them.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("bdl_key_set", k.BDLKey != ""), slog.Bool("odds_key_set", k.OddsKey != ""))
}

// ScraperRates are the scrapers' request rates (their environment variables) for a run
// against the simulator, which has no rate limits of its own unless asked: faster than
// the real plans' defaults, so that a local backfill is bound by the pipeline rather than
// by the token buckets, and still paced like the real ones. The local stack and the chaos
// run give them to the consumers they start.
func ScraperRates() map[string]string {
	return map[string]string{
		"ODDS_API_RATE_PER_MINUTE":  "1200",
		"NBA_STATS_RATE_PER_MINUTE": "600",
		// The game books are one request per game, and the local simulator renders each.
		"NBA_STATSDMZ_RATE_PER_MINUTE": "3000",
		"NBA_CDN_RATE_PER_MINUTE":      "600",
	}
}

// Config configures a Sim. The zero value is usable: seed 0, no keys, wall-clock time.
type Config struct {
	// Seed determines the whole league: same seed, same bytes.
	Seed int64
	Keys Keys
	// Now is the simulator's current instant: games that ended before it are final, the
	// injury report is the one for its Eastern date, the CDN schedule is its season's, and
	// historical odds snapshots are capped at it. Default time.Now.
	Now func() time.Time
	// OddsCredits is The Odds API's starting credit budget. Default 20000.
	OddsCredits int
	// Faults are injected from the start; see SetFaults.
	Faults []Fault
	// RateLimits caps requests per wall-clock minute per source (SourceBDL, ...), as the
	// real plans do: past the cap a source answers 429 with Retry-After until the minute
	// window ends. Missing or 0 means unlimited.
	RateLimits map[string]int
}

// DefaultOddsCredits is the credit budget when Config.OddsCredits is zero.
const DefaultOddsCredits = 20000

// Sim is a deterministic synthetic NBA league served in the shapes of Ball Don't Lie, The
// Odds API and NBA.com, with injectable faults and a ground-truth oracle. It is safe for
// concurrent use. Seasons and box scores are generated lazily and cached; prop timelines
// are drawn again at each use (see gameProps).
type Sim struct {
	seed    int64
	keys    Keys
	now     func() time.Time
	eastern *time.Location
	zones   []*time.Location // per team: the arena's local zone
	pool    []Player

	mu       sync.Mutex
	seasons  map[int]*seasonModel
	boxes    map[string]*boxScore        // by NBA game id
	cdnCache map[string]renderedSchedule // rendered schedules by season and version

	stateMu     sync.Mutex
	faults      []*faultState
	faultSerial uint64
	credits     int
	creditsUsed int
	requests    []RequestRecord
	limits      map[string]int
	windows     map[string]*window
}

// window counts a source's requests in the current wall-clock minute.
type window struct {
	start time.Time
	count int
}

// New builds a simulator. It panics if cfg.Faults holds a fault that Fault.Validate rejects.
func New(cfg Config) *Sim {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(fmt.Sprintf("sourcesim: load America/New_York: %v", err))
	}
	s := &Sim{
		seed:     cfg.Seed,
		keys:     cfg.Keys,
		now:      cfg.Now,
		eastern:  loc,
		pool:     newPlayerPool(cfg.Seed),
		seasons:  map[int]*seasonModel{},
		boxes:    map[string]*boxScore{},
		cdnCache: map[string]renderedSchedule{},
		credits:  cfg.OddsCredits,
		limits:   map[string]int{},
		windows:  map[string]*window{},
	}
	for src, n := range cfg.RateLimits {
		s.limits[src] = n
	}
	for _, t := range teams {
		z, err := time.LoadLocation(t.Zone())
		if err != nil {
			panic(fmt.Sprintf("sourcesim: load %s: %v", t.Zone(), err))
		}
		s.zones = append(s.zones, z)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.credits == 0 {
		s.credits = DefaultOddsCredits
	}
	if err := s.SetFaults(cfg.Faults); err != nil {
		panic(fmt.Sprintf("sourcesim: Config.Faults: %v (check faults with Fault.Validate first)", err))
	}
	return s
}

// Now returns the simulator's current instant.
func (s *Sim) Now() time.Time { return s.now() }

// Eastern returns the US Eastern time zone the league's dates are in.
func (s *Sim) Eastern() *time.Location { return s.eastern }

// Players returns the league's player pool (every season's rosters draw from it).
func (s *Sim) Players() []Player { return append([]Player(nil), s.pool...) }

// season returns the cached model of a season, generating it on first use.
func (s *Sim) season(year int) (*seasonModel, error) {
	if year < FirstSeason || year > LastSeason {
		return nil, fmt.Errorf("season %d: %w: supported seasons are %d..%d", year, ErrUnknownSeason, FirstSeason, LastSeason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.seasons[year]; ok {
		return m, nil
	}
	m, err := newSeasonModel(s.seed, s.pool, year, s.eastern)
	if err != nil {
		return nil, err
	}
	s.seasons[year] = m
	return m, nil
}

// Schedule returns a season's regular-season games in order (season = start year, so 2024
// is 2024-25).
func (s *Sim) Schedule(season int) ([]Game, error) {
	m, err := s.season(season)
	if err != nil {
		return nil, err
	}
	return append([]Game(nil), m.games...), nil
}

// GamesOn returns the games on an Eastern date (YYYY-MM-DD); none on off days.
func (s *Sim) GamesOn(date string) ([]Game, error) {
	m, d, err := s.seasonForDate(date)
	if err != nil {
		return nil, err
	}
	var out []Game
	for _, i := range m.byDate[d.Format(dateLayout)] {
		out = append(out, m.games[i])
	}
	return out, nil
}

func (s *Sim) seasonForDate(date string) (*seasonModel, time.Time, error) {
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("date %q: %w: want YYYY-MM-DD", date, ErrBadDate)
	}
	m, err := s.season(SeasonOf(d))
	if err != nil {
		return nil, time.Time{}, err
	}
	return m, d, nil
}

// box returns a game's cached box score.
func (s *Sim) box(m *seasonModel, gi int) *boxScore {
	id := m.games[gi].NBAGameID
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.boxes[id]; ok {
		return b
	}
	b := m.boxScore(s.seed, s.pool, gi)
	s.boxes[id] = &b
	return &b
}

// gameProps returns a game's bookmaker timelines (nil before PropsStart). They are drawn
// at each call, from the game's own keyed generators, so every call returns the same lines.
// They are not cached: a season's timelines held 24 MB, for a season of local stack, while
// drawing a game's takes a tenth of a millisecond and The Odds API serves each game a few
// times.
func (s *Sim) gameProps(m *seasonModel, gi int) *gameProps {
	g := m.games[gi]
	if g.Date < PropsStart {
		return nil
	}
	b := s.box(m, gi)
	p := buildProps(s.seed, s.pool, g, *b)
	addScratches(s.seed, s.pool, m, g, *b, &p)
	return &p
}

// gameState is NBA.com's gameStatus: 1 scheduled, 2 in progress, 3 final.
func (s *Sim) gameState(g Game, b *boxScore, now time.Time) int {
	end := g.Start.Add(2*time.Hour + 15*time.Minute + time.Duration(b.periods-4)*20*time.Minute)
	switch {
	case now.Before(g.Start):
		return 1
	case now.Before(end):
		return 2
	default:
		return 3
	}
}
