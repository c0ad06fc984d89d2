package raw

// boxScoreRow is one row of nba_raw.nbac_player_boxscores and nba_raw.bdl_player_boxscores.
type boxScoreRow struct {
	GameID         string  `json:"game_id"`
	GameDate       string  `json:"game_date"`
	SeasonYear     int     `json:"season_year"`
	TeamAbbr       string  `json:"team_abbr"`
	OpponentAbbr   string  `json:"opponent_abbr"`
	IsHome         bool    `json:"is_home"`
	PlayerFullName string  `json:"player_full_name"`
	PlayerLookup   string  `json:"player_lookup"`
	SourcePlayerID int64   `json:"source_player_id"`
	Minutes        float64 `json:"minutes"`
	Points         *int64  `json:"points"`
	Assists        *int64  `json:"assists"`
	Rebounds       *int64  `json:"rebounds"`
	OffReb         *int64  `json:"offensive_rebounds"`
	DefReb         *int64  `json:"defensive_rebounds"`
	Steals         *int64  `json:"steals"`
	Blocks         *int64  `json:"blocks"`
	Turnovers      *int64  `json:"turnovers"`
	Fouls          *int64  `json:"personal_fouls"`
	FGM            *int64  `json:"fgm"`
	FGA            *int64  `json:"fga"`
	FG3M           *int64  `json:"fg3m"`
	FG3A           *int64  `json:"fg3a"`
	FTM            *int64  `json:"ftm"`
	FTA            *int64  `json:"fta"`
	PlusMinus      *int64  `json:"plus_minus"`
	SourceFile     string  `json:"source_file_path"`
	ProcessedAt    string  `json:"processed_at"`
}

// key identifies a player's row within a date.
func (r boxScoreRow) key() string { return r.GameID + "/" + r.PlayerLookup }
