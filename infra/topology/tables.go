package topology

import "cloud.google.com/go/bigquery"

// Datasets are the BigQuery datasets of the pipeline.
func Datasets() []string { return []string{"nba_raw", "nba_reference", "nba_analytics"} }

// Tables are the BigQuery tables of the pipeline, declared once here. Every table but
// the player registry is DATE-partitioned, so that a job replaces exactly one day with a
// WRITE_TRUNCATE into table$YYYYMMDD.
func Tables() []Table {
	return []Table{
		{
			Dataset: "nba_raw", Name: "nbac_schedule",
			Description:    "NBA.com CDN schedule, one row per game (scrapers/nbac_schedule → raw/nbac_schedule).",
			Schema:         nbacScheduleSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"game_id"},
		},
		{
			Dataset: "nba_raw", Name: "nbac_player_boxscores",
			Description:    "stats.nba.com leaguegamelog, one row per player and game.",
			Schema:         boxScoreSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"game_id", "player_lookup"},
		},
		{
			Dataset: "nba_raw", Name: "bdl_player_boxscores",
			Description:    "Ball Don't Lie stats, one row per player and game (DNP rows kept with 0 minutes).",
			Schema:         boxScoreSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"game_id", "player_lookup"},
		},
		{
			Dataset: "nba_raw", Name: "bdl_injuries",
			Description:    "Ball Don't Lie injury report as scraped on report_date, one row per player.",
			Schema:         bdlInjuriesSchema(),
			PartitionField: "report_date", RequirePartitionFilter: true,
			Clustering: []string{"player_lookup"},
		},
		{
			Dataset: "nba_raw", Name: "odds_api_player_points_props",
			Description:    "The Odds API player_points lines, one row per event, snapshot, bookmaker and player.",
			Schema:         oddsPropsSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"game_id", "player_lookup"},
		},
		{
			Dataset: "nba_raw", Name: "nbac_gamebook_player_stats",
			Description:    "NBA.com official game books, one row per roster player and game: availability status, reason and its category, the stat line of those who played.",
			Schema:         gamebookSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"game_id", "player_lookup"},
		},
		{
			Dataset: "nba_reference", Name: "player_registry",
			Description: "One row per player_lookup: a stable universal id, names seen per source, teams, first and last game date.",
			Schema:      playerRegistrySchema(),
			Clustering:  []string{"player_lookup"},
		},
		{
			// Not filter-required: each date's MERGE also resolves again the names of other
			// dates that the registry could not resolve before.
			Dataset: "nba_reference", Name: "gamebook_registry",
			Description:    "Per date, one row per scheduled game saying whether its game book was read, and one row per name of each book read with the player_lookup it resolves to; unresolved names are kept with a NULL player_lookup.",
			Schema:         gamebookRegistrySchema(),
			PartitionField: "game_date",
			Clustering:     []string{"game_id"},
		},
		{
			Dataset: "nba_analytics", Name: "team_offense_game_summary",
			Description:    "One row per game and team: totals, possessions estimate, offensive rating, result.",
			Schema:         teamOffenseSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"team_abbr"},
		},
		{
			Dataset: "nba_analytics", Name: "team_defense_game_summary",
			Description:    "One row per game and team: what the opponent scored and shot, rebounds, turnovers forced, possessions, pace and defensive rating.",
			Schema:         teamDefenseSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"team_abbr"},
		},
		{
			Dataset: "nba_analytics", Name: "player_game_summary",
			Description:    "One row per game date and player who played (box score, consensus pre-tip points line and its outcome, usage, provenance, availability), and one per player with a line who did not play (the line void).",
			Schema:         playerGameSummarySchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"player_lookup"},
		},
	}
}

func field(name string, t bigquery.FieldType, desc string) *bigquery.FieldSchema {
	return &bigquery.FieldSchema{Name: name, Type: t, Description: desc}
}

