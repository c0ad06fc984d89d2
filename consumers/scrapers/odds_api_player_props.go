package scrapers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// oddsAPIPlayerProps stores The Odds API's historical player_points odds for the games of one
// date, taken at pre-tip snapshots only (messages.ScrapedOddsAPIPlayerProps): the events
// list at one snapshot and one object per (event, snapshot). A snapshot at which the event
// is not listed (404) is skipped and counted; a scheduled game missing from the events list,
// or without a bookmaker line at any of its snapshots, is a missing game (see
// PartialFromAttempt), and so is a game with lines at one snapshot and none at another. The first date the
// API has props for is the catalogue's BackfillFrom: the caller refuses earlier dates before
// Run (messages.Catalog.CheckDate), so the job does not check it again.
type oddsAPIPlayerProps struct {
	cdn     *nbaCDN
	odds    *oddsAPI
	out     objects
	offsets []time.Duration // before tip-off, largest first
}

// preTip is the 5-minute snapshot at or before tip−offset: always strictly before tip-off.
func preTip(tip time.Time, offset time.Duration) time.Time {
	return tip.Add(-offset).UTC().Truncate(oddsSnapshotStep)
}

type oddsGame struct {
	id        string // the schedule game's id (missingFrom)
	event     oddsEvent
	tip       time.Time
	away      string
	home      string
	snapshots []time.Time
}

