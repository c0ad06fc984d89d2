package nba_test

import (
	"fmt"
	"time"

	"github.com/nba-props/pipeline/consumers/nba"
)

func ExampleTeam() {
	for _, s := range []string{"BKN", "BRK", "PHO", "CHO", "GS", "WSH", "LA Clippers", "Los Angeles Clippers", "brooklyn nets"} {
		t, _ := nba.Team(s)
		fmt.Println(s, "→", t)
	}
	_, err := nba.Team("Seattle SuperSonics")
	fmt.Println(err != nil)
	// Output:
	// BKN → BKN
	// BRK → BKN
	// PHO → PHX
	// CHO → CHA
	// GS → GSW
	// WSH → WAS
	// LA Clippers → LAC
	// Los Angeles Clippers → LAC
	// brooklyn nets → BKN
	// true
}

func ExamplePlayerLookup() {
	for _, n := range []string{"Jaren Jackson Jr.", "jaren jackson", "Nikola Vučević", "De’Aaron Fox", "Karl-Anthony Towns", "Gary Payton II", "P.J. Washington"} {
		fmt.Println(nba.PlayerLookup(n))
	}
	// Output:
	// jarenjackson
	// jarenjackson
	// nikolavucevic
	// deaaronfox
	// karlanthonytowns
	// garypayton
	// pjwashington
}

func ExampleGameID() {
	id, _ := nba.GameID("2024-10-22", "NYK", "BOS")
	fmt.Println(id)
	id, _ = nba.GameID("2024-10-23", "Los Angeles Clippers", "PHO")
	fmt.Println(id)
	// Output:
	// 20241022_NYK_BOS
	// 20241023_LAC_PHX
}

func ExampleGameDate() {
	tip := time.Date(2024, 10, 23, 2, 30, 0, 0, time.UTC) // BDL datetime of a 10:30 pm ET game
	fmt.Println(nba.GameDate(tip))
	// Output: 2024-10-22
}

func ExampleParseEasternWallClock() {
	t, _ := nba.ParseEasternWallClock("2024-10-22T19:30:00Z") // an NBA.com gameDateTimeEst
	fmt.Println(t.UTC().Format(time.RFC3339))
	// Output: 2024-10-22T23:30:00Z
}

func ExampleAmericanOdds() {
	for _, p := range []float64{-110, 150, 1.91, 2.5, 1.5} {
		a, _ := nba.AmericanOdds(p)
		fmt.Println(a)
	}
	// Output:
	// -110
	// 150
	// -110
	// 150
	// -200
}

func ExampleMinutesBeforeTipoff() {
	tip := time.Date(2024, 10, 22, 23, 30, 0, 0, time.UTC)
	fmt.Println(nba.MinutesBeforeTipoff(tip.Add(-35*time.Minute), tip))
	fmt.Println(nba.MinutesBeforeTipoff(tip, tip))
	fmt.Println(nba.MinutesBeforeTipoff(tip.Add(30*time.Second), tip))
	// Output:
	// 35
	// 0
	// -1
}

func ExampleMinutes() {
	for _, v := range []any{"38", "38:30", "00", "", 24.5} {
		m, _ := nba.Minutes(v)
		fmt.Println(m)
	}
	// Output:
	// 38
	// 38.5
	// 0
	// 0
	// 24.5
}

func ExampleSurnameOf() {
	fmt.Println(nba.SurnameOf("Jackson Jr.", "Jaren Jackson Jr."))
	fmt.Println(nba.SurnameOf("Dončić", "Luka Doncic"))
	fmt.Println(nba.SurnameOf("O’Neale", "Royce O'Neale"))
	fmt.Println(nba.SurnameOf("Jackson", "Jaren Jackson Jr.")) // another suffix: another player
	fmt.Println(nba.SurnameOf("Hill", "Jordan Churchill"))     // whole words only
	// Output:
	// true
	// true
	// true
	// false
	// false
}

func ExampleResolveName() {
	roster := []string{"Ja Morant", "Jaren Jackson Jr.", "Jaren Jackson Jr", "Desmond Bane", "GG Jackson"}
	for _, printed := range []string{"Morant", "Jackson Jr.", "Jackson", "Bane", "Smart"} {
		lookup, ok := nba.ResolveName(printed, roster)
		fmt.Printf("%-12s %-14q %v\n", printed, lookup, ok)
	}
	// Output:
	// Morant       "jamorant"     true
	// Jackson Jr.  "jarenjackson" true
	// Jackson      "ggjackson"    true
	// Bane         "desmondbane"  true
	// Smart        ""             false
}

func ExamplePrintedInFull() {
	fmt.Println(nba.PrintedInFull("Jackson Jr."), nba.PrintedInFull("Gilgeous-Porter"), nba.PrintedInFull("Goran Müller"))
	// Output: false false true
}
