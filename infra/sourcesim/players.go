package sourcesim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"
)

// Player is one simulated player. First and Last are the canonical spellings (NBA.com's:
// accents, apostrophes and periods kept); Suffix is "", "Jr.", "Sr.", "II", "III" or "IV".
type Player struct {
	NBAID       int
	BDLID       int
	First       string
	Last        string
	Suffix      string
	Position    string // BDL style: "G", "F", "C", "G-F", "F-C"
	Height      string // "6-6"
	Weight      string // "215"
	Jersey      string
	College     string
	Country     string
	DraftYear   int // 0 when undrafted
	DraftRound  int
	DraftNumber int

	rating   float64 // 0..1, orders the rotation
	usage    float64 // field goal attempts per minute
	threeShr float64 // share of attempts that are threes
	p2, p3   float64 // make probabilities
	ftRate   float64 // free throw attempts per field goal attempt
	pft      float64
	orb, drb float64 // rebounds per minute
	ast      float64
	stl, blk float64
	tov, pf  float64
	odds     int // which name variant The Odds API prints (see OddsName)
}

// FullName is the NBA.com spelling: "Jaren Jackson Jr.", "Nikola Vučević".
func (p Player) FullName() string {
	n := p.First + " " + p.Last
	if p.Suffix != "" {
		n += " " + p.Suffix
	}
	return n
}

// BDLFirst and BDLLast are Ball Don't Lie's spellings: accents folded to ASCII, the suffix
// kept inside last_name ("Jackson Jr.").
func (p Player) BDLFirst() string { return foldASCII(p.First) }

// BDLLast is the BDL last_name; see BDLFirst.
func (p Player) BDLLast() string {
	l := foldASCII(p.Last)
	if p.Suffix != "" {
		l += " " + p.Suffix
	}
	return l
}

// OddsName is how The Odds API spells the player in outcome descriptions. Accents are always
// folded; depending on the player the suffix is dropped or loses its period, initials lose
// their periods, or the apostrophe is typographic. Every variant has the same player_lookup.
func (p Player) OddsName() string {
	first, last, suffix := foldASCII(p.First), foldASCII(p.Last), p.Suffix
	switch p.odds % 4 {
	case 1:
		suffix = ""
	case 2:
		suffix = strings.TrimSuffix(suffix, ".")
		first = strings.ReplaceAll(first, ".", "")
	case 3:
		first = strings.ReplaceAll(first, "'", "\u2019")
		last = strings.ReplaceAll(last, "'", "\u2019")
	}
	n := first + " " + last
	if suffix != "" {
		n += " " + suffix
	}
	return n
}

// Lookup is the expected player_lookup: lower-case ASCII letters and digits of first and last
// name, accents folded, suffix dropped. The simulator knows which part is the suffix, so it
// does not parse the full name.
func (p Player) Lookup() string {
	var b strings.Builder
	for _, r := range foldASCII(p.First + p.Last) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

var foldTable = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "a", 'ã': "a", 'å': "a", 'ā': "a", 'ą': "a",
	'Á': "A", 'À': "A", 'Â': "A", 'Ä': "A", 'Ã': "A", 'Å': "A", 'Ā': "A",
	'ć': "c", 'č': "c", 'ç': "c", 'Ć': "C", 'Č': "C", 'Ç': "C",
	'đ': "d", 'ď': "d", 'Đ': "D",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ę': "e", 'ė': "e", 'É': "E", 'È': "E",
	'ğ': "g", 'Ğ': "G", 'ģ': "g",
	'í': "i", 'ì': "i", 'î': "i", 'ï': "i", 'ī': "i", 'ı': "i", 'Í': "I", 'İ': "I",
	'ķ': "k", 'ļ': "l", 'ł': "l", 'Ł': "L",
	'ñ': "n", 'ń': "n", 'ņ': "n", 'Ñ': "N",
	'ó': "o", 'ò': "o", 'ô': "o", 'ö': "o", 'õ': "o", 'ø': "o", 'Ó': "O", 'Ö': "O", 'Ø': "O",
	'ř': "r", 'ś': "s", 'š': "s", 'ş': "s", 'Š': "S", 'Ş': "S", 'Ś': "S",
	'ť': "t", 'ţ': "t",
	'ú': "u", 'ù': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'Ú': "U", 'Ü': "U",
	'ý': "y", 'ÿ': "y", 'ž': "z", 'ź': "z", 'ż': "z", 'Ž': "Z", 'Ź': "Z",
	'ß': "ss",
}

