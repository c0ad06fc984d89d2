package bqsql

import (
	"fmt"
	"strconv"
	"strings"
)

// pieceKind classifies translated output for the operator passes.
type pieceKind int

const (
	pPrimary pieceKind = iota // a complete operand: literal, name, call, group, CASE
	pOp                       // an operator symbol
	pKw                       // a keyword
	pComma                    // ,
	pStar                     // * in a select list or COUNT(*)
)

// piece is a fragment of DuckDB output.
type piece struct {
	sp   string
	text string
	kind pieceKind
	// intLit marks an integer literal, which DuckDB types as 32-bit INTEGER.
	intLit bool
}

// keywords are words that never start an operand (BigQuery reserved words plus clause words).
var keywords = wordSet(`ALL AND ANY AS ASC AT BETWEEN BY CROSS CUBE CURRENT DEFAULT DEFINE DESC
		DISTINCT ELSE END ENUM ESCAPE EXCEPT EXCLUDE FETCH FOLLOWING FOR FROM FULL GROUP GROUPING GROUPS
		HASH HAVING IGNORE IN INNER INTERSECT INTO IS JOIN LATERAL LEFT LIKE LIMIT LOOKUP MERGE NATURAL
		NEW NO NOT NULLS OF ON OR ORDER OUTER OVER PARTITION PRECEDING PROTO QUALIFY RANGE RECURSIVE
		RESPECT RIGHT ROLLUP ROWS SELECT SET SOME TABLESAMPLE THEN TO TREAT UNBOUNDED UNION USING WHEN
		WHERE WINDOW WITH WITHIN INSERT VALUES UPDATE DELETE MATCHED OFFSET TABLE USING BEGIN COMMIT
		ROLLBACK TRANSACTION CREATE DROP ALTER REPLACE`)

func wordSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// dateParts are the BigQuery date/time part keywords.
var dateParts = map[string]string{
	"MICROSECOND": "microsecond", "MILLISECOND": "millisecond", "SECOND": "second", "MINUTE": "minute",
	"HOUR": "hour", "DAY": "day", "WEEK": "week", "ISOWEEK": "week", "MONTH": "month", "QUARTER": "quarter",
	"YEAR": "year", "ISOYEAR": "isoyear",
}

// weekdays index BigQuery WEEK(<day>) arguments from Sunday = 0.
var weekdays = map[string]int{"SUNDAY": 0, "MONDAY": 1, "TUESDAY": 2, "WEDNESDAY": 3, "THURSDAY": 4, "FRIDAY": 5, "SATURDAY": 6}

// seq translates a node sequence (an expression, a clause list or a whole query).
func (t *translator) seq(ns []node) (string, error) {
	t.depth++
	defer func() { t.depth-- }()
	if t.depth > maxDepth {
		pos := 0
		if len(ns) > 0 {
			pos = ns[0].tok.pos
		}
		return "", &SyntaxError{Pos: pos, Msg: fmt.Sprintf("expression nested deeper than %d levels", maxDepth)}
	}
	ps, err := t.pieces(ns)
	if err != nil {
		return "", err
	}
	ps = divPass(int64Pass(ps))
	return joinPieces(ps), nil
}

// arg translates one argument without its leading separator.
func (t *translator) arg(ns []node) (string, error) {
	s, err := t.seq(ns)
	return strings.TrimLeft(s, spaceChars), err
}

func joinPieces(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.sp)
		b.WriteString(p.text)
	}
	return b.String()
}

