-- player_registry: fold the players of @game_date into nba_reference.player_registry, one
-- row per player_lookup. The MERGE is idempotent and order-independent: names and teams are
-- set unions, first/last game dates are the min/max, ids keep the first value seen, and the
-- display name follows the most recent game. universal_player_id depends on the lookup only.
-- The unions are made here, over the day's rows and the registry's rows of the same players
-- (sorted, without duplicates), so the MERGE only sets them.
MERGE `nba_reference.player_registry` AS r
USING (
  WITH seen AS (
    SELECT player_lookup, 'nbac' AS source, player_full_name, source_player_id, team_abbr, game_date
    FROM `nba_raw.nbac_player_boxscores`
    WHERE game_date = @game_date
    UNION ALL
    SELECT player_lookup, 'bdl' AS source, player_full_name, source_player_id, team_abbr, game_date
    FROM `nba_raw.bdl_player_boxscores`
    WHERE game_date = @game_date AND minutes > 0
  ),
  day AS (
    SELECT
      player_lookup,
      CONCAT(player_lookup, '_001') AS universal_player_id,
      COALESCE(MAX(IF(source = 'nbac', player_full_name, NULL)), MAX(player_full_name)) AS player_name,
      MAX(IF(source = 'nbac', source_player_id, NULL)) AS nba_player_id,
      MAX(IF(source = 'bdl', source_player_id, NULL)) AS bdl_player_id,
      MIN(game_date) AS first_game_date,
      MAX(game_date) AS last_game_date
    FROM seen
    GROUP BY player_lookup
  ),
  -- Every spelling and team of the day's players: the day's and the registry's.
  known AS (
    SELECT player_lookup, source AS kind, player_full_name AS value FROM seen
    UNION ALL
    SELECT player_lookup, 'team', team_abbr FROM seen
    UNION ALL
    SELECT k.player_lookup, 'nbac', n FROM `nba_reference.player_registry` AS k, UNNEST(k.nbac_names) AS n
    WHERE k.player_lookup IN (SELECT player_lookup FROM day)
    UNION ALL
    SELECT k.player_lookup, 'bdl', n FROM `nba_reference.player_registry` AS k, UNNEST(k.bdl_names) AS n
    WHERE k.player_lookup IN (SELECT player_lookup FROM day)
    UNION ALL
    SELECT k.player_lookup, 'team', n FROM `nba_reference.player_registry` AS k, UNNEST(k.teams) AS n
    WHERE k.player_lookup IN (SELECT player_lookup FROM day)
  ),
  unions AS (
    SELECT
      player_lookup,
      ARRAY_AGG(DISTINCT IF(kind = 'nbac', value, NULL) IGNORE NULLS ORDER BY IF(kind = 'nbac', value, NULL)) AS nbac_names,
      ARRAY_AGG(DISTINCT IF(kind = 'bdl', value, NULL) IGNORE NULLS ORDER BY IF(kind = 'bdl', value, NULL)) AS bdl_names,
      ARRAY_AGG(DISTINCT IF(kind = 'team', value, NULL) IGNORE NULLS ORDER BY IF(kind = 'team', value, NULL)) AS teams
    FROM known
    GROUP BY player_lookup
  )
  SELECT d.*, IFNULL(u.nbac_names, []) AS nbac_names, IFNULL(u.bdl_names, []) AS bdl_names, IFNULL(u.teams, []) AS teams
  FROM day AS d
  JOIN unions AS u ON u.player_lookup = d.player_lookup
) AS s
ON r.player_lookup = s.player_lookup
WHEN MATCHED THEN UPDATE SET
  player_name = IF(s.last_game_date >= r.last_game_date OR r.player_name IS NULL, s.player_name, r.player_name),
  nba_player_id = COALESCE(r.nba_player_id, s.nba_player_id),
  bdl_player_id = COALESCE(r.bdl_player_id, s.bdl_player_id),
  nbac_names = s.nbac_names,
  bdl_names = s.bdl_names,
  teams = s.teams,
  first_game_date = LEAST(COALESCE(r.first_game_date, s.first_game_date), s.first_game_date),
  last_game_date = GREATEST(COALESCE(r.last_game_date, s.last_game_date), s.last_game_date),
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  player_lookup, universal_player_id, player_name, nba_player_id, bdl_player_id,
  nbac_names, bdl_names, teams, first_game_date, last_game_date, updated_at
) VALUES (
  s.player_lookup, s.universal_player_id, s.player_name, s.nba_player_id, s.bdl_player_id,
  s.nbac_names, s.bdl_names, s.teams, s.first_game_date, s.last_game_date, CURRENT_TIMESTAMP()
)
