package bqemu

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

// queryParam mirrors bq.QueryParameter but keeps a JSON null value distinguishable from
// the empty string, which matters because NULL parameters must keep their declared type.
type queryParam struct {
	Name           string      `json:"name"`
	ParameterType  *paramType  `json:"parameterType"`
	ParameterValue *paramValue `json:"parameterValue"`
}

type paramType struct {
	Type        string        `json:"type"`
	ArrayType   *paramType    `json:"arrayType"`
	StructTypes []*structType `json:"structTypes"`
}

type structType struct {
	Name string     `json:"name"`
	Type *paramType `json:"type"`
}

type paramValue struct {
	Value        *string                `json:"value"`
	ArrayValues  []*paramValue          `json:"arrayValues"`
	StructValues map[string]*paramValue `json:"structValues"`
}

// normalizeParamValues rewrites the query parameters at path in a JSON request body so that
// every scalar parameter value is a JSON string. The API's JSON mapping lets a caller send
// {"value": 5} or {"value": true} for the string field value (clients of other languages
// do), but the typed structs of the bq package only decode strings. A number keeps its
// exact text, so 9007199254740993 stays exact; null stays null. Values nested in
// arrayValues and structValues are rewritten too. A body without parameters is returned
// unchanged.
func normalizeParamValues(body []byte, path ...string) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 || !bytes.Contains(body, []byte(`"queryParameters"`)) {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	node := root
	for _, key := range path[:len(path)-1] {
		m, ok := node.(map[string]any)
		if !ok {
			return body, nil
		}
		node = m[key]
	}
	m, ok := node.(map[string]any)
	if !ok {
		return body, nil
	}
	params, ok := m[path[len(path)-1]].([]any)
	if !ok {
		return body, nil
	}
	for i, p := range params {
		pm, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if err := normalizeParamValue(pm["parameterValue"]); err != nil {
			name, _ := pm["name"].(string)
			if name == "" {
				name = strconv.Itoa(i + 1)
			}
			return nil, errInvalid("Invalid JSON payload received: query parameter %s: %v", name, err)
		}
	}
	out, err := json.Marshal(root)
	if err != nil {
		return nil, errInvalid("Invalid JSON payload received: %v", err)
	}
	return out, nil
}

