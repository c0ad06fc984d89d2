package bqsql

import (
	"fmt"
	"strings"
)

// simpleTypes maps BigQuery scalar type names (including the legacy REST names) to DuckDB.
var simpleTypes = map[string]string{
	"STRING":     "VARCHAR",
	"BYTES":      "BLOB",
	"INT64":      "BIGINT",
	"INT":        "BIGINT",
	"INTEGER":    "BIGINT",
	"SMALLINT":   "BIGINT",
	"BIGINT":     "BIGINT",
	"TINYINT":    "BIGINT",
	"BYTEINT":    "BIGINT",
	"FLOAT64":    "DOUBLE",
	"FLOAT":      "DOUBLE",
	"BOOL":       "BOOLEAN",
	"BOOLEAN":    "BOOLEAN",
	"TIMESTAMP":  "TIMESTAMPTZ",
	"DATETIME":   "TIMESTAMP",
	"DATE":       "DATE",
	"TIME":       "TIME",
	"NUMERIC":    "DECIMAL(38,9)",
	"DECIMAL":    "DECIMAL(38,9)",
	"BIGNUMERIC": "DECIMAL(38,9)",
	"BIGDECIMAL": "DECIMAL(38,9)",
	"JSON":       "JSON",
	"GEOGRAPHY":  "VARCHAR",
	"INTERVAL":   "INTERVAL",
}

// DuckDBType maps a BigQuery column or parameter type, such as "INT64", "FLOAT",
// "NUMERIC(10, 2)", "ARRAY<STRING>" or "STRUCT<a INT64, b ARRAY<DATE>>", to the DuckDB
// type used to store it, so that DDL from the REST API and from SQL agree.
func DuckDBType(bqType string) (string, error) {
	toks, err := lex(bqType)
	if err != nil {
		return "", fmt.Errorf("type %q: %w", bqType, err)
	}
	ns, err := buildTree(toks)
	if err != nil {
		return "", fmt.Errorf("type %q: %w", bqType, err)
	}
	s, n, err := parseType(ns, 0)
	if err != nil {
		return "", fmt.Errorf("type %q: %w", bqType, err)
	}
	if n != len(ns) {
		return "", fmt.Errorf("type %q: unexpected %q after the type", bqType, ns[n].tok.text)
	}
	return s, nil
}

// parseType parses a BigQuery type starting at ns[i] and returns the DuckDB type and the
// index after it.
func parseType(ns []node, i int) (string, int, error) {
	if i >= len(ns) {
		return "", i, &SyntaxError{Msg: "missing type"}
	}
	n := ns[i]
	name := n.upper()
	if name == "" {
		return "", i, &SyntaxError{Pos: n.tok.pos, Msg: fmt.Sprintf("expected a type, got %q", n.tok.text)}
	}
	i++
	switch name {
	case "ARRAY":
		if i >= len(ns) || !ns[i].isOp("<") {
			return "", i, &SyntaxError{Pos: n.tok.pos, Msg: "ARRAY type needs <element type>"}
		}
		elem, j, err := parseType(ns, i+1)
		if err != nil {
			return "", j, err
		}
		if j >= len(ns) || !ns[j].isOp(">") {
			return "", j, &SyntaxError{Pos: n.tok.pos, Msg: "ARRAY type is missing its closing >"}
		}
		if strings.HasSuffix(elem, "[]") {
			return "", j, &UnsupportedError{Construct: "ARRAY of ARRAY (BigQuery does not allow arrays of arrays)"}
		}
		return elem + "[]", j + 1, nil
	case "STRUCT":
		if i >= len(ns) || !ns[i].isOp("<") {
			return "", i, &SyntaxError{Pos: n.tok.pos, Msg: "STRUCT type needs <fields>"}
		}
		i++
		var fields []string
		for k := 1; ; k++ {
			if i < len(ns) && ns[i].isOp(">") && k == 1 {
				return "", i, &UnsupportedError{Construct: "empty STRUCT<> type"}
			}
			// A field is "name type" or just "type".
			fname := fmt.Sprintf("_field_%d", k)
			if i+1 < len(ns) && (ns[i].tok.kind == tkIdent || ns[i].tok.kind == tkQuotedIdent) && !ns[i].group &&
				!ns[i+1].isOp("<") && !ns[i+1].isOp(",") && !ns[i+1].isOp(">") && !ns[i+1].isGroup("(") {
				fname = ns[i].tok.text
				if ns[i].tok.kind == tkQuotedIdent {
					fname = ns[i].tok.val
				}
				i++
			}
			ft, j, err := parseType(ns, i)
			if err != nil {
				return "", j, err
			}
			i = j
			// Field attributes that do not change the stored type.
			for i < len(ns) {
				if ns[i].isKw("OPTIONS") && i+1 < len(ns) && ns[i+1].isGroup("(") {
					i += 2
				} else if ns[i].isKw("NOT") && i+1 < len(ns) && ns[i+1].isKw("NULL") {
					i += 2
				} else {
					break
				}
			}
			fields = append(fields, quoteIdent(fname)+" "+ft)
			if i < len(ns) && ns[i].isOp(",") {
				i++
				continue
			}
			if i < len(ns) && ns[i].isOp(">") {
				return "STRUCT(" + strings.Join(fields, ", ") + ")", i + 1, nil
			}
			return "", i, &SyntaxError{Pos: n.tok.pos, Msg: "STRUCT type is missing its closing >"}
		}
	case "NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL":
		if i < len(ns) && ns[i].isGroup("(") {
			args := splitArgs(ns[i].kids)
			var ps []string
			for _, a := range args {
				if len(a) != 1 || a[0].tok.kind != tkNumber {
					return "", i, &SyntaxError{Pos: ns[i].tok.pos, Msg: name + " precision and scale must be numbers"}
				}
				ps = append(ps, a[0].tok.text)
			}
			switch len(ps) {
			case 1:
				return "DECIMAL(" + ps[0] + ",0)", i + 1, nil
			case 2:
				return "DECIMAL(" + ps[0] + "," + ps[1] + ")", i + 1, nil
			}
			return "", i, &SyntaxError{Pos: ns[i].tok.pos, Msg: name + " takes (precision[, scale])"}
		}
	case "STRING", "BYTES":
		if i < len(ns) && ns[i].isGroup("(") {
			i++ // a maximum length is not enforced
		}
	case "RANGE":
		return "", i, &UnsupportedError{Construct: "RANGE type"}
	}
	t, ok := simpleTypes[name]
	if !ok {
		return "", i, &UnsupportedError{Construct: "type " + n.tok.text}
	}
	return t, i, nil
}

// quoteIdent double-quotes an identifier for DuckDB.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString single-quotes a string for DuckDB (no escapes are processed in DuckDB strings).
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
