package sourcesim

// Team is one NBA franchise with the identifiers each source uses for it.
// Tricode is the NBA.com code and the project's canonical team key.
type Team struct {
	Tricode    string // NBA.com tricode: BKN, PHX, CHA, ...
	NBAID      int    // NBA.com teamId, 1610612737..1610612766
	BDLID      int    // Ball Don't Lie team id, 1..30 (alphabetical by full name)
	City       string // as NBA.com and BDL print it ("LA" for the Clippers)
	Name       string // nickname: "Celtics"
	FullName   string // BDL full_name: "LA Clippers"
	OddsName   string // The Odds API team name: "Los Angeles Clippers"
	Conference string // "East" or "West"
	Division   string
	Arena      string
	ArenaCity  string
	ArenaState string
	// TZ is the home arena's offset class: 0 Eastern, 1 Central, 2 Mountain, 3 Pacific.
	TZ int
}

// teams lists the 30 franchises in BDL id order (alphabetical by full name).
var teams = []Team{
	{"ATL", 1610612737, 1, "Atlanta", "Hawks", "Atlanta Hawks", "Atlanta Hawks", "East", "Southeast", "State Farm Arena", "Atlanta", "GA", 0},
	{"BOS", 1610612738, 2, "Boston", "Celtics", "Boston Celtics", "Boston Celtics", "East", "Atlantic", "TD Garden", "Boston", "MA", 0},
	{"BKN", 1610612751, 3, "Brooklyn", "Nets", "Brooklyn Nets", "Brooklyn Nets", "East", "Atlantic", "Barclays Center", "Brooklyn", "NY", 0},
	{"CHA", 1610612766, 4, "Charlotte", "Hornets", "Charlotte Hornets", "Charlotte Hornets", "East", "Southeast", "Spectrum Center", "Charlotte", "NC", 0},
	{"CHI", 1610612741, 5, "Chicago", "Bulls", "Chicago Bulls", "Chicago Bulls", "East", "Central", "United Center", "Chicago", "IL", 1},
	{"CLE", 1610612739, 6, "Cleveland", "Cavaliers", "Cleveland Cavaliers", "Cleveland Cavaliers", "East", "Central", "Rocket Arena", "Cleveland", "OH", 0},
	{"DAL", 1610612742, 7, "Dallas", "Mavericks", "Dallas Mavericks", "Dallas Mavericks", "West", "Southwest", "American Airlines Center", "Dallas", "TX", 1},
	{"DEN", 1610612743, 8, "Denver", "Nuggets", "Denver Nuggets", "Denver Nuggets", "West", "Northwest", "Ball Arena", "Denver", "CO", 2},
	{"DET", 1610612765, 9, "Detroit", "Pistons", "Detroit Pistons", "Detroit Pistons", "East", "Central", "Little Caesars Arena", "Detroit", "MI", 0},
	{"GSW", 1610612744, 10, "Golden State", "Warriors", "Golden State Warriors", "Golden State Warriors", "West", "Pacific", "Chase Center", "San Francisco", "CA", 3},
	{"HOU", 1610612745, 11, "Houston", "Rockets", "Houston Rockets", "Houston Rockets", "West", "Southwest", "Toyota Center", "Houston", "TX", 1},
	{"IND", 1610612754, 12, "Indiana", "Pacers", "Indiana Pacers", "Indiana Pacers", "East", "Central", "Gainbridge Fieldhouse", "Indianapolis", "IN", 0},
	{"LAC", 1610612746, 13, "LA", "Clippers", "LA Clippers", "Los Angeles Clippers", "West", "Pacific", "Intuit Dome", "Inglewood", "CA", 3},
	{"LAL", 1610612747, 14, "Los Angeles", "Lakers", "Los Angeles Lakers", "Los Angeles Lakers", "West", "Pacific", "Crypto.com Arena", "Los Angeles", "CA", 3},
	{"MEM", 1610612763, 15, "Memphis", "Grizzlies", "Memphis Grizzlies", "Memphis Grizzlies", "West", "Southwest", "FedExForum", "Memphis", "TN", 1},
	{"MIA", 1610612748, 16, "Miami", "Heat", "Miami Heat", "Miami Heat", "East", "Southeast", "Kaseya Center", "Miami", "FL", 0},
	{"MIL", 1610612749, 17, "Milwaukee", "Bucks", "Milwaukee Bucks", "Milwaukee Bucks", "East", "Central", "Fiserv Forum", "Milwaukee", "WI", 1},
	{"MIN", 1610612750, 18, "Minnesota", "Timberwolves", "Minnesota Timberwolves", "Minnesota Timberwolves", "West", "Northwest", "Target Center", "Minneapolis", "MN", 1},
	{"NOP", 1610612740, 19, "New Orleans", "Pelicans", "New Orleans Pelicans", "New Orleans Pelicans", "West", "Southwest", "Smoothie King Center", "New Orleans", "LA", 1},
	{"NYK", 1610612752, 20, "New York", "Knicks", "New York Knicks", "New York Knicks", "East", "Atlantic", "Madison Square Garden", "New York", "NY", 0},
	{"OKC", 1610612760, 21, "Oklahoma City", "Thunder", "Oklahoma City Thunder", "Oklahoma City Thunder", "West", "Northwest", "Paycom Center", "Oklahoma City", "OK", 1},
	{"ORL", 1610612753, 22, "Orlando", "Magic", "Orlando Magic", "Orlando Magic", "East", "Southeast", "Kia Center", "Orlando", "FL", 0},
	{"PHI", 1610612755, 23, "Philadelphia", "76ers", "Philadelphia 76ers", "Philadelphia 76ers", "East", "Atlantic", "Wells Fargo Center", "Philadelphia", "PA", 0},
	{"PHX", 1610612756, 24, "Phoenix", "Suns", "Phoenix Suns", "Phoenix Suns", "West", "Pacific", "Footprint Center", "Phoenix", "AZ", 2},
	{"POR", 1610612757, 25, "Portland", "Trail Blazers", "Portland Trail Blazers", "Portland Trail Blazers", "West", "Northwest", "Moda Center", "Portland", "OR", 3},
	{"SAC", 1610612758, 26, "Sacramento", "Kings", "Sacramento Kings", "Sacramento Kings", "West", "Pacific", "Golden 1 Center", "Sacramento", "CA", 3},
	{"SAS", 1610612759, 27, "San Antonio", "Spurs", "San Antonio Spurs", "San Antonio Spurs", "West", "Southwest", "Frost Bank Center", "San Antonio", "TX", 1},
	{"TOR", 1610612761, 28, "Toronto", "Raptors", "Toronto Raptors", "Toronto Raptors", "East", "Atlantic", "Scotiabank Arena", "Toronto", "ON", 0},
	{"UTA", 1610612762, 29, "Utah", "Jazz", "Utah Jazz", "Utah Jazz", "West", "Northwest", "Delta Center", "Salt Lake City", "UT", 2},
	{"WAS", 1610612764, 30, "Washington", "Wizards", "Washington Wizards", "Washington Wizards", "East", "Southeast", "Capital One Arena", "Washington", "DC", 0},
}

// Teams returns the 30 franchises in BDL id order. The slice is a copy.
func Teams() []Team {
	return append([]Team(nil), teams...)
}

// Zone is the IANA time zone of the team's arena.
func (t Team) Zone() string {
	if t.Tricode == "PHX" {
		return "America/Phoenix"
	}
	if t.Tricode == "TOR" {
		return "America/Toronto"
	}
	return []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}[t.TZ]
}
