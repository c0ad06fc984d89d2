package bqsql

import (
	"fmt"
	"strconv"
	"strings"
)

// call is a function call being translated.
type call struct {
	name string // as written
	u    string // upper case
	kids []node
	args [][]node
	over string // " OVER (...)" or ""
	pos  int
	tail string // whitespace before the closing parenthesis
}

// call translates the function call at ns[i] (name) and ns[i+1] (arguments), with a
// following OVER clause, and returns the index after it.
func (t *translator) call(ns []node, i int) (string, int, error) {
	n, g := ns[i], ns[i+1]
	c := &call{name: n.tok.text, u: strings.ToUpper(n.tok.text), kids: g.kids, args: splitArgs(g.kids), pos: n.tok.pos, tail: g.tail}
	j := i + 2
	if j < len(ns) && ns[j].isKw("OVER") && j+1 < len(ns) {
		w := ns[j+1]
		switch {
		case w.isGroup("("):
			inner, err := t.seq(w.kids)
			if err != nil {
				return "", 0, err
			}
			c.over = ns[j].sp + "OVER (" + inner + w.tail + ")"
		case w.tok.kind == tkIdent || w.tok.kind == tkQuotedIdent:
			c.over = ns[j].sp + "OVER " + quoteIdent(identName(w))
		default:
			return "", 0, &SyntaxError{Pos: w.tok.pos, Msg: "OVER needs a window"}
		}
		if ns[j].sp == "" {
			c.over = " " + c.over
		}
		j += 2
	}
	s, err := t.fn(c)
	if err != nil {
		return "", 0, err
	}
	return s, j, nil
}

// strs translates all arguments.
func (t *translator) strs(c *call) ([]string, error) {
	out := make([]string, len(c.args))
	for k, a := range c.args {
		if len(a) == 0 {
			return nil, &SyntaxError{Pos: c.pos, Msg: "empty argument to " + c.name}
		}
		s, err := t.arg(a)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

func (c *call) want(counts ...int) error {
	for _, n := range counts {
		if len(c.args) == n {
			return nil
		}
	}
	want := make([]string, len(counts))
	for i, n := range counts {
		want[i] = strconv.Itoa(n)
	}
	return &SyntaxError{Pos: c.pos, Msg: fmt.Sprintf("%s takes %s arguments, got %d", c.u, strings.Join(want, " or "), len(c.args))}
}

// part reads a date-part argument such as DAY, WEEK or WEEK(SUNDAY). shift is the number
// of days to add so that the part's weeks start on Monday, as DuckDB's do.
func (c *call) part(a []node) (name string, shift int, err error) {
	bad := &SyntaxError{Pos: c.pos, Msg: c.u + " needs a date part such as DAY, WEEK or MONTH as its last argument"}
	if len(a) == 0 || a[0].group {
		return "", 0, bad
	}
	u := a[0].upper()
	if u == "WEEK" && len(a) == 2 && a[1].isGroup("(") && len(a[1].kids) == 1 {
		wd, ok := weekdays[a[1].kids[0].upper()]
		if !ok {
			return "", 0, bad
		}
		return "WEEK", (8 - wd) % 7, nil
	}
	if len(a) != 1 {
		return "", 0, bad
	}
	if _, ok := dateParts[u]; !ok {
		if a[0].tok.kind == tkString {
			return "", 0, unsupported("%s with a string date part (use a keyword such as DAY)", c.u)
		}
		return "", 0, bad
	}
	switch u {
	case "WEEK":
		return u, 1, nil // Sunday weeks
	case "ISOWEEK":
		return u, 0, nil
	}
	return u, 0, nil
}

// weekStart returns the start of the week containing x (a DATE, TIMESTAMP or
// TIMESTAMPTZ expression) for weeks that start shift days before Monday.
func weekStart(x string, shift int) string {
	if shift == 0 {
		return "date_trunc('week', " + x + ")"
	}
	return fmt.Sprintf("(date_trunc('week', (%s) + INTERVAL %d DAY) - INTERVAL %d DAY)", x, shift, shift)
}

// literalFormat expands BigQuery-only strftime specifiers in a format literal.
func literalFormat(f string) string {
	r := strings.NewReplacer("%F", "%Y-%m-%d", "%T", "%H:%M:%S", "%E4Y", "%Y", "%E6S", "%S.%f", "%E*S", "%S.%f",
		"%E3S", "%S.%g", "%Ez", "%z", "%R", "%H:%M", "%D", "%m/%d/%y", "%e", "%-d")
	return r.Replace(f)
}

// formatArg translates a format argument, expanding it at translation time when literal.
func (t *translator) formatArg(a []node) (string, bool, error) {
	if len(a) == 1 && !a[0].group && a[0].tok.kind == tkString && !a[0].tok.bytes {
		return quoteString(literalFormat(a[0].tok.val)), true, nil
	}
	s, err := t.arg(a)
	return s, false, err
}

// hasGroup reports whether a regular expression literal has a capturing group.
func hasGroup(re string) bool {
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '\\':
			i++
		case '(':
			if i+1 >= len(re) || re[i+1] != '?' {
				return true
			}
			if i+2 < len(re) && (re[i+2] == 'P' || re[i+2] == '<') {
				return true // named group
			}
		}
	}
	return false
}

