-- gamebook_registry, the rows of @game_date a run starts from, as the schedule and the raw
-- game book rows give them: a row per game, parsed when the raw table has its book, and a
-- row per name, resolved as the raw job resolved it.
WITH names AS (
  SELECT game_id, team_abbr, opponent_abbr, is_home, printed_name, status, player_lookup, name_resolution, source_file_path
  FROM `nba_raw.nbac_gamebook_player_stats`
  WHERE game_date = @game_date
),
scheduled AS (
  SELECT game_id, home_team_abbr, away_team_abbr
  FROM `nba_raw.nbac_schedule`
  WHERE game_date = @game_date
),
games AS (
  SELECT game_id, home_team_abbr, away_team_abbr FROM scheduled
  UNION DISTINCT
  -- A book of a game the schedule does not list (a schedule not loaded again since the game
  -- moved) is a book read all the same.
  SELECT n.game_id, IF(n.is_home, n.team_abbr, n.opponent_abbr), IF(n.is_home, n.opponent_abbr, n.team_abbr)
  FROM names AS n
  LEFT JOIN scheduled AS s ON s.game_id = n.game_id
  WHERE s.game_id IS NULL
),
books AS (
  SELECT game_id, MIN(source_file_path) AS source_file_path
  FROM names
  GROUP BY game_id
)
SELECT
  @game_date AS game_date, g.game_id, 'game' AS entry, IF(b.game_id IS NULL, 'missing', 'parsed') AS gamebook,
  g.home_team_abbr, g.away_team_abbr, b.source_file_path,
  CAST(NULL AS STRING) AS team_abbr, CAST(NULL AS STRING) AS printed_name, CAST(NULL AS STRING) AS status,
  CAST(NULL AS STRING) AS player_lookup, CAST(NULL AS STRING) AS resolution
FROM games AS g
LEFT JOIN books AS b ON b.game_id = g.game_id
UNION ALL
SELECT
  @game_date, n.game_id, CONCAT(n.team_abbr, '/', n.printed_name), 'parsed',
  g.home_team_abbr, g.away_team_abbr, n.source_file_path,
  n.team_abbr, n.printed_name, n.status, n.player_lookup, n.name_resolution
FROM names AS n
JOIN games AS g ON g.game_id = n.game_id
ORDER BY game_date, game_id, entry
