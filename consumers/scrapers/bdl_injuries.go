package scrapers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// bdlInjuries stores Ball Don't Lie's current injury report, every page merged into one
// document of the same shape (messages.ScrapedBDLInjuries). The source has no history, so
// only today's US Eastern date can be scraped.
type bdlInjuries struct {
	cdn *nbaCDN
	bdl *bdl
	out objects
	now func() time.Time
}

func (j bdlInjuries) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	if _, err := requestDate(req); err != nil {
		return runner.Result{}, err
	}
	if today := messages.GameDate(j.now()); req.Date != today {
		return runner.Result{}, runner.Permanent(fmt.Errorf("bdl_injuries %s: %w: Ball Don't Lie serves only the current injury report, and today (US Eastern) is %s; enqueue it for today only",
			req.Date, messages.ErrNotBackfillable, today))
	}
	prefix := messages.ScrapedBDLInjuries.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_injuries %s: %w", req.Date, err)
	}
	pages, err := j.bdl.pages(ctx, "/v1/player_injuries", nil)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_injuries %s: %w", req.Date, err)
	}
	var doc struct {
		Data []json.RawMessage `json:"data"`
		Meta struct {
			PerPage int `json:"per_page"`
		} `json:"meta"`
	}
	doc.Data = []json.RawMessage{}
	doc.Meta.PerPage = j.bdl.perPage
	attempts := 0
	for i, p := range pages {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(p.body, &page); err != nil {
			return runner.Result{}, fmt.Errorf("bdl_injuries %s: page %d: %w: %w", req.Date, i+1, ErrBadBody, err)
		}
		doc.Data = append(doc.Data, page.Data...)
		attempts += p.attempts
	}
	metrics := map[string]int64{"games": int64(len(games)), "rows": int64(len(doc.Data)), "pages": int64(len(pages)), "requests": int64(attempts)}
	if len(doc.Data) == 0 {
		if len(games) > 0 {
			return runner.Result{}, fmt.Errorf("bdl_injuries %s: %w: an empty injury report on a day with %d games", req.Date, ErrEmptyWithGames, len(games))
		}
		return offDay(ctx, j.out, prefix, metrics)
	}
	body, err := marshal(doc)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_injuries %s: render: %w", req.Date, err)
	}
	objs, err := publish(ctx, j.out, prefix, []string{messages.InjuriesPart}, [][]byte{body})
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_injuries %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Metrics: metrics}, nil
}
