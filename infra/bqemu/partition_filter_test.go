package bqemu_test

import (
	"errors"
	"net/http"
	"testing"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/googleapi"
)

// requiredTable creates a game_date-partitioned table with requirePartitionFilter and one
// row on 2024-10-22.
func (e *env) requiredTable(t *testing.T, name string) {
	t.Helper()
	tbl := e.dataset(t).Table(name)
	err := tbl.Create(ctx5(t), &bigquery.TableMetadata{
		Schema:                 gamesSchema,
		TimePartitioning:       &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "game_date"},
		RequirePartitionFilter: true,
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	e.query(t, "INSERT INTO `"+testProject+".ds."+name+"` (game_date, player, pts) VALUES (DATE '2024-10-22', 'a', 10)")
}

var gameDay = bigquery.QueryParameter{Name: "d", Value: civil.Date{Year: 2024, Month: 10, Day: 22}}

func TestRequirePartitionFilterRejectsUnfilteredRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.requiredTable(t, "box")
	for _, q := range []string{
		"SELECT COUNT(*) FROM `test-proj.ds.box`",
		"SELECT game_date, COUNT(*) FROM ds.box WHERE pts > 0 GROUP BY game_date",
		"SELECT * FROM (SELECT 1 AS x) s JOIN ds.box b ON b.pts = s.x",
		"MERGE ds.box t USING ds.box s ON t.player = s.player WHEN MATCHED THEN UPDATE SET pts = s.pts",
	} {
		_, err := e.bq.Query(q).Read(ctx5(t))
		apiErr(t, err, http.StatusBadRequest, "invalidQuery")
		var ge *googleapi.Error
		errors.As(err, &ge)
		const want = "Cannot query over table 'test-proj.ds.box' without a filter over column(s) 'game_date' that can be used for partition elimination"
		if ge.Message != want {
			t.Errorf("query %q: message %q, want %q", q, ge.Message, want)
		}
	}
	// A job inserted with jobs.insert fails the same way.
	job, err := e.bq.Query("SELECT * FROM ds.box").Run(ctx5(t))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	st, err := job.Wait(ctx5(t))
	if err == nil {
		err = st.Err()
	}
	apiErr(t, err, http.StatusBadRequest, "invalidQuery")
}

func TestRequirePartitionFilterAcceptsFilteredReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.requiredTable(t, "box")
	e.requiredTable(t, "props")
	for _, q := range []string{
		"SELECT COUNT(*) FROM `test-proj.ds.box` WHERE game_date = @d",
		"SELECT COUNT(*) FROM ds.box b JOIN ds.props p ON p.player = b.player AND p.game_date = b.game_date WHERE b.game_date = @d",
		"SELECT COUNT(*) FROM (SELECT * FROM ds.box WHERE game_date >= @d) x",
	} {
		qq := e.bq.Query(q)
		qq.Parameters = []bigquery.QueryParameter{gameDay}
		it, err := qq.Read(ctx5(t))
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		var row []bigquery.Value
		if err := it.Next(&row); err != nil {
			t.Fatalf("query %q: next: %v", q, err)
		}
		if row[0] != int64(1) {
			t.Errorf("query %q counted %v rows, want 1", q, row[0])
		}
	}
}

func TestRequirePartitionFilterExemptsWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.requiredTable(t, "box")
	e.gamesTable(t, "staging")
	e.query(t, "INSERT INTO ds.staging (game_date, player, pts) VALUES (DATE '2024-10-22', 'a', 30), (DATE '2024-10-22', 'b', 5)")

	// A MERGE target needs no filter; its source here is an unrestricted table.
	e.query(t, `MERGE ds.box t USING ds.staging s ON t.player = s.player
		WHEN MATCHED THEN UPDATE SET pts = s.pts
		WHEN NOT MATCHED THEN INSERT (game_date, player, pts) VALUES (s.game_date, s.player, s.pts)`)
	// A query writing through a partition decorator reads only its source.
	q := e.bq.Query("SELECT * FROM ds.staging")
	q.Dst = e.ds.Table("box$20241022")
	q.WriteDisposition = bigquery.WriteTruncate
	job, err := q.Run(ctx5(t))
	if err != nil {
		t.Fatalf("destination query: %v", err)
	}
	if st, err := job.Wait(ctx5(t)); err != nil || st.Err() != nil {
		t.Fatalf("destination query: %v %v", err, st.Err())
	}
	if n := e.countRows(t, "box", "2024-10-22"); n != 2 {
		t.Errorf("box holds %d rows on 2024-10-22, want 2", n)
	}
}
