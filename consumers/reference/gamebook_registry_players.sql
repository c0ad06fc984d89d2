-- gamebook_registry, the players each team fielded in the season (@from to @to): every
-- player who played minutes in a box score of either source and whom the player registry
-- has, by team and full name.
SELECT DISTINCT b.team_abbr, b.player_full_name
FROM (
  SELECT team_abbr, player_lookup, player_full_name FROM nba_raw.nbac_player_boxscores
  WHERE game_date BETWEEN @from AND @to AND minutes > 0
  UNION ALL
  SELECT team_abbr, player_lookup, player_full_name FROM nba_raw.bdl_player_boxscores
  WHERE game_date BETWEEN @from AND @to AND minutes > 0
) AS b
JOIN nba_reference.player_registry AS r ON r.player_lookup = b.player_lookup
ORDER BY 1, 2
