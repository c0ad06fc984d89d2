-- gamebook_registry: the rows of @game_date (a row per game of the schedule, a row per name of
-- every book read) and the rows of other dates of the season resolved again, computed by the
-- job and passed as @rows. The rows of @game_date that the date no longer has are deleted; a
-- run with the same @rows leaves the same table.
MERGE `nba_reference.gamebook_registry` AS t
USING (SELECT * FROM UNNEST(@rows)) AS s
ON t.game_date = s.game_date AND t.game_id = s.game_id AND t.entry = s.entry
WHEN MATCHED THEN UPDATE SET
  gamebook = s.gamebook,
  home_team_abbr = s.home_team_abbr,
  away_team_abbr = s.away_team_abbr,
  source_file_path = s.source_file_path,
  team_abbr = s.team_abbr,
  printed_name = s.printed_name,
  status = s.status,
  player_lookup = s.player_lookup,
  resolution = s.resolution,
  universal_player_id = s.universal_player_id,
  updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED THEN INSERT (
  game_date, game_id, entry, gamebook, home_team_abbr, away_team_abbr, source_file_path,
  team_abbr, printed_name, status, player_lookup, resolution, universal_player_id, updated_at
) VALUES (
  s.game_date, s.game_id, s.entry, s.gamebook, s.home_team_abbr, s.away_team_abbr, s.source_file_path,
  s.team_abbr, s.printed_name, s.status, s.player_lookup, s.resolution, s.universal_player_id, CURRENT_TIMESTAMP()
)
WHEN NOT MATCHED BY SOURCE AND t.game_date = @game_date THEN DELETE
