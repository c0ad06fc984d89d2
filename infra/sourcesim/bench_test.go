package sourcesim

import (
	"testing"
	"time"
)

// BenchmarkSeasonTruth measures a whole season's truth from a cold simulator: schedule,
// every box score and every prop timeline generated, then Truth for each game date.
func BenchmarkSeasonTruth(b *testing.B) {
	for b.Loop() {
		s := New(Config{Seed: int64(b.N), Now: func() time.Time { return fixedNow }})
		games, err := s.Schedule(2024)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		last := ""
		for _, g := range games {
			if g.Date == last {
				continue
			}
			last = g.Date
			tr, err := s.Truth(g.Date)
			if err != nil {
				b.Fatal(err)
			}
			rows += len(tr.Players)
		}
		b.ReportMetric(float64(rows), "rows/season")
	}
}

// BenchmarkSeasonTruthWarm measures Truth for every date once everything is cached.
func BenchmarkSeasonTruthWarm(b *testing.B) {
	s := New(Config{Seed: 1, Now: func() time.Time { return fixedNow }})
	games, err := s.Schedule(2024)
	if err != nil {
		b.Fatal(err)
	}
	var dates []string
	for _, g := range games {
		if len(dates) == 0 || dates[len(dates)-1] != g.Date {
			dates = append(dates, g.Date)
		}
	}
	for _, d := range dates {
		if _, err := s.Truth(d); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		for _, d := range dates {
			if _, err := s.Truth(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkServeDate measures serving one date's BDL stats (two pages), leaguegamelog and
// the season schedule over HTTP.
func BenchmarkServeDate(b *testing.B) {
	_, srv := newTestSim(b, Config{Seed: 1})
	paths := map[string]string{
		"bdl_stats":     "/bdl/v1/stats?dates[]=2024-11-05&per_page=100",
		"leaguegamelog": leagueLogPath("11/05/2024"),
		"cdn_schedule":  "/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024",
	}
	for name, p := range paths {
		fetch(b, srv, p)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				fetch(b, srv, p)
			}
		})
	}
}

// BenchmarkScheduleRevalidate measures a CDN schedule request answered 304.
func BenchmarkScheduleRevalidate(b *testing.B) {
	_, srv := newTestSim(b, Config{Seed: 1})
	path := "/nbacdn/static/json/staticData/scheduleLeagueV2.json?season=2024"
	etag := fetch(b, srv, path).header.Get("ETag")
	for b.Loop() {
		if g := fetch(b, srv, path, "If-None-Match", etag); g.status != 304 {
			b.Fatalf("status %d", g.status)
		}
	}
}
