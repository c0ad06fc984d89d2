package scrapers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

func TestPauseHoldsEveryCaller(t *testing.T) {
	t.Parallel()
	l := newLimiter(6000, 5)
	const pause = 150 * time.Millisecond
	l.pause(pause)
	start := time.Now()
	done := make(chan time.Duration, 3)
	for range 3 {
		go func() {
			if err := l.wait(context.Background()); err != nil {
				t.Error(err)
			}
			done <- time.Since(start)
		}()
	}
	for range 3 {
		if d := <-done; d < pause-5*time.Millisecond {
			t.Errorf("a caller went ahead after %s of a %s Retry-After pause", d, pause)
		}
	}
}

func TestWaitGivesUpWithTheContext(t *testing.T) {
	t.Parallel()
	l := newLimiter(60, 1)
	l.pause(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.wait(ctx); err == nil {
		t.Errorf("wait returned nil under an hour's pause and a 10ms deadline")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "0": 0, "soon": 0, "-1": 0} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
	if got := parseRetryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); got < 58*time.Second || got > time.Minute {
		t.Errorf("parseRetryAfter(HTTP date a minute ahead) = %s", got)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	got := redactURL("https://api.the-odds-api.com/v4/historical/sports/basketball_nba/events?apiKey=abc123&date=2024-10-22T23%3A25%3A00Z")
	want := "https://api.the-odds-api.com/v4/historical/sports/basketball_nba/events?apiKey=REDACTED&date=2024-10-22T23%3A25%3A00Z"
	if got != want {
		t.Errorf("redactURL = %s\nwant %s", got, want)
	}
}

// A daily request that arrives while backfill requests wait for the source gets the next
// token: the daily lane is not paced behind a backlog.
func TestDailyLaneGoesFirst(t *testing.T) {
	t.Parallel()
	l := newLimiter(600, 1) // a token every 100 ms
	if err := l.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 6)
	for range 5 {
		go func() {
			if err := l.wait(context.Background()); err == nil {
				order <- "backfill"
			}
		}()
	}
	time.Sleep(30 * time.Millisecond) // the backfill requests are waiting
	go func() {
		ctx := runner.WithInfo(context.Background(), runner.RunInfo{Lane: messages.LaneDaily})
		if err := l.wait(ctx); err == nil {
			order <- "daily"
		}
	}()
	if first := <-order; first != "daily" {
		t.Errorf("the first token after a daily request arrived went to %s", first)
	}
	for range 5 {
		<-order
	}
}
