-- player_game_summary: one row per player of @game_date who played, and one per player with a
-- consensus line who did not play (a late scratch: his line is void). The box score comes from
-- NBA.com (primary) or, for a player NBA.com lacks, from Ball Don't Lie; the consensus
-- points line is the median across bookmakers of each bookmaker's line at its latest
-- snapshot before tip-off (the mean of the two middle lines for an even count). The game
-- book, when loaded, gives each player's availability: active, or why he did not play.
WITH nbac AS (
  SELECT *
  FROM `nba_raw.nbac_player_boxscores`
  WHERE game_date = @game_date AND minutes > 0
),
bdl AS (
  SELECT *
  FROM `nba_raw.bdl_player_boxscores`
  WHERE game_date = @game_date AND minutes > 0
),
box AS (
  SELECT
    n.game_id, n.game_date, n.season_year, n.player_lookup, n.player_full_name, n.team_abbr,
    n.opponent_abbr, n.is_home, n.minutes, n.points, n.assists, n.rebounds,
    n.offensive_rebounds, n.defensive_rebounds, n.steals, n.blocks, n.turnovers,
    n.personal_fouls, n.fgm, n.fga, n.fg3m, n.fg3a, n.ftm, n.fta, n.plus_minus,
    'nbac' AS primary_source,
    b.player_lookup IS NOT NULL AS has_bdl
  FROM nbac AS n
  LEFT JOIN bdl AS b
    ON b.game_id = n.game_id AND b.player_lookup = n.player_lookup
  UNION ALL
  SELECT
    b.game_id, b.game_date, b.season_year, b.player_lookup, b.player_full_name, b.team_abbr,
    b.opponent_abbr, b.is_home, b.minutes, b.points, b.assists, b.rebounds,
    b.offensive_rebounds, b.defensive_rebounds, b.steals, b.blocks, b.turnovers,
    b.personal_fouls, b.fgm, b.fga, b.fg3m, b.fg3a, b.ftm, b.fta, b.plus_minus,
    'bdl' AS primary_source,
    TRUE AS has_bdl
  FROM bdl AS b
  LEFT JOIN nbac AS n
    ON n.game_id = b.game_id AND n.player_lookup = b.player_lookup
  WHERE n.player_lookup IS NULL
),
book_snapshots AS (
  SELECT
    game_id,
    player_lookup,
    bookmaker,
    points_line,
    ROW_NUMBER() OVER (
      PARTITION BY game_id, player_lookup, bookmaker
      ORDER BY snapshot_timestamp DESC
    ) AS newest
  FROM `nba_raw.odds_api_player_points_props`
  WHERE game_date = @game_date AND minutes_before_tipoff >= 0
),
book_lines AS (
  SELECT
    game_id,
    player_lookup,
    points_line,
    ROW_NUMBER() OVER (PARTITION BY game_id, player_lookup ORDER BY points_line) AS pos,
    COUNT(*) OVER (PARTITION BY game_id, player_lookup) AS books
  FROM book_snapshots
  WHERE newest = 1
),
consensus AS (
  -- The middle line (odd count) or the two middle lines (even count): 2*pos in [n, n+2].
  SELECT
    game_id,
    player_lookup,
    AVG(points_line) AS points_line,
    MAX(books) AS bookmaker_count
  FROM book_lines
  WHERE 2 * pos >= books AND 2 * pos <= books + 2
  GROUP BY game_id, player_lookup
),
team AS (
  SELECT game_id, team_abbr, fga, fta, turnovers, team_minutes
  FROM `nba_analytics.team_offense_game_summary`
  WHERE game_date = @game_date
),
book AS (
  SELECT game_id, season_year, team_abbr, opponent_abbr, is_home, name_key, player_full_name, player_lookup,
    status, reason, reason_category
  FROM `nba_raw.nbac_gamebook_player_stats`
  WHERE game_date = @game_date
),
games AS (
  SELECT game_id, MAX(season_year) AS season_year
  FROM box
  GROUP BY game_id
),
void AS (
  -- A consensus line of a player without a box score row, in a game that has box scores.
  SELECT c.game_id, g.season_year, c.player_lookup, c.points_line, c.bookmaker_count
  FROM consensus AS c
  JOIN games AS g ON g.game_id = c.game_id
  LEFT JOIN box AS x ON x.game_id = c.game_id AND x.player_lookup = c.player_lookup
  WHERE x.player_lookup IS NULL
),
void_entry AS (
  -- The book's entries that may be the void line's player: the one with his player_lookup, or
  -- a last name the book could not resolve that ends his player_lookup.
  SELECT
    v.game_id,
    v.player_lookup,
    b.team_abbr,
    b.opponent_abbr,
    b.is_home,
    b.player_full_name,
    b.status,
    b.reason,
    b.reason_category,
    IF(b.player_lookup IS NOT NULL, 1, 0) AS by_lookup
  FROM void AS v
  JOIN book AS b
    ON b.game_id = v.game_id
    AND (b.player_lookup = v.player_lookup
      OR (b.player_lookup IS NULL AND b.status != 'active' AND ENDS_WITH(v.player_lookup, b.name_key)))
),
void_book AS (
  -- The entry of his lookup, else the only last name that fits; none when several fit.
  SELECT *
  FROM void_entry
  QUALIFY COUNT(*) OVER (PARTITION BY game_id, player_lookup, by_lookup) = 1
    AND by_lookup = MAX(by_lookup) OVER (PARTITION BY game_id, player_lookup)
),
odds_names AS (
  SELECT game_id, player_lookup, MIN(player_name) AS player_name
  FROM `nba_raw.odds_api_player_points_props`
  WHERE game_date = @game_date AND minutes_before_tipoff >= 0
  GROUP BY game_id, player_lookup
)
SELECT
  x.game_id,
  x.game_date,
  x.season_year,
  x.player_lookup,
  r.universal_player_id,
  x.player_full_name,
  x.team_abbr,
  x.opponent_abbr,
  x.is_home,
  x.minutes,
  x.points,
  x.assists,
  x.rebounds,
  x.offensive_rebounds,
  x.defensive_rebounds,
  x.steals,
  x.blocks,
  x.turnovers,
  x.personal_fouls,
  x.fgm,
  x.fga,
  x.fg3m,
  x.fg3a,
  x.ftm,
  x.fta,
  x.plus_minus,
  c.points_line,
  c.bookmaker_count,
  CASE
    WHEN c.points_line IS NULL THEN NULL
    WHEN x.points > c.points_line THEN 'OVER'
    WHEN x.points < c.points_line THEN 'UNDER'
    ELSE 'PUSH'
  END AS over_under_result,
  x.points - c.points_line AS line_margin,
  SAFE_DIVIDE(
    100 * (x.fga + 0.44 * x.fta + x.turnovers) * (t.team_minutes / 5),
    x.minutes * (t.fga + 0.44 * t.fta + t.turnovers)
  ) AS usage_rate,
  x.primary_source,
  x.has_bdl,
  c.points_line IS NOT NULL AS has_prop_line,
  CURRENT_TIMESTAMP() AS processed_at,
  b.status AS availability_status,
  b.reason AS availability_reason,
  b.reason_category AS availability_category,
  FALSE AS line_void
