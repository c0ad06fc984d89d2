package scrapers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
)

// PartialFromAttempt is the attempt of an effort on a date (runner.Info) from which a
// scheduled game that the source still leaves out is recorded missing, the run succeeding
// with Result.Missing so that the date is recorded partial. The attempts before it fail with
// a transient MissingGamesError: the subscription retries with back-off, and a source that
// was late or glitched delivers the game. It is below the runtime's attempt bound
// (CONSUMER_MAX_ATTEMPTS, runner.DefaultMaxAttempts by default), so that a game a source
// never delivers leaves the date partial, never dead; a bound set below it lets the date
// die instead.
const PartialFromAttempt = 3

// answeredAttempt is the attempt of the effort on the date that this run is, for the rules
// that judge a source by its answers (PartialFromAttempt): the runs before it that ended
// (runner.RunInfo.Failures) and this one. A run whose consumer died before it ended is
// left out: it may never have asked the source. 0 outside the runtime.
func answeredAttempt(ctx context.Context) int {
	info, ok := runner.Info(ctx)
	if !ok || info.Attempt == 0 {
		return 0
	}
	return info.Failures + 1
}

// MissingGamesError is the transient error of a run whose source left out scheduled games
// before PartialFromAttempt. It wraps ErrIncomplete.
type MissingGamesError struct {
	// Games are the games left out, sorted: canonical ids (YYYYMMDD_AWAY_HOME, from
	// nba.GameID), or NBA.com's game id for a schedule game whose teams do not map.
	Games []string
	// Scheduled is the number of games the schedule lists for the date.
	Scheduled int
	// Attempt is the run's attempt (0: run outside the runtime, which never records partial).
	Attempt int
}

// Error names the games and says when they will be recorded missing instead.
func (e *MissingGamesError) Error() string {
	return fmt.Sprintf("%s: missing %s (%d of %d scheduled games; attempt %d, from attempt %d a game still missing is recorded and the date partial)",
		ErrIncomplete, strings.Join(e.Games, ", "), len(e.Games), e.Scheduled, e.Attempt, PartialFromAttempt)
}

// Unwrap returns ErrIncomplete.
func (e *MissingGamesError) Unwrap() error { return ErrIncomplete }

// awaitMissing decides a run whose source left out the scheduled games missing: nil when
// there are none or they are no longer expected (the run records them in Result.Missing),
// else a MissingGamesError, which is transient.
func awaitMissing(ctx context.Context, scheduled int, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	attempt := answeredAttempt(ctx)
	if attempt >= PartialFromAttempt {
		return nil
	}
	return &MissingGamesError{Games: missing, Scheduled: scheduled, Attempt: attempt}
}

// EmptySnapshotsError is the transient error of an Odds API run before PartialFromAttempt
// in which a game's snapshot came back without a bookmaker while another snapshot of the
// same game has lines: the source is expected to answer it on a retry. It wraps
// ErrIncomplete.
type EmptySnapshotsError struct {
	// Snapshots are the empty ones, as "GAME at TIMESTAMP" (GAME as in MissingGamesError).
	Snapshots []string
	// Attempt is the run's attempt (0: run outside the runtime).
	Attempt int
}

// Error names the snapshots and says when their games will be recorded missing instead.
func (e *EmptySnapshotsError) Error() string {
	return fmt.Sprintf("%s: no bookmaker at %s, a game with lines at another snapshot (attempt %d, from attempt %d such a snapshot is left out, its game recorded missing and the date partial)",
		ErrIncomplete, strings.Join(e.Snapshots, ", "), e.Attempt, PartialFromAttempt)
}

// Unwrap returns ErrIncomplete.
func (e *EmptySnapshotsError) Unwrap() error { return ErrIncomplete }

// awaitEmptySnapshots decides a run with snapshots answered empty for games that have
// lines (gaps): nil when there are none or they are no longer expected, else an
// EmptySnapshotsError, which is transient.
func awaitEmptySnapshots(ctx context.Context, gaps []string) error {
	if len(gaps) == 0 {
		return nil
	}
	attempt := answeredAttempt(ctx)
	if attempt >= PartialFromAttempt {
		return nil
	}
	return &EmptySnapshotsError{Snapshots: gaps, Attempt: attempt}
}

// missingFrom lists the games for which covered is false, by id (see MissingGamesError.Games), sorted.
func missingFrom(date string, games []scheduledGame, covered func(scheduledGame) bool) []string {
	var out []string
	for _, g := range games {
		if !covered(g) {
			out = append(out, g.id(date))
		}
	}
	slices.Sort(out)
	return out
}

// id is the game's canonical id, or NBA.com's game id when its tricodes do not map to
// teams (an exhibition such as the All-Star game).
func (g scheduledGame) id(date string) string {
	if id, err := nba.GameID(date, g.AwayTeam.TeamTricode, g.HomeTeam.TeamTricode); err == nil {
		return id
	}
	return g.GameID
}

// teamCode is the NBA tricode of any spelling nba.Team accepts, else the spelling itself in
// upper case: a team no map knows matches only itself, so a game it played is reported
// missing instead of failing the date.
func teamCode(s string) string {
	if t, err := nba.Team(s); err == nil {
		return t
	}
	return strings.ToUpper(strings.TrimSpace(s))
}

// pairKey identifies a game of a date by its teams.
func pairKey(away, home string) string { return teamCode(away) + "@" + teamCode(home) }

// key is pairKey of the schedule game.
func (g scheduledGame) key() string { return pairKey(g.AwayTeam.TeamTricode, g.HomeTeam.TeamTricode) }

// bothTeams reports whether rows of both teams of the game are in teams (tricodes by
// teamCode): box scores of one side only are not the game's.
func (g scheduledGame) bothTeams(teams map[string]bool) bool {
	return teams[teamCode(g.AwayTeam.TeamTricode)] && teams[teamCode(g.HomeTeam.TeamTricode)]
}
