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
	rows, attempts := 0, 0
	teams := map[string]bool{} // a team plays at most one game a date
	for _, t := range types {
		resp, n, played, err := j.stats.gameLog(ctx, d, t)
		if err != nil {
			return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s (%s): %w", req.Date, t, err)
		}
		rows, attempts = rows+n, attempts+resp.attempts
		for team := range played {
			teams[team] = true
		}
		names, bodies = append(names, messages.LeagueGameLogPart(t)), append(bodies, resp.body)
	}
	if rows == 0 {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w: no rows, the schedule lists %d games", req.Date, ErrEmptyWithGames, len(games))
	}
	missing := missingFrom(req.Date, games, func(g scheduledGame) bool { return g.bothTeams(teams) })
	if err := awaitMissing(ctx, len(games), missing); err != nil {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w", req.Date, err)
	}
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_player_boxscores %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Missing: missing, Metrics: map[string]int64{
		"games": int64(len(games)), "games_missing": int64(len(missing)), "rows": int64(rows), "requests": int64(attempts),
	}}, nil
}
