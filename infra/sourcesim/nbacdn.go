package sourcesim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// NBA.com CDN scheduleLeagueV2 shapes.

type cdnTeam struct {
	TeamID      int    `json:"teamId"`
	TeamName    string `json:"teamName"`
	TeamCity    string `json:"teamCity"`
	TeamTricode string `json:"teamTricode"`
	TeamSlug    string `json:"teamSlug"`
	Wins        int    `json:"wins"`
	Losses      int    `json:"losses"`
	Score       int    `json:"score"`
	Seed        *int   `json:"seed"`
}

type cdnGame struct {
	GameID           string  `json:"gameId"`
	GameCode         string  `json:"gameCode"`
	GameStatus       int     `json:"gameStatus"`
	GameStatusText   string  `json:"gameStatusText"`
	GameSequence     int     `json:"gameSequence"`
	GameDateEst      string  `json:"gameDateEst"`
	GameTimeEst      string  `json:"gameTimeEst"`
	GameDateTimeEst  string  `json:"gameDateTimeEst"`
	GameDateUTC      string  `json:"gameDateUTC"`
	GameTimeUTC      string  `json:"gameTimeUTC"`
	GameDateTimeUTC  string  `json:"gameDateTimeUTC"`
	AwayTeamTime     string  `json:"awayTeamTime"`
	HomeTeamTime     string  `json:"homeTeamTime"`
	Day              string  `json:"day"`
	MonthNum         int     `json:"monthNum"`
	WeekNumber       int     `json:"weekNumber"`
	WeekName         string  `json:"weekName"`
	IfNecessary      bool    `json:"ifNecessary"`
	SeriesGameNumber string  `json:"seriesGameNumber"`
	GameLabel        string  `json:"gameLabel"`
	GameSubLabel     string  `json:"gameSubLabel"`
	SeriesText       string  `json:"seriesText"`
	ArenaName        string  `json:"arenaName"`
	ArenaState       string  `json:"arenaState"`
	ArenaCity        string  `json:"arenaCity"`
	PostponedStatus  string  `json:"postponedStatus"`
	BranchLink       string  `json:"branchLink"`
	GameSubtype      string  `json:"gameSubtype"`
	IsNeutral        bool    `json:"isNeutral"`
	HomeTeam         cdnTeam `json:"homeTeam"`
	AwayTeam         cdnTeam `json:"awayTeam"`
}

type cdnGameDate struct {
	GameDate string    `json:"gameDate"`
	Games    []cdnGame `json:"games"`
}

type cdnSchedule struct {
	Meta struct {
		Version int    `json:"version"`
		Request string `json:"request"`
		Time    string `json:"time"`
	} `json:"meta"`
	LeagueSchedule struct {
		SeasonYear string        `json:"seasonYear"`
		LeagueID   string        `json:"leagueId"`
		GameDates  []cdnGameDate `json:"gameDates"`
	} `json:"leagueSchedule"`
}

// seasonLabel is "2024-25" for 2024.
func seasonLabel(season int) string { return fmt.Sprintf("%d-%02d", season, (season+1)%100) }

// parseSeason reads "2024" or "2024-25".
func parseSeason(v string) (int, error) {
	y, rest, _ := strings.Cut(v, "-")
	season, err := strconv.Atoi(y)
	if err != nil || (rest != "" && rest != fmt.Sprintf("%02d", (season+1)%100)) {
		return 0, fmt.Errorf("season %q: want a start year (2024) or a label (2024-25)", v)
	}
	return season, nil
}

func (s *Sim) cdnSchedule(r *http.Request, mode serveMode) response {
	season := SeasonOf(s.now().In(s.eastern))
	if v := r.URL.Query().Get("season"); v != "" {
		y, err := parseSeason(v)
		if err != nil {
			return textResponse(http.StatusBadRequest, err.Error())
		}
		season = y
	}
	return s.cdnScheduleFor(r, season, mode)
}

