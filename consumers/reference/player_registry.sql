-- player_registry: fold the players of @game_date into nba_reference.player_registry, one
-- row per player_lookup. The MERGE is idempotent and order-independent: names and teams are
-- set unions, first/last game dates are the min/max, ids keep the first value seen, and the
-- display name follows the most recent game. universal_player_id depends on the lookup only.
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
  )
  SELECT
    player_lookup,
    CONCAT(player_lookup, '_001') AS universal_player_id,
    COALESCE(MAX(IF(source = 'nbac', player_full_name, NULL)), MAX(player_full_name)) AS player_name,
    MAX(IF(source = 'nbac', source_player_id, NULL)) AS nba_player_id,
    MAX(IF(source = 'bdl', source_player_id, NULL)) AS bdl_player_id,
    ARRAY_AGG(DISTINCT IF(source = 'nbac', player_full_name, NULL) IGNORE NULLS) AS nbac_names,
    ARRAY_AGG(DISTINCT IF(source = 'bdl', player_full_name, NULL) IGNORE NULLS) AS bdl_names,
    ARRAY_AGG(DISTINCT team_abbr) AS teams,
    MIN(game_date) AS first_game_date,
    MAX(game_date) AS last_game_date
  FROM seen
  GROUP BY player_lookup
) AS s
ON r.player_lookup = s.player_lookup
WHEN MATCHED THEN UPDATE SET
  player_name = IF(s.last_game_date >= r.last_game_date OR r.player_name IS NULL, s.player_name, r.player_name),
  nba_player_id = COALESCE(r.nba_player_id, s.nba_player_id),
  bdl_player_id = COALESCE(r.bdl_player_id, s.bdl_player_id),
  nbac_names = ARRAY(SELECT DISTINCT n FROM UNNEST(ARRAY_CONCAT(IFNULL(r.nbac_names, []), IFNULL(s.nbac_names, []))) AS n ORDER BY n),
  bdl_names = ARRAY(SELECT DISTINCT n FROM UNNEST(ARRAY_CONCAT(IFNULL(r.bdl_names, []), IFNULL(s.bdl_names, []))) AS n ORDER BY n),
  teams = ARRAY(SELECT DISTINCT n FROM UNNEST(ARRAY_CONCAT(IFNULL(r.teams, []), IFNULL(s.teams, []))) AS n ORDER BY n),
  first_game_date = LEAST(COALESCE(r.first_game_date, s.first_game_date), s.first_game_date),
  last_game_date = GREATEST(COALESCE(r.last_game_date, s.last_game_date), s.last_game_date),
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  player_lookup, universal_player_id, player_name, nba_player_id, bdl_player_id,
  nbac_names, bdl_names, teams, first_game_date, last_game_date, updated_at
) VALUES (
  s.player_lookup, s.universal_player_id, s.player_name, s.nba_player_id, s.bdl_player_id,
  ARRAY(SELECT n FROM UNNEST(IFNULL(s.nbac_names, [])) AS n ORDER BY n),
  ARRAY(SELECT n FROM UNNEST(IFNULL(s.bdl_names, [])) AS n ORDER BY n),
  ARRAY(SELECT n FROM UNNEST(IFNULL(s.teams, [])) AS n ORDER BY n),
  s.first_game_date, s.last_game_date, CURRENT_TIMESTAMP()
)
