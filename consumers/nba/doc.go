// Package nba provides the canonical keys every source is normalised to before rows meet in
// BigQuery: NBA.com tricodes for teams (one map for every source's codes and names), the
// player_lookup name key, the game_id key YYYYMMDD_AWAY_HOME, US Eastern game dates (and the
// NBA.com fields that say Z but mean Eastern), and American odds.
//
// The functions are pure and strict: an unknown team or an unreadable time is an error, never
// a guess, so that a row that cannot be keyed fails loudly instead of falling out of a join.
package nba
