package scrapers

import (
	"context"
	"fmt"
	"net/url"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// bdlPlayerBoxscores stores Ball Don't Lie's player stats of one date, following the cursor,
// one object per page (messages.ScrapedBDLPlayerBoxscores).
type bdlPlayerBoxscores struct {
	cdn *nbaCDN
	bdl *bdl
	out objects
}

func (j bdlPlayerBoxscores) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	if _, err := requestDate(req); err != nil {
		return runner.Result{}, err
	}
	prefix := messages.ScrapedBDLPlayerBoxscores.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w", req.Date, err)
	}
	if len(games) == 0 {
		return offDay(ctx, j.out, prefix, map[string]int64{"games": 0})
	}
	if n := notFinal(games); n > 0 {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w: %d of %d games", req.Date, ErrNotFinal, n, len(games))
	}
	pages, err := j.bdl.pages(ctx, "/v1/stats", url.Values{"dates[]": {req.Date}})
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w", req.Date, err)
	}
	names, bodies, rows, attempts := splitPages(pages)
	teams := map[string]bool{} // a team plays at most one game a date
	for _, p := range pages {
		for _, r := range p.rows {
			teams[teamCode(r.Team.Abbreviation)] = true
		}
	}
	if rows == 0 {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w: no rows, the schedule lists %d games", req.Date, ErrEmptyWithGames, len(games))
	}
	missing := missingFrom(req.Date, games, func(g scheduledGame) bool { return g.bothTeams(teams) })
	if err := awaitMissing(ctx, len(games), missing); err != nil {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w", req.Date, err)
	}
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("bdl_player_boxscores %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Missing: missing, Metrics: map[string]int64{
		"games": int64(len(games)), "games_missing": int64(len(missing)), "rows": int64(rows), "pages": int64(len(pages)), "requests": int64(attempts),
	}}, nil
}
