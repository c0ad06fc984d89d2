-- gamebook_registry: the rows of @game_date (a row per game of the schedule, a row per name of
-- every book read) and the rows of other dates of the season whose resolution changed,
-- computed by the job and passed as @rows. A row changes only when a value does; the rows of
-- @game_date that the date no longer has are deleted. A run with the same @rows leaves the
-- same table.
MERGE `nba_reference.gamebook_registry` AS t
USING (SELECT * FROM UNNEST(@rows)) AS s
ON t.game_date = s.game_date AND t.game_id = s.game_id AND t.entry = s.entry
WHEN MATCHED AND (
  t.gamebook != s.gamebook
  OR IFNULL(t.home_team_abbr, '') != IFNULL(s.home_team_abbr, '')
  OR IFNULL(t.away_team_abbr, '') != IFNULL(s.away_team_abbr, '')
  OR IFNULL(t.source_file_path, '') != IFNULL(s.source_file_path, '')
  OR IFNULL(t.team_abbr, '') != IFNULL(s.team_abbr, '')
  OR IFNULL(t.printed_name, '') != IFNULL(s.printed_name, '')
  OR IFNULL(t.status, '') != IFNULL(s.status, '')
  OR IFNULL(t.player_lookup, '') != IFNULL(s.player_lookup, '')
  OR IFNULL(t.resolution, '') != IFNULL(s.resolution, '')
) THEN UPDATE SET
  gamebook = s.gamebook,
  home_team_abbr = s.home_team_abbr,
  away_team_abbr = s.away_team_abbr,
  source_file_path = s.source_file_path,
  team_abbr = s.team_abbr,
  printed_name = s.printed_name,
  status = s.status,
  player_lookup = s.player_lookup,
  resolution = s.resolution,
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  game_date, game_id, entry, gamebook, home_team_abbr, away_team_abbr, source_file_path,
  team_abbr, printed_name, status, player_lookup, resolution, updated_at
) VALUES (
  s.game_date, s.game_id, s.entry, s.gamebook, s.home_team_abbr, s.away_team_abbr, s.source_file_path,
  s.team_abbr, s.printed_name, s.status, s.player_lookup, s.resolution, CURRENT_TIMESTAMP()
)
WHEN NOT MATCHED BY SOURCE AND t.game_date = @game_date THEN DELETE
