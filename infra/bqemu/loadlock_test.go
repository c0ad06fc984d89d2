package bqemu

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
)

// memObjects is an ObjectSource over objects held in memory, keyed "bucket/object".
type memObjects map[string]string

func (m memObjects) Open(_ context.Context, bucket, object string) (io.ReadCloser, error) {
	body, ok := m[bucket+"/"+object]
	if !ok {
		return nil, ErrObjectNotFound
	}
	return io.NopCloser(strings.NewReader(body)), nil
}

func (m memObjects) List(context.Context, string, string) ([]string, error) {
	return nil, errors.New("memObjects cannot list")
}

// call serves one REST request and fails the test unless it answers 200 or 204.
func call(t *testing.T, s *Server, method, path, body string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	if rec.Code != http.StatusOK && rec.Code != http.StatusNoContent {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

// TestLoadParsedBeforeTheLockFollowsTheDestination checks that a load whose sources were
// parsed before it took the write lock writes what the destination is by then: another
// job may change the table while this one waits for the lock.
func TestLoadParsedBeforeTheLockFollowsTheDestination(t *testing.T) {
	const row = `{"a":"x","d1":"2024-10-22","d2":"2024-10-23","c":"new"}` + "\n"
	for _, tc := range []struct {
		name string
		// change is what another job does to table t while the load waits.
		change  func(t *testing.T, s *Server)
		wantErr string
		// rows lists table t's rows, one string each, and want what it must return.
		rows string
		want string
	}{{
		name: "a field was added",
		change: func(t *testing.T, s *Server) {
			call(t, s, "PATCH", "/projects/p/datasets/ds/tables/t", `{"schema":{"fields":[
				{"name":"a","type":"STRING"},{"name":"d1","type":"DATE"},{"name":"d2","type":"DATE"},{"name":"c","type":"STRING"}]}}`)
		},
		rows: "SELECT concat_ws(' ', a, d1, c) FROM p.ds.t",
		want: "x 2024-10-22 new",
	}, {
		name: "the table was made again, partitioned by another column",
		change: func(t *testing.T, s *Server) {
			call(t, s, "DELETE", "/projects/p/datasets/ds/tables/t", "")
			call(t, s, "POST", "/projects/p/datasets/ds/tables", `{"tableReference":{"tableId":"t"},
				"schema":{"fields":[{"name":"a","type":"STRING"},{"name":"d1","type":"DATE"},{"name":"d2","type":"DATE"}]},
				"timePartitioning":{"type":"DAY","field":"d2"}}`)
		},
		rows:    "SELECT concat_ws(' ', a, d1, d2) FROM p.ds.t",
		wantErr: "Some rows belong to different partitions rather than destination partition 20241022",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{GCS: memObjects{"bucket/row.json": row}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			call(t, s, "POST", "/projects/p/datasets", `{"datasetReference":{"datasetId":"ds"}}`)
			call(t, s, "POST", "/projects/p/datasets/ds/tables", `{"tableReference":{"tableId":"t"},
				"schema":{"fields":[{"name":"a","type":"STRING"},{"name":"d1","type":"DATE"},{"name":"d2","type":"DATE"}]},
				"timePartitioning":{"type":"DAY","field":"d1"}}`)
			ctx := context.Background()
			cfg := &bq.JobConfigurationLoad{
				SourceUris: []string{"gs://bucket/row.json"}, SourceFormat: "NEWLINE_DELIMITED_JSON",
				DestinationTable: &bq.TableReference{DatasetId: "ds", TableId: "t$20241022"}, IgnoreUnknownValues: true,
			}
			var in loadInput
			if in.fetched, in.fetchErr = s.fetchSources(ctx, cfg.SourceUris); in.fetchErr != nil {
				t.Fatal(in.fetchErr)
			}
			if in.parsed = s.parseAhead(ctx, "p", cfg, in); in.parsed == nil {
				t.Fatal("the sources were not parsed before the lock")
			}
			tc.change(t, s)
			conn, err := s.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _, err = s.writeLoad(ctx, conn, "p", cfg, &bq.JobStatistics3{}, in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("load: %v, want an error containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("load: %v", err)
			}
			var got []string
			rows, err := s.db.QueryContext(ctx, tc.rows)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var r string
				if err := rows.Scan(&r); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows of t (-want +got):\n%s", diff)
			}
		})
	}
}
