package scrapers

import (
	"context"
	"fmt"
	"net/url"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// bdlGames stores Ball Don't Lie's games of one date, one object per page
// (messages.ScrapedBDLGames).
type bdlGames struct {
	cdn *nbaCDN
	bdl *bdl
	out objects
}

func (j bdlGames) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	if _, err := requestDate(req); err != nil {
		return runner.Result{}, err
	}
	prefix := messages.ScrapedBDLGames.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_games %s: %w", req.Date, err)
	}
	if len(games) == 0 {
		return offDay(ctx, j.out, prefix, map[string]int64{"games": 0})
	}
	pages, err := j.bdl.pages(ctx, "/v1/games", url.Values{"dates[]": {req.Date}})
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_games %s: %w", req.Date, err)
	}
	names, bodies, rows, attempts := splitPages(pages)
	listed := map[string]bool{}
	for _, p := range pages {
		for _, r := range p.rows {
			listed[pairKey(r.VisitorTeam.Abbreviation, r.HomeTeam.Abbreviation)] = true
		}
	}
	if rows == 0 {
		return runner.Result{}, fmt.Errorf("bdl_games %s: %w: no games listed, the schedule lists %d", req.Date, ErrEmptyWithGames, len(games))
	}
	missing := missingFrom(req.Date, games, func(g scheduledGame) bool { return listed[g.key()] })
	if err := awaitMissing(ctx, len(games), missing); err != nil {
		return runner.Result{}, fmt.Errorf("bdl_games %s: %w", req.Date, err)
	}
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_games %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Missing: missing, Metrics: map[string]int64{
		"games": int64(len(games)), "games_missing": int64(len(missing)), "rows": int64(rows), "pages": int64(len(pages)), "requests": int64(attempts),
	}}, nil
}

// splitPages lists the pages' object names and bodies, their rows and the attempts made.
func splitPages(pages []bdlFetched) (names []string, bodies [][]byte, rows, attempts int) {
	for i, p := range pages {
		names = append(names, messages.PagePart(i+1))
		bodies = append(bodies, p.body)
		rows += len(p.rows)
		attempts += p.attempts
	}
	return names, bodies, rows, attempts
}
