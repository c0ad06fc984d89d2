package bqemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
)

// rowError is why one input row (NDJSON line or insertAll row) was rejected.
type rowError struct {
	field   string
	message string
}

func (e *rowError) Error() string { return e.message }

// coerceRow converts one decoded JSON object into Appender values in schema order, using
// BigQuery's JSON loading rules: keys match case-insensitively, unknown keys fail
// unless ignoreUnknown, missing keys are NULL.
func coerceRow(fields []*bq.TableFieldSchema, obj map[string]any, ignoreUnknown bool) ([]any, *rowError) {
	out := make([]any, len(fields))
	set := make([]bool, len(fields))
	for k, v := range obj {
		i, f := findField(fields, k)
		if f == nil {
			if ignoreUnknown {
				continue
			}
			return nil, &rowError{field: k, message: fmt.Sprintf("No such field: %s.", k)}
		}
		cv, err := coerceValue(f, v, ignoreUnknown, f.Name)
		if err != nil {
			return nil, err
		}
		out[i] = cv
		set[i] = true
	}
	for i, f := range fields {
		if out[i] == nil {
			if f.Mode == "REQUIRED" {
				return nil, &rowError{field: f.Name, message: fmt.Sprintf("Missing required field: %s.", f.Name)}
			}
			if f.Mode == "REPEATED" {
				out[i] = []any{}
			}
		}
		_ = set[i]
	}
	return out, nil
}

func coerceValue(f *bq.TableFieldSchema, v any, ignoreUnknown bool, path string) (any, *rowError) {
	if f.Mode == "REPEATED" {
		if v == nil {
			return []any{}, nil
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, &rowError{field: path, message: fmt.Sprintf("Array specified for non-repeated field: %s.", path)}
		}
		out := make([]any, 0, len(arr))
		elem := *f
		elem.Mode = "NULLABLE"
		for _, e := range arr {
			if e == nil {
				return nil, &rowError{field: path, message: fmt.Sprintf("Field %s: NULL values are not allowed in an array.", path)}
			}
			cv, err := coerceValue(&elem, e, ignoreUnknown, path)
			if err != nil {
				return nil, err
			}
			out = append(out, cv)
		}
		return out, nil
	}
	if v == nil {
		return nil, nil
	}
	if _, isArr := v.([]any); isArr {
		return nil, &rowError{field: path, message: fmt.Sprintf("Array specified for non-repeated field: %s.", path)}
	}
	bad := func() *rowError {
		return &rowError{field: path, message: fmt.Sprintf("Cannot convert value to %s for field %s: %s.", strings.ToLower(f.Type), path, shortJSON(v))}
	}
	str := func() (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		}
		return "", false
	}
	switch f.Type {
	case "RECORD":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		m := make(map[string]any, len(f.Fields))
		for _, sf := range f.Fields {
			if sf.Mode == "REPEATED" {
				m[sf.Name] = []any{}
			} else {
				m[sf.Name] = nil
			}
		}
		for k, ev := range obj {
			_, sf := findField(f.Fields, k)
			if sf == nil {
				if ignoreUnknown {
					continue
				}
				return nil, &rowError{field: path + "." + k, message: fmt.Sprintf("No such field: %s.%s.", path, k)}
			}
			cv, err := coerceValue(sf, ev, ignoreUnknown, path+"."+sf.Name)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				m[sf.Name] = cv
			}
		}
		for _, sf := range f.Fields {
			if sf.Mode == "REQUIRED" && m[sf.Name] == nil {
				return nil, &rowError{field: path + "." + sf.Name, message: fmt.Sprintf("Missing required field: %s.%s.", path, sf.Name)}
			}
		}
		return m, nil
	case "STRING", "GEOGRAPHY":
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return nil, bad()
	case "INTEGER":
		s, ok := str()
		if !ok {
			return nil, bad()
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			// Integral values written as floats ("3.0", 3e2) are accepted.
			fl, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 9.2e18 {
				return nil, bad()
			}
			n = int64(fl)
		}
		return n, nil
	case "FLOAT":
		s, ok := str()
		if !ok {
			return nil, bad()
		}
		fl, err := parseFloat(s)
		if err != nil {
			return nil, bad()
		}
		return fl, nil
	case "BOOLEAN":
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(x) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
		case json.Number:
			switch x.String() {
			case "1":
				return true, nil
			case "0":
				return false, nil
			}
		}
		return nil, bad()
	case "BYTES":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.URLEncoding.DecodeString(s); err != nil {
				return nil, bad()
			}
		}
		return b, nil
	case "TIMESTAMP":
		switch x := v.(type) {
		case json.Number:
			fl, err := x.Float64()
			if err != nil {
				return nil, bad()
			}
			sec, frac := math.Modf(fl)
			return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000).UTC(), nil
		case string:
			t, err := parseTimestamp(x)
			if err != nil {
				return nil, bad()
			}
			return t, nil
		}
		return nil, bad()
	case "DATE":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			return nil, bad()
		}
		return t, nil
	case "DATETIME":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		t, err := parseDateTime(s)
		if err != nil {
			return nil, bad()
		}
		return t, nil
	case "TIME":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		t, err := time.Parse("15:04:05.999999999", strings.TrimSpace(s))
		if err != nil {
			if t, err = time.Parse("15:04", strings.TrimSpace(s)); err != nil {
				return nil, bad()
			}
		}
		return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
	case "NUMERIC", "BIGNUMERIC":
		s, ok := str()
		if !ok {
			return nil, bad()
		}
		r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			return nil, bad()
		}
		scaled := new(big.Rat).Mul(r, big.NewRat(1e9, 1))
		if !scaled.IsInt() {
			return nil, &rowError{field: path, message: fmt.Sprintf("Invalid NUMERIC value for field %s: %s has more than 9 digits after the decimal point.", path, s)}
		}
		return new(big.Int).Set(scaled.Num()), nil
	case "JSON":
		return v, nil
	case "INTERVAL":
		s, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		iv, err := parseInterval(s)
		if err != nil {
			return nil, bad()
		}
		return iv, nil
	}
	return nil, bad()
}

