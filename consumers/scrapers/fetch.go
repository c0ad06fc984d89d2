package scrapers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
)

// Errors that say why a scrape did not succeed. They are transient (the runtime nacks and
// the subscription's retry policy bounds the attempts) unless wrapped in runner.Permanent.
var (
	// ErrRetryBudget says a request kept failing transiently until its retry budget ran out.
	ErrRetryBudget = errors.New("retry budget exhausted")
	// ErrBadBody says a 200 came with a body that is truncated or does not parse.
	ErrBadBody = errors.New("unusable response body")
	// ErrEmptyWithGames says the source returned no rows for a date the schedule says had games.
	ErrEmptyWithGames = errors.New("empty response for a date with games")
	// ErrIncomplete says the source left out games the schedule lists; a MissingGamesError
	// wraps it and names them, until PartialFromAttempt records them missing instead.
	ErrIncomplete = errors.New("response covers fewer games than scheduled")
	// ErrNotFinal says box scores were asked for a date whose games are not all final yet.
	ErrNotFinal = errors.New("games not final yet")
	// ErrNotYetAvailable says a historical snapshot asked for is later than the source's latest.
	ErrNotYetAvailable = errors.New("snapshot not available yet")
	// ErrCreditFloor says the next Odds API call would take the remaining credits below the
	// floor (always wrapped in runner.Permanent: retrying cannot add credits).
	ErrCreditFloor = errors.New("odds api credit floor reached")
)

// maxBody bounds a response body; the largest real one (the season schedule) is ~10 MB.
const maxBody = 64 << 20

// StatusError is an HTTP status that ended a request: one a retry cannot fix (wrapped in
// runner.Permanent), or the last transient one when the retry budget ran out.
type StatusError struct {
	Source   string // one of Sources()
	Endpoint string // the path, never the query (which may hold a key)
	Status   int
	// Code is the source's own error code when the body has one (The Odds API's error_code).
	Code string
	// Hint says what to do about it.
	Hint string
	// Detail is the start of the body: the source's own explanation.
	Detail string
}

// Error names the source, the endpoint and the status, never the query.
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s GET %s: HTTP %d %s", e.Source, e.Endpoint, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (source said: %q)", e.Detail)
	}
	return b.String()
}

// retryPolicy bounds the retries of one request.
type retryPolicy struct {
	attempts int           // at most this many attempts
	base     time.Duration // first backoff; doubles per attempt
	maxDelay time.Duration // cap of one backoff
	budget   time.Duration // total time the attempts and waits may take
	timeout  time.Duration // one attempt's deadline
}

