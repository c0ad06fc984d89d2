package sourcesim

import (
	"testing"
	"time"
)

// BenchmarkGamebookRender measures rendering one two-page game book, with its bytes.
func BenchmarkGamebookRender(b *testing.B) {
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	m, err := s.season(2024)
	if err != nil {
		b.Fatal(err)
	}
	gi := -1
	for i := range m.games {
		if t := s.gamebookTruth(m, i); t.Pages == 2 {
			gi = i
			break
		}
	}
	gb := s.gamebookOf(m, gi)
	for b.Loop() {
		body, err := s.renderGamebook(m, gb)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
	}
}

// BenchmarkGamebookSeason measures serving every game book of a season, from the decisions
// to the bytes, and reports their sizes.
func BenchmarkGamebookSeason(b *testing.B) {
	s := New(Config{Seed: 21, Now: func() time.Time { return fixedNow }})
	m, err := s.season(2024)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		total, largest := 0, 0
		for i := range m.games {
			body, err := s.renderGamebook(m, s.gamebookOf(m, i))
			if err != nil {
				b.Fatal(err)
			}
			total += len(body)
			largest = max(largest, len(body))
		}
		b.ReportMetric(float64(total)/float64(len(m.games)), "bytes/book")
		b.ReportMetric(float64(largest), "max-bytes")
	}
}