// foldASCII replaces the accented letters the name pools use by their ASCII base letters.
func foldASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	plainFirst = []string{
		"Aaron", "Adrian", "Alex", "Andre", "Anthony", "Austin", "Ben", "Brandon", "Bryce", "Caleb",
		"Cameron", "Chris", "Cody", "Cole", "Collin", "Corey", "Damian", "Daniel", "Darius", "David",
		"Dean", "Derrick", "Devin", "Donovan", "Dylan", "Eric", "Evan", "Grant", "Isaiah", "Jalen",
		"Jamal", "Jaylen", "Jordan", "Josh", "Julian", "Justin", "Keegan", "Kevin", "Kyle", "Landry",
		"Lonnie", "Malik", "Marcus", "Mason", "Max", "Miles", "Mitchell", "Nathan", "Noah", "Obi",
		"Paul", "Quentin", "Reggie", "Ricky", "Russell", "Ryan", "Scottie", "Shaedon", "Spencer", "Terance",
		"Trey", "Tyler", "Tyrese", "Victor", "Walker", "Xavier", "Zach", "Amen", "Ausar", "Bilal",
		"Cason", "Dereck", "Gradey", "Jabari", "Jarace", "Keyonte", "Kobe", "Moses", "Rayan", "Toumani",
	}
	plainLast = []string{
		"Adams", "Allen", "Anderson", "Bailey", "Banks", "Barnes", "Bell", "Brooks", "Brown", "Bryant",
		"Butler", "Carter", "Clark", "Coleman", "Collins", "Cook", "Daniels", "Davis", "Dixon", "Dunn",
		"Edwards", "Ellis", "Evans", "Fields", "Fisher", "Ford", "Foster", "Freeman", "Gibson", "Gordon",
		"Graham", "Grant", "Green", "Griffin", "Hall", "Harper", "Harris", "Hayes", "Henderson", "Hill",
		"Holmes", "Howard", "Hunter", "Jackson", "James", "Jenkins", "Johnson", "Jones", "Jordan", "Kelly",
		"King", "Knight", "Lewis", "Lowry", "Mann", "Marshall", "Martin", "Mathews", "McBride", "McCollum",
		"McDaniels", "Miller", "Mitchell", "Moore", "Morris", "Murphy", "Murray", "Nance", "Nelson", "Oliver",
		"Parker", "Payton", "Porter", "Powell", "Price", "Reed", "Richardson", "Roberts", "Robinson", "Ross",
		"Russell", "Sanders", "Simmons", "Smith", "Stewart", "Sullivan", "Taylor", "Thomas", "Thompson", "Turner",
		"Walker", "Wallace", "Ward", "Washington", "Watson", "Wells", "White", "Williams", "Wilson", "Wright",
		"LaRue", "DeLaney", "MacArthur", "VanHorn",
	}
	apostropheFirst = []string{"De'Andre", "D'Angelo", "Ja'Marcus", "Nah'Shon", "Day'Ron", "De'Anthony", "Ja'Kobe", "Keon'Tae"}
	apostropheLast  = []string{"O'Neale", "O'Connell", "D'Amico", "O'Bryant", "N'Diaye"}
	initialsFirst   = []string{"P.J.", "T.J.", "R.J.", "C.J.", "A.J.", "O.G.", "K.J."}
	hyphenLast      = []string{"Gilgeous-Porter", "Walker-Kemp", "Smith-Rowe", "Oduya-Bell", "Horton-Tucker", "Caldwell-Pope"}
	accentFirst     = []string{"Théo", "Dāvis", "Nicolò", "Ömer", "Álvaro", "Jusuf", "Bojan", "Luka", "Goran", "Nikola", "Alperen", "Dario", "Jonas", "Kristaps"}
	accentLast      = []string{"Dončević", "Jokanović", "Valančius", "Bertānsons", "Şengül", "Nurkanović", "Bogdanić", "Šarić", "Hernangómez", "Müller", "Sjöberg", "Núñez", "Vučinić", "Porziņš", "Małecki", "Çelik"}
	suffixes        = []string{"Jr.", "Jr.", "Jr.", "Jr.", "III", "III", "II", "Sr.", "IV"}
	positions       = []string{"G", "G", "F", "F", "C", "G-F", "F-C", "F-G", "C-F"}
	colleges        = []string{"Duke", "Kentucky", "Kansas", "North Carolina", "UCLA", "Villanova", "Gonzaga", "Arizona", "Michigan", "Texas", "Baylor", "Auburn", "Alabama", "Memphis", "Iowa State", "Oregon"}
	countries       = []string{"USA", "USA", "USA", "USA", "USA", "USA", "Canada", "France", "Serbia", "Slovenia", "Turkey", "Latvia", "Australia", "Spain", "Germany", "Nigeria"}
)

// poolSize is the number of players in the league: 30 rosters of 15 plus free agents.
const (
	rosterSize = 15
	poolSize   = 30*rosterSize + 60
)

