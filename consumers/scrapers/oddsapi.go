package scrapers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/consumers/runner"
)

const (
	oddsSport = "basketball_nba"
	// oddsEventsCost and oddsEventOddsCost are what The Odds API charges for the historical
	// events list and for one event's odds with one region and one market.
	oddsEventsCost    = 1
	oddsEventOddsCost = 10
	// oddsSnapshotStep is the spacing of historical snapshots.
	oddsSnapshotStep = 5 * time.Minute
	// oddsTimeLayout is the API's timestamp form.
	oddsTimeLayout = "2006-01-02T15:04:05Z"
)

// oddsAPI calls The Odds API v4 historical endpoints (the key goes in the apiKey query
// parameter). It tracks the account's credits from the response headers, shared by every
// worker of the process, and refuses a call that would take them below the floor.
type oddsAPI struct {
	src   *source
	floor int
	// usage keeps the last known credits in the bucket (recordUsage); nil: not kept.
	usage *ledger.Ledger

	mu        sync.Mutex
	known     bool
	remaining int
	used      int
	reserved  int
}

// observe reads the credit headers of a response. Responses of concurrent calls arrive out
// of order; the one with the highest used count is the latest state.
func (c *oddsAPI) observe(h http.Header) {
	rem, err1 := strconv.Atoi(h.Get("x-requests-remaining"))
	used, err2 := strconv.Atoi(h.Get("x-requests-used"))
	if err1 != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err2 != nil || !c.known || used >= c.used {
		c.known, c.remaining = true, rem
		if err2 == nil {
			c.used = used
		}
	}
}

// reserve claims cost credits for one call, or fails permanently if the call would take the
// remaining credits below the floor. release returns the reservation once the call is done.
func (c *oddsAPI) reserve(endpoint string, cost int) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known && c.remaining-c.reserved-cost < c.floor {
		return nil, runner.Permanent(fmt.Errorf("odds GET %s: %w: %d credits remaining (%d reserved by calls in flight), the call costs %d, ODDS_API_CREDIT_FLOOR is %d; raise the plan's budget or the floor, then re-enqueue",
			endpoint, ErrCreditFloor, c.remaining, c.reserved, cost, c.floor))
	}
	c.reserved += cost
	return func() {
		c.mu.Lock()
		c.reserved -= cost
		c.mu.Unlock()
	}, nil
}

// credits returns the last known remaining credits (-1 if unknown).
func (c *oddsAPI) credits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		return -1
	}
	return c.remaining
}

// recordUsage keeps the account's last known credits in the bucket
// (ledger.SourceOddsAPI), where producer plan reads them: planning a backfill must not
// spend credits to learn the balance. A failed write is logged, not returned: the date's
// odds are bought by then, and a retry would buy them again.
func (c *oddsAPI) recordUsage(ctx context.Context) {
	c.mu.Lock()
	known, remaining, used := c.known, c.remaining, c.used
	c.mu.Unlock()
	if c.usage == nil || !known {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	u := ledger.SourceUsage{Source: ledger.SourceOddsAPI, Remaining: remaining, Used: used}
	if err := c.usage.PutSourceUsage(ctx, u); err != nil {
		c.src.log.LogAttrs(ctx, slog.LevelWarn, "odds api credits not recorded", slog.String("err", err.Error()))
	}
}

// oddsEvent is an event of the historical events list.
type oddsEvent struct {
	ID           string `json:"id"`
	CommenceTime string `json:"commence_time"`
	HomeTeam     string `json:"home_team"`
	AwayTeam     string `json:"away_team"`
}

type oddsHistorical[T any] struct {
	Timestamp string `json:"timestamp"`
	Data      T      `json:"data"`
}

type oddsEventOdds struct {
	ID         string            `json:"id"`
	Bookmakers []json.RawMessage `json:"bookmakers"`
}

// oddsFetched is one historical response.
type oddsFetched struct {
	body    []byte
	credits int // x-requests-last
}

// get makes one historical call at snapshot ts, charging its credits against the floor. A
// response for an earlier snapshot than ts means ts is not available yet.
func (c *oddsAPI) get(ctx context.Context, endpoint string, q url.Values, ts time.Time, cost int, pass []int, data any) (*response, error) {
	release, err := c.reserve(endpoint, cost)
	if err != nil {
		return nil, err
	}
	defer release()
	q.Set("date", ts.UTC().Format(oddsTimeLayout))
	var served string
	resp, err := c.src.get(ctx, request{endpoint: endpoint, query: q, pass: pass, decode: func(body []byte) error {
		h := oddsHistorical[json.RawMessage]{}
		if err := json.Unmarshal(body, &h); err != nil {
			return err
		}
		served = h.Timestamp
		return json.Unmarshal(h.Data, data)
	}})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusOK {
		at, err := time.Parse(time.RFC3339, served)
		if err != nil {
			return nil, fmt.Errorf("odds GET %s: %w: timestamp %q", endpoint, ErrBadBody, served)
		}
		if !at.Equal(ts) {
			return nil, fmt.Errorf("odds GET %s at %s: %w (the source's snapshot is %s); retry after it passes",
				endpoint, ts.UTC().Format(oddsTimeLayout), ErrNotYetAvailable, served)
		}
	}
	return resp, nil
}

// events lists the events at snapshot ts.
func (c *oddsAPI) events(ctx context.Context, ts time.Time) (oddsFetched, []oddsEvent, error) {
	var evs []oddsEvent
	resp, err := c.get(ctx, "/v4/historical/sports/"+oddsSport+"/events", url.Values{}, ts, oddsEventsCost, nil, &evs)
	if err != nil {
		return oddsFetched{}, nil, err
	}
	return oddsFetched{body: resp.body, credits: lastCost(resp.header)}, evs, nil
}

// errEventNotListed: the event is not listed at that snapshot (404), which is normal for a
// snapshot taken before the event was listed or after it expired.
var errEventNotListed = errors.New("event not listed at this snapshot")

// eventOdds fetches one event's player_points odds at snapshot ts, in American prices.
func (c *oddsAPI) eventOdds(ctx context.Context, id string, ts time.Time) (oddsFetched, int, error) {
	q := url.Values{"regions": {"us"}, "markets": {"player_points"}, "oddsFormat": {"american"}}
	endpoint := "/v4/historical/sports/" + oddsSport + "/events/" + url.PathEscape(id) + "/odds"
	var ev oddsEventOdds
	resp, err := c.get(ctx, endpoint, q, ts, oddsEventOddsCost, []int{http.StatusNotFound}, &ev)
	if err != nil {
		return oddsFetched{}, 0, err
	}
	if resp.status == http.StatusNotFound {
		var e struct {
			ErrorCode string `json:"error_code"`
		}
		if json.Unmarshal(resp.body, &e) != nil || e.ErrorCode != "EVENT_NOT_FOUND" {
			return oddsFetched{}, 0, runner.Permanent(&StatusError{Source: c.src.name, Endpoint: endpoint, Status: resp.status, Code: e.ErrorCode,
				Hint: "no such route; check ODDS_API_BASE_URL"})
		}
		return oddsFetched{}, 0, errEventNotListed
	}
	return oddsFetched{body: resp.body, credits: lastCost(resp.header)}, len(ev.Bookmakers), nil
}

func lastCost(h http.Header) int {
	n, _ := strconv.Atoi(h.Get("x-requests-last"))
	return n
}