FROM box AS x
LEFT JOIN consensus AS c
  ON c.game_id = x.game_id AND c.player_lookup = x.player_lookup
LEFT JOIN team AS t
  ON t.game_id = x.game_id AND t.team_abbr = x.team_abbr
LEFT JOIN `nba_reference.player_registry` AS r
  ON r.player_lookup = x.player_lookup
LEFT JOIN book AS b
  ON b.game_id = x.game_id AND b.player_lookup = x.player_lookup
UNION ALL
SELECT
  v.game_id,
  @game_date AS game_date,
  v.season_year,
  v.player_lookup,
  r.universal_player_id,
  COALESCE(vb.player_full_name, r.player_name, o.player_name) AS player_full_name,
  vb.team_abbr,
  vb.opponent_abbr,
  vb.is_home,
  NULL AS minutes,
  NULL AS points,
  NULL AS assists,
  NULL AS rebounds,
  NULL AS offensive_rebounds,
  NULL AS defensive_rebounds,
  NULL AS steals,
  NULL AS blocks,
  NULL AS turnovers,
  NULL AS personal_fouls,
  NULL AS fgm,
  NULL AS fga,
  NULL AS fg3m,
  NULL AS fg3a,
  NULL AS ftm,
  NULL AS fta,
  NULL AS plus_minus,
  v.points_line,
  v.bookmaker_count,
  NULL AS over_under_result,
  NULL AS line_margin,
  NULL AS usage_rate,
  NULL AS primary_source,
  FALSE AS has_bdl,
  TRUE AS has_prop_line,
  CURRENT_TIMESTAMP() AS processed_at,
  vb.status AS availability_status,
  vb.reason AS availability_reason,
  vb.reason_category AS availability_category,
  TRUE AS line_void
FROM void AS v
LEFT JOIN void_book AS vb
  ON vb.game_id = v.game_id AND vb.player_lookup = v.player_lookup
LEFT JOIN `nba_reference.player_registry` AS r
  ON r.player_lookup = v.player_lookup
LEFT JOIN odds_names AS o
  ON o.game_id = v.game_id AND o.player_lookup = v.player_lookup
