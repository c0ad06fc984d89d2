package messages

import "time"

// DefaultCatalog is the production job catalogue: every job, its upstreams, its limits and
// the dates its source can serve. Adding a job is one line here plus one implementation file
// under consumers/.
func DefaultCatalog() *Catalog {
	scr := func(j string) JobRef { return Ref(PhaseScrapers, j) }
	raw := func(j string) JobRef { return Ref(PhaseRaw, j) }
	c, err := NewCatalog(
		JobSpec{Phase: PhaseScrapers, Name: "nbac_schedule", Description: "NBA.com CDN season schedule → GCS",
			MaxConcurrency: 2, Timeout: 2 * time.Minute},
		JobSpec{Phase: PhaseScrapers, Name: "nbac_player_boxscores", Description: "stats.nba.com leaguegamelog → GCS",
			MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseScrapers, Name: "bdl_games", Description: "Ball Don't Lie games → GCS",
			MaxConcurrency: 4, Timeout: 2 * time.Minute},
		JobSpec{Phase: PhaseScrapers, Name: "bdl_player_boxscores", Description: "Ball Don't Lie stats (cursor paging) → GCS",
			MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseScrapers, Name: "bdl_injuries", Description: "Ball Don't Lie current injury report → GCS",
			MaxConcurrency: 1, Timeout: 2 * time.Minute, CurrentOnly: true},
		JobSpec{Phase: PhaseScrapers, Name: "odds_api_player_props", Description: "The Odds API historical player points props → GCS",
			MaxConcurrency: 2, Timeout: 5 * time.Minute, BackfillFrom: "2023-05-03"},
		JobSpec{Phase: PhaseScrapers, Name: "nbac_gamebook", Description: "statsdmz.nba.com official game book PDFs, one per game → GCS",
			MaxConcurrency: 4, Timeout: 5 * time.Minute},

		JobSpec{Phase: PhaseRaw, Name: "nbac_schedule", Description: "schedule object → nba_raw.nbac_schedule",
			Hard: []JobRef{scr("nbac_schedule")}, MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseRaw, Name: "nbac_player_boxscores", Description: "leaguegamelog objects → nba_raw.nbac_player_boxscores",
			Hard: []JobRef{scr("nbac_player_boxscores")}, MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseRaw, Name: "bdl_player_boxscores", Description: "BDL stats + games objects → nba_raw.bdl_player_boxscores",
			Hard: []JobRef{scr("bdl_player_boxscores"), scr("bdl_games")}, MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseRaw, Name: "bdl_injuries", Description: "BDL injury object → nba_raw.bdl_injuries (partition report_date)",
			Hard: []JobRef{scr("bdl_injuries")}, MaxConcurrency: 1, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseRaw, Name: "odds_api_player_points_props", Description: "props objects → nba_raw.odds_api_player_points_props",
			Hard: []JobRef{scr("odds_api_player_props")}, MaxConcurrency: 4, Timeout: 3 * time.Minute},
		JobSpec{Phase: PhaseRaw, Name: "nbac_gamebook_player_stats", Description: "game book PDFs → nba_raw.nbac_gamebook_player_stats (every roster player: status, reason, stat line)",
			Hard: []JobRef{scr("nbac_gamebook")}, Soft: []JobRef{raw("bdl_player_boxscores")},
			MaxConcurrency: 4, Timeout: 5 * time.Minute},

		JobSpec{Phase: PhaseReference, Name: "player_registry", Description: "raw box scores → nba_reference.player_registry (one MERGE per date)",
			Hard: []JobRef{raw("nbac_player_boxscores")}, Soft: []JobRef{raw("bdl_player_boxscores")},
			MaxConcurrency: 1, Timeout: 3 * time.Minute,
			// MaxConcurrency is per instance: one instance keeps the MERGE from racing itself.
			Deploy: Deploy{MaxInstances: 1}},

		JobSpec{Phase: PhaseReference, Name: "gamebook_registry", Description: "game books against the schedule, names resolved to player_lookup → nba_reference.gamebook_registry (one MERGE per date)",
			Hard: []JobRef{raw("nbac_schedule")}, Soft: []JobRef{raw("nbac_gamebook_player_stats"), Ref(PhaseReference, "player_registry")},
			MaxConcurrency: 1, Timeout: 3 * time.Minute,
			// Its runs rewrite earlier dates of the season too: one at a time, everywhere.
			Deploy: Deploy{MaxInstances: 1}},

		JobSpec{Phase: PhaseAnalytics, Name: "team_offense_game_summary", Description: "raw box scores + schedule → nba_analytics.team_offense_game_summary",
			Hard: []JobRef{raw("nbac_player_boxscores"), raw("nbac_schedule")}, MaxConcurrency: 4, Timeout: 5 * time.Minute},
		JobSpec{Phase: PhaseAnalytics, Name: "team_defense_game_summary", Description: "raw box scores + schedule → nba_analytics.team_defense_game_summary",
			Hard: []JobRef{raw("nbac_player_boxscores"), raw("nbac_schedule")}, MaxConcurrency: 4, Timeout: 5 * time.Minute},
		JobSpec{Phase: PhaseAnalytics, Name: "player_game_summary", Description: "box scores, props, team offense, game books → nba_analytics.player_game_summary",
			Hard: []JobRef{raw("nbac_player_boxscores"), raw("nbac_schedule")},
			Soft: []JobRef{raw("odds_api_player_points_props"), raw("bdl_player_boxscores"),
				Ref(PhaseAnalytics, "team_offense_game_summary"), Ref(PhaseReference, "player_registry"),
				raw("nbac_gamebook_player_stats")},
			MaxConcurrency: 4, Timeout: 5 * time.Minute},
	)
	if err != nil {
		panic(err) // the declaration above is checked by TestDefaultCatalog
	}
	return c
}