func required(name string, t bigquery.FieldType, desc string) *bigquery.FieldSchema {
	return &bigquery.FieldSchema{Name: name, Type: t, Description: desc, Required: true}
}

func repeated(name string, t bigquery.FieldType, desc string) *bigquery.FieldSchema {
	return &bigquery.FieldSchema{Name: name, Type: t, Description: desc, Repeated: true}
}

const (
	gameIDDesc   = "Canonical game key YYYYMMDD_AWAY_HOME (NBA tricodes), identical across sources."
	gameDateDesc = "US Eastern game date."
	lookupDesc   = "Lower-case ASCII letters and digits of the name, accents folded, suffixes removed."
)

// provenance are the columns every raw table ends with.
func provenance() bigquery.Schema {
	return bigquery.Schema{
		required("source_file_path", bigquery.StringFieldType, "gs:// URI of the scraped object the row came from."),
		required("processed_at", bigquery.TimestampFieldType, "When the raw job loaded the row."),
	}
}

func nbacScheduleSchema() bigquery.Schema {
	s := bigquery.Schema{
		required("game_id", bigquery.StringFieldType, gameIDDesc),
		required("nba_game_id", bigquery.StringFieldType, "NBA.com game id, e.g. 0022400061."),
		field("game_code", bigquery.StringFieldType, "NBA.com game code, e.g. 20241022/NYKBOS."),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
		required("season_year", bigquery.IntegerFieldType, "Start year of the season (2024 for 2024-25)."),
		field("game_status", bigquery.IntegerFieldType, "1 scheduled, 2 in progress, 3 final."),
		field("game_start_utc", bigquery.TimestampFieldType, "Tip-off instant."),
		required("home_team_abbr", bigquery.StringFieldType, "Home team tricode."),
		required("away_team_abbr", bigquery.StringFieldType, "Away team tricode."),
		field("home_team_score", bigquery.IntegerFieldType, "Home score (0 before the game)."),
		field("away_team_score", bigquery.IntegerFieldType, "Away score (0 before the game)."),
		field("arena_name", bigquery.StringFieldType, ""),
		field("is_playoffs", bigquery.BooleanFieldType, "True for a postseason game (game id prefix 004)."),
	}
	return append(s, provenance()...)
}

func boxScoreSchema() bigquery.Schema {
	i := bigquery.IntegerFieldType
	s := bigquery.Schema{
		required("game_id", bigquery.StringFieldType, gameIDDesc),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
		required("season_year", i, "Start year of the season."),
		required("team_abbr", bigquery.StringFieldType, "The player's team tricode."),
		required("opponent_abbr", bigquery.StringFieldType, "The opponent's tricode."),
		required("is_home", bigquery.BooleanFieldType, ""),
		required("player_full_name", bigquery.StringFieldType, "The name as the source spells it."),
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		required("source_player_id", i, "The source's own player id."),
		field("minutes", bigquery.FloatFieldType, "Minutes played (decimal)."),
		field("points", i, ""),
		field("assists", i, ""),
		field("rebounds", i, ""),
		field("offensive_rebounds", i, ""),
		field("defensive_rebounds", i, ""),
		field("steals", i, ""),
		field("blocks", i, ""),
		field("turnovers", i, ""),
		field("personal_fouls", i, ""),
		field("fgm", i, ""),
		field("fga", i, ""),
		field("fg3m", i, ""),
		field("fg3a", i, ""),
		field("ftm", i, ""),
		field("fta", i, ""),
		field("plus_minus", i, "NULL where the source does not report it."),
	}
	return append(s, provenance()...)
}

