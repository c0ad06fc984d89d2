package scrapers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// NBA.com CDN schedule paths: the current season's document, and the per-season file the
// simulator (and NBA.com for some seasons) also serves.
const (
	cdnSchedulePath       = "/static/json/staticData/scheduleLeagueV2.json"
	cdnSeasonScheduleFile = "/static/json/staticData/scheduleLeagueV2_%d.json"
)

// scheduledGame is what the scrapers need of one game in the CDN schedule.
type scheduledGame struct {
	GameID          string `json:"gameId"`
	GameStatus      int    `json:"gameStatus"`
	GameDateTimeUTC string `json:"gameDateTimeUTC"`
	HomeTeam        struct {
		TeamTricode string `json:"teamTricode"`
	} `json:"homeTeam"`
	AwayTeam struct {
		TeamTricode string `json:"teamTricode"`
	} `json:"awayTeam"`
}

// final reports gameStatus 3.
func (g scheduledGame) final() bool { return g.GameStatus == 3 }

// seasonType is stats.nba.com's SeasonType for the game, from the game id's type digits.
func (g scheduledGame) seasonType() string {
	if len(g.GameID) >= 3 {
		switch g.GameID[:3] {
		case "001":
			return "Pre Season"
		case "003":
			return "All Star"
		case "004":
			return "Playoffs"
		case "005":
			return "PlayIn"
		}
	}
	return "Regular Season"
}

// scheduleDoc is one parsed season schedule, kept with its validators.
type scheduleDoc struct {
	etag    string
	fresh   time.Time // reuse without asking until then (Cache-Control max-age)
	season  string    // "2024-25"
	top     map[string]json.RawMessage
	league  map[string]json.RawMessage
	entries map[string]json.RawMessage // date -> its gameDates entry as served
	games   map[string][]scheduledGame // date -> games
}

// nbaCDN reads the season schedule. The document is several megabytes and every scraper
// asks it for every date, so it is cached in the process: reused while fresh, then
// revalidated with If-None-Match (a 304 costs no parsing).
type nbaCDN struct {
	src    *source
	maxAge time.Duration // cap of the reuse without asking

	mu    sync.Mutex
	cache map[string]*scheduleDoc // by endpoint
	group singleflight.Group
}

func newNBACDN(src *source, maxAge time.Duration) *nbaCDN {
	return &nbaCDN{src: src, maxAge: maxAge, cache: map[string]*scheduleDoc{}}
}

// seasonOf is the season label of an Eastern date: from August on, the season starting then.
func seasonOf(date time.Time) (start int, label string) {
	y := date.Year()
	if date.Month() < time.August {
		y--
	}
	return y, fmt.Sprintf("%d-%02d", y, (y+1)%100)
}

// schedule returns the season document that holds date.
func (c *nbaCDN) schedule(ctx context.Context, date string) (*scheduleDoc, error) {
	d, err := messages.ParseDate(date)
	if err != nil {
		return nil, runner.Permanent(err)
	}
	year, label := seasonOf(d)
	doc, err := c.fetch(ctx, cdnSchedulePath)
	if err != nil {
		return nil, err
	}
	if doc.season == label {
		return doc, nil
	}
	// The main document holds the current season only; older seasons come from the
	// per-season file, which the CDN does not have for every season.
	doc, err = c.fetch(ctx, fmt.Sprintf(cdnSeasonScheduleFile, year))
	if err != nil {
		return nil, fmt.Errorf("schedule for %s (season %s, not the CDN's current season): %w", date, label, err)
	}
	if doc.season != label {
		return nil, runner.Permanent(fmt.Errorf("schedule for %s: the CDN's season file for %d holds season %q, want %q", date, year, doc.season, label))
	}
	return doc, nil
}

// gamesOn returns the games scheduled on an Eastern date (none on an off day).
func (c *nbaCDN) gamesOn(ctx context.Context, date string) ([]scheduledGame, error) {
	doc, err := c.schedule(ctx, date)
	if err != nil {
		return nil, err
	}
	return doc.games[date], nil
}

func (c *nbaCDN) fetch(ctx context.Context, endpoint string) (*scheduleDoc, error) {
	c.mu.Lock()
	cached := c.cache[endpoint]
	c.mu.Unlock()
	if cached != nil && time.Now().Before(cached.fresh) {
		return cached, nil
	}
	v, err, _ := c.group.Do(endpoint, func() (any, error) { return c.revalidate(ctx, endpoint, cached) })
	if err != nil {
		return nil, err
	}
	return v.(*scheduleDoc), nil
}