func shortJSON(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

func parseFloat(s string) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nan":
		return math.NaN(), nil
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

// cutZone splits a timestamp's zone from its end: UTC or Z (any case), ±HH, ±HHMM or
// ±HH:MM, with the blanks before it. It reads the end of the string only: a pattern
// searched for at the end tries every start position, and a load parses a timestamp per
// row and column.
func cutZone(s string) (rest, zone string, ok bool) {
	n := len(s)
	sign := func(i int) bool { return i >= 0 && (s[i] == '+' || s[i] == '-') }
	digits := func(from, to int) bool {
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case n >= 3 && strings.EqualFold(s[n-3:], "UTC"):
		zone = s[n-3:]
	case n >= 1 && (s[n-1] == 'Z' || s[n-1] == 'z'):
		zone = s[n-1:]
	case n >= 6 && sign(n-6) && digits(n-5, n-3) && s[n-3] == ':' && digits(n-2, n):
		zone = s[n-6:]
	case n >= 5 && sign(n-5) && digits(n-4, n):
		zone = s[n-5:]
	case n >= 3 && sign(n-3) && digits(n-2, n):
		zone = s[n-3:]
	default:
		return s, "", false
	}
	return strings.TrimRight(s[:n-len(zone)], " \t\n\f\r"), zone, true
}

// parseTimestamp accepts the TIMESTAMP spellings of BigQuery's loaders and parameters:
// "YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]" with an optional zone (Z, ±HH[:MM], UTC), or a date.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc := time.UTC
	if rest, zone, ok := cutZone(s); ok && len(s) > 10 {
		zone, s = strings.ToUpper(zone), rest
		if zone != "UTC" && zone != "Z" {
			sign := 1
			if zone[0] == '-' {
				sign = -1
			}
			digits := strings.ReplaceAll(zone[1:], ":", "")
			h, _ := strconv.Atoi(digits[:2])
			mm := 0
			if len(digits) >= 4 {
				mm, _ = strconv.Atoi(digits[2:4])
			}
			loc = time.FixedZone("", sign*(h*3600+mm*60))
		}
	}
	if t, ok := parseClock(s, loc); ok {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

// parseClock reads "YYYY-MM-DD[ T]HH:MM[:SS[.fffffffff]]" or a date in loc, to the
// microsecond. It tries the layouts of the separator the string has, a failed parse
// costing an error each.
func parseClock(s string, loc *time.Location) (time.Time, bool) {
	layouts := []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04"}
	switch {
	case len(s) <= 10:
		layouts = []string{"2006-01-02"}
	case s[10] == 'T':
		layouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}
	}
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.Truncate(time.Microsecond), true
		}
	}
	return time.Time{}, false
}

func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, ok := parseClock(s, time.UTC); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid datetime %q", s)
}

var intervalRe = regexp.MustCompile(`^(-?\d+)-(-?\d+) (-?\d+) (-?)(\d+):(\d+):(\d+)(?:\.(\d{1,6}))?$`)

func parseInterval(s string) (duckdb.Interval, error) {
	m := intervalRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return duckdb.Interval{}, fmt.Errorf("invalid interval %q", s)
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	d, _ := strconv.Atoi(m[3])
	h, _ := strconv.ParseInt(m[5], 10, 64)
	mi, _ := strconv.ParseInt(m[6], 10, 64)
	sec, _ := strconv.ParseInt(m[7], 10, 64)
	frac := m[8] + strings.Repeat("0", 6-len(m[8]))
	us, _ := strconv.ParseInt(frac, 10, 64)
	micros := ((h*60+mi)*60+sec)*1e6 + us
	if m[4] == "-" {
		micros = -micros
	}
	return duckdb.Interval{Months: int32(y*12 + mo), Days: int32(d), Micros: micros}, nil
}