// pieces turns nodes into DuckDB fragments, rewriting functions, literals and names.
func (t *translator) pieces(ns []node) ([]piece, error) {
	var ps []piece
	prim := func(sp, text string) { ps = append(ps, piece{sp: sp, text: text, kind: pPrimary}) }
	lastIs := func(k pieceKind) bool { return len(ps) > 0 && ps[len(ps)-1].kind == k }
	lastKw := func(kws ...string) bool {
		if !lastIs(pKw) {
			return false
		}
		u := strings.ToUpper(ps[len(ps)-1].text)
		for _, k := range kws {
			if u == k {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(ns); {
		n := ns[i]
		switch {
		case n.isGroup("["):
			if lastIs(pPrimary) {
				prev := &ps[len(ps)-1]
				s, err := t.subscript(prev.text, n.kids)
				if err != nil {
					return nil, err
				}
				prev.text = s
			} else {
				inner, err := t.arrayElems(n.kids)
				if err != nil {
					return nil, err
				}
				prim(n.sp, "["+inner+"]")
			}
			i++
			continue
		case n.isGroup("("):
			inner, err := t.seq(n.kids)
			if err != nil {
				return nil, err
			}
			prim(n.sp, "("+inner+n.tail+")")
			i++
			continue
		}
		switch n.tok.kind {
		case tkString:
			s, err := stringLit(n.tok)
			if err != nil {
				return nil, err
			}
			prim(n.sp, s)
			i++
		case tkNumber:
			lit := numberLit(n.tok.text)
			ps = append(ps, piece{sp: n.sp, text: lit, kind: pPrimary, intLit: !strings.HasPrefix(lit, "CAST(")})
			i++
		case tkParam:
			prim(n.sp, t.param(n.tok.val))
			i++
		case tkQMark:
			if t.posN < len(t.pos) {
				prim(n.sp, "CAST(? AS "+t.pos[t.posN]+")")
			} else {
				prim(n.sp, "?")
			}
			t.posN++
			t.stmtPos++
			i++
		case tkSysVar:
			return nil, unsupported("system variable @@%s", n.tok.val)
		case tkQuotedIdent:
			if strings.Contains(n.tok.val, "*") {
				return nil, unsupported("wildcard table %s", n.tok.text)
			}
			// Names cannot contain dots, so `a.b.c` is always a path.
			parts := strings.Split(n.tok.val, ".")
			if err := checkPseudoColumn(n.tok.val); err != nil {
				return nil, err
			}
			if i+1 < len(ns) && ns[i+1].isGroup("(") {
				// A call to a user-defined function: keep it as is.
				inner, err := t.seq(ns[i+1].kids)
				if err != nil {
					return nil, err
				}
				prim(n.sp, quotePath(parts)+"("+inner+")")
				i += 2
				continue
			}
			prim(n.sp, quotePath(parts))
			i++
		case tkOp:
			switch n.tok.text {
			case ".":
				if lastIs(pPrimary) && i+1 < len(ns) && !ns[i+1].group {
					next := ns[i+1]
					prev := &ps[len(ps)-1]
					switch {
					case next.tok.kind == tkIdent:
						if err := checkPseudoColumn(next.tok.text); err != nil {
							return nil, err
						}
						prev.text += "." + next.tok.text
						i += 2
						if i < len(ns) && ns[i].isGroup("(") {
							// A qualified function such as a UDF ds.fn(x): keep it whole.
							inner, err := t.seq(ns[i].kids)
							if err != nil {
								return nil, err
							}
							prev.text += "(" + inner + ")"
							i++
						}
						continue
					case next.tok.kind == tkQuotedIdent:
						prev.text += "." + quoteIdent(next.tok.val)
						i += 2
						continue
					case next.isOp("*"):
						prev.text += ".*"
						prev.kind = pStar
						i += 2
						continue
					}
				}
				return nil, &SyntaxError{Pos: n.tok.pos, Msg: "unexpected '.'"}
			case ",":
				ps = append(ps, piece{sp: n.sp, text: ",", kind: pComma})
			case "*":
				if len(ps) == 0 || lastIs(pComma) || lastKw("SELECT", "DISTINCT", "ALL") {
					ps = append(ps, piece{sp: n.sp, text: "*", kind: pStar})
				} else {
					ps = append(ps, piece{sp: n.sp, text: "*", kind: pOp})
				}
			case ";":
				return nil, &SyntaxError{Pos: n.tok.pos, Msg: "unexpected ';'"}
			default:
				ps = append(ps, piece{sp: n.sp, text: n.tok.text, kind: pOp})
			}
			i++
		case tkIdent:
			out, next, err := t.ident(ns, i, ps)
			if err != nil {
				return nil, err
			}
			ps = out
			i = next
		default:
			return nil, &SyntaxError{Pos: n.tok.pos, Msg: fmt.Sprintf("unexpected %q", n.tok.text)}
		}
	}
	return ps, nil
}

// checkPseudoColumn rejects BigQuery pseudo-columns the emulator does not model.
func checkPseudoColumn(name string) error {
	switch strings.ToUpper(name) {
	case "_PARTITIONTIME", "_PARTITIONDATE", "_TABLE_SUFFIX", "_FILE_NAME":
		return unsupported("pseudo-column %s", name)
	}
	return nil
}

// param renders a named parameter reference.
func (t *translator) param(name string) string {
	name = strings.ToLower(name)
	if !t.seen[name] {
		t.seen[name] = true
		t.params = append(t.params, name)
	}
	if !t.stmtSeen[name] {
		t.stmtSeen[name] = true
		t.stmtParams = append(t.stmtParams, name)
	}
	ref := "$" + name
	if !isPlainName(name) {
		ref = "$" + quoteIdent(name)
	}
	if typ, ok := t.named[name]; ok {
		return "CAST(" + ref + " AS " + typ + ")"
	}
	return ref
}

func isPlainName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// stringLit renders a decoded BigQuery string or bytes literal for DuckDB.
func stringLit(tk token) (string, error) {
	if !tk.bytes {
		if strings.ContainsRune(tk.val, 0) {
			return "", unsupported("NUL character in a string literal")
		}
		return quoteString(tk.val), nil
	}
	var b strings.Builder
	b.WriteString("CAST('")
	for i := 0; i < len(tk.val); i++ {
		c := tk.val[i]
		switch {
		case c == '\'':
			b.WriteString("''")
		case c == '\\' || c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("' AS BLOB)")
	return b.String(), nil
}

// numberLit renders a numeric literal: hex becomes decimal, and literals with a point
// or exponent are FLOAT64 in BigQuery (DuckDB would make 1.5 a DECIMAL).
func numberLit(s string) string {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		if v, err := strconv.ParseUint(s[2:], 16, 64); err == nil {
			return strconv.FormatUint(v, 10)
		}
		return s
	}
	if strings.ContainsAny(s, ".eE") {
		return "CAST(" + s + " AS DOUBLE)"
	}
	return s
}

// subscript rewrites arr[OFFSET(i)], [SAFE_OFFSET(i)], [ORDINAL(i)], [SAFE_ORDINAL(i)]
// and the bare arr[i] (an offset) for DuckDB's 1-based lists.
func (t *translator) subscript(arr string, kids []node) (string, error) {
	if len(kids) == 2 && kids[1].isGroup("(") {
		idx, err := t.arg(kids[1].kids)
		if err != nil {
			return "", err
		}
		switch kids[0].upper() {
		case "OFFSET":
			return "bq_offset(" + arr + ", " + idx + ")", nil
		case "SAFE_OFFSET":
			return "bq_safe_offset(" + arr + ", " + idx + ")", nil
		case "ORDINAL":
			return "bq_offset(" + arr + ", (" + idx + ") - 1)", nil
		case "SAFE_ORDINAL":
			return "bq_safe_offset(" + arr + ", (" + idx + ") - 1)", nil
		}
	}
	idx, err := t.arg(kids)
	if err != nil {
		return "", err
	}
	if len(kids) == 1 && kids[0].tok.kind == tkString {
		return arr + "[" + idx + "]", nil // a field or JSON key
	}
	return "bq_offset(" + arr + ", " + idx + ")", nil
}

// ident handles an identifier at ns[i]: keywords, typed literals, function calls, names.
func (t *translator) ident(ns []node, i int, ps []piece) ([]piece, int, error) {
	n := ns[i]
	u := n.upper()
	next := func(k int) node {
		if i+k < len(ns) {
			return ns[i+k]
		}
		return node{}
	}
	push := func(kind pieceKind, text string) { ps = append(ps, piece{sp: n.sp, text: text, kind: kind}) }
	last := func() piece {
		if len(ps) == 0 {
			return piece{}
		}
		return ps[len(ps)-1]
	}
	if err := checkPseudoColumn(u); err != nil {
		return nil, 0, err
	}

	// Typed literals: DATE '...', TIMESTAMP '...', ...
	if nx := next(1); !nx.group && nx.tok.kind == tkString && typedLiteral[u] {
		lit, err := stringLit(nx.tok)
		if err != nil {
			return nil, 0, err
		}
		switch u {
		case "DATE", "TIME":
			push(pPrimary, u+" "+lit)
			return ps, i + 2, nil
		case "TIMESTAMP":
			push(pPrimary, "TIMESTAMPTZ "+lit)
			return ps, i + 2, nil
		case "DATETIME":
			push(pPrimary, "TIMESTAMP "+lit)
			return ps, i + 2, nil
		case "NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL":
			push(pPrimary, "CAST("+lit+" AS DECIMAL(38,9))")
			return ps, i + 2, nil
		case "JSON":
			push(pPrimary, "CAST("+lit+" AS JSON)")
			return ps, i + 2, nil
		case "RANGE":
			return nil, 0, unsupported("RANGE literal")
		}
	}

	switch u {
	case "SAFE":
		if next(1).isOp(".") && next(2).tok.kind == tkIdent && next(3).isGroup("(") {
			inner, j, err := t.call(ns, i+2)
			if err != nil {
				return nil, 0, err
			}
			push(pPrimary, "try("+inner+")")
			return ps, j, nil
		}
	case "CASE":
		depth := 0
		for j := i + 1; j < len(ns); j++ {
			switch {
			case ns[j].isKw("CASE"):
				depth++
			case ns[j].isKw("END"):
				if depth > 0 {
					depth--
					continue
				}
				inner, err := t.seq(ns[i+1 : j])
				if err != nil {
					return nil, 0, err
				}
				push(pPrimary, "CASE"+inner+ns[j].sp+"END")
				return ps, j + 1, nil
			}
		}
		return nil, 0, &SyntaxError{Pos: n.tok.pos, Msg: "CASE without END"}
	case "INTERVAL":
		s, j, err := t.interval(ns, i)
		if err != nil {
			return nil, 0, err
		}
		push(pPrimary, s)
		return ps, j, nil
	case "ARRAY":
		switch nx := next(1); {
		case nx.isOp("<"):
			typ, j, err := parseType(ns, i)
			if err != nil {
				return nil, 0, err
			}
			if j < len(ns) && ns[j].isGroup("[") {
				inner, err := t.arrayElems(ns[j].kids)
				if err != nil {
					return nil, 0, err
				}
				push(pPrimary, "CAST(["+inner+"] AS "+typ+")")
				return ps, j + 1, nil
			}
			return nil, 0, &SyntaxError{Pos: n.tok.pos, Msg: "ARRAY<type> must be followed by [elements]"}
		case nx.isGroup("["):
			inner, err := t.arrayElems(nx.kids)
			if err != nil {
				return nil, 0, err
			}
			push(pPrimary, "["+inner+"]")
			return ps, i + 2, nil
		case nx.isGroup("("):
			inner, err := t.seq(nx.kids)
			if err != nil {
				return nil, 0, err
			}
			push(pPrimary, "ARRAY("+inner+nx.tail+")")
			return ps, i + 2, nil
		}
	case "STRUCT":
		if next(1).isOp("<") {
			typ, j, err := parseType(ns, i)
			if err != nil {
				return nil, 0, err
			}
			if j < len(ns) && ns[j].isGroup("(") {
				s, err := t.structLit(ns[j].kids, typ)
				if err != nil {
					return nil, 0, err
				}
				push(pPrimary, s)
				return ps, j + 1, nil
			}
			return nil, 0, &SyntaxError{Pos: n.tok.pos, Msg: "STRUCT<type> must be followed by (values)"}
		}
		if next(1).isGroup("(") {
			s, err := t.structLit(next(1).kids, "")
			if err != nil {
				return nil, 0, err
			}
			push(pPrimary, s)
			return ps, i + 2, nil
		}
	case "IN":
		if next(1).isKw("UNNEST") && next(2).isGroup("(") {
			inner, err := t.arg(next(2).kids)
			if err != nil {
				return nil, 0, err
			}
			push(pKw, "IN (SELECT UNNEST("+inner+"))")
			return ps, i + 3, nil
		}
	case "EXCEPT":
		if last().kind == pStar && next(1).isGroup("(") {
			inner, err := t.seq(next(1).kids)
			if err != nil {
				return nil, 0, err
			}
			push(pKw, "EXCLUDE ("+inner+")")
			return ps, i + 2, nil
		}
	case "SELECT":
		if next(1).isKw("AS") {
			// SELECT AS STRUCT a, b AS c FROM ... selects one struct column; SELECT AS
			// VALUE x selects x.
			end := i + 3
			for end < len(ns) && !ns[end].isKw("FROM") && !ns[end].isKw("UNION") && !ns[end].isKw("EXCEPT") &&
				!ns[end].isKw("INTERSECT") && !ns[end].isKw("ORDER") && !ns[end].isKw("LIMIT") {
				end++
			}
			if end == i+3 {
				return nil, 0, &SyntaxError{Pos: n.tok.pos, Msg: "SELECT AS needs a select list"}
			}
			var s string
			var err error
			switch next(2).upper() {
			case "STRUCT":
				s, err = t.structLit(ns[i+3:end], "")
			case "VALUE":
				s, err = t.arg(ns[i+3 : end])
			default:
				return nil, 0, unsupported("SELECT AS %s", next(2).tok.text)
			}
			if err != nil {
				return nil, 0, err
			}
			push(pKw, n.tok.text+" "+s)
			return ps, end, nil
		}
	case "FOR":
		if next(1).isKw("SYSTEM_TIME") || next(1).isKw("SYSTEM") {
			return nil, 0, unsupported("FOR SYSTEM_TIME AS OF (time travel)")
		}
	case "TABLESAMPLE":
		return nil, 0, unsupported("TABLESAMPLE")
	case "PIVOT", "UNPIVOT":
		if next(1).isGroup("(") {
			return nil, 0, unsupported("%s (BigQuery and DuckDB syntax differ)", u)
		}
	case "WITH":
		if next(1).isKw("OFFSET") {
			return nil, 0, unsupported("WITH OFFSET outside UNNEST(...) AS alias WITH OFFSET")
		}
	case "ROW":
		if t.inMerge && last().kind == pKw && strings.EqualFold(last().text, "INSERT") {
			push(pKw, "*")
			return ps, i + 1, nil
		}
	case "LIKE":
		// BigQuery LIKE patterns escape with a backslash; DuckDB needs ESCAPE for that.
		if nx := next(1); !nx.group && nx.tok.kind == tkString && strings.Contains(nx.tok.val, `\`) {
			lit, err := stringLit(nx.tok)
			if err != nil {
				return nil, 0, err
			}
			push(pKw, n.tok.text)
			ps = append(ps, piece{sp: nx.sp, text: lit + ` ESCAPE '\'`, kind: pPrimary})
			return ps, i + 2, nil
		}
	case "TRUE", "FALSE", "NULL":
		push(pPrimary, n.tok.text)
		return ps, i + 1, nil
	case "COLLATE":
		return nil, 0, unsupported("COLLATE")
	}

	// Table paths after FROM/JOIN may carry an unquoted dashed project id.
	if len(ps) > 0 && ps[len(ps)-1].kind == pKw && next(1).isOp("-") && next(1).sp == "" && next(2).sp == "" && dashedPath(ns, i) {
		switch strings.ToUpper(last().text) {
		case "FROM", "JOIN", "INTO", "UPDATE", "MERGE", "TABLE", "USING":
			path, j, err := tablePath(ns, i)
			if err != nil {
				return nil, 0, err
			}
			push(pPrimary, quotePath(path))
			return ps, j, nil
		}
	}

	if next(1).isGroup("(") && (!keywords[u] || callableKeywords[u]) &&
		!(last().kind == pOp && last().text == ".") {
		s, j, err := t.call(ns, i)
		if err != nil {
			return nil, 0, err
		}
		prev := last()
		inFrom := prev.kind == pComma || (prev.kind == pKw && (strings.EqualFold(prev.text, "FROM") || strings.EqualFold(prev.text, "JOIN")))
		isUnnest := u == "UNNEST" && inFrom
		ps = append(ps, piece{sp: n.sp, text: s, kind: pPrimary})
		if isUnnest {
			return t.unnestAlias(ns, j, ps)
		}
		return ps, j, nil
	}
	if keywords[u] {
		push(pKw, n.tok.text)
		return ps, i + 1, nil
	}
	if implicitAlias(ps, u, next(1)) {
		push(pPrimary, quoteIdent(n.tok.text))
		return ps, i + 1, nil
	}
	if duckReserved[u] {
		push(pPrimary, quoteIdent(n.tok.text)) // a plain name in BigQuery, reserved in DuckDB
		return ps, i + 1, nil
	}
	push(pPrimary, n.tok.text)
	return ps, i + 1, nil
}

// implicitAlias reports whether a name (upper-cased u, followed by next) that is not a
// BigQuery keyword follows a complete operand, which makes it an alias given without AS:
// SELECT EXTRACT(YEAR FROM d) year, FROM games g. DuckDB reads only plain identifiers in
// that place, none of its keywords (YEAR, MONTH, VALUE, TYPE, KEY, NAMES, ROW, ...), so the
// translation always quotes such an alias; quoting changes nothing else, as DuckDB matches
// quoted names case-insensitively too. ZONE in AT TIME ZONE is the one word after an
// operand that is neither a keyword nor an alias.
func implicitAlias(ps []piece, u string, next node) bool {
	if len(ps) == 0 || ps[len(ps)-1].kind != pPrimary || next.isOp(".") || next.isGroup("(") {
		return false
	}
	return !(u == "ZONE" && strings.EqualFold(ps[len(ps)-1].text, "TIME"))
}

// duckReserved are DuckDB reserved words (and the type and function names it reserves) that
// BigQuery allows as plain names; as names they are quoted.
var duckReserved = wordSet(`ANALYSE ANALYZE ASYMMETRIC BOTH CHECK COLUMN CONSTRAINT DEFERRABLE DESCRIBE DO
	FOREIGN GRANT INITIALLY LEADING ONLY PLACING PRIMARY REFERENCES RETURNING SHOW SUMMARIZE SYMMETRIC
	TRAILING UNIQUE VARIADIC PIVOT_LONGER PIVOT_WIDER LAMBDA
	ANTI ASOF AUTHORIZATION BINARY COLLATION CONCURRENTLY FREEZE GLOB ILIKE ISNULL NOTNULL OVERLAPS
	POSITIONAL SEMI SIMILAR TRY_CAST UNPACK VERBOSE PIVOT UNPIVOT`)

// dashedPath reports whether ns[i] starts an unquoted project id with dashes followed by
// a dot, as in my-project.dataset.table.
func dashedPath(ns []node, i int) bool {
	j := i + 1
	for j+1 < len(ns) && ns[j].isOp("-") && ns[j].sp == "" && ns[j+1].sp == "" && !ns[j+1].group &&
		(ns[j+1].tok.kind == tkIdent || ns[j+1].tok.kind == tkNumber) {
		j += 2
	}
	return j > i+1 && j < len(ns) && ns[j].isOp(".")
}

// typedLiteral are the type names that may prefix a string literal.
var typedLiteral = wordSet("DATE TIME TIMESTAMP DATETIME NUMERIC BIGNUMERIC DECIMAL BIGDECIMAL JSON RANGE")

// callableKeywords are keywords that may also be followed by an argument list.
var callableKeywords = map[string]bool{"LEFT": true, "RIGHT": true, "REPLACE": true, "GROUPING": true}

// unnestAlias rewrites `UNNEST(e) [AS] x [WITH OFFSET [AS] o]`, which follows ps's last
// piece, so that x is the element rather than a one-field struct.
func (t *translator) unnestAlias(ns []node, i int, ps []piece) ([]piece, int, error) {
	u := &ps[len(ps)-1]
	j := i
	if j < len(ns) && ns[j].isKw("AS") {
		j++
	}
	if j >= len(ns) || ns[j].group || (ns[j].tok.kind != tkIdent && ns[j].tok.kind != tkQuotedIdent) ||
		(ns[j].tok.kind == tkIdent && keywords[ns[j].upper()]) {
		if j < len(ns) && ns[j].isKw("WITH") && j+1 < len(ns) && ns[j+1].isKw("OFFSET") {
			return nil, 0, unsupported("UNNEST ... WITH OFFSET without an element alias")
		}
		// Without an alias BigQuery makes the fields of struct elements columns.
		arr := strings.TrimSuffix(strings.TrimPrefix(u.text, "UNNEST("), ")")
		t.unnestN++
		u.text = fmt.Sprintf("(SELECT UNNEST(%s, max_depth := 1, recursive := true)) AS _bq_unnest%d", arr, t.unnestN)
		return ps, i, nil
	}
	alias := quoteIdent(identName(ns[j]))
	j++
	t.unnestN++
	tab := fmt.Sprintf("_bq_unnest%d", t.unnestN)
	if j+1 < len(ns) && ns[j].isKw("WITH") && ns[j+1].isKw("OFFSET") {
		j += 2
		off := `"offset"`
		if j < len(ns) && ns[j].isKw("AS") {
			j++
		}
		if j < len(ns) && !ns[j].group && (ns[j].tok.kind == tkQuotedIdent || (ns[j].tok.kind == tkIdent && !keywords[ns[j].upper()])) {
			off = quoteIdent(identName(ns[j]))
			j++
		}
		arr := strings.TrimSuffix(strings.TrimPrefix(u.text, "UNNEST("), ")")
		u.text = "(SELECT UNNEST(" + arr + ") AS " + alias + ", UNNEST(range(len(" + arr + "))) AS " + off + ") AS " + tab
		return ps, j, nil
	}
	u.text += " AS " + tab + "(" + alias + ")"
	// BigQuery allows [LEFT] JOIN UNNEST(...) without ON; DuckDB needs one.
	if k := len(ps) - 2; k >= 0 && ps[k].kind == pKw && strings.EqualFold(ps[k].text, "JOIN") &&
		!(k > 0 && ps[k-1].kind == pKw && strings.EqualFold(ps[k-1].text, "CROSS")) &&
		(j >= len(ns) || (!ns[j].isKw("ON") && !ns[j].isKw("USING"))) {
		u.text += " ON TRUE"
	}
	return ps, j, nil
}

// interval translates INTERVAL expr PART at ns[i].
func (t *translator) interval(ns []node, i int) (string, int, error) {
	for j := i + 1; j < len(ns); j++ {
		u := ns[j].upper()
		if _, ok := dateParts[u]; ok && j > i+1 && u != "ISOWEEK" && u != "ISOYEAR" {
			if j+1 < len(ns) && ns[j+1].isKw("TO") {
				return "", 0, unsupported("INTERVAL ... %s TO ... ranges", u)
			}
			expr := ns[i+1 : j]
			if len(expr) == 1 && (expr[0].tok.kind == tkString || expr[0].tok.kind == tkNumber) && !expr[0].group {
				s, err := t.arg(expr)
				return "INTERVAL " + s + " " + u, j + 1, err
			}
			s, err := t.arg(expr)
			return "INTERVAL (" + s + ") " + u, j + 1, err
		}
		if ns[j].isOp(",") || (keywords[u] && u != "") {
			break
		}
	}
	return "", 0, &SyntaxError{Pos: ns[i].tok.pos, Msg: "INTERVAL needs a value and a date part, e.g. INTERVAL 1 DAY"}
}

// arrayElems translates the elements of an array literal. Anonymous STRUCTs after the
// first element become unnamed DuckDB structs, which take the first element's field
// names by position as in BigQuery.
func (t *translator) arrayElems(ns []node) (string, error) {
	var out []string
	for k, e := range splitArgs(ns) {
		if k == 1 {
			t.anonRow++
			defer func() { t.anonRow-- }()
		}
		s, err := t.seq(e)
		if err != nil {
			return "", err
		}
		out = append(out, s)
	}
	return strings.Join(out, ","), nil
}

// structLit translates STRUCT(e [AS n], ...) or STRUCT<type>(e, ...).
func (t *translator) structLit(kids []node, typ string) (string, error) {
	args := splitArgs(kids)
	if len(args) == 0 {
		return "", unsupported("empty STRUCT()")
	}
	var fields, values []string
	named := false
	for k, a := range args {
		name := fmt.Sprintf("_field_%d", k+1)
		if as := lastTopKw(a, "AS"); as >= 0 && as == len(a)-2 {
			name = identName(a[len(a)-1])
			a = a[:as]
			named = true
		} else if len(a) > 0 && !a[len(a)-1].group && (a[len(a)-1].tok.kind == tkIdent || a[len(a)-1].tok.kind == tkQuotedIdent) &&
			!keywords[a[len(a)-1].upper()] && (len(a) == 1 || a[len(a)-2].isOp(".")) {
			name = identName(a[len(a)-1]) // STRUCT(x) names the field x
			named = true
		}
		v, err := t.arg(a)
		if err != nil {
			return "", err
		}
		fields = append(fields, quoteIdent(name)+" := "+v)
		values = append(values, v)
	}
	switch {
	case typ != "":
		// Positional assignment to the declared fields.
		return "CAST(row(" + strings.Join(values, ", ") + ") AS " + typ + ")", nil
	case !named && t.anonRow > 0:
		// Anonymous fields in an array or an INSERT: an unnamed DuckDB struct, which
		// coerces by position as in BigQuery ([STRUCT('a' AS name), STRUCT('b')]).
		return "row(" + strings.Join(values, ", ") + ")", nil
	}
	return "struct_pack(" + strings.Join(fields, ", ") + ")", nil
}

// lastTopKw returns the index of the last top-level keyword kw in ns, or -1.
func lastTopKw(ns []node, kw string) int {
	for i := len(ns) - 1; i >= 0; i-- {
		if ns[i].isKw(kw) {
			return i
		}
	}
	return -1
}

// int64Pass makes integer literals BIGINT where an arithmetic operator joins two of
// them, so that literal arithmetic is 64-bit as in BigQuery (DuckDB types
// 2147483647 + 1 as INTEGER and overflows). A literal next to anything else keeps its
// type, so that d - 1 on a DATE and ORDER BY 1 still work.
func int64Pass(ps []piece) []piece {
	isArith := func(p piece) bool {
		if p.kind != pOp {
			return false
		}
		switch p.text {
		case "+", "-", "*", "/", "%":
			return true
		}
		return false
	}
	cast := make([]bool, len(ps))
	for k := range ps {
		if !isArith(ps[k]) || k == 0 || !ps[k-1].intLit {
			continue
		}
		r := k + 1
		for r < len(ps) && ps[r].kind == pOp && (ps[r].text == "-" || ps[r].text == "+") {
			r++ // unary signs
		}
		if r < len(ps) && ps[r].intLit {
			cast[k-1], cast[r] = true, true
		}
	}
	for k := range ps {
		if cast[k] {
			ps[k].text = "CAST(" + ps[k].text + " AS BIGINT)"
			ps[k].intLit = false
		}
	}
	return ps
}

// divPass rewrites a / b as bq_div(a, b) so that division by zero is an error as in
// BigQuery (DuckDB returns +Inf or NULL). Operands follow BigQuery precedence: * / %
// bind tighter than + - and everything else.
func divPass(ps []piece) []piece {
	isUnaryAt := func(k int) bool {
		return ps[k].kind == pOp && (ps[k].text == "-" || ps[k].text == "+" || ps[k].text == "~") &&
			(k == 0 || ps[k-1].kind != pPrimary)
	}
	for i := 0; i < len(ps); i++ {
		if ps[i].kind != pOp || ps[i].text != "/" {
			continue
		}
		l := i - 1
		if l < 0 || ps[l].kind != pPrimary {
			continue
		}
		for l > 0 {
			switch {
			case isUnaryAt(l - 1):
				l--
				continue
			case l >= 2 && ps[l-1].kind == pOp && (ps[l-1].text == "*" || ps[l-1].text == "%") && ps[l-2].kind == pPrimary:
				l -= 2
				continue
			}
			break
		}
		r := i + 1
		for r < len(ps) && isUnaryAt(r) {
			r++
		}
		if r >= len(ps) || ps[r].kind != pPrimary {
			continue
		}
		left := strings.TrimLeft(joinPieces(ps[l:i]), spaceChars)
		right := strings.TrimLeft(joinPieces(ps[i+1:r+1]), spaceChars)
		merged := piece{sp: ps[l].sp, text: "bq_div(" + left + ", " + right + ")", kind: pPrimary}
		ps = append(ps[:l], append([]piece{merged}, ps[r+1:]...)...)
		i = l
	}
	return ps
}
