package bqemu

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

var fieldNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)

// legacyType maps the accepted type aliases to the legacy names (INTEGER,
// FLOAT, BOOLEAN, RECORD) that BigQuery reports and the Go client decodes.
func legacyType(t string) (string, bool) {
	switch u := strings.ToUpper(t); u {
	case "INT64", "INTEGER", "INT", "SMALLINT", "BIGINT", "TINYINT", "BYTEINT":
		return "INTEGER", true
	case "FLOAT64", "FLOAT":
		return "FLOAT", true
	case "BOOL", "BOOLEAN":
		return "BOOLEAN", true
	case "STRUCT", "RECORD":
		return "RECORD", true
	case "DECIMAL":
		return "NUMERIC", true
	case "BIGDECIMAL":
		return "BIGNUMERIC", true
	case "STRING", "BYTES", "TIMESTAMP", "DATE", "TIME", "DATETIME", "NUMERIC", "BIGNUMERIC",
		"GEOGRAPHY", "JSON", "INTERVAL":
		return u, true
	}
	return "", false
}

// normalizeSchema validates field names and modes and rewrites types to legacy names. It
// returns a new slice; the input is not modified.
func normalizeSchema(fields []*bq.TableFieldSchema) ([]*bq.TableFieldSchema, error) {
	seen := map[string]bool{}
	out := make([]*bq.TableFieldSchema, 0, len(fields))
	for _, f := range fields {
		if f == nil {
			continue
		}
		if !fieldNameRe.MatchString(f.Name) {
			return nil, errInvalid("Invalid field name %q. Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most 300 characters long.", f.Name)
		}
		key := strings.ToLower(f.Name)
		if seen[key] {
			return nil, errInvalid("Field %s already exists in schema", f.Name)
		}
		seen[key] = true
		c := *f
		t, ok := legacyType(f.Type)
		if !ok {
			return nil, errInvalid("Invalid value for type: %s is not a valid value", f.Type)
		}
		c.Type = t
		switch m := strings.ToUpper(f.Mode); m {
		case "", "NULLABLE":
			c.Mode = "NULLABLE"
		case "REQUIRED", "REPEATED":
			c.Mode = m
		default:
			return nil, errInvalid("Invalid value for mode: %s is not a valid value", f.Mode)
		}
		if t == "RECORD" {
			if len(f.Fields) == 0 {
				return nil, errInvalid("Field %s is type RECORD but has no schema", f.Name)
			}
			sub, err := normalizeSchema(f.Fields)
			if err != nil {
				return nil, err
			}
			c.Fields = sub
		} else {
			c.Fields = nil
		}
		out = append(out, &c)
	}
	return out, nil
}

// duckType is the DuckDB column type of a normalised field, including REPEATED.
func duckType(f *bq.TableFieldSchema) string {
	var t string
	switch f.Type {
	case "STRING", "GEOGRAPHY":
		t = "VARCHAR"
	case "BYTES":
		t = "BLOB"
	case "INTEGER":
		t = "BIGINT"
	case "FLOAT":
		t = "DOUBLE"
	case "BOOLEAN":
		t = "BOOLEAN"
	case "TIMESTAMP":
		t = "TIMESTAMPTZ"
	case "DATETIME":
		t = "TIMESTAMP"
	case "DATE":
		t = "DATE"
	case "TIME":
		t = "TIME"
	case "NUMERIC", "BIGNUMERIC":
		t = "DECIMAL(38,9)"
	case "JSON":
		t = "JSON"
	case "INTERVAL":
		t = "INTERVAL"
	case "RECORD":
		parts := make([]string, len(f.Fields))
		for i, sf := range f.Fields {
			parts[i] = quoteIdent(sf.Name) + " " + duckType(sf)
		}
		t = "STRUCT(" + strings.Join(parts, ", ") + ")"
	default:
		t = "VARCHAR"
	}
	if f.Mode == "REPEATED" {
		t += "[]"
	}
	return t
}