// cell is one value of a result row; "v" is always present (null for NULL).
type cell struct {
	V any `json:"v"`
}

type row struct {
	F []cell `json:"f"`
}

// encodeRow renders DuckDB values as BigQuery cells ({"f": [{"v": ...}]}, scalars as
// strings). int64TS selects int64
// microseconds for TIMESTAMP (formatOptions.useInt64Timestamp) over float seconds.
func encodeRow(fields []*bq.TableFieldSchema, vals []any, int64TS bool) row {
	r := row{F: make([]cell, len(fields))}
	for i, f := range fields {
		var v any
		if i < len(vals) {
			v = vals[i]
		}
		r.F[i] = cell{V: encodeValue(f, v, int64TS)}
	}
	return r
}

func encodeValue(f *bq.TableFieldSchema, v any, int64TS bool) any {
	if f.Mode == "REPEATED" {
		arr, _ := v.([]any)
		out := make([]cell, 0, len(arr))
		elem := *f
		elem.Mode = "NULLABLE"
		for _, e := range arr {
			out = append(out, cell{V: encodeValue(&elem, e, int64TS)})
		}
		return out
	}
	if v == nil {
		return nil
	}
	switch f.Type {
	case "RECORD":
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		vals := make([]any, len(f.Fields))
		for i, sf := range f.Fields {
			vals[i] = m[sf.Name]
		}
		r := encodeRow(f.Fields, vals, int64TS)
		return r
	case "INTEGER":
		switch x := v.(type) {
		case *big.Int:
			return x.String()
		case bool:
			if x {
				return "1"
			}
			return "0"
		}
		return fmt.Sprint(v)
	case "FLOAT":
		var fl float64
		switch x := v.(type) {
		case float64:
			fl = x
		case float32:
			fl = float64(x)
		case duckdb.Decimal:
			fl = x.Float64()
		default:
			return fmt.Sprint(v)
		}
		switch {
		case math.IsNaN(fl):
			return "NaN"
		case math.IsInf(fl, 1):
			return "Infinity"
		case math.IsInf(fl, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(fl, 'g', -1, 64)
	case "BOOLEAN":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b)
		}
		return fmt.Sprint(v)
	case "BYTES":
		switch x := v.(type) {
		case []byte:
			return base64.StdEncoding.EncodeToString(x)
		case string:
			return base64.StdEncoding.EncodeToString([]byte(x))
		}
		return fmt.Sprint(v)
	case "TIMESTAMP":
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Sprint(v)
		}
		us := t.UnixMicro()
		if int64TS {
			return strconv.FormatInt(us, 10)
		}
		return formatSeconds(us)
	case "DATE":
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02")
		}
		return fmt.Sprint(v)
	case "DATETIME":
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02T15:04:05.999999")
		}
		return fmt.Sprint(v)
	case "TIME":
		if t, ok := v.(time.Time); ok {
			return t.Format("15:04:05.999999")
		}
		return fmt.Sprint(v)
	case "NUMERIC", "BIGNUMERIC":
		switch x := v.(type) {
		case duckdb.Decimal:
			return decimalString(x.Value, int(x.Scale))
		case *big.Int:
			return x.String()
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return fmt.Sprint(v)
	case "JSON":
		if s, ok := v.(string); ok {
			return s
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	case "INTERVAL":
		if iv, ok := v.(duckdb.Interval); ok {
			return formatInterval(iv)
		}
		return fmt.Sprint(v)
	case "STRING", "GEOGRAPHY":
		switch x := v.(type) {
		case string:
			return x
		case duckdb.UUID:
			return x.String()
		case []byte:
			return string(x)
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprint(v)
}

func formatSeconds(us int64) string {
	sign := ""
	if us < 0 {
		sign = "-"
		us = -us
	}
	return fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6)
}

func decimalString(v *big.Int, scale int) string {
	if v == nil {
		return "0"
	}
	r := new(big.Rat).SetFrac(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	s := r.FloatString(scale)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func formatInterval(iv duckdb.Interval) string {
	y, mo := iv.Months/12, iv.Months%12
	us := iv.Micros
	sign := ""
	if us < 0 {
		sign = "-"
		us = -us
	}
	h := us / 3600e6
	m := us / 60e6 % 60
	sec := us / 1e6 % 60
	frac := us % 1e6
	s := fmt.Sprintf("%d-%d %d %s%d:%d:%d", y, mo, iv.Days, sign, h, m, sec)
	if frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return s
}
