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
			Dataset: "nba_reference", Name: "player_registry",
			Description: "One row per player_lookup: a stable universal id, names seen per source, teams, first and last game date.",
			Schema:      playerRegistrySchema(),
			Clustering:  []string{"player_lookup"},
		},
		{
			Dataset: "nba_analytics", Name: "team_offense_game_summary",
			Description:    "One row per game and team: totals, possessions estimate, offensive rating, result.",
			Schema:         teamOffenseSchema(),
			PartitionField: "game_date", RequirePartitionFilter: true,
			Clustering: []string{"team_abbr"},
		},
		{
			Dataset: "nba_analytics", Name: "player_game_summary",
			Description:    "One row per game date and player: box score, consensus pre-tip points line and its outcome, usage, provenance.",
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
	}
}
