package topology_test

import (
	"context"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"github.com/nba-props/pipeline/infra/bqemu"
	"github.com/nba-props/pipeline/infra/cloud"
	"github.com/nba-props/pipeline/infra/emulators"
	"github.com/nba-props/pipeline/infra/topology"
)

func TestApplyBigQueryTables(t *testing.T) {
	t.Parallel()
	if len(topology.Tables()) == 0 {
		t.Skip("no tables declared yet")
	}
	env := emulators.StartTest(t)
	ctx := context.Background()
	bq, err := cloud.BigQuery(ctx, env.Project, bqemu.StartTest(t, env.Storage))
	if err != nil {
		t.Fatal(err)
	}
	defer bq.Close()
	clients := topology.Clients{PubSub: env.PubSub, BigQuery: bq}
	opts := topology.Options{Names: env.Names}
	first, err := topology.Apply(ctx, clients, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, first)
	}
	if n := len(topology.Datasets()) + len(topology.Tables()); countKind(first, "dataset", topology.Created)+countKind(first, "table", topology.Created) != n {
		t.Errorf("first apply did not create all %d datasets and tables:\n%s", n, first)
	}
	second, err := topology.Apply(ctx, clients, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, second)
	}
	if second.Count(topology.Unchanged) != len(second.Changes) {
		t.Errorf("second apply changed something:\n%s", second)
	}

	for _, tb := range topology.Tables() {
		md, err := bq.Dataset(tb.Dataset).Table(tb.Name).Metadata(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tb.FullName(), err)
		}
		type shape struct {
			Partition, Type string
			RequireFilter   bool
			Clustering      []string
			Columns         int
		}
		got := shape{RequireFilter: md.RequirePartitionFilter, Columns: len(md.Schema)}
		if md.TimePartitioning != nil {
			got.Partition, got.Type = md.TimePartitioning.Field, string(md.TimePartitioning.Type)
		}
		if md.Clustering != nil {
			got.Clustering = md.Clustering.Fields
		}
		want := shape{Partition: tb.PartitionField, RequireFilter: tb.RequirePartitionFilter, Clustering: tb.Clustering, Columns: len(tb.Schema)}
		if tb.PartitionField != "" {
			want.Type = string(bigquery.DayPartitioningType)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tb.FullName(), diff)
		}
	}
}

func countKind(r topology.Report, kind string, a topology.Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Kind == kind && c.Action == a {
			n++
		}
	}
	return n
}
