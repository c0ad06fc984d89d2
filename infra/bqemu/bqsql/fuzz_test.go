package bqsql

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTranslate checks that the lexer is lossless and that Translate never panics: any
// input gives a statement or a typed error.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		"SELECT 1",
		"SELECT `p.d.t`.x, 'a\\'b', \"c\", r'\\d', b'\\x00', '''x''' # c\n FROM `p.d.t` WHERE d = @d",
		"SELECT DATE_DIFF(a, b, WEEK(MONDAY)), ARRAY_AGG(x IGNORE NULLS ORDER BY y LIMIT 2) FROM t, UNNEST(arr) AS x WITH OFFSET o",
		"MERGE t USING s ON FALSE WHEN NOT MATCHED BY SOURCE THEN DELETE WHEN NOT MATCHED THEN INSERT ROW",
		"CREATE TABLE t (a ARRAY<STRUCT<b INT64>>) PARTITION BY DATE(ts) CLUSTER BY a OPTIONS(x=1)",
		"SELECT CASE WHEN a / b > 1 THEN [1][OFFSET(0)] END, STRUCT(1 AS a), x IN UNNEST(@arr) FROM t QUALIFY 1 = 1",
		"SELECT * EXCEPT(a) FROM t; DELETE t WHERE TRUE",
		"SELECT INTERVAL -1 DAY, SAFE.PARSE_DATE('%F', s), CAST(x AS NUMERIC(10, 2))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if toks, err := lex(s); err == nil {
			var b strings.Builder
			for _, tk := range toks {
				b.WriteString(tk.text)
			}
			if b.String() != s {
				t.Fatalf("lex is lossy: %q became %q", s, b.String())
			}
		}
		st, err := Translate(s)
		if errors.Is(err, errInternal) {
			t.Fatalf("Translate(%q) panicked: %v", s, err)
		}
		if err == nil && st == nil {
			t.Fatalf("Translate(%q) returned neither a statement nor an error", s)
		}
		var se *SyntaxError
		var ue *UnsupportedError
		if err != nil && !errors.As(err, &se) && !errors.As(err, &ue) {
			t.Fatalf("Translate(%q) error %v is neither a SyntaxError nor an UnsupportedError", s, err)
		}
	})
}
