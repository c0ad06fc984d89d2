package bqsql

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadsAndFilterNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sql      string
		reads    [][]string
		filtered bool // game_date appears in a WHERE, ON or QUALIFY condition
	}{
		{"no filter", "SELECT * FROM `p.d.t`", [][]string{{"p", "d", "t"}}, false},
		{"where", "SELECT * FROM `p.d.t` WHERE game_date = @d", [][]string{{"p", "d", "t"}}, true},
		{"column only selected", "SELECT game_date FROM d.t WHERE pts > 3 GROUP BY game_date", [][]string{{"d", "t"}}, false},
		{"qualified in where", "SELECT * FROM d.t AS x WHERE x.game_date BETWEEN @a AND @b", [][]string{{"d", "t"}}, true},
		{"join on", "SELECT * FROM d.a JOIN d.b ON a.id = b.id AND b.game_date = a.game_date", [][]string{{"d", "a"}, {"d", "b"}}, true},
		{"comma join and unnest", "SELECT * FROM d.a, d.b x, UNNEST(x.arr) AS e WHERE e > 1", [][]string{{"d", "a"}, {"d", "b"}}, false},
		{"subquery filter", "SELECT * FROM (SELECT * FROM d.t WHERE game_date = @d) s", [][]string{{"d", "t"}}, true},
		{"cte names are not tables", "WITH s AS (SELECT * FROM d.t), u AS (SELECT 1) SELECT * FROM s, u", [][]string{{"d", "t"}}, false},
		{"qualify", "SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY game_date) = 1", [][]string{{"t"}}, true},
		{"case in where", "SELECT * FROM t WHERE CASE WHEN pts > 1 THEN game_date END = @d", [][]string{{"t"}}, true},
		{"extract and distinct from", "SELECT EXTRACT(YEAR FROM game_date) FROM t WHERE a IS DISTINCT FROM b", [][]string{{"t"}}, false},
		{"delete target", "DELETE FROM d.t WHERE game_date = @d", nil, true},
		{"insert select", "INSERT INTO d.t (a) SELECT a FROM d.s", [][]string{{"d", "s"}}, false},
		{"merge source", "MERGE d.t AS t USING d.s AS s ON t.id = s.id WHEN MATCHED THEN DELETE", [][]string{{"d", "s"}}, false},
		{"merge source subquery", "MERGE INTO d.t USING (SELECT * FROM d.s WHERE game_date = @d) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT ROW", [][]string{{"d", "s"}}, true},
		{"update from", "UPDATE d.t SET x = s.x FROM d.s WHERE t.id = s.id", [][]string{{"d", "s"}}, false},
		{"create table as", "CREATE TABLE d.n AS SELECT * FROM d.t WHERE game_date = @d", [][]string{{"d", "t"}}, true},
		{"create view", "CREATE VIEW d.v AS SELECT * FROM d.t", nil, false},
		{"join using", "SELECT * FROM d.a JOIN d.b USING (game_date)", [][]string{{"d", "a"}, {"d", "b"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, err := Translate(c.sql)
			if err != nil {
				t.Fatalf("translate %q: %v", c.sql, err)
			}
			if diff := cmp.Diff(c.reads, st.Reads); diff != "" {
				t.Errorf("reads of %q (-want +got):\n%s", c.sql, diff)
			}
			if got := st.FilterNames["game_date"]; got != c.filtered {
				t.Errorf("game_date filtered in %q = %v, want %v", c.sql, got, c.filtered)
			}
		})
	}
}

func TestReadsOfScriptParts(t *testing.T) {
	t.Parallel()
	st, err := Translate("CREATE TEMP TABLE x AS SELECT * FROM d.a WHERE game_date = @d; SELECT * FROM d.b")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Statements) != 2 {
		t.Fatalf("script has %d parts, want 2", len(st.Statements))
	}
	a, b := st.Statements[0], st.Statements[1]
	if diff := cmp.Diff([][]string{{"d", "a"}}, a.Reads); diff != "" || !a.FilterNames["game_date"] {
		t.Errorf("part 1 reads %v, filters %v", a.Reads, a.FilterNames)
	}
	if diff := cmp.Diff([][]string{{"d", "b"}}, b.Reads); diff != "" || b.FilterNames["game_date"] {
		t.Errorf("part 2 reads %v, filters %v", b.Reads, b.FilterNames)
	}
}
