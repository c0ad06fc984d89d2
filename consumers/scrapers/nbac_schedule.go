package scrapers

import (
	"context"
	"fmt"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacSchedule stores the NBA.com CDN season schedule narrowed to one date
// (messages.ScrapedNBACSchedule). It writes the object on an off day too (with no gameDates
// entry), and reports the run empty then.
type nbacSchedule struct {
	cdn *nbaCDN
	out objects
}

func (j nbacSchedule) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	if _, err := requestDate(req); err != nil {
		return runner.Result{}, err
	}
	doc, err := j.cdn.schedule(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_schedule %s: %w", req.Date, err)
	}
	body, err := doc.narrow(req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_schedule %s: render: %w", req.Date, err)
	}
	objs, err := publish(ctx, j.out, messages.ScrapedNBACSchedule.Prefix(req.Date), []string{messages.SchedulePart}, [][]byte{body})
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_schedule %s: %w", req.Date, err)
	}
	games := len(doc.games[req.Date])
	return runner.Result{Objects: objs, Empty: games == 0, Metrics: map[string]int64{"games": int64(games)}}, nil
}
