-- gamebook_registry, the rows of the other dates of the season (@from to @to) to resolve
-- again: each name the registry resolved or could not resolve, with the player_lookups the
-- same book names itself for the same team (printed in full or found in that day's box
-- score): those players are not candidates for the name (a player appears once in a book).
WITH listed AS (
  SELECT game_id, team_abbr, ARRAY_AGG(player_lookup ORDER BY player_lookup) AS lookups
  FROM `nba_reference.gamebook_registry`
  WHERE game_date BETWEEN @from AND @to AND game_date != @game_date AND entry != 'game'
    AND player_lookup IS NOT NULL AND resolution IN ('printed', 'boxscore')
  GROUP BY game_id, team_abbr
)
SELECT
  r.game_date, r.game_id, r.entry, r.gamebook, r.home_team_abbr, r.away_team_abbr, r.source_file_path,
  r.team_abbr, r.printed_name, r.status, r.player_lookup, r.resolution, l.lookups AS listed
FROM `nba_reference.gamebook_registry` AS r
LEFT JOIN listed AS l ON l.game_id = r.game_id AND l.team_abbr = r.team_abbr
WHERE r.game_date BETWEEN @from AND @to AND r.game_date != @game_date AND r.entry != 'game'
  AND r.resolution IN ('registry', 'unresolved')
ORDER BY r.game_date, r.game_id, r.entry
