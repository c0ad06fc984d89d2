package nba

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownTeam is wrapped by Team when a code or name is not in the map.
var ErrUnknownTeam = errors.New("unknown team")

// franchise is one team with every spelling the sources use for it.
type franchise struct {
	tricode string
	aliases []string // other codes and full names, any case
}

// franchises lists the 30 teams by NBA.com tricode with the codes of other sites
// (Basketball-Reference's BRK/PHO/CHO, ESPN's GS/NY/SA/NO/UTAH/WSH) and the full names
// Ball Don't Lie and The Odds API print.
var franchises = []franchise{
	{"ATL", []string{"Atlanta Hawks"}},
	{"BOS", []string{"Boston Celtics"}},
	{"BKN", []string{"BRK", "BKLYN", "Brooklyn Nets"}},
	{"CHA", []string{"CHO", "Charlotte Hornets"}},
	{"CHI", []string{"Chicago Bulls"}},
	{"CLE", []string{"Cleveland Cavaliers"}},
	{"DAL", []string{"Dallas Mavericks"}},
	{"DEN", []string{"Denver Nuggets"}},
	{"DET", []string{"Detroit Pistons"}},
	{"GSW", []string{"GS", "Golden State Warriors"}},
	{"HOU", []string{"Houston Rockets"}},
	{"IND", []string{"Indiana Pacers"}},
	{"LAC", []string{"LA Clippers", "Los Angeles Clippers"}},
	{"LAL", []string{"Los Angeles Lakers", "LA Lakers"}},
	{"MEM", []string{"Memphis Grizzlies"}},
	{"MIA", []string{"Miami Heat"}},
	{"MIL", []string{"Milwaukee Bucks"}},
	{"MIN", []string{"Minnesota Timberwolves"}},
	{"NOP", []string{"NO", "NOR", "New Orleans Pelicans"}},
	{"NYK", []string{"NY", "New York Knicks"}},
	{"OKC", []string{"Oklahoma City Thunder"}},
	{"ORL", []string{"Orlando Magic"}},
	{"PHI", []string{"Philadelphia 76ers"}},
	{"PHX", []string{"PHO", "Phoenix Suns"}},
	{"POR", []string{"Portland Trail Blazers"}},
	{"SAC", []string{"Sacramento Kings"}},
	{"SAS", []string{"SA", "San Antonio Spurs"}},
	{"TOR", []string{"Toronto Raptors"}},
	{"UTA", []string{"UTAH", "UTH", "Utah Jazz"}},
	{"WAS", []string{"WSH", "Washington Wizards"}},
}

// teamKey folds case and runs of spaces, the only liberties the map takes with a spelling.
func teamKey(s string) string { return strings.ToUpper(strings.Join(strings.Fields(s), " ")) }

// teamIndex maps every accepted spelling (folded by teamKey) to its tricode.
func teamIndex() map[string]string {
	m := make(map[string]string, len(franchises)*4)
	for _, f := range franchises {
		m[f.tricode] = f.tricode
		for _, a := range f.aliases {
			m[teamKey(a)] = f.tricode
		}
	}
	return m
}

// teamsByKey is read-only after package initialisation.
var teamsByKey = teamIndex()

// Team maps any source's team code or full name to the NBA.com tricode: "BRK" and "Brooklyn
// Nets" → "BKN", "LA Clippers" and "Los Angeles Clippers" → "LAC". Case and repeated spaces
// are ignored; nothing else is guessed. An unknown spelling is an error wrapping
// ErrUnknownTeam, to be added to the map if it is a real team.
func Team(s string) (string, error) {
	if t, ok := teamsByKey[teamKey(s)]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w: %q (add the spelling to consumers/nba if it is a real team)", ErrUnknownTeam, s)
}

// Tricodes returns the 30 NBA.com tricodes in alphabetical order.
func Tricodes() []string {
	out := make([]string, 0, len(franchises))
	for _, f := range franchises {
		out = append(out, f.tricode)
	}
	sort.Strings(out)
	return out
}

// bdlTeamIDs are Ball Don't Lie's team ids: 1 to 30 in alphabetical order of full name.
var bdlTeamIDs = []string{
	"ATL", "BOS", "BKN", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW",
	"HOU", "IND", "LAC", "LAL", "MEM", "MIA", "MIL", "MIN", "NOP", "NYK",
	"OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
}

// BDLTeam maps a Ball Don't Lie team id (1 to 30) to the tricode, for records such as an
// injury that carry only the player's team_id. Records that come with a games object resolve
// ids through it instead.
func BDLTeam(id int) (string, error) {
	if id < 1 || id > len(bdlTeamIDs) {
		return "", fmt.Errorf("%w: Ball Don't Lie team id %d (want 1 to 30)", ErrUnknownTeam, id)
	}
	return bdlTeamIDs[id-1], nil
}