// cdnScheduleFile serves the path variant scheduleLeagueV2_2024.json.
func (s *Sim) cdnScheduleFile(r *http.Request, mode serveMode) response {
	f := r.PathValue("file")
	y, ok := strings.CutPrefix(f, "scheduleLeagueV2_")
	y, ok2 := strings.CutSuffix(y, ".json")
	season, err := strconv.Atoi(y)
	if !ok || !ok2 || err != nil {
		return response{status: http.StatusNotFound, header: http.Header{"Content-Type": {"application/xml"}}, body: []byte("<Error><Code>NoSuchKey</Code></Error>")}
	}
	return s.cdnScheduleFor(r, season, mode)
}

// cdnVersion is the latest instant at or before now at which a game of the season tipped off
// or ended: the schedule document changes only then, so it names the document's version.
func (s *Sim) cdnVersion(m *seasonModel, now time.Time) time.Time {
	first, _, _, _ := SeasonDates(m.year)
	version := time.Date(first.Year(), time.July, 1, 12, 0, 0, 0, time.UTC)
	for i, g := range m.games {
		b := s.box(m, i)
		st := s.gameState(g, b, now)
		if st >= 2 && g.Start.After(version) {
			version = g.Start
		}
		if end := g.Start.Add(2*time.Hour + 15*time.Minute + time.Duration(b.periods-4)*20*time.Minute); st == 3 && end.After(version) {
			version = end
		}
	}
	if version.After(now) {
		version = now
	}
	return version
}

// renderedSchedule is a rendered schedule document and its ETag.
type renderedSchedule struct {
	body []byte
	etag string
}

func (s *Sim) cdnScheduleFor(r *http.Request, season int, mode serveMode) response {
	m, err := s.season(season)
	if err != nil {
		return textResponse(http.StatusNotFound, err.Error())
	}
	now := s.now()
	version := s.cdnVersion(m, now)
	key := fmt.Sprintf("%d/%d", season, version.UnixNano())
	faulted := mode.empty || mode.drop != nil
	s.mu.Lock()
	doc, ok := s.cdnCache[key]
	s.mu.Unlock()
	if !ok || faulted {
		body := s.renderCDNSchedule(m, now, version, mode)
		sum := sha256.Sum256(body)
		doc = renderedSchedule{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		if !faulted {
			s.mu.Lock()
			if len(s.cdnCache) >= 32 {
				clear(s.cdnCache)
			}
			s.cdnCache[key] = doc
			s.mu.Unlock()
		}
	}
	header := http.Header{
		"Content-Type":  {"application/json; charset=utf-8"},
		"Etag":          {doc.etag},
		"Cache-Control": {"max-age=60"},
		"Last-Modified": {version.UTC().Format(http.TimeFormat)},
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, doc.etag) {
		return response{status: http.StatusNotModified, header: http.Header{"Etag": {doc.etag}, "Cache-Control": {"max-age=60"}}}
	}
	return response{status: http.StatusOK, header: header, body: doc.body}
}

// renderCDNSchedule renders a season's scheduleLeagueV2 document as of now.
func (s *Sim) renderCDNSchedule(m *seasonModel, now, version time.Time, mode serveMode) []byte {
	var doc cdnSchedule
	doc.Meta.Version = 1
	doc.Meta.Request = "http://nba.cloud/league/00/" + seasonLabel(m.year) + "/scheduleleaguev2?Format=json"
	doc.Meta.Time = version.UTC().Format("2006-01-02 15:04:05.000")
	doc.LeagueSchedule.SeasonYear = seasonLabel(m.year)
	doc.LeagueSchedule.LeagueID = "00"
	doc.LeagueSchedule.GameDates = []cdnGameDate{}
	first, _, _, _ := SeasonDates(m.year)
	wins := make([]int, len(teams))
	losses := make([]int, len(teams))
	seq := 0
	for i, g := range m.games {
		b := s.box(m, i)
		st := s.gameState(g, b, now)
		if st == 3 {
			w, l := g.home, g.away
			if b.pts[1] > b.pts[0] {
				w, l = l, w
			}
			wins[w]++
			losses[l]++
		}
		if mode.empty || mode.skip(g) {
			continue
		}
		n := len(doc.LeagueSchedule.GameDates)
		if n == 0 || doc.LeagueSchedule.GameDates[n-1].GameDate != cdnGameDateLabel(g.Date) {
			doc.LeagueSchedule.GameDates = append(doc.LeagueSchedule.GameDates, cdnGameDate{GameDate: cdnGameDateLabel(g.Date)})
			n++
			seq = 0
		}
		seq++
		doc.LeagueSchedule.GameDates[n-1].Games = append(doc.LeagueSchedule.GameDates[n-1].Games, s.cdnGameOf(g, b, st, seq, first, wins, losses))
	}
	return jsonResponse(http.StatusOK, doc).body
}

func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "W/"))
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}