// fn translates one call.
func (t *translator) fn(c *call) (string, error) {
	passthrough := func(name string) (string, error) {
		inner, err := t.seq(c.kids)
		if err != nil {
			return "", err
		}
		return name + "(" + inner + c.tail + ")" + c.over, nil
	}
	a := func() ([]string, error) { return t.strs(c) }
	for _, arg := range c.args {
		if len(arg) == 0 {
			return "", &SyntaxError{Pos: c.pos, Msg: "empty argument in " + c.name + "(...)"}
		}
	}
	switch c.u {
	case "CAST", "SAFE_CAST":
		as := lastTopKw(c.kids, "AS")
		if as < 1 {
			return "", &SyntaxError{Pos: c.pos, Msg: c.u + " needs (expression AS type)"}
		}
		typ, j, err := parseType(c.kids, as+1)
		if err != nil {
			return "", err
		}
		if j < len(c.kids) {
			if c.kids[j].isKw("FORMAT") {
				return "", unsupported("%s ... FORMAT", c.u)
			}
			return "", &SyntaxError{Pos: c.kids[j].tok.pos, Msg: "unexpected text after the type in " + c.u}
		}
		x, err := t.arg(c.kids[:as])
		if err != nil {
			return "", err
		}
		fn := "CAST"
		if c.u == "SAFE_CAST" {
			fn = "TRY_CAST"
		}
		if typ == "BIGINT" {
			// DuckDB rounds DOUBLE to integer half to even; through DECIMAL it rounds half
			// away from zero like BigQuery, and strings and booleans still convert.
			x = fn + "(" + x + " AS DECIMAL(38,9))"
		}
		return fn + "(" + x + " AS " + typ + ")", nil

	case "SAFE_DIVIDE", "DIV", "MOD", "IEEE_DIVIDE", "SAFE_ADD", "SAFE_SUBTRACT", "SAFE_MULTIPLY":
		if err := c.want(2); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		switch c.u {
		case "SAFE_DIVIDE":
			return "bq_safe_divide(" + x[0] + ", " + x[1] + ")", nil
		case "DIV":
			return "bq_intdiv(" + x[0] + ", " + x[1] + ")", nil
		case "MOD":
			return "bq_mod(" + x[0] + ", " + x[1] + ")", nil
		case "IEEE_DIVIDE":
			return "(CAST(" + x[0] + " AS DOUBLE) / (" + x[1] + "))", nil
		case "SAFE_ADD":
			return "try((" + x[0] + ") + (" + x[1] + "))", nil
		case "SAFE_SUBTRACT":
			return "try((" + x[0] + ") - (" + x[1] + "))", nil
		}
		return "try((" + x[0] + ") * (" + x[1] + "))", nil
	case "SAFE_NEGATE":
		x, err := a()
		if err != nil {
			return "", err
		}
		if err := c.want(1); err != nil {
			return "", err
		}
		return "try(-(" + x[0] + "))", nil

	case "COUNTIF":
		if len(c.kids) > 0 && c.kids[0].isKw("DISTINCT") {
			return "", unsupported("COUNTIF(DISTINCT ...)")
		}
		x, err := t.seq(c.kids)
		if err != nil {
			return "", err
		}
		// count() gives BIGINT and 0 for no rows; DuckDB's count_if gives HUGEINT or NULL.
		return "count(CASE WHEN " + x + " THEN 1 END)" + c.over, nil
	case "LOGICAL_AND":
		return passthrough("bool_and")
	case "LOGICAL_OR":
		return passthrough("bool_or")
	case "PERCENTILE_CONT", "PERCENTILE_DISC":
		if err := c.want(2); err != nil {
			return "", err
		}
		if i := indexKw(c.args[1], "RESPECT"); i >= 0 {
			return "", unsupported("%s ... RESPECT NULLS", c.u)
		}
		if i := indexKw(c.args[1], "IGNORE"); i >= 0 {
			c.args[1] = c.args[1][:i]
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		fn := "quantile_cont"
		if c.u == "PERCENTILE_DISC" {
			fn = "quantile_disc"
		}
		return fn + "(" + x[0] + ", " + x[1] + ")" + c.over, nil
	case "APPROX_QUANTILES":
		if err := c.want(2); err != nil {
			return "", err
		}
		if len(c.args[1]) != 1 || c.args[1][0].tok.kind != tkNumber {
			return "", unsupported("APPROX_QUANTILES with a non-literal number of quantiles")
		}
		q, err := strconv.Atoi(c.args[1][0].tok.text)
		if err != nil || q < 1 || q > 1000 {
			return "", &SyntaxError{Pos: c.pos, Msg: "APPROX_QUANTILES needs 1 to 1000 quantiles"}
		}
		x, err := t.arg(c.args[0])
		if err != nil {
			return "", err
		}
		qs := make([]string, q+1)
		for k := range qs {
			qs[k] = strconv.FormatFloat(float64(k)/float64(q), 'g', -1, 64)
		}
		return "quantile_disc(" + x + ", [" + strings.Join(qs, ", ") + "])" + c.over, nil
	case "ARRAY_AGG", "STRING_AGG":
		return t.arrayAgg(c)

	case "CONCAT":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 0 {
			return "", c.want(1)
		}
		return "(" + strings.Join(x, " || ") + ")", nil
	case "GREATEST", "LEAST":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 0 {
			return "", c.want(1)
		}
		var nulls []string
		for _, v := range x {
			nulls = append(nulls, "("+v+") IS NULL")
		}
		return "(CASE WHEN " + strings.Join(nulls, " OR ") + " THEN NULL ELSE " + strings.ToLower(c.u) + "(" + strings.Join(x, ", ") + ") END)", nil

	case "DATE_DIFF", "DATETIME_DIFF", "TIMESTAMP_DIFF", "TIME_DIFF":
		if err := c.want(3); err != nil {
			return "", err
		}
		p, shift, err := c.part(c.args[2])
		if err != nil {
			return "", err
		}
		x, err := t.strs(&call{args: c.args[:2], name: c.name, pos: c.pos})
		if err != nil {
			return "", err
		}
		end, start := x[0], x[1]
		if c.u == "DATE_DIFF" {
			end, start = "CAST("+end+" AS DATE)", "CAST("+start+" AS DATE)"
		}
		switch p {
		case "WEEK", "ISOWEEK":
			return "(date_diff('day', CAST(" + weekStart(start, shift) + " AS DATE), CAST(" + weekStart(end, shift) + " AS DATE)) // 7)", nil
		case "ISOYEAR":
			return "(isoyear(" + end + ") - isoyear(" + start + "))", nil
		}
		fn := "date_diff" // counts boundaries, like DATE_DIFF and DATETIME_DIFF
		if c.u == "TIMESTAMP_DIFF" || c.u == "TIME_DIFF" {
			fn = "date_sub" // whole intervals, like TIMESTAMP_DIFF
		}
		return fn + "('" + dateParts[p] + "', " + start + ", " + end + ")", nil
	case "DATE_TRUNC", "DATETIME_TRUNC", "TIMESTAMP_TRUNC":
		if err := c.want(2, 3); err != nil {
			return "", err
		}
		if len(c.args) == 3 && c.u != "TIMESTAMP_TRUNC" {
			return "", c.want(2)
		}
		p, shift, err := c.part(c.args[1])
		if err != nil {
			return "", err
		}
		x, err := t.arg(c.args[0])
		if err != nil {
			return "", err
		}
		tz := ""
		if len(c.args) == 3 {
			if tz, err = t.arg(c.args[2]); err != nil {
				return "", err
			}
			x = "timezone(" + tz + ", " + x + ")"
		}
		var s string
		switch p {
		case "WEEK", "ISOWEEK":
			s = weekStart(x, shift)
		default:
			s = "date_trunc('" + dateParts[p] + "', " + x + ")"
		}
		switch {
		case c.u == "DATE_TRUNC":
			return "CAST(" + s + " AS DATE)", nil
		case tz != "":
			return "timezone(" + tz + ", " + s + ")", nil
		}
		return s, nil
	case "DATE_ADD", "DATE_SUB", "DATETIME_ADD", "DATETIME_SUB", "TIMESTAMP_ADD", "TIMESTAMP_SUB", "TIME_ADD", "TIME_SUB":
		if err := c.want(2); err != nil {
			return "", err
		}
		if len(c.args[1]) == 0 || !c.args[1][0].isKw("INTERVAL") {
			return "", &SyntaxError{Pos: c.pos, Msg: c.u + " needs INTERVAL n PART as its second argument"}
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		op := " + "
		if strings.HasSuffix(c.u, "_SUB") {
			op = " - "
		}
		s := "(" + x[0] + ")" + op + x[1]
		if strings.HasPrefix(c.u, "DATE_") {
			return "CAST(" + s + " AS DATE)", nil
		}
		return "(" + s + ")", nil
	case "EXTRACT":
		return t.extract(c)
	case "LAST_DAY":
		if err := c.want(1, 2); err != nil {
			return "", err
		}
		if len(c.args) == 2 {
			if p, _, err := c.part(c.args[1]); err != nil || p != "MONTH" {
				return "", unsupported("LAST_DAY with a date part other than MONTH")
			}
		}
		x, err := t.arg(c.args[0])
		if err != nil {
			return "", err
		}
		return "last_day(" + x + ")", nil

	case "FORMAT_DATE", "FORMAT_DATETIME", "FORMAT_TIMESTAMP", "FORMAT_TIME":
		if err := c.want(2, 3); err != nil {
			return "", err
		}
		f, _, err := t.formatArg(c.args[0])
		if err != nil {
			return "", err
		}
		x, err := t.arg(c.args[1])
		if err != nil {
			return "", err
		}
		if len(c.args) == 3 {
			if c.u != "FORMAT_TIMESTAMP" {
				return "", c.want(2)
			}
			tz, err := t.arg(c.args[2])
			if err != nil {
				return "", err
			}
			x = "timezone(" + tz + ", " + x + ")"
		}
		if c.u == "FORMAT_TIME" {
			x = "(DATE '1970-01-01' + " + x + ")"
		}
		return "bq_format(" + f + ", " + x + ")", nil
	case "PARSE_DATE", "PARSE_DATETIME", "PARSE_TIMESTAMP", "PARSE_TIME":
		if err := c.want(2, 3); err != nil {
			return "", err
		}
		f, lit, err := t.formatArg(c.args[0])
		if err != nil {
			return "", err
		}
		if !lit {
			return "", unsupported("%s with a non-literal format", c.u)
		}
		x, err := t.arg(c.args[1])
		if err != nil {
			return "", err
		}
		s := "strptime(" + x + ", " + f + ")"
		switch c.u {
		case "PARSE_DATE":
			return "CAST(" + s + " AS DATE)", nil
		case "PARSE_DATETIME":
			return "CAST(" + s + " AS TIMESTAMP)", nil
		case "PARSE_TIME":
			return "CAST(" + s + " AS TIME)", nil
		}
		if len(c.args) == 3 {
			tz, err := t.arg(c.args[2])
			if err != nil {
				return "", err
			}
			return "timezone(" + tz + ", CAST(" + s + " AS TIMESTAMP))", nil
		}
		return "CAST(" + s + " AS TIMESTAMPTZ)", nil

	case "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_DATETIME", "CURRENT_TIME":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) > 1 || (len(x) == 1 && c.u == "CURRENT_TIMESTAMP") {
			return "", c.want(0)
		}
		now := "CURRENT_TIMESTAMP"
		if len(x) == 1 {
			now = "timezone(" + x[0] + ", CURRENT_TIMESTAMP)"
		}
		switch c.u {
		case "CURRENT_DATE":
			return "CAST(" + now + " AS DATE)", nil
		case "CURRENT_DATETIME":
			return "CAST(" + now + " AS TIMESTAMP)", nil
		case "CURRENT_TIME":
			return "CAST(" + now + " AS TIME)", nil
		}
		return now, nil
	case "DATE":
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 1:
			return "CAST(" + x[0] + " AS DATE)", nil
		case 2:
			return "CAST(timezone(" + x[1] + ", " + x[0] + ") AS DATE)", nil
		case 3:
			return "make_date(" + strings.Join(x, ", ") + ")", nil
		}
		return "", c.want(1, 2, 3)
	case "DATETIME":
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 1:
			return "CAST(" + x[0] + " AS TIMESTAMP)", nil
		case 2:
			// DATETIME(date, time) or DATETIME(timestamp, time_zone).
			if len(c.args[1]) == 1 && c.args[1][0].tok.kind == tkString {
				return "timezone(" + x[1] + ", " + x[0] + ")", nil
			}
			return "(CAST(" + x[0] + " AS DATE) + CAST(" + x[1] + " AS TIME))", nil
		case 6:
			return "make_timestamp(" + strings.Join(x, ", ") + ")", nil
		}
		return "", c.want(1, 2, 6)
	case "TIMESTAMP":
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 1:
			return "CAST(" + x[0] + " AS TIMESTAMPTZ)", nil
		case 2:
			return "timezone(" + x[1] + ", CAST(" + x[0] + " AS TIMESTAMP))", nil
		}
		return "", c.want(1, 2)
	case "TIME":
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 1:
			return "CAST(" + x[0] + " AS TIME)", nil
		case 3:
			return "make_time(" + strings.Join(x, ", ") + ")", nil
		}
		return "", c.want(1, 3)
	case "UNIX_SECONDS", "UNIX_MILLIS", "UNIX_MICROS", "UNIX_DATE", "TIMESTAMP_SECONDS", "TIMESTAMP_MILLIS",
		"TIMESTAMP_MICROS", "DATE_FROM_UNIX_DATE", "GENERATE_UUID", "TO_JSON_STRING", "TIMESTAMP_FROM_UNIX_SECONDS",
		"TIMESTAMP_FROM_UNIX_MILLIS", "TIMESTAMP_FROM_UNIX_MICROS":
		name := strings.ToLower(c.u)
		name = strings.Replace(name, "timestamp_from_unix_", "timestamp_", 1)
		if c.u == "TO_JSON_STRING" && len(c.args) == 2 {
			return "", unsupported("TO_JSON_STRING with pretty printing")
		}
		return passthrough("bq_" + name)
	case "GENERATE_DATE_ARRAY", "GENERATE_TIMESTAMP_ARRAY", "GENERATE_ARRAY":
		if err := c.want(2, 3); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		switch c.u {
		case "GENERATE_ARRAY":
			return "generate_series(" + strings.Join(x, ", ") + ")", nil
		case "GENERATE_TIMESTAMP_ARRAY":
			if len(x) != 3 {
				return "", c.want(3)
			}
			return "generate_series(" + strings.Join(x, ", ") + ")", nil
		}
		step := "INTERVAL 1 DAY"
		if len(x) == 3 {
			step = x[2]
		}
		return "CAST(generate_series(CAST(" + x[0] + " AS DATE), CAST(" + x[1] + " AS DATE), " + step + ") AS DATE[])", nil

	case "REGEXP_CONTAINS":
		return passthrough("regexp_matches")
	case "REGEXP_EXTRACT", "REGEXP_SUBSTR", "REGEXP_EXTRACT_ALL":
		if err := c.want(2); err != nil {
			return "", unsupported("%s with position or occurrence arguments", c.u)
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		group := ""
		if p := c.args[1]; len(p) == 1 && p[0].tok.kind == tkString && hasGroup(p[0].tok.val) {
			group = ", 1"
		}
		if c.u == "REGEXP_EXTRACT_ALL" {
			return "regexp_extract_all(" + x[0] + ", " + x[1] + group + ")", nil
		}
		return "(CASE WHEN regexp_matches(" + x[0] + ", " + x[1] + ") THEN regexp_extract(" + x[0] + ", " + x[1] + group + ") END)", nil
	case "REGEXP_REPLACE":
		if err := c.want(3); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		return "regexp_replace(" + strings.Join(x, ", ") + ", 'g')", nil
	case "JSON_EXTRACT_SCALAR", "JSON_VALUE", "JSON_EXTRACT", "JSON_QUERY":
		if err := c.want(1, 2); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 1 {
			x = append(x, "'$'")
		}
		if c.u == "JSON_EXTRACT" || c.u == "JSON_QUERY" {
			// JSON-formatted text, as BigQuery returns for STRING input.
			return "CAST(json_extract(" + x[0] + ", " + x[1] + ") AS VARCHAR)", nil
		}
		return "json_extract_string(" + x[0] + ", " + x[1] + ")", nil
	case "JSON_EXTRACT_ARRAY", "JSON_QUERY_ARRAY", "JSON_EXTRACT_STRING_ARRAY", "JSON_VALUE_ARRAY":
		if err := c.want(1, 2); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 1 {
			x = append(x, "'$'")
		}
		if c.u == "JSON_EXTRACT_ARRAY" || c.u == "JSON_QUERY_ARRAY" {
			return "CAST(CAST(json_extract(" + x[0] + ", " + x[1] + ") AS JSON[]) AS VARCHAR[])", nil
		}
		return "CAST(json_extract_string(CAST(json_extract(" + x[0] + ", " + x[1] + ") AS JSON[]), '$') AS VARCHAR[])", nil
	case "PARSE_JSON":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) != 1 {
			return "", unsupported("PARSE_JSON with options")
		}
		return "CAST(" + x[0] + " AS JSON)", nil
	case "FORMAT":
		return passthrough("printf")
	case "SPLIT":
		if err := c.want(1, 2); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 1 {
			x = append(x, "','")
		}
		return "string_split(" + x[0] + ", " + x[1] + ")", nil
	case "ARRAY_REVERSE":
		return passthrough("list_reverse")
	case "ARRAY_LENGTH":
		return passthrough("len")
	case "BYTE_LENGTH":
		return passthrough("octet_length")
	case "TO_HEX":
		if len(c.args) == 1 && len(c.args[0]) == 2 && c.args[0][1].isGroup("(") {
			switch c.args[0][0].upper() {
			case "MD5", "SHA256", "SHA1":
				inner, err := t.seq(c.args[0][1].kids)
				if err != nil {
					return "", err
				}
				return strings.ToLower(c.args[0][0].upper()) + "(" + inner + ")", nil
			}
		}
		x, err := t.seq(c.kids)
		if err != nil {
			return "", err
		}
		return "lower(hex(" + x + "))", nil
	case "FROM_HEX":
		return passthrough("unhex")
	case "MD5", "SHA256", "SHA1":
		x, err := t.seq(c.kids)
		if err != nil {
			return "", err
		}
		return "unhex(" + strings.ToLower(c.u) + "(" + x + "))", nil
	case "LOG":
		// BigQuery LOG(x) is the natural log and LOG(x, base) takes the base second;
		// DuckDB's log(x) is base 10 and log(b, x) takes the base first.
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 1:
			return "ln(" + x[0] + ")", nil
		case 2:
			return "(ln(" + x[0] + ") / ln(" + x[1] + "))", nil
		}
		return "", c.want(1, 2)
	case "SUBSTR", "SUBSTRING":
		// BigQuery counts position 0 as 1 and clamps negative positions to the start.
		x, err := a()
		if err != nil {
			return "", err
		}
		switch len(x) {
		case 2:
			return "bq_substr(" + strings.Join(x, ", ") + ")", nil
		case 3:
			return "bq_substr_len(" + strings.Join(x, ", ") + ")", nil
		}
		return "", c.want(2, 3)
	case "IS_INF":
		return passthrough("isinf")
	case "IS_NAN":
		return passthrough("isnan")
	case "RAND":
		return passthrough("random")
	case "EDIT_DISTANCE":
		return passthrough("levenshtein")
	case "ARRAY_INCLUDES":
		return passthrough("list_contains")
	case "ARRAY_FIRST", "ARRAY_LAST":
		x, err := a()
		if err != nil {
			return "", err
		}
		if err := c.want(1); err != nil {
			return "", err
		}
		idx := "0"
		if c.u == "ARRAY_LAST" {
			idx = "len(" + x[0] + ") - 1"
		}
		return "bq_offset(" + x[0] + ", " + idx + ")", nil
	case "ARRAY_CONCAT":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 0 {
			return "", c.want(1)
		}
		s := x[0]
		for _, v := range x[1:] {
			s = "list_concat(" + s + ", " + v + ")"
		}
		return s, nil
	case "LPAD", "RPAD":
		x, err := a()
		if err != nil {
			return "", err
		}
		if len(x) == 2 {
			x = append(x, "' '")
		}
		return strings.ToLower(c.u) + "(" + strings.Join(x, ", ") + ")", nil
	case "NORMALIZE":
		if err := c.want(1, 2); err != nil {
			return "", err
		}
		if len(c.args) == 2 && !c.args[1][0].isKw("NFC") {
			return "", unsupported("NORMALIZE with mode %s", srcText(c.args[1]))
		}
		x, err := t.arg(c.args[0])
		if err != nil {
			return "", err
		}
		return "nfc_normalize(" + x + ")", nil
	case "CONTAINS_SUBSTR":
		x, err := a()
		if err != nil {
			return "", err
		}
		if err := c.want(2); err != nil {
			return "", err
		}
		return "contains(lower(CAST(" + x[0] + " AS VARCHAR)), lower(" + x[1] + "))", nil
	case "FARM_FINGERPRINT", "INITCAP", "SHA512", "NET", "HLL_COUNT", "KEYS", "AEAD", "EXTERNAL_QUERY", "SEARCH",
		"VECTOR_SEARCH", "ML", "APPENDS", "CHANGES", "RANGE_BUCKET", "SESSION_USER":
		return "", unsupported("function %s", c.u)
	case "UNNEST":
		if err := c.want(1); err != nil {
			return "", err
		}
		x, err := a()
		if err != nil {
			return "", err
		}
		return "UNNEST(" + x[0] + ")", nil
	}
	if strings.HasPrefix(c.u, "ST_") {
		return "", unsupported("GEOGRAPHY function %s", c.u)
	}
	return passthrough(c.name)
}

