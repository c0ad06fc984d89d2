package scrapers

import (
	"context"
	"fmt"
	"slices"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacPlayerBoxscores stores stats.nba.com's player game log for one date, one object per
// season type played that day (messages.ScrapedNBACPlayerBoxscores).
type nbacPlayerBoxscores struct {
	cdn   *nbaCDN
	stats *nbaStats
	out   objects
}

func (j nbacPlayerBoxscores) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	d, err := requestDate(req)
	if err != nil {
		return runner.Result{}, err
	}
	prefix := messages.ScrapedNBACPlayerBoxscores.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w", req.Date, err)
	}
	if len(games) == 0 {
		return offDay(ctx, j.out, prefix, map[string]int64{"games": 0})
	}
	if n := notFinal(games); n > 0 {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w: %d of %d games", req.Date, ErrNotFinal, n, len(games))
	}
	var types []string
	for _, g := range games {
		if t := g.seasonType(); !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	var names []string
	var bodies [][]byte
	rows, covered, attempts := 0, 0, 0
	for _, t := range types {
		resp, n, g, err := j.stats.gameLog(ctx, d, t)
		if err != nil {
			return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s (%s): %w", req.Date, t, err)
		}
		rows, covered, attempts = rows+n, covered+g, attempts+resp.attempts
		names, bodies = append(names, messages.LeagueGameLogPart(t)), append(bodies, resp.body)
	}
	if rows == 0 {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w: no rows, the schedule lists %d games", req.Date, ErrEmptyWithGames, len(games))
	}
	if covered < len(games) {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w: rows for %d of %d games", req.Date, ErrIncomplete, covered, len(games))
	}
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Metrics: map[string]int64{
		"games": int64(len(games)), "rows": int64(rows), "requests": int64(attempts),
	}}, nil
}
