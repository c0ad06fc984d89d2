package main

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/consumers/ledger"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/local"
	"github.com/nba-props/pipeline/infra/testlog"
	"github.com/nba-props/pipeline/messages"
	"github.com/sethvargo/go-envconfig"
)

// TestInjuryReportEndToEnd covers the one job a backfill skips: the injury report exists
// only for the current day, so it is scraped for today (the simulator on the wall clock, as
// in make up) and must reach nba_raw.bdl_injuries$today with one row per reported player,
// while a past date is refused as permanent and dead-lettered.
func TestInjuryReportEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := local.Options{PubSubAddr: "127.0.0.1:0", GCSAddr: "127.0.0.1:0", BigQueryAddr: "127.0.0.1:0", SimAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), Project: cloud.LocalProject, Bucket: cloud.LocalProject, Prefix: "inj-", SimSeed: 7,
		Env: envconfig.MapLookuper(map[string]string{"CONSUMER_STREAMS": "2"}), Logs: &testlog.Buffer{}}
	s, err := local.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	today := messages.GameDate(time.Now())
	yesterday := messages.GameDate(time.Now().AddDate(0, 0, -1))
	cat := messages.DefaultCatalog()
	pub := s.PubSub.Publisher(messages.Names{Prefix: o.Prefix}.Topic(messages.PhaseScrapers))
	for _, d := range []string{today, yesterday} {
		body, attrs, err := messages.Encode(messages.Request{Version: messages.Version, Phase: messages.PhaseScrapers, Job: "bdl_injuries",
			Date: d, RunID: "injuries-test", Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneDaily}, cat)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: attrs}).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pub.Stop()

	l := ledger.New(s.Storage, o.Bucket, ledger.Options{})
	wait := func(ref messages.JobRef, date string) ledger.Record {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			rec, _, err := l.Get(ctx, ref, date)
			if err == nil && (rec.State.Done() || rec.State == ledger.StateDead) {
				return rec
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s never finished (last %+v, %v)", ref, date, rec, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if rec := wait(messages.Ref(messages.PhaseScrapers, "bdl_injuries"), yesterday); rec.State != ledger.StateDead {
		t.Errorf("scrapers/bdl_injuries for yesterday ended %s, want dead (the source has no history)", rec.State)
	}
	rec := wait(messages.Ref(messages.PhaseRaw, "bdl_injuries"), today)
	want := len(s.Sim.InjuryReport())
	if want == 0 {
		t.Fatal("the simulator reports no injuries today; the test would prove nothing")
	}
	if rec.State != ledger.StateSucceeded || rec.Output.TotalRows() != int64(want) {
		t.Fatalf("raw/bdl_injuries for today ended %s with %d rows, want succeeded with the report's %d", rec.State, rec.Output.TotalRows(), want)
	}
	q := s.BigQuery.Query(`SELECT COUNT(*) AS n, COUNT(DISTINCT player_lookup) AS players
FROM nba_raw.bdl_injuries WHERE report_date = CAST(@d AS DATE)`)
	q.Parameters = []bigquery.QueryParameter{{Name: "d", Value: today}}
	it, err := q.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row struct{ N, Players int64 }
	if err := it.Next(&row); err != nil && err != iterator.Done {
		t.Fatal(err)
	}
	if row.N != int64(want) || row.Players != int64(want) {
		t.Errorf("nba_raw.bdl_injuries$%s holds %d rows for %d players, want %d of each", today, row.N, row.Players, want)
	}
}