// normalizeParamValue turns a QueryParameterValue's JSON number or boolean value into a
// string, recursively.
func normalizeParamValue(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return nil
		}
		return fmt.Errorf("parameterValue must be an object, got %s", jsonKind(v))
	}
	switch x := m["value"].(type) {
	case nil, string:
	case json.Number:
		m["value"] = x.String()
	case bool:
		m["value"] = strconv.FormatBool(x)
	default:
		return fmt.Errorf("value must be a string, number or boolean, got %s", jsonKind(x))
	}
	if av, ok := m["arrayValues"]; ok && av != nil {
		elems, ok := av.([]any)
		if !ok {
			return fmt.Errorf("arrayValues must be a list, got %s", jsonKind(av))
		}
		for _, e := range elems {
			if err := normalizeParamValue(e); err != nil {
				return err
			}
		}
	}
	if sv, ok := m["structValues"]; ok && sv != nil {
		fields, ok := sv.(map[string]any)
		if !ok {
			return fmt.Errorf("structValues must be an object, got %s", jsonKind(sv))
		}
		for name, f := range fields {
			if err := normalizeParamValue(f); err != nil {
				return fmt.Errorf("field %s: %w", name, err)
			}
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// paramDuckType is the DuckDB type of a parameter type.
func paramDuckType(t *paramType) (string, error) {
	if t == nil {
		return "", errInvalidQuery("Query parameter is missing its parameterType")
	}
	switch strings.ToUpper(t.Type) {
	case "ARRAY":
		e, err := paramDuckType(t.ArrayType)
		if err != nil {
			return "", err
		}
		return e + "[]", nil
	case "STRUCT", "RECORD":
		parts := make([]string, len(t.StructTypes))
		for i, st := range t.StructTypes {
			e, err := paramDuckType(st.Type)
			if err != nil {
				return "", err
			}
			parts[i] = quoteIdent(fieldName(i, st)) + " " + e
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	}
	lt, ok := legacyType(t.Type)
	if !ok {
		return "", errInvalidQuery("Unsupported query parameter type %s", t.Type)
	}
	return duckType(&bq.TableFieldSchema{Type: lt, Mode: "NULLABLE"}), nil
}

// paramLiteral renders a parameter value as a typed DuckDB SQL literal. Parameters are
// inlined rather than bound so that NULLs, arrays and structs keep their declared types.
func paramLiteral(name string, t *paramType, v *paramValue) (string, error) {
	return literal(name, t, v, false)
}

// literal is paramLiteral; inList says the literal is an element of a list whose own CAST
// types its elements, so a struct element is left without a CAST of its own: DuckDB binds
// every CAST, and for a few hundred struct rows the binding cost more than the statement.
func literal(name string, t *paramType, v *paramValue, inList bool) (string, error) {
	dt, err := paramDuckType(t)
	if err != nil {
		return "", err
	}
	typ := strings.ToUpper(t.Type)
	bad := func(val string) error {
		return errInvalidQuery("Invalid value %q for query parameter %s of type %s", val, name, typ)
	}
	if typ == "ARRAY" {
		if v == nil {
			return "CAST([] AS " + dt + ")", nil
		}
		if !inList {
			if j, ok := jsonValue(t, v); ok {
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(j); err == nil {
					return "CAST(CAST(" + quoteString(strings.TrimSuffix(b.String(), "\n")) + " AS JSON) AS " + dt + ")", nil
				}
			}
		}
		elems := make([]string, len(v.ArrayValues))
		for i, ev := range v.ArrayValues {
			if elems[i], err = literal(name, t.ArrayType, ev, true); err != nil {
				return "", err
			}
		}
		return "CAST([" + strings.Join(elems, ", ") + "] AS " + dt + ")", nil
	}
	if typ == "STRUCT" || typ == "RECORD" {
		if v == nil || (v.StructValues == nil && v.Value == nil) {
			return "CAST(NULL AS " + dt + ")", nil
		}
		parts := make([]string, len(t.StructTypes))
		for i, st := range t.StructTypes {
			fname := fieldName(i, st)
			lit, err := literal(name+"."+fname, st.Type, v.StructValues[st.Name], inList)
			if err != nil {
				return "", err
			}
			parts[i] = quoteIdent(fname) + " := " + lit
		}
		if inList {
			return "struct_pack(" + strings.Join(parts, ", ") + ")", nil
		}
		return "CAST(struct_pack(" + strings.Join(parts, ", ") + ") AS " + dt + ")", nil
	}
	if v == nil || v.Value == nil {
		return "CAST(NULL AS " + dt + ")", nil
	}
	s := *v.Value
	switch typ {
	case "INT64", "INTEGER", "INT":
		n, ok := scalar(typ, s)
		if !ok {
			return "", bad(s)
		}
		return "CAST(" + strconv.FormatInt(n.(int64), 10) + " AS BIGINT)", nil
	case "FLOAT64", "FLOAT":
		x, ok := scalar(typ, s)
		if !ok {
			return "", bad(s)
		}
		f := x.(float64)
		switch {
		case math.IsNaN(f):
			return "CAST('NaN' AS DOUBLE)", nil
		case math.IsInf(f, 1):
			return "CAST('Infinity' AS DOUBLE)", nil
		case math.IsInf(f, -1):
			return "CAST('-Infinity' AS DOUBLE)", nil
		}
		return "CAST(" + strconv.FormatFloat(f, 'g', -1, 64) + " AS DOUBLE)", nil
	case "BOOL", "BOOLEAN":
		b, ok := scalar(typ, s)
		if !ok {
			return "", bad(s)
		}
		if b.(bool) {
			return "TRUE", nil
		}
		return "FALSE", nil
	case "STRING", "GEOGRAPHY":
		if inList {
			return quoteString(s), nil
		}
		return "CAST(" + quoteString(s) + " AS VARCHAR)", nil
	case "BYTES":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", bad(s)
		}
		return "unhex('" + hex.EncodeToString(b) + "')", nil
	case "DATE":
		d, ok := scalar(typ, s)
		if !ok {
			return "", bad(s)
		}
		return "DATE '" + d.(string) + "'", nil
	case "TIMESTAMP":
		ts, err := parseTimestamp(s)
		if err != nil {
			return "", bad(s)
		}
		return "make_timestamptz(CAST(" + strconv.FormatInt(ts.UnixMicro(), 10) + " AS BIGINT))", nil
	case "DATETIME":
		dt, err := parseDateTime(s)
		if err != nil {
			return "", bad(s)
		}
		return "TIMESTAMP '" + dt.Format("2006-01-02 15:04:05.999999") + "'", nil
	case "TIME":
		tm, err := time.Parse("15:04:05.999999999", strings.TrimSpace(s))
		if err != nil {
			return "", bad(s)
		}
		return "TIME '" + tm.Format("15:04:05.999999") + "'", nil
	case "NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL":
		r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			return "", bad(s)
		}
		// FloatString rounds half away from zero to NUMERIC's 9 digits, and turns a JSON
		// number such as 1.5e3 into text DuckDB's DECIMAL cast reads.
		return "CAST(" + quoteString(r.FloatString(9)) + " AS DECIMAL(38,9))", nil
	case "JSON":
		return "CAST(" + quoteString(s) + " AS JSON)", nil
	case "INTERVAL":
		iv, err := parseInterval(s)
		if err != nil {
			return "", bad(s)
		}
		return fmt.Sprintf("(INTERVAL %d MONTH + INTERVAL %d DAY + INTERVAL %d MICROSECOND)", iv.Months, iv.Days, iv.Micros), nil
	}
	return "", errInvalidQuery("Unsupported query parameter type %s", typ)
}

// jsonValue is an array parameter's value as JSON that DuckDB's cast from JSON turns into
// the parameter's type, for arrays of strings, integers, booleans, dates, finite floats and
// structs and arrays of those; ok is false for any other type or for a value it cannot
// carry (NaN, a value that does not parse), which the literal takes instead. One JSON
// string is bound in microseconds where a literal of a few hundred struct rows, an
// expression per field, took tens of milliseconds.
func jsonValue(t *paramType, v *paramValue) (any, bool) {
	if t == nil {
		return nil, false
	}
	switch typ := strings.ToUpper(t.Type); typ {
	case "ARRAY":
		if v == nil {
			return []any{}, true
		}
		out := make([]any, len(v.ArrayValues))
		for i, ev := range v.ArrayValues {
			e, ok := jsonValue(t.ArrayType, ev)
			if !ok {
				return nil, false
			}
			out[i] = e
		}
		return out, true
	case "STRUCT", "RECORD":
		if v == nil || (v.StructValues == nil && v.Value == nil) {
			return nil, true
		}
		out := make(map[string]any, len(t.StructTypes))
		for i, st := range t.StructTypes {
			f, ok := jsonValue(st.Type, v.StructValues[st.Name])
			if !ok {
				return nil, false
			}
			out[fieldName(i, st)] = f
		}
		if len(out) != len(t.StructTypes) {
			return nil, false // two fields of one name: the literal says so
		}
		return out, true
	case "STRING", "INT64", "INTEGER", "INT", "BOOL", "BOOLEAN", "DATE", "FLOAT64", "FLOAT":
		if v == nil || v.Value == nil {
			return nil, true
		}
		x, ok := scalar(typ, *v.Value)
		if f, isFloat := x.(float64); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, false // JSON has no NaN or Infinity
		}
		return x, ok
	}
	return nil, false
}