func bdlInjuriesSchema() bigquery.Schema {
	s := bigquery.Schema{
		required("report_date", bigquery.DateFieldType, "US Eastern date the report was scraped."),
		required("bdl_player_id", bigquery.IntegerFieldType, ""),
		required("player_full_name", bigquery.StringFieldType, "BDL first and last name."),
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		field("team_abbr", bigquery.StringFieldType, "Tricode of the player's team, NULL if BDL gives none."),
		field("status", bigquery.StringFieldType, "Out, Day-To-Day, ..."),
		field("return_date_text", bigquery.StringFieldType, "BDL's return date as printed, e.g. Nov 17."),
		field("expected_return_date", bigquery.DateFieldType, "return_date_text as the first such date on or after report_date."),
		field("description", bigquery.StringFieldType, ""),
	}
	return append(s, provenance()...)
}

func oddsPropsSchema() bigquery.Schema {
	s := bigquery.Schema{
		required("game_id", bigquery.StringFieldType, gameIDDesc),
		required("odds_api_event_id", bigquery.StringFieldType, ""),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
		required("game_start_time", bigquery.TimestampFieldType, "commence_time of the event."),
		required("home_team_abbr", bigquery.StringFieldType, ""),
		required("away_team_abbr", bigquery.StringFieldType, ""),
		required("snapshot_timestamp", bigquery.TimestampFieldType, "The historical snapshot the line was read at."),
		required("minutes_before_tipoff", bigquery.IntegerFieldType, "Whole minutes from snapshot to tip-off, rounded down; negative after tip-off."),
		required("bookmaker", bigquery.StringFieldType, "Bookmaker key, e.g. draftkings."),
		required("player_name", bigquery.StringFieldType, "The Odds API's spelling."),
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		required("points_line", bigquery.FloatFieldType, ""),
		field("over_price_american", bigquery.IntegerFieldType, ""),
		field("under_price_american", bigquery.IntegerFieldType, ""),
	}
	return append(s, provenance()...)
}

func gamebookSchema() bigquery.Schema {
	i, st := bigquery.IntegerFieldType, bigquery.StringFieldType
	s := bigquery.Schema{
		required("game_id", st, gameIDDesc),
		required("nba_game_id", st, "NBA.com game id, e.g. 0022400061."),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
		required("season_year", i, "Start year of the season."),
		required("team_abbr", st, "The player's team tricode."),
		required("opponent_abbr", st, "The opponent's tricode."),
		required("is_home", bigquery.BooleanFieldType, ""),
		required("printed_name", st, "The name as the book prints it: the full name in the box score, usually the last name only in the inactive list (Morant, Jackson Jr.)."),
		required("name_key", st, "player_lookup of printed_name as printed (jackson for Jackson Jr.): the last name's key when that is all the book prints."),
		field("player_full_name", st, "The full name: as printed, or of the box score row the printed last name matched; NULL when unresolved."),
		field("player_lookup", st, lookupDesc+" NULL when the printed last name matches no player, or several, of the team's box score that day."),
		required("name_resolution", st, "printed (the book prints the full name), boxscore (the last name matched one player of the team in that day's box scores) or unresolved."),
		field("jersey", st, "Jersey number; NULL on the inactive list, which prints none."),
		field("position", st, "A starter's position (G, F, C); NULL on the bench."),
		required("starter", bigquery.BooleanFieldType, ""),
		required("status", st, "active (played), dnp (did not play), dnd (did not dress), nwt (not with the team) or inactive."),
		field("reason", st, "Why he did not play, as printed without the status: Coach's Decision, Injury/Illness - Left Ankle; Sprain. NULL when active."),
		field("reason_category", st, "coach_decision, injury_illness, personal, not_with_team, g_league, suspension or other. NULL when active."),
		field("minutes", bigquery.FloatFieldType, "Minutes played (decimal); NULL unless active."),
		field("points", i, "NULL unless active, as every stat below."),
		field("fgm", i, ""),
		field("fga", i, ""),
		field("fg3m", i, ""),
		field("fg3a", i, ""),
		field("ftm", i, ""),
		field("fta", i, ""),
		field("offensive_rebounds", i, ""),
		field("defensive_rebounds", i, ""),
		field("rebounds", i, ""),
		field("assists", i, ""),
		field("personal_fouls", i, ""),
		field("steals", i, ""),
		field("turnovers", i, ""),
		field("blocks", i, ""),
		field("plus_minus", i, ""),
	}
	return append(s, provenance()...)
}

