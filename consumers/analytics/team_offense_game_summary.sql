-- team_offense_game_summary: one row per game and team of @game_date, summed from the
-- NBA.com player box scores; games are those of the schedule (joined on the canonical game_id).
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
    SUM(assists) AS assists,
    SUM(turnovers) AS turnovers,
    SUM(minutes) AS team_minutes
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
  t.points,
  o.points AS opponent_points,
  t.fgm,
  t.fga,
  t.fg3m,
  t.fg3a,
  t.ftm,
  t.fta,
  t.offensive_rebounds,
  t.defensive_rebounds,
  t.assists,
  t.turnovers,
  t.team_minutes,
  t.fga + 0.44 * t.fta - t.offensive_rebounds + t.turnovers AS possessions,
  SAFE_DIVIDE(100 * t.points, t.fga + 0.44 * t.fta - t.offensive_rebounds + t.turnovers) AS offensive_rating,
  t.points > o.points AS win,
  t.points - o.points AS margin,
  CURRENT_TIMESTAMP() AS processed_at
FROM teams AS t
LEFT JOIN teams AS o
  ON o.game_id = t.game_id AND o.team_abbr = t.opponent_abbr