// arrayAgg translates ARRAY_AGG and STRING_AGG with IGNORE NULLS, ORDER BY and LIMIT.
func (t *translator) arrayAgg(c *call) (string, error) {
	kids := c.kids
	distinct := ""
	if len(kids) > 0 && kids[0].isKw("DISTINCT") {
		distinct = "DISTINCT "
		kids = kids[1:]
	}
	end := len(kids)
	ignore := false
	var order, limit []node
	for k := 0; k < len(kids); k++ {
		switch {
		case kids[k].isKw("IGNORE") && k+1 < len(kids) && kids[k+1].isKw("NULLS"):
			ignore = true
		case kids[k].isKw("RESPECT") && k+1 < len(kids) && kids[k+1].isKw("NULLS"):
		case kids[k].isKw("ORDER") && k+1 < len(kids) && kids[k+1].isKw("BY"):
			e := k + 2
			for e < len(kids) && !kids[e].isKw("LIMIT") {
				e++
			}
			order = kids[k+2 : e]
		case kids[k].isKw("LIMIT"):
			limit = kids[k+1:]
		default:
			continue
		}
		end = min(end, k)
	}
	args := splitArgs(kids[:end])
	if len(args) == 0 || len(args[0]) == 0 {
		return "", &SyntaxError{Pos: c.pos, Msg: c.u + " needs an argument"}
	}
	x, err := t.arg(args[0])
	if err != nil {
		return "", err
	}
	sep := "','"
	switch {
	case c.u == "STRING_AGG" && len(args) == 2:
		if sep, err = t.arg(args[1]); err != nil {
			return "", err
		}
	case len(args) != 1:
		return "", &SyntaxError{Pos: c.pos, Msg: c.u + " has too many arguments"}
	}
	ord := ""
	if order != nil {
		o, err := t.seq(order)
		if err != nil {
			return "", err
		}
		ord = " ORDER BY" + o
	}
	if c.u == "STRING_AGG" && limit == nil {
		return "string_agg(" + distinct + x + ", " + sep + ord + ")" + c.over, nil
	}
	if dir, ok := sortsItself(x, ord); ok && limit == nil && c.over == "" && c.u == "ARRAY_AGG" && (distinct == "" || ignore) {
		// The same array as DuckDB's ordered aggregate, which keeps a sort state per group
		// and costs several times as much (the player registry's MERGE spent about half its
		// time there: a few hundred groups of a handful of names). NULLs sort as BigQuery
		// sorts them (first ascending, last descending); list_distinct drops them, so
		// DISTINCT takes this form only when they are ignored anyway.
		nulls := "NULLS FIRST"
		if dir == "DESC" {
			nulls = "NULLS LAST"
		}
		list := "array_agg(" + x + ")"
		if ignore {
			list += " FILTER (WHERE (" + x + ") IS NOT NULL)"
		}
		if distinct != "" {
			list = "list_distinct(" + list + ")"
		}
		return "list_sort(" + list + ", '" + dir + "', '" + nulls + "')", nil
	}
	s := "array_agg(" + distinct + x + ord + ")"
	if ignore || c.u == "STRING_AGG" {
		s += " FILTER (WHERE (" + x + ") IS NOT NULL)"
	}
	s += c.over
	if limit != nil {
		n, err := t.arg(limit)
		if err != nil {
			return "", err
		}
		s = "list_slice(" + s + ", 1, " + n + ")"
	}
	if c.u == "STRING_AGG" {
		s = "array_to_string(" + s + ", " + sep + ")"
	}
	return s, nil
}