// newPlayerPool draws the league's players. Names come from the pools above with fixed
// strides guaranteeing that every name trap occurs; player_lookup values are unique.
func newPlayerPool(seed int64) []Player {
	r := rngFor(seed, "players")
	seenLookup := map[string]bool{}
	seenNBA := map[int]bool{}
	seenBDL := map[int]bool{}
	pool := make([]Player, 0, poolSize)
	for len(pool) < poolSize {
		idx := len(pool)
		p := Player{First: pick(r, plainFirst), Last: pick(r, plainLast)}
		switch {
		case idx%12 == 3:
			p.Suffix = pick(r, suffixes)
		case idx%12 == 7:
			p.Last = pick(r, accentLast)
			if r.IntN(2) == 0 {
				p.First = pick(r, accentFirst)
			}
		case idx%17 == 5:
			if r.IntN(2) == 0 {
				p.First = pick(r, apostropheFirst)
			} else {
				p.Last = pick(r, apostropheLast)
			}
		case idx%19 == 2:
			p.First = pick(r, initialsFirst)
		case idx%23 == 11:
			p.Last = pick(r, hyphenLast)
		case idx%29 == 13:
			p.First = pick(r, apostropheFirst)
			p.Suffix = "Jr."
		}
		if seenLookup[p.Lookup()] {
			continue
		}
		seenLookup[p.Lookup()] = true
		p.NBAID = uniqueID(seenNBA, func() int {
			if r.IntN(10) == 0 {
				return 200000 + r.IntN(5000)
			}
			return 1626000 + r.IntN(17000)
		})
		p.BDLID = uniqueID(seenBDL, func() int {
			if r.IntN(2) == 0 {
				return 1 + r.IntN(999)
			}
			return 17895000 + r.IntN(5000)
		})
		p.Position = pick(r, positions)
		p.Height = fmt.Sprintf("6-%d", r.IntN(12))
		if r.IntN(5) == 0 {
			p.Height = fmt.Sprintf("7-%d", r.IntN(3))
		}
		p.Weight = fmt.Sprint(180 + r.IntN(80))
		p.Jersey = fmt.Sprint(r.IntN(100))
		p.College = pick(r, colleges)
		p.Country = pick(r, countries)
		if p.Country != "USA" {
			p.College = "None"
		}
		if r.IntN(6) != 0 {
			p.DraftYear = 2010 + r.IntN(14)
			p.DraftRound = 1 + r.IntN(2)
			p.DraftNumber = (p.DraftRound-1)*30 + 1 + r.IntN(30)
		}
		p.odds = r.IntN(4)
		drawSkills(r, &p)
		pool = append(pool, p)
	}
	return pool
}

func drawSkills(r *rand.Rand, p *Player) {
	p.rating = r.Float64()
	p.usage = between(r, 0.2, 0.28) + 0.15*p.rating
	big := strings.HasPrefix(p.Position, "C")
	p.threeShr = between(r, 0.25, 0.55)
	p.p2 = between(r, 0.47, 0.56)
	p.orb, p.drb = between(r, 0.01, 0.04), between(r, 0.08, 0.16)
	p.blk = between(r, 0.005, 0.02)
	if big {
		p.threeShr = between(r, 0.0, 0.3)
		p.p2 = between(r, 0.55, 0.66)
		p.orb, p.drb = between(r, 0.05, 0.1), between(r, 0.18, 0.28)
		p.blk = between(r, 0.03, 0.07)
	}
	p.p3 = between(r, 0.3, 0.41)
	p.ftRate = between(r, 0.15, 0.4)
	p.pft = between(r, 0.65, 0.92)
	p.ast = between(r, 0.02, 0.08) + 0.08*p.rating
	p.stl = between(r, 0.015, 0.045)
	p.tov = between(r, 0.03, 0.08)
	p.pf = between(r, 0.04, 0.09)
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

func uniqueID(seen map[int]bool, draw func() int) int {
	for {
		id := draw()
		if !seen[id] {
			seen[id] = true
			return id
		}
	}
}

// rosters assigns players to teams for a season: a seeded base assignment, then a
// season-seeded set of moves (trades and signings), so rosters change from season to season.
// The result maps team index to pool indices, best rated first.
func rosters(seed int64, pool []Player, season int) [][]int {
	base := rngFor(seed, "rosters")
	order := base.Perm(len(pool))
	r := rngFor(seed, fmt.Sprintf("rosters/%d", season))
	for range 70 {
		i, j := r.IntN(len(order)), r.IntN(len(order))
		order[i], order[j] = order[j], order[i]
	}
	out := make([][]int, len(teams))
	for t := range teams {
		ro := append([]int(nil), order[t*rosterSize:(t+1)*rosterSize]...)
		sort.Slice(ro, func(a, b int) bool { return pool[ro[a]].rating > pool[ro[b]].rating })
		out[t] = ro
	}
	return out
}