func gamebookRegistrySchema() bigquery.Schema {
	st := bigquery.StringFieldType
	return bigquery.Schema{
		required("game_date", bigquery.DateFieldType, gameDateDesc),
		required("game_id", st, gameIDDesc),
		required("entry", st, "game for a game's row; TEAM/printed name for a name's row. With game_date and game_id, the row's key."),
		required("gamebook", st, "parsed (the game's book was read) or missing (the schedule has the game, nba_raw.nbac_gamebook_player_stats has no book of it)."),
		field("home_team_abbr", st, ""),
		field("away_team_abbr", st, ""),
		field("source_file_path", st, "gs:// URI of the book; NULL when missing."),
		field("team_abbr", st, "A name's team; NULL on a game's row."),
		field("printed_name", st, "As the book prints it; NULL on a game's row."),
		field("status", st, "A name's availability status; NULL on a game's row."),
		field("player_lookup", st, lookupDesc+" The key of nba_reference.player_registry. NULL on a game's row and for a name nothing resolves (listed, not dropped)."),
		field("resolution", st, "printed, boxscore (by the raw job), registry (the last name matched one player the team fielded that season) or unresolved; NULL on a game's row."),
		field("updated_at", bigquery.TimestampFieldType, "When a MERGE last changed the row."),
	}
}

func playerRegistrySchema() bigquery.Schema {
	return bigquery.Schema{
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		required("universal_player_id", bigquery.StringFieldType, "Stable id derived from player_lookup only: <player_lookup>_001."),
		field("player_name", bigquery.StringFieldType, "The NBA.com spelling when seen there, else another source's."),
		field("nba_player_id", bigquery.IntegerFieldType, ""),
		field("bdl_player_id", bigquery.IntegerFieldType, ""),
		repeated("nbac_names", bigquery.StringFieldType, "Spellings seen in nba_raw.nbac_player_boxscores."),
		repeated("bdl_names", bigquery.StringFieldType, "Spellings seen in nba_raw.bdl_player_boxscores."),
		repeated("teams", bigquery.StringFieldType, "Tricodes the player has played for."),
		field("first_game_date", bigquery.DateFieldType, ""),
		field("last_game_date", bigquery.DateFieldType, ""),
		field("updated_at", bigquery.TimestampFieldType, "When a MERGE last changed the row."),
	}
}