// createTableSQL is the DuckDB DDL for a table with a normalised schema.
func createTableSQL(fqn string, fields []*bq.TableFieldSchema, orReplace bool) string {
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = quoteIdent(f.Name) + " " + duckType(f)
		if f.Mode == "REQUIRED" {
			cols[i] += " NOT NULL"
		}
	}
	verb := "CREATE TABLE "
	if orReplace {
		verb = "CREATE OR REPLACE TABLE "
	}
	return verb + fqn + " (" + strings.Join(cols, ", ") + ")"
}

// fieldFromDuckType converts a DuckDB type name (as reported by ColumnTypes or
// duckdb_columns) into a BigQuery field.
func fieldFromDuckType(name, typ string) (*bq.TableFieldSchema, error) {
	p := &typeParser{s: typ}
	f, err := p.parse()
	if err != nil {
		return nil, errInvalidQuery("column %s: %v", name, err)
	}
	f.Name = name
	return f, nil
}

type typeParser struct {
	s   string
	pos int
}

func (p *typeParser) skipSpace() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *typeParser) ident() string {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		var b strings.Builder
		p.pos++
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			if c == '"' {
				if p.pos+1 < len(p.s) && p.s[p.pos+1] == '"' {
					b.WriteByte('"')
					p.pos += 2
					continue
				}
				p.pos++
				break
			}
			b.WriteByte(c)
			p.pos++
		}
		return b.String()
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '(' || c == ')' || c == ',' || c == '[' || c == ']' || c == ' ' {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *typeParser) parse() (*bq.TableFieldSchema, error) {
	base := strings.ToUpper(p.ident())
	// Multi-word type names.
	for _, w := range []string{" WITH TIME ZONE", " PRECISION"} {
		if strings.HasPrefix(strings.ToUpper(p.s[p.pos:]), w) {
			base += w
			p.pos += len(w)
		}
	}
	f := &bq.TableFieldSchema{Mode: "NULLABLE"}
	switch base {
	case "STRUCT":
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '(' {
			return nil, fmt.Errorf("malformed STRUCT type %q", p.s)
		}
		p.pos++
		f.Type = "RECORD"
		for {
			name := p.ident()
			sub, err := p.parse()
			if err != nil {
				return nil, err
			}
			sub.Name = name
			f.Fields = append(f.Fields, sub)
			p.skipSpace()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == ')' {
				p.pos++
				break
			}
			return nil, fmt.Errorf("malformed STRUCT type %q", p.s)
		}
	case "DECIMAL", "NUMERIC":
		prec, scale := 18, 3
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == '(' {
			end := strings.IndexByte(p.s[p.pos:], ')')
			if end < 0 {
				return nil, fmt.Errorf("malformed DECIMAL type %q", p.s)
			}
			args := strings.Split(p.s[p.pos+1:p.pos+end], ",")
			p.pos += end + 1
			if len(args) == 2 {
				prec, _ = strconv.Atoi(strings.TrimSpace(args[0]))
				scale, _ = strconv.Atoi(strings.TrimSpace(args[1]))
			}
		}
		f.Type = "NUMERIC"
		if scale > 9 || prec-scale > 29 {
			f.Type = "BIGNUMERIC"
		}
	case "MAP", "UNION":
		return nil, fmt.Errorf("type %s has no BigQuery equivalent", base)
	default:
		t, ok := scalarFromDuck(base)
		if !ok {
			return nil, fmt.Errorf("type %s has no BigQuery equivalent", base)
		}
		f.Type = t
	}
	p.skipSpace()
	for p.pos < len(p.s) && p.s[p.pos] == '[' {
		end := strings.IndexByte(p.s[p.pos:], ']')
		if end < 0 {
			return nil, fmt.Errorf("malformed list type %q", p.s)
		}
		p.pos += end + 1
		if f.Mode == "REPEATED" {
			return nil, fmt.Errorf("cannot have arrays of arrays")
		}
		f.Mode = "REPEATED"
		p.skipSpace()
	}
	return f, nil
}

