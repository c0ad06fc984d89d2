package bqemu

import (
	"math/big"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
)

func TestParseTimestampSpellings(t *testing.T) {
	want := time.Date(2024, 10, 22, 10, 0, 0, 123456000, time.UTC)
	for _, in := range []string{
		"2024-10-22 10:00:00.123456+00:00", // the Go client's parameter format
		"2024-10-22T10:00:00.123456Z",
		"2024-10-22 10:00:00.123456 UTC",
		"2024-10-22T12:00:00.123456+02:00",
		"2024-10-22 05:00:00.123456-0500",
	} {
		got, err := parseTimestamp(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseTimestamp("2024-10-22"); err != nil || !got.Equal(time.Date(2024, 10, 22, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date only: %v %v", got, err)
	}
	if _, err := parseTimestamp("yesterday"); err == nil {
		t.Errorf("parseTimestamp(yesterday) succeeded")
	}
}

func TestParseDateTimeSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Time{
		" 2024-10-22T10:00:00.1234567 ": time.Date(2024, 10, 22, 10, 0, 0, 123456000, time.UTC),
		"2024-10-22 10:00:05":           time.Date(2024, 10, 22, 10, 0, 5, 0, time.UTC),
		"2024-10-22T10:00":              time.Date(2024, 10, 22, 10, 0, 0, 0, time.UTC),
		"2024-10-22":                    time.Date(2024, 10, 22, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseDateTime(in); err != nil || !got.Equal(want) {
			t.Errorf("parseDateTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2024-10-22X10:00", "2024-10-22 10", "2024-10-2", "2024-10-22T10:00:00Z"} {
		if got, err := parseDateTime(in); err == nil {
			t.Errorf("parseDateTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestEncodeValueCells(t *testing.T) {
	ts := time.Date(2024, 10, 22, 10, 0, 0, 123456000, time.UTC)
	rec := &bq.TableFieldSchema{Type: "RECORD", Fields: []*bq.TableFieldSchema{
		{Name: "at", Type: "TIMESTAMP"}, {Name: "n", Type: "INTEGER", Mode: "REPEATED"},
	}}
	for _, tc := range []struct {
		name    string
		field   *bq.TableFieldSchema
		v       any
		int64TS bool
		want    any
	}{
		{"int64 timestamp", &bq.TableFieldSchema{Type: "TIMESTAMP"}, ts, true, "1729591200123456"},
		{"float timestamp", &bq.TableFieldSchema{Type: "TIMESTAMP"}, ts, false, "1729591200.123456"},
		{"nested timestamp", rec, map[string]any{"at": ts, "n": []any{int64(1)}}, true,
			row{F: []cell{{V: "1729591200123456"}, {V: []cell{{V: "1"}}}}}},
		{"null repeated", &bq.TableFieldSchema{Type: "STRING", Mode: "REPEATED"}, nil, true, []cell{}},
		{"hugeint", &bq.TableFieldSchema{Type: "INTEGER"}, big.NewInt(42), true, "42"},
		{"nan", &bq.TableFieldSchema{Type: "FLOAT"}, float64FromString("NaN"), true, "NaN"},
		{"datetime", &bq.TableFieldSchema{Type: "DATETIME"}, time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC), true, "2024-01-02T03:04:05.6"},
		{"bytes", &bq.TableFieldSchema{Type: "BYTES"}, []byte{0xff}, true, "/w=="},
		{"null", &bq.TableFieldSchema{Type: "STRING"}, nil, true, nil},
	} {
		got := encodeValue(tc.field, tc.v, tc.int64TS)
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(row{}, cell{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func float64FromString(s string) float64 {
	f, _ := parseFloat(s)
	return f
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		v     int64
		scale int
		want  string
	}{{1500000000, 9, "1.5"}, {-123456789123, 3, "-123456789.123"}, {0, 9, "0"}, {7, 0, "7"}} {
		if got := decimalString(big.NewInt(tc.v), tc.scale); got != tc.want {
			t.Errorf("decimalString(%d, %d) = %q, want %q", tc.v, tc.scale, got, tc.want)
		}
	}
}

func TestFieldFromDuckType(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		want *bq.TableFieldSchema
	}{
		{"BIGINT", &bq.TableFieldSchema{Name: "c", Type: "INTEGER", Mode: "NULLABLE"}},
		{"HUGEINT", &bq.TableFieldSchema{Name: "c", Type: "INTEGER", Mode: "NULLABLE"}},
		{"TIMESTAMP WITH TIME ZONE", &bq.TableFieldSchema{Name: "c", Type: "TIMESTAMP", Mode: "NULLABLE"}},
		{"TIMESTAMP", &bq.TableFieldSchema{Name: "c", Type: "DATETIME", Mode: "NULLABLE"}},
		{"DECIMAL(38,9)", &bq.TableFieldSchema{Name: "c", Type: "NUMERIC", Mode: "NULLABLE"}},
		{"DECIMAL(38,20)", &bq.TableFieldSchema{Name: "c", Type: "BIGNUMERIC", Mode: "NULLABLE"}},
		{"VARCHAR[]", &bq.TableFieldSchema{Name: "c", Type: "STRING", Mode: "REPEATED"}},
		{`STRUCT("x" BIGINT, "my ""y""" VARCHAR[])[]`, &bq.TableFieldSchema{Name: "c", Type: "RECORD", Mode: "REPEATED", Fields: []*bq.TableFieldSchema{
			{Name: "x", Type: "INTEGER", Mode: "NULLABLE"}, {Name: `my "y"`, Type: "STRING", Mode: "REPEATED"},
		}}},
	} {
		got, err := fieldFromDuckType("c", tc.typ)
		if err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.typ, diff)
		}
	}
	for _, bad := range []string{"MAP(VARCHAR, BIGINT)", "BIGINT[][]"} {
		if _, err := fieldFromDuckType("c", bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestPartitionPredicate(t *testing.T) {
	tbl := &bq.Table{Id: "p:d.t", Schema: &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "d", Type: "DATE"}, {Name: "ts", Type: "TIMESTAMP"},
	}}}
	for _, tc := range []struct {
		field, typ, decorator, want string
	}{
		{"d", "DAY", "20241022", `"d" = DATE '2024-10-22'`},
		{"ts", "DAY", "20241022", `CAST("ts" AS DATE) = DATE '2024-10-22'`},
		{"d", "DAY", "__NULL__", `"d" IS NULL`},
		{"d", "MONTH", "202410", `("d" >= DATE '2024-10-01' AND "d" < CAST(DATE '2024-10-01' + INTERVAL 1 MONTH AS DATE))`},
	} {
		tbl.TimePartitioning = &bq.TimePartitioning{Field: tc.field, Type: tc.typ}
		got, err := partitionPredicate(tbl, tc.decorator)
		if err != nil || got != tc.want {
			t.Errorf("%s %s $%s = %q, %v; want %q", tc.field, tc.typ, tc.decorator, got, err, tc.want)
		}
	}
	tbl.TimePartitioning = &bq.TimePartitioning{Field: "d", Type: "DAY"}
	if _, err := partitionPredicate(tbl, "202410"); err == nil {
		t.Errorf("month decorator on a day-partitioned table accepted")
	}
}

// cutZone reads the same zone off a timestamp as the pattern it replaced, which searched
// for `(?i)\s*(UTC|Z|[+-]\d{2}(:?\d{2})?)$`: the pattern is the oracle here.
func TestCutZoneAgreesWithThePattern(t *testing.T) {
	t.Parallel()
	pattern := regexp.MustCompile(`(?i)\s*(UTC|Z|[+-]\d{2}(:?\d{2})?)$`)
	bodies := []string{"", "2024-10-22", "2024-10-22 10:00", "2024-10-22T10:00:00", "2024-10-22 10:00:00.123456",
		"10:00", "yesterday", "-", "+1", "2024-10-22T10:00:00.5 "}
	zones := []string{"", "Z", "z", "UTC", "utc", "Utc", " UTC", "\tZ", "+00", "-05", "+0530", "-05:30", " +02:00",
		"+5", "+123", "+12:3", "+1:30", "++05", "-05:", "Zulu", "UT", "TC", "+05 ", "x", "05:30", "-0500x", ":00"}
	for _, b := range bodies {
		for _, z := range zones {
			s := b + z
			rest, zone, ok := cutZone(s)
			m := pattern.FindStringSubmatch(s)
			if ok != (m != nil) {
				t.Errorf("%q: cutZone found a zone: %v, the pattern: %v", s, ok, m != nil)
				continue
			}
			if !ok {
				if rest != s || zone != "" {
					t.Errorf("%q: no zone, but cutZone returned %q, %q", s, rest, zone)
				}
				continue
			}
			if zone != m[1] || rest != s[:len(s)-len(m[0])] {
				t.Errorf("%q: cutZone = %q, %q; the pattern: %q, %q", s, rest, zone, s[:len(s)-len(m[0])], m[1])
			}
		}
	}
}

// BenchmarkParseTimestamp parses the spellings a load meets, one per row and TIMESTAMP
// column: well under a microsecond a value here (with the zone read by a regular expression,
// about 7 µs).
//
//	go test -run XXX -bench ParseTimestamp ./infra/bqemu/
func BenchmarkParseTimestamp(b *testing.B) {
	spellings := []string{"2024-10-22T10:00:00.123456Z", "2024-10-22 10:00:00.123456+00:00", "2024-10-22 05:00:00 UTC"}
	for i := 0; b.Loop(); i++ {
		if _, err := parseTimestamp(spellings[i%len(spellings)]); err != nil {
			b.Fatal(err)
		}
	}
}