// backoff is the wait after the n-th failed attempt: exponential with jitter in [d/2, d].
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.base << min(n-1, 30)
	if d <= 0 || d > p.maxDelay {
		d = p.maxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// source is one API: base URL, credentials, shared rate limiter and retry policy.
type source struct {
	name    string // as in StatusError.Source and log lines
	base    string // without trailing slash
	keyEnv  string // the variable holding the key, named in 401 hints ("" without a key)
	client  *http.Client
	limit   *limiter
	retry   retryPolicy
	log     *slog.Logger
	secrets []string // values scrubbed from every error
	// authorize adds the credentials to a request.
	authorize func(h http.Header, q url.Values)
	// observe sees the headers of every response (The Odds API's credit counters).
	observe func(h http.Header)
	// header holds headers every request carries (stats.nba.com wants a browser's).
	header http.Header
}

// request is one GET.
type request struct {
	endpoint string     // path below the base URL; names the endpoint in errors
	query    url.Values // without credentials
	header   http.Header
	// decode parses a 200 body; an error means a truncated or garbled body, which is retried.
	decode func(body []byte) error
	// pass lists non-2xx statuses returned to the caller rather than treated as failures.
	pass []int
}

// response is what came back.
type response struct {
	status   int
	header   http.Header
	body     []byte
	attempts int
}

// get performs r, waiting for the source's rate limit before each attempt and retrying
// transient failures within the retry policy. Errors never hold the source's keys.
func (s *source) get(ctx context.Context, r request) (*response, error) {
	ctx, span := s.startRequest(ctx, r)
	resp, err := s.getRaw(ctx, r)
	err = s.scrub(err)
	span.end(resp, err)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *source) getRaw(ctx context.Context, r request) (*response, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		waitStart := time.Now()
		if err := s.limit.wait(ctx); err != nil {
			return nil, fmt.Errorf("%s GET %s: waiting for the rate limit: %w", s.name, r.endpoint, err)
		}
		s.waited(ctx, time.Since(waitStart))
		resp, retryAfter, err := s.once(ctx, r)
		s.attempted(ctx, resp, err)
		if err == nil {
			resp.attempts = attempt
			return resp, nil
		}
		if runner.IsPermanent(err) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		delay := s.retry.backoff(attempt)
		if retryAfter > 0 {
			s.limit.pause(retryAfter)
			delay = max(delay, retryAfter)
		}
		elapsed := time.Since(start)
		if attempt >= s.retry.attempts || elapsed+delay > s.retry.budget {
			return nil, fmt.Errorf("%w after %d attempts in %s: %w", ErrRetryBudget, attempt, elapsed.Round(time.Millisecond), err)
		}
		s.retrying(ctx, attempt, delay, err)
		s.log.LogAttrs(ctx, slog.LevelWarn, "retrying source request",
			slog.String("source", s.name), slog.String("endpoint", r.endpoint),
			slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.String("err", s.scrub(err).Error()))
		if serr := sleep(ctx, delay); serr != nil {
			return nil, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// once makes one attempt. It returns a transient error, a runner.Permanent one, or the
// response; retryAfter is the server's requested wait, if any.
func (s *source) once(ctx context.Context, r request) (_ *response, retryAfter time.Duration, _ error) {
	actx, cancel := context.WithTimeout(ctx, s.retry.timeout)
	defer cancel()
	q := url.Values{}
	for k, v := range r.query {
		q[k] = slices.Clone(v)
	}
	h := http.Header{}
	for k, v := range s.header {
		h[k] = slices.Clone(v)
	}
	for k, v := range r.header {
		h[k] = slices.Clone(v)
	}
	if s.authorize != nil {
		s.authorize(h, q)
	}
	u := s.base + r.endpoint
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, runner.Permanent(fmt.Errorf("%s GET %s: bad request URL (check the base URL): %w", s.name, r.endpoint, err))
	}
	req.Header = h
	res, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactURL(ue.URL) // before any wrapper copies the text
		}
		return nil, 0, fmt.Errorf("%s GET %s: %w", s.name, r.endpoint, err)
	}
	defer res.Body.Close()
	if s.observe != nil {
		s.observe(res.Header)
	}
	s.credits(ctx, res.Header)
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%s GET %s: HTTP %d, reading the body: %w", s.name, r.endpoint, res.StatusCode, err)
	}
	if len(body) > maxBody {
		return nil, 0, runner.Permanent(fmt.Errorf("%s GET %s: body larger than %d bytes", s.name, r.endpoint, maxBody))
	}
	resp := &response{status: res.StatusCode, header: res.Header, body: body}
	switch st := res.StatusCode; {
	case st >= 200 && st < 300:
		if r.decode != nil {
			if err := r.decode(body); err != nil {
				return nil, 0, fmt.Errorf("%s GET %s: %w (HTTP %d, %d bytes): %w", s.name, r.endpoint, ErrBadBody, st, len(body), err)
			}
		}
		return resp, 0, nil
	case slices.Contains(r.pass, st):
		return resp, 0, nil
	case st == http.StatusTooManyRequests || st >= 500:
		return nil, parseRetryAfter(res.Header.Get("Retry-After")), s.statusError(r, res, body, "")
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		hint := "the source refused the credentials"
		if s.keyEnv != "" {
			hint += "; check " + s.keyEnv
		}
		e := s.statusError(r, res, body, hint)
		if e.Code == "OUT_OF_USAGE_CREDITS" {
			e.Hint = "the plan's usage credit budget is exhausted; raise it, then re-enqueue"
		}
		return nil, 0, runner.Permanent(e)
	case st == http.StatusNotFound:
		return nil, 0, runner.Permanent(s.statusError(r, res, body, "no such route or resource; check the base URL and the request"))
	default:
		return nil, 0, runner.Permanent(s.statusError(r, res, body, "the source rejected the request"))
	}
}

func (s *source) statusError(r request, res *http.Response, body []byte, hint string) *StatusError {
	e := &StatusError{Source: s.name, Endpoint: r.endpoint, Status: res.StatusCode, Hint: hint}
	var coded struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &coded) == nil {
		e.Code, e.Detail = coded.ErrorCode, coded.Message
	} else {
		e.Detail = strings.Join(strings.Fields(string(body)), " ")
	}
	if len(e.Detail) > 200 {
		e.Detail = e.Detail[:200] + "..."
	}
	return e
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// scrub removes the source's keys from an error: URLs in *url.Error are redacted in place
// (so that unwrapping finds no key either) and the message is scrubbed as a last resort.
func (s *source) scrub(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(ue.URL)
	}
	msg := err.Error()
	clean := msg
	for _, k := range s.secrets {
		if k != "" {
			clean = strings.ReplaceAll(clean, k, redacted)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// scrubbedError is an error whose message had a key removed. It keeps the chain for
// errors.Is/As (so runner.IsPermanent still works).
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// redactURL replaces credential query parameters and userinfo in a URL string.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	if u.User != nil {
		u.User = url.User(redacted)
	}
	q := u.Query()
	changed := false
	for k := range q {
		if strings.EqualFold(k, "apiKey") || strings.EqualFold(k, "api_key") || strings.EqualFold(k, "key") {
			q.Set(k, redacted)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
