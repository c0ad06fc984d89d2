package sourcesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RequestRecord is one request the simulator answered, for tests that count calls.
type RequestRecord struct {
	Time    time.Time `json:"time"` // wall clock, UTC
	Source  string    `json:"source"`
	Dataset string    `json:"dataset"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Query   string    `json:"query"` // apiKey redacted
	Dates   []string  `json:"dates,omitempty"`
	Status  int       `json:"status"`
	Fault   FaultKind `json:"fault,omitempty"`
	Cost    int       `json:"cost,omitempty"` // Odds API credits charged
}

// Requests returns the request log, oldest first.
func (s *Sim) Requests() []RequestRecord {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return append([]RequestRecord(nil), s.requests...)
}

// ResetRequests clears the request log.
func (s *Sim) ResetRequests() {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.requests = nil
}

// OddsCredits returns The Odds API's remaining and used credits.
func (s *Sim) OddsCredits() (remaining, used int) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.credits, s.creditsUsed
}

// SetOddsCredits resets the remaining Odds API credits (used is kept).
func (s *Sim) SetOddsCredits(remaining int) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.credits = remaining
}

// response is what a dataset handler produces before faults and bookkeeping.
type response struct {
	status int
	header http.Header
	body   []byte
	cost   int // Odds API credits this response costs when served
}

// serveMode is how a fault shapes an otherwise normal response.
type serveMode struct {
	empty bool            // no rows at all (FaultEmpty)
	drop  func(Game) bool // games left out (FaultDropGame)
}

func (m serveMode) skip(g Game) bool { return m.drop != nil && m.drop(g) }

// dropRule returns which games a drop_game fault leaves out: the named game, or else the
// last game (latest tip-off) of each date.
func (s *Sim) dropRule(gameID string) func(Game) bool {
	if gameID != "" {
		return func(g Game) bool { return g.GameID == gameID }
	}
	return func(g Game) bool {
		m, err := s.season(g.Season)
		if err != nil {
			return false
		}
		day := m.byDate[g.Date]
		return len(day) > 0 && day[len(day)-1] == g.Seq-1
	}
}

// endpoint is one dataset of one source.
type endpoint struct {
	source, dataset string
	// dates are the Eastern dates a request is about, for fault matching and the log.
	dates func(r *http.Request) []string
	// serve builds the response, shaped by the faults in mode.
	serve func(r *http.Request, mode serveMode) response
}

// Handler serves every source under its base path (/bdl, /odds, /nbacdn, /nbastats) and the
// control endpoints under /_sim. See the package documentation for the routes.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	for pattern, ep := range map[string]endpoint{
		"GET /bdl/v1/games":                                        {SourceBDL, DatasetBDLGames, bdlDates, s.bdlGames},
		"GET /bdl/v1/stats":                                        {SourceBDL, DatasetBDLStats, bdlDates, s.bdlStats},
		"GET /bdl/v1/player_injuries":                              {SourceBDL, DatasetBDLInjuries, noDates, s.bdlInjuries},
		"GET /odds/v4/historical/sports/{sport}/events":            {SourceOdds, DatasetOddsEvents, s.oddsDates, s.oddsEvents},
		"GET /odds/v4/historical/sports/{sport}/events/{id}/odds":  {SourceOdds, DatasetOddsEventOdds, s.oddsDates, s.oddsEventOdds},
		"GET /nbacdn/static/json/staticData/scheduleLeagueV2.json": {SourceNBACDN, DatasetCDNSchedule, noDates, s.cdnSchedule},
		"GET /nbacdn/static/json/staticData/{file}":                {SourceNBACDN, DatasetCDNSchedule, noDates, s.cdnScheduleFile},
		"GET /nbastats/stats/leaguegamelog":                        {SourceNBAStats, DatasetLeagueLog, leagueLogDates, s.leagueGameLog},
		"GET /nbastatsdmz/pdfs/{day}/{file}":                       {SourceNBAStatsDMZ, DatasetGamebook, gamebookDates, s.gamebookPDF},
	} {
		mux.Handle(pattern, s.wrap(ep))
	}
	mux.HandleFunc("GET /_sim/faults", s.getFaults)
	mux.HandleFunc("POST /_sim/faults", s.postFaults)
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		_ = s.SetFaults(nil)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("DELETE /_sim/requests", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetRequests()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/truth", s.getTruth)
	mux.HandleFunc("GET /_sim/truth/gamebooks", s.getGamebookTruth)
	mux.HandleFunc("GET /_sim/schedule", s.getSchedule)
	mux.HandleFunc("GET /_sim/credits", func(w http.ResponseWriter, _ *http.Request) {
		rem, used := s.OddsCredits()
		writeJSON(w, http.StatusOK, map[string]int{"remaining": rem, "used": used})
	})
	mux.HandleFunc("POST /_sim/credits", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("remaining"))
		if err != nil || n < 0 {
			http.Error(w, "remaining must be a non-negative integer: POST /_sim/credits?remaining=N", http.StatusBadRequest)
			return
		}
		s.SetOddsCredits(n)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func (s *Sim) wrap(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := RequestRecord{
			Time:    time.Now().UTC(),
			Source:  ep.source,
			Dataset: ep.dataset,
			Method:  r.Method,
			Path:    r.URL.Path,
			Query:   redactQuery(r.URL.Query()),
			Dates:   ep.dates(r),
		}
		resp := s.answer(r, ep, &rec)
		rec.Status = resp.status
		s.stateMu.Lock()
		s.requests = append(s.requests, rec)
		s.stateMu.Unlock()
		for k, vs := range resp.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(resp.body)
		}
	})
}

// answer applies auth, faults and Odds API credits around the dataset handler.
func (s *Sim) answer(r *http.Request, ep endpoint, rec *RequestRecord) response {
	switch ep.source {
	case SourceBDL:
		if s.keys.BDLKey != "" && r.Header.Get("Authorization") != s.keys.BDLKey {
			return textResponse(http.StatusUnauthorized, "Unauthorized")
		}
	case SourceOdds:
		key := r.URL.Query().Get("apiKey")
		if key == "" && s.keys.OddsKey != "" {
			return s.withCredits(oddsError(http.StatusUnauthorized, "API key is missing. Add the apiKey query parameter.", "MISSING_KEY"), 0)
		}
		if s.keys.OddsKey != "" && key != s.keys.OddsKey {
			return s.withCredits(oddsError(http.StatusUnauthorized, "API key is not valid or not associated with a subscription.", "INVALID_KEY"), 0)
		}
	}
	if wait, limited := s.overLimit(ep.source); limited {
		rec.Fault = FaultRateLimit
		resp := s.rateLimited(ep.source)
		resp.header.Set("Retry-After", strconv.Itoa(wait))
		return s.maybeCredits(ep.source, resp)
	}
	latency, f := s.decideFaults(ep.source, ep.dataset, rec.Dates)
	if latency > 0 {
		rec.Fault = FaultLatency
		t := time.NewTimer(time.Duration(latency) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return textResponse(499, "client closed request")
		}
	}
	if f == nil {
		return s.serveCharged(r, ep, serveMode{}, rec)
	}
	rec.Fault = f.Kind
	switch f.Kind {
	case FaultRateLimit:
		ra := max(f.RetryAfter, 1)
		resp := s.rateLimited(ep.source)
		resp.header.Set("Retry-After", strconv.Itoa(ra))
		return s.maybeCredits(ep.source, resp)
	case FaultServerError:
		st := f.Status
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		return s.maybeCredits(ep.source, textResponse(st, http.StatusText(st)))
	case FaultTruncated:
		resp := s.serveCharged(r, ep, serveMode{}, rec)
		if resp.status == http.StatusOK {
			resp.body = resp.body[:len(resp.body)/2]
		}
		return resp
	case FaultEmpty:
		return s.serveCharged(r, ep, serveMode{empty: true}, rec)
	case FaultDropGame:
		return s.serveCharged(r, ep, serveMode{drop: s.dropRule(f.GameID)}, rec)
	case FaultCreditsExhausted:
		resp := oddsError(http.StatusUnauthorized, "Usage quota has been reached. See usage plans at https://the-odds-api.com", "OUT_OF_USAGE_CREDITS")
		_, used := s.OddsCredits()
		setCreditHeaders(resp.header, 0, used, 0)
		return resp
	}
	return s.serveCharged(r, ep, serveMode{}, rec)
}

// overLimit counts a request against its source's per-minute cap and, past the cap, says how
// many seconds remain in the window.
func (s *Sim) overLimit(source string) (int, bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	limit := s.limits[source]
	if limit <= 0 {
		return 0, false
	}
	now := time.Now()
	w := s.windows[source]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &window{start: now}
		s.windows[source] = w
	}
	if w.count >= limit {
		left := time.Minute - now.Sub(w.start)
		return max(1, int((left+time.Second-1)/time.Second)), true
	}
	w.count++
	return 0, false
}

// serveCharged serves the dataset and, for The Odds API, charges its cost or refuses when the
// credits do not cover it.
func (s *Sim) serveCharged(r *http.Request, ep endpoint, mode serveMode, rec *RequestRecord) response {
	resp := ep.serve(r, mode)
	if ep.source != SourceOdds {
		return resp
	}
	if resp.status != http.StatusOK {
		return s.withCredits(resp, 0)
	}
	s.stateMu.Lock()
	if resp.cost > s.credits {
		s.stateMu.Unlock()
		q := oddsError(http.StatusUnauthorized, "Usage quota has been reached. See usage plans at https://the-odds-api.com", "OUT_OF_USAGE_CREDITS")
		return s.withCredits(q, 0)
	}
	s.credits -= resp.cost
	s.creditsUsed += resp.cost
	rem, used := s.credits, s.creditsUsed
	s.stateMu.Unlock()
	rec.Cost = resp.cost
	setCreditHeaders(resp.header, rem, used, resp.cost)
	return resp
}

func (s *Sim) maybeCredits(source string, resp response) response {
	if source == SourceOdds {
		return s.withCredits(resp, 0)
	}
	return resp
}

func (s *Sim) withCredits(resp response, last int) response {
	rem, used := s.OddsCredits()
	setCreditHeaders(resp.header, rem, used, last)
	return resp
}

func setCreditHeaders(h http.Header, remaining, used, last int) {
	h.Set("x-requests-remaining", strconv.Itoa(remaining))
	h.Set("x-requests-used", strconv.Itoa(used))
	h.Set("x-requests-last", strconv.Itoa(last))
}

// rateLimited is each source's 429 body.
func (s *Sim) rateLimited(source string) response {
	switch source {
	case SourceOdds:
		return oddsError(http.StatusTooManyRequests, "Requests are being sent too frequently. Please slow down.", "EXCEEDED_FREQ_LIMIT")
	case SourceBDL:
		return textResponse(http.StatusTooManyRequests, "Too many requests, please try again later.")
	default:
		return textResponse(http.StatusTooManyRequests, "Too Many Requests")
	}
}

func oddsError(status int, msg, code string) response {
	b, _ := json.Marshal(map[string]string{
		"message":    msg,
		"error_code": code,
		"details_url": "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html#" +
			code,
	})
	return response{status: status, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: b}
}

func textResponse(status int, msg string) response {
	return response{status: status, header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, body: []byte(msg + "\n")}
}

// jsonResponse encodes v without HTML escaping (the real APIs print & and ' as is).
func jsonResponse(status int, v any) response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return textResponse(http.StatusInternalServerError, fmt.Sprintf("sourcesim: encode: %v", err))
	}
	return response{status: status, header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, body: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	resp := jsonResponse(status, v)
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func redactQuery(q url.Values) string {
	if q.Has("apiKey") {
		q = cloneValues(q)
		q.Set("apiKey", "REDACTED")
	}
	return q.Encode()
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func noDates(*http.Request) []string { return nil }

func parseDate(s string) (time.Time, error) {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: %w: want YYYY-MM-DD", s, ErrBadDate)
	}
	return d, nil
}

func (s *Sim) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Sim) postFaults(w http.ResponseWriter, r *http.Request) {
	fs, err := decodeFaults(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for i, f := range fs {
		if err := f.Validate(); err != nil {
			http.Error(w, fmt.Sprintf("fault %d: %v", i, err), http.StatusBadRequest)
			return
		}
	}
	_ = s.SetFaults(fs)
	writeJSON(w, http.StatusOK, s.Faults())
}

// decodeFaults reads the body of POST /_sim/faults: a JSON array of faults and nothing
// after it. A field Fault does not have is refused, naming it, rather than ignored: an
// ignored limit ("count" for "first") would leave a fault on for good.
func decodeFaults(body io.Reader) ([]Fault, error) {
	dec := json.NewDecoder(body)
	var raws []json.RawMessage
	if err := dec.Decode(&raws); err != nil {
		return nil, fmt.Errorf("body must be a JSON array of faults: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("body must be one JSON array of faults, with nothing after it")
	}
	known := faultFields()
	out := make([]Fault, len(raws))
	for i, raw := range raws {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("fault %d: want a JSON object: %v", i, err)
		}
		var unknown []string
		for k := range fields {
			if !slices.Contains(known, k) {
				unknown = append(unknown, strconv.Quote(k))
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return nil, fmt.Errorf("fault %d: unknown field %s: a fault has %s (first: N hits only the first N matching requests)",
				i, strings.Join(unknown, ", "), strings.Join(known, ", "))
		}
		strict := json.NewDecoder(bytes.NewReader(raw))
		strict.DisallowUnknownFields()
		if err := strict.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("fault %d: %v", i, err)
		}
	}
	return out, nil
}

// faultFields are the JSON names of Fault's fields, in declaration order.
func faultFields() []string {
	t := reflect.TypeFor[Fault]()
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func (s *Sim) getTruth(w http.ResponseWriter, r *http.Request) {
	t, err := s.Truth(r.URL.Query().Get("date"))
	if err != nil {
		http.Error(w, err.Error()+" (GET /_sim/truth?date=YYYY-MM-DD)", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Sim) getSchedule(w http.ResponseWriter, r *http.Request) {
	season, err := strconv.Atoi(r.URL.Query().Get("season"))
	if err != nil {
		http.Error(w, "season must be a start year: GET /_sim/schedule?season=2024", http.StatusBadRequest)
		return
	}
	gs, err := s.Schedule(season)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, gs)
}
