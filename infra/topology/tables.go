package topology

import (
	"slices"

	"cloud.google.com/go/bigquery"
)

// Datasets are the BigQuery datasets of the pipeline.
func Datasets() []string { return []string{"nba_raw", "nba_reference", "nba_analytics"} }

// Tables are the BigQuery tables of the pipeline, declared once here. Every table but
// the player registry is DATE-partitioned, so that a job replaces exactly one day with a
// WRITE_TRUNCATE into table$YYYYMMDD.
func Tables() []Table {
	injuries := daily("nba_raw", "bdl_injuries",
		"Ball Don't Lie injury report as scraped on report_date, one row per player.",
		bdlInjuriesSchema(), "player_lookup")
	injuries.PartitionField = "report_date"
	// Not filter-required: each date's MERGE also resolves again the names of other dates
	// that the registry could not resolve before.
	gamebookRegistry := daily("nba_reference", "gamebook_registry",
		"Per date, one row per scheduled game saying whether its game book was read, and one row per name of each book read with the player_lookup it resolves to; unresolved names are kept with a NULL player_lookup.",
		gamebookRegistrySchema(), "game_id")
	gamebookRegistry.RequirePartitionFilter = false
	return []Table{
		daily("nba_raw", "nbac_schedule",
			"NBA.com CDN schedule, one row per game (scrapers/nbac_schedule → raw/nbac_schedule).",
			nbacScheduleSchema(), "game_id"),
		daily("nba_raw", "nbac_player_boxscores",
			"stats.nba.com leaguegamelog, one row per player and game.",
			boxScoreSchema(), "game_id", "player_lookup"),
		daily("nba_raw", "bdl_player_boxscores",
			"Ball Don't Lie stats, one row per player and game (DNP rows kept with 0 minutes).",
			boxScoreSchema(), "game_id", "player_lookup"),
		injuries,
		daily("nba_raw", "odds_api_player_points_props",
			"The Odds API player_points lines, one row per event, snapshot, bookmaker and player.",
			oddsPropsSchema(), "game_id", "player_lookup"),
		daily("nba_raw", "nbac_gamebook_player_stats",
			"NBA.com official game books, one row per roster player and game: availability status, reason and its category, the stat line of those who played.",
			gamebookSchema(), "game_id", "player_lookup"),
		{
			Dataset: "nba_reference", Name: "player_registry",
			Description: "One row per player_lookup: a stable universal id, names seen per source, teams, first and last game date.",
			Schema:      playerRegistrySchema(),
			Clustering:  []string{"player_lookup"},
		},
		gamebookRegistry,
		daily("nba_analytics", "team_offense_game_summary",
			"One row per game and team: totals, possessions estimate, offensive rating, result.",
			teamOffenseSchema(), "team_abbr"),
		daily("nba_analytics", "team_defense_game_summary",
			"One row per game and team: what the opponent scored and shot, rebounds, turnovers forced, possessions, pace and defensive rating.",
			teamDefenseSchema(), "team_abbr"),
		daily("nba_analytics", "player_game_summary",
			"One row per game date and player who played (box score, consensus pre-tip points line and its outcome, usage, provenance, availability), and one per player with a line who did not play (the line void).",
			playerGameSummarySchema(), "player_lookup"),
	}
}