func scalarFromDuck(base string) (string, bool) {
	switch base {
	case "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
		"UINTEGER", "UBIGINT", "UHUGEINT", "INT1", "INT2", "INT4", "INT8", "NULL", "SQLNULL", "BIGNUM":
		return "INTEGER", true
	case "FLOAT", "DOUBLE", "REAL", "DOUBLE PRECISION", "FLOAT4", "FLOAT8":
		return "FLOAT", true
	case "VARCHAR", "UUID", "TEXT", "STRING", "ENUM", "BIT", "CHAR":
		return "STRING", true
	case "BLOB", "BYTEA":
		return "BYTES", true
	case "BOOLEAN", "BOOL":
		return "BOOLEAN", true
	case "DATE":
		return "DATE", true
	case "TIME", "TIME WITH TIME ZONE", "TIMETZ":
		return "TIME", true
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME":
		return "DATETIME", true
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return "TIMESTAMP", true
	case "INTERVAL":
		return "INTERVAL", true
	case "JSON":
		return "JSON", true
	}
	if strings.HasPrefix(base, "ENUM") {
		return "STRING", true
	}
	return "", false
}

// findField looks a field up case-insensitively.
func findField(fields []*bq.TableFieldSchema, name string) (int, *bq.TableFieldSchema) {
	for i, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return i, f
		}
	}
	return -1, nil
}

// partitionPredicate is the SQL condition selecting a decorator's partition.
func partitionPredicate(t *bq.Table, decorator string) (string, error) {
	tp := t.TimePartitioning
	if tp == nil || tp.Field == "" {
		return "", errInvalid("Partition decorator $%s is invalid for table %s, which is not partitioned by a column", decorator, t.Id)
	}
	_, f := findField(t.Schema.Fields, tp.Field)
	if f == nil {
		return "", errInvalid("partitioning field %s is missing from table %s", tp.Field, t.Id)
	}
	col := quoteIdent(f.Name)
	if decorator == "__NULL__" {
		return col + " IS NULL", nil
	}
	if decorator == "__UNPARTITIONED__" {
		return "FALSE", nil
	}
	typ := tp.Type
	if typ == "" {
		typ = "DAY"
	}
	want := map[string]int{"YEAR": 4, "MONTH": 6, "DAY": 8, "HOUR": 10}[typ]
	if len(decorator) != want {
		return "", errInvalid("Partition decorator $%s is invalid for table %s, which is partitioned by %s", decorator, t.Id, typ)
	}
	expr := col
	if f.Type != "DATE" {
		expr = "CAST(" + col + " AS DATE)"
	}
	y, m, d := decorator[0:4], "01", "01"
	if len(decorator) >= 6 {
		m = decorator[4:6]
	}
	if len(decorator) >= 8 {
		d = decorator[6:8]
	}
	lo := fmt.Sprintf("DATE '%s-%s-%s'", y, m, d)
	switch typ {
	case "DAY":
		return expr + " = " + lo, nil
	case "MONTH":
		return fmt.Sprintf("(%s >= %s AND %s < CAST(%s + INTERVAL 1 MONTH AS DATE))", expr, lo, expr, lo), nil
	case "YEAR":
		return fmt.Sprintf("(%s >= %s AND %s < CAST(%s + INTERVAL 1 YEAR AS DATE))", expr, lo, expr, lo), nil
	default:
		h := decorator[8:10]
		ts := fmt.Sprintf("TIMESTAMP '%s-%s-%s %s:00:00'", y, m, d, h)
		return fmt.Sprintf("(CAST(%s AS TIMESTAMP) >= %s AND CAST(%s AS TIMESTAMP) < %s + INTERVAL 1 HOUR)", col, ts, col, ts), nil
	}
}