func (j oddsAPIPlayerProps) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	if _, err := requestDate(req); err != nil {
		return runner.Result{}, err
	}
	defer j.odds.recordUsage(ctx) // whatever the outcome: a refused call tells the balance too
	prefix := messages.ScrapedOddsAPIPlayerProps.Prefix(req.Date)
	games, err := j.cdn.gamesOn(ctx, req.Date)
	if err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: %w", req.Date, err)
	}
	metrics := map[string]int64{"games": int64(len(games))}
	if len(games) == 0 {
		return offDay(ctx, j.out, prefix, metrics)
	}
	scheduled := map[string]scheduledGame{}
	var first time.Time
	for _, g := range games {
		scheduled[g.key()] = g
		tip, err := time.Parse(time.RFC3339, g.GameDateTimeUTC)
		if err != nil {
			return runner.Result{}, runner.Permanent(fmt.Errorf("odds_api_player_props %s: schedule game %s: gameDateTimeUTC %q is not a UTC timestamp", req.Date, g.GameID, g.GameDateTimeUTC))
		}
		if first.IsZero() || tip.Before(first) {
			first = tip
		}
	}
	credits := 0
	// The events list is taken at the first game's latest snapshot: every game of the date is
	// listed then and none has started.
	evAt := preTip(first, j.offsets[len(j.offsets)-1])
	evs, list, err := j.odds.events(ctx, evAt)
	if err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: events at %s: %w", req.Date, evAt.Format(oddsTimeLayout), err)
	}
	credits += evs.credits
	var matched []oddsGame
	for _, ev := range list {
		tip, err := time.Parse(time.RFC3339, ev.CommenceTime)
		if err != nil {
			return runner.Result{}, fmt.Errorf("odds_api_player_props %s: event %s: %w: commence_time %q", req.Date, ev.ID, ErrBadBody, ev.CommenceTime)
		}
		if messages.GameDate(tip) != req.Date {
			continue
		}
		away, errA := nba.Team(ev.AwayTeam)
		home, errH := nba.Team(ev.HomeTeam)
		if err := errors.Join(errA, errH); err != nil {
			return runner.Result{}, runner.Permanent(fmt.Errorf("odds_api_player_props %s: event %s: %w", req.Date, ev.ID, err))
		}
		sg, ok := scheduled[pairKey(away, home)]
		if !ok {
			continue // not an NBA.com schedule game of this date (a relocated or exhibition game)
		}
		g := oddsGame{id: sg.id(req.Date), event: ev, tip: tip, away: away, home: home}
		for _, off := range j.offsets { // largest offset first: snapshots in time order
			if s := preTip(tip, off); len(g.snapshots) == 0 || !s.Equal(g.snapshots[len(g.snapshots)-1]) {
				g.snapshots = append(g.snapshots, s)
			}
		}
		matched = append(matched, g)
	}
	metrics["events"] = int64(len(matched))
	if len(matched) == 0 {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: %w: no events at %s for the %d scheduled games",
			req.Date, ErrEmptyWithGames, evAt.Format(oddsTimeLayout), len(games))
	}
	listed := map[string]bool{}
	for _, g := range matched {
		listed[g.id] = true
	}
	// A game the events list leaves out is awaited before any odds are bought: retrying the
	// list costs one credit, the whole date's odds many.
	unlisted := missingFrom(req.Date, games, func(g scheduledGame) bool { return listed[g.id(req.Date)] })
	if err := awaitMissing(ctx, len(games), unlisted); err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: events at %s: %w", req.Date, evAt.Format(oddsTimeLayout), err)
	}
	sort.Slice(matched, func(a, b int) bool { return matched[a].event.ID < matched[b].event.ID })
	type part struct {
		name, game string
		body       []byte
		lines      bool
		at         time.Time
	}
	parts := []part{{name: messages.OddsEventsPart(evAt), body: evs.body, lines: true}}
	var snapshots, missing, withLines int64
	lined := map[string]bool{} // games with bookmaker lines at one snapshot at least
	for _, g := range matched {
		for _, s := range g.snapshots {
			got, books, err := j.odds.eventOdds(ctx, g.event.ID, s)
			if errors.Is(err, errEventNotListed) {
				missing++
				continue
			}
			if err != nil {
				return runner.Result{}, fmt.Errorf("odds_api_player_props %s: event %s (%s@%s) at %s: %w",
					req.Date, g.event.ID, g.away, g.home, s.Format(oddsTimeLayout), err)
			}
			credits += got.credits
			snapshots++
			if books > 0 {
				withLines++
				lined[g.id] = true
			}
			parts = append(parts, part{name: messages.OddsEventPart(g.event.ID, g.away, g.home, s), game: g.id, body: got.body, lines: books > 0, at: s})
		}
	}
	metrics["snapshots"], metrics["snapshots_missing"], metrics["snapshots_with_lines"] = snapshots, missing, withLines
	metrics["odds_credits_used"] = int64(credits)
	metrics["odds_credits_remaining"] = int64(j.odds.credits())
	if withLines == 0 {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: %w: no bookmaker lines in %d snapshots of %d events (%d not listed)",
			req.Date, ErrEmptyWithGames, snapshots, len(matched), missing)
	}
	// A game without a line at any of its snapshots (not listed, or no bookmaker) has no
	// props: its players would have no line downstream.
	unlined := missingFrom(req.Date, games, func(g scheduledGame) bool { return lined[g.id(req.Date)] })
	if err := awaitMissing(ctx, len(games), unlined); err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: player points lines: %w", req.Date, err)
	}
	// A snapshot without a bookmaker, of a game that has lines at another of its snapshots,
	// is the source failing to answer (an empty 200), not the market: bookmakers keep a
	// game's points lines up from when they open them until tip-off, and every snapshot is
	// taken between. It is awaited like a missing game, then left out and its game recorded
	// missing; it is never stored as a snapshot without lines.
	var gaps []string
	gapped := map[string]bool{}
	for _, p := range parts {
		if !p.lines && lined[p.game] {
			gaps = append(gaps, p.game+" at "+p.at.Format(oddsTimeLayout))
			gapped[p.game] = true
		}
	}
	if err := awaitEmptySnapshots(ctx, gaps); err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: player points lines: %w", req.Date, err)
	}
	var names []string
	var bodies [][]byte
	for _, p := range parts {
		if p.lines || !gapped[p.game] {
			names, bodies = append(names, p.name), append(bodies, p.body)
		}
	}
	missingGames := unlined
	for id := range gapped {
		missingGames = append(missingGames, id)
	}
	slices.Sort(missingGames)
	metrics["games_missing"] = int64(len(missingGames))
	metrics["snapshots_without_lines_left_out"] = int64(len(gaps))
	objs, err := publish(ctx, j.out, prefix, names, bodies)
	if err != nil {
		return runner.Result{}, fmt.Errorf("odds_api_player_props %s: %w", req.Date, err)
	}
	return runner.Result{Objects: objs, Missing: missingGames, Metrics: metrics}, nil
}