// cdnGameDateLabel is "10/22/2024 00:00:00".
func cdnGameDateLabel(date string) string {
	d, _ := time.Parse(dateLayout, date)
	return d.Format("01/02/2006 15:04:05")
}

func (s *Sim) cdnGameOf(g Game, b *boxScore, st, seq int, first time.Time, wins, losses []int) cdnGame {
	et := g.Start.In(s.eastern)
	d, _ := time.Parse(dateLayout, g.Date)
	midnightET := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.eastern)
	// Trap: the *Est fields are US Eastern wall-clock times printed with a Z suffix.
	fakeZ := func(t time.Time) string { return t.Format("2006-01-02T15:04:05") + "Z" }
	week := int(d.Sub(first).Hours()/24)/7 + 1
	out := cdnGame{
		GameID:          g.NBAGameID,
		GameCode:        strings.ReplaceAll(g.Date, "-", "") + "/" + g.Away + g.Home,
		GameStatus:      st,
		GameSequence:    seq,
		GameDateEst:     g.Date + "T00:00:00Z",
		GameTimeEst:     "1900-01-01T" + et.Format("15:04:05") + "Z",
		GameDateTimeEst: fakeZ(et),
		GameDateUTC:     midnightET.UTC().Format("2006-01-02T15:04:05Z"),
		GameTimeUTC:     "1900-01-01T" + g.Start.UTC().Format("15:04:05") + "Z",
		GameDateTimeUTC: g.Start.UTC().Format("2006-01-02T15:04:05Z"),
		AwayTeamTime:    fakeZ(g.Start.In(s.zones[g.away])),
		HomeTeamTime:    fakeZ(g.Start.In(s.zones[g.home])),
		Day:             d.Format("Mon"),
		MonthNum:        int(d.Month()),
		WeekNumber:      week,
		WeekName:        fmt.Sprintf("Week %d", week),
		ArenaName:       teams[g.home].Arena,
		ArenaState:      teams[g.home].ArenaState,
		ArenaCity:       teams[g.home].ArenaCity,
		PostponedStatus: "A",
		HomeTeam:        cdnTeamOf(g.home, wins, losses),
		AwayTeam:        cdnTeamOf(g.away, wins, losses),
	}
	switch st {
	case 3:
		out.GameStatusText = "Final"
		if b.periods > 4 {
			out.GameStatusText = "Final/OT"
			if b.periods > 5 {
				out.GameStatusText = fmt.Sprintf("Final/%dOT", b.periods-4)
			}
		}
		out.HomeTeam.Score, out.AwayTeam.Score = b.pts[0], b.pts[1]
	case 2:
		out.GameStatusText = "In Progress"
	default:
		out.GameStatusText = strings.ToLower(et.Format("3:04 PM")) + " ET"
	}
	return out
}

func cdnTeamOf(t int, wins, losses []int) cdnTeam {
	tm := teams[t]
	return cdnTeam{
		TeamID: tm.NBAID, TeamName: tm.Name, TeamCity: tm.City, TeamTricode: tm.Tricode,
		TeamSlug: strings.ToLower(strings.ReplaceAll(tm.Name, " ", "_")), Wins: wins[t], Losses: losses[t],
	}
}