// scalar parses a parameter value of a type both the SQL literal and the JSON binding
// take: int64 for INT64, float64 for FLOAT64, bool for BOOL, "YYYY-MM-DD" for DATE, the
// text itself for STRING; ok is false when it does not parse, or for any other type.
func scalar(typ, s string) (any, bool) {
	t := strings.TrimSpace(s)
	switch typ {
	case "STRING", "GEOGRAPHY":
		return s, true
	case "INT64", "INTEGER", "INT":
		n, err := strconv.ParseInt(t, 10, 64)
		return n, err == nil
	case "FLOAT64", "FLOAT":
		f, err := parseFloat(s)
		return f, err == nil
	case "BOOL", "BOOLEAN":
		switch strings.ToLower(t) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case "DATE":
		d, err := time.Parse("2006-01-02", t)
		return d.Format("2006-01-02"), err == nil
	}
	return nil, false
}

// fieldName is the name of a struct parameter's i-th field: its own, or BigQuery's
// _field_N for an unnamed one.
func fieldName(i int, st *structType) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("_field_%d", i+1)
}

// bindParams substitutes $name, $N and ? placeholders in translated DuckDB SQL with literals.
func bindParams(sqlText string, params []*queryParam) (string, error) {
	named := map[string]string{}
	var positional []string
	hasNamed, hasPositional := false, false
	for i, p := range params {
		if p == nil {
			continue
		}
		label := p.Name
		if label == "" {
			label = strconv.Itoa(i + 1)
		}
		lit, err := paramLiteral(label, p.ParameterType, p.ParameterValue)
		if err != nil {
			return "", err
		}
		if p.Name != "" {
			hasNamed = true
			named[strings.ToLower(p.Name)] = lit
		} else {
			hasPositional = true
			positional = append(positional, lit)
		}
	}
	if hasNamed && hasPositional {
		return "", errInvalidQuery("Query parameters must all be named or all be positional")
	}
	var b strings.Builder
	next := 0
	n := len(sqlText)
	for i := 0; i < n; i++ {
		c := sqlText[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < n {
				if sqlText[j] == c {
					if j+1 < n && sqlText[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, n)
			b.WriteString(sqlText[i:end])
			i = end - 1
		case c == '-' && i+1 < n && sqlText[i+1] == '-':
			j := strings.IndexByte(sqlText[i:], '\n')
			if j < 0 {
				j = n - i
			}
			b.WriteString(sqlText[i : i+j])
			i += j - 1
		case c == '/' && i+1 < n && sqlText[i+1] == '*':
			j := strings.Index(sqlText[i+2:], "*/")
			end := n
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(sqlText[i:end])
			i = end - 1
		case c == '$' && i+1 < n && (isIdentStart(sqlText[i+1]) || isDigit(sqlText[i+1])):
			j := i + 1
			for j < n && (isIdentStart(sqlText[j]) || isDigit(sqlText[j])) {
				j++
			}
			name := sqlText[i+1 : j]
			var lit string
			if idx, err := strconv.Atoi(name); err == nil {
				if idx < 1 || idx > len(positional) {
					return "", errInvalidQuery("Query parameter %d not found", idx)
				}
				lit = positional[idx-1]
			} else {
				var ok bool
				lit, ok = named[strings.ToLower(name)]
				if !ok {
					return "", errInvalidQuery("Query parameter '%s' not found", name)
				}
			}
			b.WriteString("(" + lit + ")")
			i = j - 1
		case c == '?':
			if next >= len(positional) {
				return "", errInvalidQuery("Query parameter %d not found: the query has more ? placeholders than positional parameters", next+1)
			}
			b.WriteString("(" + positional[next] + ")")
			next++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
