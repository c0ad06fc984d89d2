package nba

import (
	"math/rand/v2"
	"testing"
)

// TestFoldNameASCIIAgreesWithUnicode holds foldName's ASCII path to the general one: every
// ASCII character alone and in random strings.
func TestFoldNameASCIIAgreesWithUnicode(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "Jaren Jackson Jr.", "De'Aaron Fox", "O'NEALE,\tMalik\r\n", "  KJ   Martin II "}
	for c := range 128 {
		inputs = append(inputs, string(rune(c)), "A"+string(rune(c))+"z")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(16))
		for i := range b {
			b[i] = byte(r.IntN(128))
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		if got, want := foldName(s), foldUnicode(s); got != want {
			t.Fatalf("foldName(%q) = %q, the general fold gives %q", s, got, want)
		}
	}
}

func BenchmarkPlayerLookup(b *testing.B) {
	names := []string{"Jaren Jackson Jr.", "Shai Gilgeous-Alexander", "Nikola Vučević", "De’Aaron Fox", "LeBron James"}
	for i := 0; b.Loop(); i++ {
		PlayerLookup(names[i%len(names)])
	}
}