// daily declares a table partitioned by game_date whose queries must name the days they
// read, the shape of every table a job writes one day of.
func daily(dataset, name, description string, schema bigquery.Schema, clustering ...string) Table {
	return Table{
		Dataset: dataset, Name: name, Description: description, Schema: schema,
		PartitionField: "game_date", RequirePartitionFilter: true,
		Clustering: clustering,
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

// stats declares NULLABLE columns of type t with no description: stat columns, whose names
// (fgm, fg3a, defensive_rebounds) say what they hold.
func stats(t bigquery.FieldType, names ...string) bigquery.Schema {
	s := make(bigquery.Schema, len(names))
	for i, name := range names {
		s[i] = field(name, t, "")
	}
	return s
}

// shooting names the made and attempted field goals, threes and free throws, in the order
// every table lists them; prefix is "" or "opponent_".
func shooting(prefix string) []string {
	return []string{prefix + "fgm", prefix + "fga", prefix + "fg3m", prefix + "fg3a", prefix + "ftm", prefix + "fta"}
}

// boxLine is a player's box score after minutes and before plus_minus, as the box score
// tables and the player summary list it.
func boxLine() bigquery.Schema {
	return stats(bigquery.IntegerFieldType, append([]string{"points", "assists", "rebounds", "offensive_rebounds",
		"defensive_rebounds", "steals", "blocks", "turnovers", "personal_fouls"}, shooting("")...)...)
}

const (
	gameIDDesc    = "Canonical game key YYYYMMDD_AWAY_HOME (NBA tricodes), identical across sources."
	nbaGameIDDesc = "NBA.com game id, e.g. 0022400061."
	gameDateDesc  = "US Eastern game date."
	lookupDesc    = "Lower-case ASCII letters and digits of the name, accents folded, suffixes removed."
	// reasonCategories are the categories a game book's reason for not playing falls in.
	reasonCategories = "coach_decision, injury_illness, personal, not_with_team, g_league, suspension or other"
	mergedAtDesc     = "When a MERGE last changed the row."
	teamMinutesDesc  = "Sum of the players' minutes (240 in regulation)."
)

// provenance are the columns every raw table ends with.
func provenance() bigquery.Schema {
	return bigquery.Schema{
		required("source_file_path", bigquery.StringFieldType, "gs:// URI of the scraped object the row came from."),
		required("processed_at", bigquery.TimestampFieldType, "When the raw job loaded the row."),
	}
}

// playerSide are the columns of a raw player row that follow the game's date: the season,
// the player's team, its opponent and whether it played at home.
func playerSide() bigquery.Schema {
	return bigquery.Schema{
		required("season_year", bigquery.IntegerFieldType, "Start year of the season."),
		required("team_abbr", bigquery.StringFieldType, "The player's team tricode."),
		required("opponent_abbr", bigquery.StringFieldType, "The opponent's tricode."),
		required("is_home", bigquery.BooleanFieldType, ""),
	}
}

func nbacScheduleSchema() bigquery.Schema {
	return slices.Concat(bigquery.Schema{
		required("game_id", bigquery.StringFieldType, gameIDDesc),
		required("nba_game_id", bigquery.StringFieldType, nbaGameIDDesc),
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
	}, provenance())
}

func boxScoreSchema() bigquery.Schema {
	return slices.Concat(bigquery.Schema{
		required("game_id", bigquery.StringFieldType, gameIDDesc),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
	}, playerSide(), bigquery.Schema{
		required("player_full_name", bigquery.StringFieldType, "The name as the source spells it."),
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		required("source_player_id", bigquery.IntegerFieldType, "The source's own player id."),
		field("minutes", bigquery.FloatFieldType, "Minutes played (decimal)."),
	}, boxLine(), bigquery.Schema{
		field("plus_minus", bigquery.IntegerFieldType, "NULL where the source does not report it."),
	}, provenance())
}

func bdlInjuriesSchema() bigquery.Schema {
	return slices.Concat(bigquery.Schema{
		required("report_date", bigquery.DateFieldType, "US Eastern date the report was scraped."),
		required("bdl_player_id", bigquery.IntegerFieldType, ""),
		required("player_full_name", bigquery.StringFieldType, "BDL first and last name."),
		required("player_lookup", bigquery.StringFieldType, lookupDesc),
		field("team_abbr", bigquery.StringFieldType, "Tricode of the player's team, NULL if BDL gives none."),
		field("status", bigquery.StringFieldType, "Out, Day-To-Day, ..."),
		field("return_date_text", bigquery.StringFieldType, "BDL's return date as printed, e.g. Nov 17."),
		field("expected_return_date", bigquery.DateFieldType, "return_date_text as the first such date on or after report_date."),
		field("description", bigquery.StringFieldType, ""),
	}, provenance())
}

func oddsPropsSchema() bigquery.Schema {
	return slices.Concat(bigquery.Schema{
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
	}, provenance())
}

func gamebookSchema() bigquery.Schema {
	i, st := bigquery.IntegerFieldType, bigquery.StringFieldType
	return slices.Concat(bigquery.Schema{
		required("game_id", st, gameIDDesc),
		required("nba_game_id", st, nbaGameIDDesc),
		required("game_date", bigquery.DateFieldType, gameDateDesc),
	}, playerSide(), bigquery.Schema{
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
		field("reason_category", st, reasonCategories+". NULL when active."),
		field("minutes", bigquery.FloatFieldType, "Minutes played (decimal); NULL unless active."),
		field("points", i, "NULL unless active, as every stat below."),
	}, stats(i, shooting("")...), stats(i, "offensive_rebounds", "defensive_rebounds", "rebounds", "assists", "personal_fouls",
		"steals", "turnovers", "blocks", "plus_minus"), provenance())
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
		field("updated_at", bigquery.TimestampFieldType, mergedAtDesc),
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
		field("updated_at", bigquery.TimestampFieldType, mergedAtDesc),
	}
}

// The analytics tables are written by query jobs, whose results are NULLABLE: their columns
// are NULLABLE too, or BigQuery would reject the destination's schema.

// summaryKey are the columns every analytics summary starts with: the game, its date and
// its season.
func summaryKey() bigquery.Schema {
	return bigquery.Schema{
		field("game_id", bigquery.StringFieldType, gameIDDesc),
		field("game_date", bigquery.DateFieldType, gameDateDesc),
		field("season_year", bigquery.IntegerFieldType, ""),
	}
}

func teamOffenseSchema() bigquery.Schema {
	i, f := bigquery.IntegerFieldType, bigquery.FloatFieldType
	return slices.Concat(summaryKey(), bigquery.Schema{
		field("team_abbr", bigquery.StringFieldType, ""),
		field("opponent_abbr", bigquery.StringFieldType, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
	}, stats(i, "points", "opponent_points"), stats(i, shooting("")...),
		stats(i, "offensive_rebounds", "defensive_rebounds", "assists", "turnovers"), bigquery.Schema{
			field("team_minutes", f, teamMinutesDesc),
			field("possessions", f, "FGA + 0.44 FTA - OREB + TOV."),
			field("offensive_rating", f, "Points per 100 possessions."),
			field("win", bigquery.BooleanFieldType, ""),
			field("margin", i, "points - opponent_points."),
			field("processed_at", bigquery.TimestampFieldType, ""),
		})
}

func teamDefenseSchema() bigquery.Schema {
	i, f := bigquery.IntegerFieldType, bigquery.FloatFieldType
	return slices.Concat(summaryKey(), bigquery.Schema{
		field("team_abbr", bigquery.StringFieldType, "The defending team."),
		field("opponent_abbr", bigquery.StringFieldType, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
		field("opponent_points", i, "Points allowed."),
	}, stats(i, shooting("opponent_")...), stats(i, "opponent_offensive_rebounds", "opponent_rebounds"), bigquery.Schema{
		field("defensive_rebounds", i, "The team's own."),
		field("turnovers_forced", i, "The opponent's turnovers."),
	}, stats(i, "steals", "blocks"), bigquery.Schema{
		field("team_minutes", f, teamMinutesDesc),
		field("opponent_possessions", f, "Opponent FGA + 0.44 FTA - OREB + TOV."),
		field("pace", f, "Possessions per 48 minutes: the mean of both teams' possessions over team_minutes / 5, times 48."),
		field("defensive_rating", f, "Points allowed per 100 opponent possessions."),
		field("processed_at", bigquery.TimestampFieldType, ""),
	})
}

func playerGameSummarySchema() bigquery.Schema {
	i, f, s := bigquery.IntegerFieldType, bigquery.FloatFieldType, bigquery.StringFieldType
	return slices.Concat(summaryKey(), bigquery.Schema{
		field("player_lookup", s, lookupDesc),
		field("universal_player_id", s, "From nba_reference.player_registry when present."),
		field("player_full_name", s, ""),
		field("team_abbr", s, ""),
		field("opponent_abbr", s, ""),
		field("is_home", bigquery.BooleanFieldType, ""),
		field("minutes", f, ""),
	}, boxLine(), bigquery.Schema{
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
		field("availability_category", s, reasonCategories+"; NULL when active."),
		field("line_void", bigquery.BooleanFieldType, "TRUE for a player with a pre-tip points line who did not play: the line is void, over_under_result and line_margin are NULL. FALSE for a player who played."),
	})
}