// sortsItself says whether an aggregate's translated ORDER BY (" ORDER BY <key> [ASC|DESC]")
// sorts by the aggregated expression x alone, and in which direction.
func sortsItself(x, ord string) (dir string, ok bool) {
	key, found := strings.CutPrefix(ord, " ORDER BY")
	if !found {
		return "", false
	}
	rest, found := strings.CutPrefix(strings.TrimSpace(key), x)
	if !found {
		return "", false
	}
	switch rest = strings.ToUpper(rest); rest {
	case "", " ASC":
		return "ASC", true
	case " DESC":
		return "DESC", true
	}
	return "", false
}

// extract translates EXTRACT(part FROM x [AT TIME ZONE tz]).
func (t *translator) extract(c *call) (string, error) {
	from := indexKw(c.kids, "FROM")
	if from < 1 {
		return "", &SyntaxError{Pos: c.pos, Msg: "EXTRACT needs (part FROM expression)"}
	}
	partNodes, xNodes := c.kids[:from], c.kids[from+1:]
	if at := indexKw(xNodes, "AT"); at >= 0 {
		if at+3 > len(xNodes) || !xNodes[at+1].isKw("TIME") || !xNodes[at+2].isKw("ZONE") {
			return "", &SyntaxError{Pos: c.pos, Msg: "expected AT TIME ZONE"}
		}
		x, err := t.arg(xNodes[:at])
		if err != nil {
			return "", err
		}
		tz, err := t.arg(xNodes[at+3:])
		if err != nil {
			return "", err
		}
		return t.extractPart(c, partNodes, "timezone("+tz+", "+x+")")
	}
	x, err := t.arg(xNodes)
	if err != nil {
		return "", err
	}
	return t.extractPart(c, partNodes, x)
}