// The analytics tables are written by query jobs, whose results are NULLABLE: their columns
// are NULLABLE too, or BigQuery would reject the destination's schema.
func teamOffenseSchema() bigquery.Schema {
	i, f := bigquery.IntegerFieldType, bigquery.FloatFieldType
	return bigquery.Schema{
		field("game_id", bigquery.StringFieldType, gameIDDesc),
		field("game_date", bigquery.DateFieldType, gameDateDesc),
		field("season_year", i, ""),
		field("team_abbr", bigquery.StringFieldType, ""),
		field("opponent_abbr", bigquery.StringFieldType, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
		field("points", i, ""),
		field("opponent_points", i, ""),
		field("fgm", i, ""),
		field("fga", i, ""),
		field("fg3m", i, ""),
		field("fg3a", i, ""),
		field("ftm", i, ""),
		field("fta", i, ""),
		field("offensive_rebounds", i, ""),
		field("defensive_rebounds", i, ""),
		field("assists", i, ""),
		field("turnovers", i, ""),
		field("team_minutes", f, "Sum of the players' minutes (240 in regulation)."),
		field("possessions", f, "FGA + 0.44 FTA - OREB + TOV."),
		field("offensive_rating", f, "Points per 100 possessions."),
		field("win", bigquery.BooleanFieldType, ""),
		field("margin", i, "points - opponent_points."),
		field("processed_at", bigquery.TimestampFieldType, ""),
	}
}

func teamDefenseSchema() bigquery.Schema {
	i, f := bigquery.IntegerFieldType, bigquery.FloatFieldType
	return bigquery.Schema{
		field("game_id", bigquery.StringFieldType, gameIDDesc),
		field("game_date", bigquery.DateFieldType, gameDateDesc),
		field("season_year", i, ""),
		field("team_abbr", bigquery.StringFieldType, "The defending team."),
		field("opponent_abbr", bigquery.StringFieldType, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
		field("opponent_points", i, "Points allowed."),
		field("opponent_fgm", i, ""),
		field("opponent_fga", i, ""),
		field("opponent_fg3m", i, ""),
		field("opponent_fg3a", i, ""),
		field("opponent_ftm", i, ""),
		field("opponent_fta", i, ""),
		field("opponent_offensive_rebounds", i, ""),
		field("opponent_rebounds", i, ""),
		field("defensive_rebounds", i, "The team's own."),
		field("turnovers_forced", i, "The opponent's turnovers."),
		field("steals", i, ""),
		field("blocks", i, ""),
		field("team_minutes", f, "Sum of the players' minutes (240 in regulation)."),
		field("opponent_possessions", f, "Opponent FGA + 0.44 FTA - OREB + TOV."),
		field("pace", f, "Possessions per 48 minutes: the mean of both teams' possessions over team_minutes / 5, times 48."),
		field("defensive_rating", f, "Points allowed per 100 opponent possessions."),
		field("processed_at", bigquery.TimestampFieldType, ""),
	}
}

func playerGameSummarySchema() bigquery.Schema {
	i, f, s := bigquery.IntegerFieldType, bigquery.FloatFieldType, bigquery.StringFieldType
	return bigquery.Schema{
		field("game_id", s, gameIDDesc),
		field("game_date", bigquery.DateFieldType, gameDateDesc),
		field("season_year", i, ""),
		field("player_lookup", s, lookupDesc),
		field("universal_player_id", s, "From nba_reference.player_registry when present."),
		field("player_full_name", s, ""),
		field("team_abbr", s, ""),
		field("opponent_abbr", s, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
		field("minutes", f, ""),
		field("points", i, ""),
		field("assists", i, ""),
		field("rebounds", i, ""),
		field("offensive_rebounds", i, ""),
		field("defensive_rebounds", i, ""),
		field("steals", i, ""),
		field("blocks", i, ""),
		field("turnovers", i, ""),
		field("personal_fouls", i, ""),
		field("fgm", i, ""),
		field("fga", i, ""),
		field("fg3m", i, ""),
		field("fg3a", i, ""),
		field("ftm", i, ""),
		field("fta", i, ""),
		field("plus_minus", i, ""),
		field("points_line", f, "Median across bookmakers of each one's line at its latest pre-tip snapshot."),
		field("bookmaker_count", i, "Bookmakers behind points_line."),
		field("over_under_result", s, "OVER, UNDER or PUSH; NULL without a line."),
		field("line_margin", f, "points - points_line."),
		field("usage_rate", f, "Usage rate in percent, when the team offense summary is present."),
		field("primary_source", s, "nbac or bdl: where the box score came from."),
		field("has_bdl", bigquery.BooleanFieldType, "Ball Don't Lie also had the player's row."),
		field("has_prop_line", bigquery.BooleanFieldType, ""),
		field("processed_at", bigquery.TimestampFieldType, ""),
		field("availability_status", s, "As the game book says: active, dnp, dnd, nwt or inactive; NULL without the game's book."),
		field("availability_reason", s, "Why he did not play, as the book prints it; NULL when active."),
		field("availability_category", s, "coach_decision, injury_illness, personal, not_with_team, g_league, suspension or other; NULL when active."),
		field("line_void", bigquery.BooleanFieldType, "TRUE for a player with a pre-tip points line who did not play: the line is void, over_under_result and line_margin are NULL. FALSE for a player who played."),
	}
}
