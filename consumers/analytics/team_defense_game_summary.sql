-- team_defense_game_summary: one row per game and team of @game_date: what the opponent scored
-- and shot against it, what it forced, and the game's pace, summed from the NBA.com player box
-- scores of the games of the schedule (joined on the canonical game_id), as the offense summary
-- is. Possessions are FGA + 0.44 FTA - OREB + TOV; pace is the two teams' mean possessions per
-- 48 minutes.
WITH box AS (
  SELECT p.*
  FROM `nba_raw.nbac_player_boxscores` AS p
  JOIN `nba_raw.nbac_schedule` AS s
    ON s.game_id = p.game_id AND s.game_date = @game_date
  WHERE p.game_date = @game_date
),
teams AS (
  SELECT
    game_id,
    game_date,
    MAX(season_year) AS season_year,
    team_abbr,
    MAX(opponent_abbr) AS opponent_abbr,
    LOGICAL_OR(is_home) AS is_home,
    SUM(points) AS points,
    SUM(fgm) AS fgm,
    SUM(fga) AS fga,
    SUM(fg3m) AS fg3m,
    SUM(fg3a) AS fg3a,
    SUM(ftm) AS ftm,
    SUM(fta) AS fta,
    SUM(offensive_rebounds) AS offensive_rebounds,
    SUM(defensive_rebounds) AS defensive_rebounds,
    SUM(turnovers) AS turnovers,
    SUM(steals) AS steals,
    SUM(blocks) AS blocks,
    SUM(minutes) AS team_minutes,
    SUM(fga) + 0.44 * SUM(fta) - SUM(offensive_rebounds) + SUM(turnovers) AS possessions
  FROM box
  GROUP BY game_id, game_date, team_abbr
)
SELECT
  t.game_id,
  t.game_date,
  t.season_year,
  t.team_abbr,
  t.opponent_abbr,
  t.is_home,
  o.points AS opponent_points,
  o.fgm AS opponent_fgm,
  o.fga AS opponent_fga,
  o.fg3m AS opponent_fg3m,
  o.fg3a AS opponent_fg3a,
  o.ftm AS opponent_ftm,
  o.fta AS opponent_fta,
  o.offensive_rebounds AS opponent_offensive_rebounds,
  o.offensive_rebounds + o.defensive_rebounds AS opponent_rebounds,
  t.defensive_rebounds,
  o.turnovers AS turnovers_forced,
  t.steals,
  t.blocks,
  t.team_minutes,
  o.possessions AS opponent_possessions,
  SAFE_DIVIDE(48 * (t.possessions + o.possessions) / 2, t.team_minutes / 5) AS pace,
  SAFE_DIVIDE(100 * o.points, o.possessions) AS defensive_rating,
  CURRENT_TIMESTAMP() AS processed_at
FROM teams AS t
LEFT JOIN teams AS o
  ON o.game_id = t.game_id AND o.team_abbr = t.opponent_abbr