func (t *translator) extractPart(c *call, partNodes []node, x string) (string, error) {
	if len(partNodes) == 1 {
		switch u := partNodes[0].upper(); u {
		case "DAYOFWEEK":
			return "(dayofweek(" + x + ") + 1)", nil
		case "DAYOFYEAR":
			return "dayofyear(" + x + ")", nil
		case "DATE":
			return "CAST(" + x + " AS DATE)", nil
		case "TIME":
			return "CAST(" + x + " AS TIME)", nil
		case "DATETIME":
			return "CAST(" + x + " AS TIMESTAMP)", nil
		case "ISOWEEK":
			return "week(" + x + ")", nil
		case "ISOYEAR":
			return "isoyear(" + x + ")", nil
		case "MILLISECOND":
			return "(millisecond(" + x + ") % 1000)", nil
		case "MICROSECOND":
			return "(microsecond(" + x + ") % 1000000)", nil
		case "WEEK":
			return "CAST(strftime(" + x + ", '%U') AS BIGINT)", nil
		case "YEAR", "QUARTER", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND":
			return "EXTRACT(" + u + " FROM " + x + ")", nil
		}
	}
	p, shift, err := c.part(partNodes)
	if err != nil {
		return "", err
	}
	if p == "WEEK" {
		switch shift {
		case 1:
			return "CAST(strftime(" + x + ", '%U') AS BIGINT)", nil
		case 0:
			return "CAST(strftime(" + x + ", '%W') AS BIGINT)", nil
		}
		return "", unsupported("EXTRACT(WEEK(<day>)) for weeks starting on a day other than SUNDAY or MONDAY")
	}
	return "", &SyntaxError{Pos: c.pos, Msg: "EXTRACT: unknown part " + srcText(partNodes)}
}
