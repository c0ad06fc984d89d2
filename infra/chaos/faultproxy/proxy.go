// Package faultproxy is an HTTP reverse proxy that puts a seeded share of the requests it
// forwards through a fault: refused before the backend sees it, committed by the backend
// with the answer lost, rate-limited, or delayed. Put in front of an emulator (the BigQuery
// emulator, fake-gcs-server), it makes a client meet the failures of the real services
// without a line of the emulator changing: the chaos run points the consumers at proxies
// instead of the emulators.
package faultproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what a fault does to one request.
type Kind string

// The fault kinds. Each answers in the JSON error shape of Google's REST APIs
// ({"error":{"code":..,"message":..,"errors":[{"reason":..}],"status":..}}), which the
// BigQuery and GCS clients parse into a googleapi.Error and decide retries on.
const (
	// Refuse answers 503 backendError without forwarding: the operation never happened.
	Refuse Kind = "refuse"
	// Lose forwards the request, lets the backend finish it, discards the answer and
	// answers 503 backendError: the operation happened and the client cannot know it.
	Lose Kind = "lose"
	// RateLimit answers Options.RateLimitStatus (403 for BigQuery, 429 for GCS) with reason
	// rateLimitExceeded, without forwarding.
	RateLimit Kind = "rate_limit"
	// Delay waits up to Options.MaxDelay, then forwards the request normally.
	Delay Kind = "delay"
)

// Kinds lists every kind in the order faults are drawn.
func Kinds() []Kind { return []Kind{Refuse, Lose, RateLimit, Delay} }

// Options configure a Proxy.
type Options struct {
	// Name is the backend's name in error messages ("bigquery", "gcs").
	Name string
	// Target is the backend's base URL (http://127.0.0.1:9050).
	Target string
	// Addr is where the proxy listens ("127.0.0.1:0" picks a free port).
	Addr string
	// Seed seeds the draw of faults: the same seed gives the same sequence of decisions
	// (requests arrive in whatever order the clients send them).
	Seed int64
	// Shares is the fraction of requests each kind hits, drawn independently of the
	// others per request: at most one fault per request, and the shares must add up to
	// at most 1.
	Shares map[Kind]float64
	// RateLimitStatus is the status of a RateLimit fault: 403 (BigQuery's) or 429 (GCS's).
	// Zero means 429.
	RateLimitStatus int
	// MaxDelay bounds a Delay fault (uniform in [MaxDelay/4, MaxDelay]). Zero means one second.
	MaxDelay time.Duration
}

// Proxy forwards every request to its target, faulting a seeded share of them. It rewrites
// a Location header that points at the target (a resumable upload's session URL) so that
// the client stays behind the proxy.
type Proxy struct {
	o      Options
	target *url.URL
	self   string
	rp     *httputil.ReverseProxy
	srv    *http.Server
	done   chan error

	mu       sync.Mutex
	rng      *rand.Rand
	enabled  bool
	requests int
	hits     map[Kind]int
}

// Start checks o and serves the proxy on o.Addr until Close.
func Start(o Options) (*Proxy, error) {
	target, err := url.Parse(o.Target)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("faultproxy %s: target %q: want a base URL such as http://127.0.0.1:9050", o.Name, o.Target)
	}
	var sum float64
	for k, s := range o.Shares {
		if !validKind(k) {
			return nil, fmt.Errorf("faultproxy %s: unknown fault kind %q: use %v", o.Name, k, Kinds())
		}
		if s < 0 || s > 1 {
			return nil, fmt.Errorf("faultproxy %s: share of %s is %v: want a fraction in [0,1]", o.Name, k, s)
		}
		sum += s
	}
	if sum > 1 {
		return nil, fmt.Errorf("faultproxy %s: the shares add up to %v: at most one fault per request, so at most 1", o.Name, sum)
	}
	if o.RateLimitStatus == 0 {
		o.RateLimitStatus = http.StatusTooManyRequests
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Second
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy %s on %s: %w", o.Name, o.Addr, err)
	}
	p := &Proxy{
		o: o, target: target, self: "http://" + ln.Addr().String(),
		rng:     rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15)),
		enabled: true,
		hits:    map[Kind]int{},
		done:    make(chan error, 1),
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host // fake-gcs-server routes some requests by Host
		},
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "backendError", fmt.Sprintf("faultproxy %s: backend: %v", o.Name, err))
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

