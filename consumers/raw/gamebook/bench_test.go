package gamebook

import "testing"

// BenchmarkParse measures Parse on a two-page book.
func BenchmarkParse(b *testing.B) {
	l := newLeague(b, 21)
	data := l.get(b, l.withTrap(b, "two_pages").Path)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
