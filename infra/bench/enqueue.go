package main

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"golang.org/x/sync/errgroup"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/messages"
)

// enqueueJobs are the jobs the enqueue measurement publishes for: every scraper, as
// producer enqueue --phase scrapers --job all does.
func enqueueJobs() []messages.JobSpec {
	var out []messages.JobSpec
	for _, s := range messages.DefaultCatalog().Jobs() {
		if s.Phase == messages.PhaseScrapers {
			out = append(out, s)
		}
	}
	return out
}

// seedLedger writes a finished record for every job and every date of the five seasons
// before seededEnd, directly with the ledger package, as earlier backfills would have left.
func seedLedger(ctx context.Context, s *stack, jobs []messages.JobSpec, dates []string) error {
	l := ledger.New(s.storage, s.env.Bucket, ledger.Options{})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	now := time.Now().UTC()
	for _, spec := range jobs {
		for _, d := range dates {
			rec := ledger.Record{Phase: spec.Phase, Job: spec.Name, Date: d, State: ledger.StateSucceeded, Attempts: 1,
				RunID: "bench-seed", Lane: messages.LaneBackfill, FirstStarted: now, LastStarted: now, Finished: now, Updated: now,
				OutputFingerprint: "seed", Emitted: true}
			g.Go(func() error {
				_, err := l.Write(gctx, rec, 0)
				return err
			})
		}
	}
	return g.Wait()
}

// enqueue does what producer enqueue does for a range: one ledger listing per job (the
// metadata of every record in the range), every pair not finished published as one
// message, every publish awaited. It returns the messages published and how long it took.
func enqueue(ctx context.Context, s *stack, jobs []messages.JobSpec, dates []string) (int, time.Duration, error) {
	l := ledger.New(s.storage, s.env.Bucket, ledger.Options{})
	cat := messages.DefaultCatalog()
	t0 := time.Now()
	type pair struct {
		spec messages.JobSpec
		date string
	}
	var todo []pair
	for _, spec := range jobs {
		sums, err := l.List(ctx, spec.Ref(), dates[0], dates[len(dates)-1])
		if err != nil {
			return 0, 0, err
		}
		done := map[string]bool{}
		for _, sm := range sums {
			if sm.State.Done() {
				done[sm.Date] = true
			}
		}
		for _, d := range dates {
			if !done[d] {
				todo = append(todo, pair{spec, d})
			}
		}
	}
	pub := s.pubsub.Publisher(messages.Names{}.Topic(messages.PhaseScrapers))
	defer pub.Stop()
	results := make([]*pubsub.PublishResult, 0, len(todo))
	for _, p := range todo {
		req := messages.Request{Version: messages.Version, Phase: p.spec.Phase, Job: p.spec.Name, Date: p.date,
			RunID: "bench-enqueue", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
		body, attrs, err := messages.Encode(req, cat)
		if err != nil {
			return 0, 0, err
		}
		results = append(results, pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}))
	}
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil {
			return 0, 0, fmt.Errorf("publish: %w", err)
		}
	}
	return len(todo), time.Since(t0), nil
}
