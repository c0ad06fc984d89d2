package scrapers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// nbacGamebook stores NBA.com's official game book of every game of one date, one object per
// game (messages.ScrapedNBACGamebooks), byte for byte as served.
//
// A book appears some time after the final buzzer (usually within two hours, sometimes the
// next day) and the host answers 404 until then, so a game without its book is a missing
// game of the source: awaited with a transient error, then recorded missing from
// PartialFromAttempt on. The bytes are not parsed here: a book served cut short is fetched
// again (nbaStatsDMZ.gamebook), and one that stays cut over runs until PartialFromAttempt is
// stored as served, for the raw phase to report naming the object.
type nbacGamebook struct {
	cdn *nbaCDN
	dmz *nbaStatsDMZ
	out objects
}

func (j nbacGamebook) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	d, err := requestDate(req)
	if err != nil {
		return runner.Result{}, err
	}
	prefix := messages.ScrapedNBACGamebooks.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w", req.Date, err)
	}
	if len(games) == 0 {
		return offDay(ctx, j.out, prefix, map[string]int64{"games": 0})
	}
	if n := notFinal(games); n > 0 {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w: %d of %d games", req.Date, ErrNotFinal, n, len(games))
	}
	var names []string
	var bodies [][]byte
	published := map[string]bool{}
	size, attempts := 0, 0
	for _, g := range games {
		away, home := teamCode(g.AwayTeam.TeamTricode), teamCode(g.HomeTeam.TeamTricode)
		resp, err := j.dmz.gamebook(ctx, d, away, home)
		if err != nil {
			return runner.Result{}, fmt.Errorf("nbac_gamebook %s (%s): %w", req.Date, g.id(req.Date), err)
		}
		attempts += resp.attempts
		if resp.status == http.StatusNotFound {
			continue // not published yet
		}
		published[g.key()] = true
		names, bodies = append(names, messages.GamebookPart(away, home)), append(bodies, resp.body)
		size += len(resp.body)
	}
	missing := missingFrom(req.Date, games, func(g scheduledGame) bool { return published[g.key()] })
	if len(names) == 0 {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w: no game book published yet for any of the %d games (%v)", req.Date, ErrEmptyWithGames, len(games), missing)
	}
	if err := awaitMissing(ctx, len(games), missing); err != nil {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w", req.Date, err)
	}
	var cut []string
	for i, b := range bodies {
		if !complete(b) {
			cut = append(cut, names[i])
		}
	}
	// Fetches that agreed on a cut book within one run can still be transfers cut at the
	// same point; the book is taken for what the host holds only when later runs, after the
	// runtime's retry delay, get the same: from PartialFromAttempt on, as for a missing game.
	if attempt := answeredAttempt(ctx); len(cut) > 0 && attempt < PartialFromAttempt {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w: %v served cut short the same way %d times in a row (attempt %d; from attempt %d such a book is stored as the host holds it)",
			req.Date, ErrBadBody, cut, gamebookAgreeing, attempt, PartialFromAttempt)
	}
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("nbac_gamebook %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Missing: missing, Metrics: map[string]int64{
		"games": int64(len(games)), "games_missing": int64(len(missing)), "books": int64(len(names)), "bytes": int64(size), "requests": int64(attempts),
	}}, nil
}