func validKind(k Kind) bool {
	for _, v := range Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// URL is the proxy's base URL, to use where the target's was (BIGQUERY_EMULATOR_HOST).
func (p *Proxy) URL() string { return p.self }

// SetEnabled turns faults on or off; a disabled proxy forwards every request untouched.
func (p *Proxy) SetEnabled(on bool) {
	p.mu.Lock()
	p.enabled = on
	p.mu.Unlock()
}

// Stats are what a proxy did: requests forwarded or faulted, and faults by kind.
type Stats struct {
	Requests int
	Hits     map[Kind]int
}

// Faulted is the number of requests that met a fault.
func (s Stats) Faulted() int {
	n := 0
	for _, v := range s.Hits {
		n += v
	}
	return n
}

// String is "312 of 2100 requests faulted (refuse 90, lose 70, ...)".
func (s Stats) String() string {
	var parts []string
	for _, k := range Kinds() {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.Hits[k]))
	}
	return fmt.Sprintf("%d of %d requests faulted (%s)", s.Faulted(), s.Requests, strings.Join(parts, ", "))
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Requests: p.requests, Hits: map[Kind]int{}}
	for k, v := range p.hits {
		s.Hits[k] = v
	}
	return s
}

// draw decides the fault of one request ("" for none) and how long a Delay waits.
func (p *Proxy) draw() (Kind, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if !p.enabled {
		return "", 0
	}
	x := p.rng.Float64()
	for _, k := range Kinds() {
		s := p.o.Shares[k]
		if x < s {
			p.hits[k]++
			var d time.Duration
			if k == Delay {
				d = p.o.MaxDelay/4 + time.Duration(p.rng.Int64N(int64(p.o.MaxDelay*3/4)+1))
			}
			return k, d
		}
		x -= s
	}
	return "", 0
}

type lostKey struct{}

// ServeHTTP forwards r, or answers in its place, as the drawn fault says.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, delay := p.draw()
	if kind == Lose && resumableChunk(r) {
		// GCS answers a chunk sent again after its answer was lost with the range it already
		// holds; fake-gcs-server appends it a second time, which corrupts the object (a
		// staging file loaded with a chunk twice) as GCS never would. The chunk is refused
		// instead: the client sends it again, as it would after a lost answer.
		p.mu.Lock()
		p.hits[Lose]--
		p.hits[Refuse]++
		p.mu.Unlock()
		kind = Refuse
	}
	switch kind {
	case Refuse:
		drain(r.Body)
		writeError(w, http.StatusServiceUnavailable, "backendError", fmt.Sprintf("faultproxy %s: refused before forwarding (injected)", p.o.Name))
		return
	case RateLimit:
		drain(r.Body)
		writeError(w, p.o.RateLimitStatus, "rateLimitExceeded", fmt.Sprintf("faultproxy %s: rate limit exceeded (injected)", p.o.Name))
		return
	case Delay:
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	case Lose:
		r = r.WithContext(context.WithValue(r.Context(), lostKey{}, true))
	}
	p.rp.ServeHTTP(w, r)
}

// resumableChunk reports whether r sends bytes of a resumable upload session: a request to
// the session URL, which names its upload_id.
func resumableChunk(r *http.Request) bool {
	return r.URL.Query().Has("upload_id")
}

// modifyResponse keeps the client behind the proxy and, for a Lose fault, replaces the
// backend's answer (read to the end, so the backend finished) with a 503.
func (p *Proxy) modifyResponse(res *http.Response) error {
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, p.o.Target) {
		res.Header.Set("Location", p.self+strings.TrimPrefix(loc, p.o.Target))
	}
	if lost, _ := res.Request.Context().Value(lostKey{}).(bool); !lost {
		return nil
	}
	drain(res.Body)
	body := errorBody(http.StatusServiceUnavailable, "backendError",
		fmt.Sprintf("faultproxy %s: the backend answered %d; the answer was lost (injected)", p.o.Name, res.StatusCode))
	res.StatusCode = http.StatusServiceUnavailable
	res.Status = strconv.Itoa(res.StatusCode) + " " + http.StatusText(res.StatusCode)
	res.Header = http.Header{"Content-Type": {"application/json; charset=UTF-8"}}
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

func drain(rc io.ReadCloser) {
	if rc == nil {
		return
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
}

// errorBody is Google's REST error shape, which googleapi.CheckResponse parses.
func errorBody(status int, reason, msg string) []byte {
	type item struct {
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Errors  []item `json:"errors"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	e.Error.Code, e.Error.Message = status, msg
	e.Error.Errors = []item{{Domain: "global", Reason: reason, Message: msg}}
	switch status {
	case http.StatusServiceUnavailable:
		e.Error.Status = "UNAVAILABLE"
	case http.StatusTooManyRequests:
		e.Error.Status = "RESOURCE_EXHAUSTED"
	case http.StatusForbidden:
		e.Error.Status = "PERMISSION_DENIED"
	}
	b, _ := json.Marshal(e)
	return b
}

func writeError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(status, reason, msg))
}

// Close stops the proxy, waiting up to five seconds for requests in flight.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