func (c *nbaCDN) revalidate(ctx context.Context, endpoint string, cached *scheduleDoc) (*scheduleDoc, error) {
	var doc *scheduleDoc
	r := request{endpoint: endpoint, pass: []int{http.StatusNotModified}}
	if cached != nil && cached.etag != "" {
		r.header = http.Header{"If-None-Match": {cached.etag}}
	}
	r.decode = func(body []byte) error {
		var err error
		doc, err = parseSchedule(body)
		return err
	}
	resp, err := c.src.get(ctx, r)
	if err != nil {
		return nil, err
	}
	fresh := time.Now().Add(min(maxAge(resp.header), c.maxAge))
	if resp.status == http.StatusNotModified {
		if cached == nil {
			return nil, fmt.Errorf("nbacdn GET %s: 304 Not Modified to a request without If-None-Match", endpoint)
		}
		next := *cached
		next.fresh = fresh
		doc = &next
	} else {
		doc.etag = resp.header.Get("ETag")
		doc.fresh = fresh
	}
	c.mu.Lock()
	c.cache[endpoint] = doc
	c.mu.Unlock()
	return doc, nil
}

// maxAge reads Cache-Control max-age (0 when absent).
func maxAge(h http.Header) time.Duration {
	for _, part := range strings.Split(h.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return 0
}

// errEmptySchedule: a season document without any game date is a broken response.
var errEmptySchedule = errors.New("season schedule lists no game dates")

func parseSchedule(body []byte) (*scheduleDoc, error) {
	doc := &scheduleDoc{entries: map[string]json.RawMessage{}, games: map[string][]scheduledGame{}}
	if err := json.Unmarshal(body, &doc.top); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc.top["leagueSchedule"], &doc.league); err != nil {
		return nil, fmt.Errorf("leagueSchedule: %w", err)
	}
	if err := json.Unmarshal(doc.league["seasonYear"], &doc.season); err != nil {
		return nil, fmt.Errorf("leagueSchedule.seasonYear: %w", err)
	}
	var dates []json.RawMessage
	if err := json.Unmarshal(doc.league["gameDates"], &dates); err != nil {
		return nil, fmt.Errorf("leagueSchedule.gameDates: %w", err)
	}
	if len(dates) == 0 {
		return nil, errEmptySchedule
	}
	for _, raw := range dates {
		var e struct {
			GameDate string          `json:"gameDate"`
			Games    []scheduledGame `json:"games"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("gameDates entry: %w", err)
		}
		d, err := time.Parse("01/02/2006 15:04:05", e.GameDate)
		if err != nil {
			return nil, fmt.Errorf("gameDate %q: want MM/DD/YYYY 00:00:00", e.GameDate)
		}
		key := d.Format(messages.DateLayout)
		doc.entries[key] = raw
		doc.games[key] = append(doc.games[key], e.Games...)
	}
	return doc, nil
}

// narrow renders the schedule document in its own shape with only date's gameDates entry
// (none on an off day). meta.time is dropped: it is the whole season's version stamp and
// changes whenever any game ends, which would make every date's object change with it.
func (d *scheduleDoc) narrow(date string) ([]byte, error) {
	top := make(map[string]any, len(d.top))
	for k, v := range d.top {
		top[k] = v
	}
	if raw, ok := d.top["meta"]; ok {
		var meta map[string]json.RawMessage
		if json.Unmarshal(raw, &meta) == nil {
			delete(meta, "time")
			top["meta"] = meta
		}
	}
	league := make(map[string]any, len(d.league))
	for k, v := range d.league {
		league[k] = v
	}
	entries := []json.RawMessage{}
	if e, ok := d.entries[date]; ok {
		entries = append(entries, e)
	}
	league["gameDates"] = entries
	top["leagueSchedule"] = league
	return marshal(top)
}

// marshal encodes v deterministically (sorted map keys) without HTML escaping, so that
// source text such as "Trail Blazers & Co" keeps its bytes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// nbaStats calls stats.nba.com, which answers only requests that look like a browser's.
type nbaStats struct {
	src *source
}

// statsHeaders are the headers stats.nba.com expects.
func statsHeaders() http.Header {
	return http.Header{
		"User-Agent":         {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
		"Accept":             {"application/json, text/plain, */*"},
		"Referer":            {"https://www.nba.com/"},
		"Origin":             {"https://www.nba.com"},
		"x-nba-stats-origin": {"stats"},
		"x-nba-stats-token":  {"true"},
	}
}

// leagueGameLog is the part of a leaguegamelog response the scraper checks.
type leagueGameLog struct {
	ResultSets []struct {
		Name    string              `json:"name"`
		Headers []string            `json:"headers"`
		RowSet  [][]json.RawMessage `json:"rowSet"`
	} `json:"resultSets"`
}

// gameLog fetches the player game log of one date and season type. It returns the body,
// the number of rows and the teams (by teamCode) they are of.
func (c *nbaStats) gameLog(ctx context.Context, date time.Time, seasonType string) (*response, int, map[string]bool, error) {
	_, label := seasonOf(date)
	day := date.Format("01/02/2006")
	q := url.Values{
		"PlayerOrTeam": {"P"},
		"DateFrom":     {day},
		"DateTo":       {day},
		"Season":       {label},
		"SeasonType":   {seasonType},
		"LeagueID":     {"00"},
		"Counter":      {"1000"},
		"Sorter":       {"DATE"},
		"Direction":    {"DESC"},
	}
	var rows int
	var teams map[string]bool
	resp, err := c.src.get(ctx, request{endpoint: "/stats/leaguegamelog", query: q, decode: func(body []byte) error {
		var log leagueGameLog
		if err := json.Unmarshal(body, &log); err != nil {
			return err
		}
		if len(log.ResultSets) == 0 {
			return errors.New("no resultSets")
		}
		rs := log.ResultSets[0]
		col := slices.Index(rs.Headers, "TEAM_ABBREVIATION")
		if col < 0 {
			return fmt.Errorf("resultSet %q has no TEAM_ABBREVIATION header", rs.Name)
		}
		teams = map[string]bool{}
		for i, row := range rs.RowSet {
			var team string
			if col >= len(row) || json.Unmarshal(row[col], &team) != nil {
				return fmt.Errorf("resultSet %q row %d: TEAM_ABBREVIATION is not a string", rs.Name, i)
			}
			teams[teamCode(team)] = true
		}
		rows = len(rs.RowSet)
		return nil
	}})
	if err != nil {
		return nil, 0, nil, err
	}
	return resp, rows, teams, nil
}

// nbaStatsDMZ fetches NBA.com's official game books, the PDFs statsdmz.nba.com publishes a
// while after each game (a static file host: a book not yet published is a 404).
type nbaStatsDMZ struct {
	src *source
}

var (
	// pdfMagic starts every PDF.
	pdfMagic = []byte("%PDF-")
	// pdfEOF ends every complete PDF (followed at most by an end of line).
	pdfEOF = []byte("%%EOF")
)

// A game book that does not end like a PDF is fetched again: a transfer cut short is
// followed by a complete one, or differs from one fetch to the next, a file stored broken
// does not. It is taken as what the host holds once gamebookAgreeing fetches in a row
// served the same bytes (two could be two transfers cut at the same point), and the date is
// retried if gamebookFetches fetches do not settle it.
const (
	gamebookAgreeing = 3
	gamebookFetches  = 6
)

// gamebook fetches the book of one game of an Eastern date. It returns the response with
// status 200 or 404 (not published yet). A 200 body must start like a PDF, or it is retried
// as a bad body; one that does not end like a PDF is fetched again until it comes complete
// or gamebookAgreeing fetches agree, and is then what the host holds: it is returned as
// served, for the raw phase to report.
func (c *nbaStatsDMZ) gamebook(ctx context.Context, date time.Time, away, home string) (*response, error) {
	day := date.Format("20060102")
	r := request{
		endpoint: "/pdfs/" + day + "/" + day + "_" + away + home + "_book.pdf",
		pass:     []int{http.StatusNotFound},
		decode: func(body []byte) error {
			if !bytes.HasPrefix(body, pdfMagic) {
				return fmt.Errorf("not a PDF: %d bytes starting %q", len(body), body[:min(len(body), 16)])
			}
			return nil
		},
	}
	resp, err := c.src.get(ctx, r)
	if err != nil {
		return nil, err
	}
	for fetches, same := 1, 1; resp.status == http.StatusOK && !complete(resp.body) && same < gamebookAgreeing; fetches++ {
		if fetches == gamebookFetches {
			return nil, fmt.Errorf("%w: %s: %d fetches served a book cut short, not the same bytes %d times in a row: retry the date later",
				ErrBadBody, r.endpoint, fetches, gamebookAgreeing)
		}
		again, err := c.src.get(ctx, r)
		if err != nil {
			return nil, err
		}
		again.attempts += resp.attempts
		if again.status == http.StatusOK && bytes.Equal(again.body, resp.body) {
			same++
		} else {
			same = 1
		}
		resp = again
	}
	return resp, nil
}

// complete reports whether a PDF body ends with its end-of-file marker.
func complete(body []byte) bool {
	tail := bytes.TrimRight(body[max(0, len(body)-32):], "\r\n \t")
	return bytes.HasSuffix(tail, pdfEOF)
}
