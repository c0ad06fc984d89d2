package bqsql

import (
	"errors"
	"fmt"
	"strings"
)

// Statement is one BigQuery statement rewritten for DuckDB, with what the server needs to
// run it and to report it like BigQuery.
type Statement struct {
	// SQL is the DuckDB SQL. Named parameters appear as $name (lower case), positional
	// ones as ?. Compatibility macros (bq_*) need Setup and a search_path that includes
	// memory.main.
	SQL string
	// Kind is the BigQuery statementType: SELECT, INSERT, UPDATE, DELETE, MERGE,
	// TRUNCATE_TABLE, CREATE_TABLE, CREATE_TABLE_AS_SELECT, CREATE_VIEW, CREATE_SCHEMA,
	// DROP_TABLE, DROP_VIEW, DROP_SCHEMA, ALTER_TABLE, BEGIN_TRANSACTION,
	// COMMIT_TRANSACTION, ROLLBACK_TRANSACTION or SCRIPT.
	Kind string
	// Params lists the named parameters referenced, lower-cased (BigQuery matches names
	// case-insensitively), in order of first appearance. Bind them with
	// sql.Named(lowercase name, value). A SCRIPT lists those of all its parts, and each
	// part those it references itself.
	Params []string
	// Positional is the number of ? placeholders.
	Positional int
	// Target is the table, view or dataset the statement writes or defines, as the path
	// parts written in the SQL (1 to 3 parts); nil for SELECT.
	Target []string
	// DDL describes CREATE TABLE/VIEW/SCHEMA and DROP statements; nil otherwise.
	DDL *DDL
	// Reads are the tables the statement reads, as path parts written (FROM, JOIN, a
	// MERGE's USING; names of its WITH clauses left out). Targets of DML and DDL are not
	// reads. A SCRIPT leaves it to its parts.
	Reads [][]string
	// FilterNames holds the lower-cased names that appear anywhere in the statement's
	// WHERE, ON and QUALIFY conditions, so the server can tell whether a table's
	// partitioning column is filtered on (a token-level approximation, see scanReads).
	FilterNames map[string]bool
	// Statements holds the parts of a SCRIPT (several statements separated by ';').
	// SQL then holds all of them joined, but the parts are meant to run one by one on
	// the same connection.
	Statements []*Statement
}

// DDL is what a CREATE or DROP statement says that DuckDB does not store: BigQuery
// partitioning, clustering and options, which the server keeps as table metadata.
type DDL struct {
	Name        []string // target path parts as written, e.g. ["proj", "ds", "t"]
	OrReplace   bool
	IfNotExists bool // IF NOT EXISTS for CREATE, IF EXISTS for DROP
	Temp        bool
	// PartitionBy is the PARTITION BY expression as written in BigQuery SQL ("" if none).
	PartitionBy string
	// PartitionField and PartitionType describe time partitioning: the column and DAY,
	// HOUR, MONTH or YEAR.
	PartitionField string
	PartitionType  string
	ClusterBy      []string
	// Options holds OPTIONS(name=value): keys lower-cased, string values decoded, other
	// values as BigQuery text (e.g. "3", "true", `[("k", "v")]`).
	Options map[string]string
	// ColumnOptions holds OPTIONS(...) of each column (e.g. description), keyed by column.
	ColumnOptions map[string]map[string]string
}

// UnsupportedError reports a BigQuery construct the emulator does not translate, so that
// the caller fails loudly (400 invalidQuery) instead of returning different results.
type UnsupportedError struct {
	Construct string
}

func (e *UnsupportedError) Error() string {
	return "unsupported BigQuery construct in the emulator: " + e.Construct
}

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Construct: fmt.Sprintf(format, args...)}
}

// ParamTypes declares query parameter types so that every reference is emitted as
// CAST($name AS type), which types NULLs and string-encoded values the way BigQuery
// does. Types are DuckDB types (see DuckDBType); names are matched case-insensitively.
type ParamTypes struct {
	Named      map[string]string
	Positional []string
}

// Translate turns one BigQuery Standard SQL statement (or a script of statements
// separated by ';') into DuckDB SQL. Errors are *SyntaxError or *UnsupportedError.
func Translate(sql string) (*Statement, error) {
	return TranslateWithParams(sql, ParamTypes{})
}

// TranslateWithParams is Translate with declared parameter types, which it turns into
// casts at each reference.
func TranslateWithParams(sql string, pt ParamTypes) (st *Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("bigquery sql translation failed: %v: %w", r, errInternal)
		}
		var se *SyntaxError
		if errors.As(err, &se) {
			se.locate(sql)
		}
	}()
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	t := &translator{named: map[string]string{}, seen: map[string]bool{}, pos: pt.Positional}
	for k, v := range pt.Named {
		t.named[strings.ToLower(k)] = v
	}
	var parts [][]token
	depth, start := 0, 0
	for i, tk := range toks {
		if tk.kind != tkOp {
			continue
		}
		switch tk.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ";":
			if depth == 0 {
				parts = append(parts, toks[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, toks[start:])
	var stmts []*Statement
	for _, p := range parts {
		ns, err := buildTree(p)
		if err != nil {
			return nil, err
		}
		if len(ns) == 0 {
			continue
		}
		t.stmtParams, t.stmtSeen, t.stmtPos = nil, map[string]bool{}, 0
		s, err := t.statement(ns)
		if err != nil {
			return nil, err
		}
		s.Params, s.Positional = t.stmtParams, t.stmtPos
		scanReads(ns, s)
		stmts = append(stmts, s)
	}
	if len(stmts) == 0 {
		return nil, &SyntaxError{Msg: "empty query"}
	}
	if len(t.params) > 0 && t.posN > 0 {
		return nil, &SyntaxError{Msg: "query mixes named (@name) and positional (?) parameters; use one kind"}
	}
	if len(stmts) == 1 {
		return stmts[0], nil
	}
	var sqls []string
	for _, s := range stmts {
		sqls = append(sqls, s.SQL)
	}
	return &Statement{SQL: strings.Join(sqls, ";\n"), Kind: "SCRIPT", Params: t.params, Positional: t.posN, Statements: stmts}, nil
}

// errInternal marks a translator bug caught by recover; callers treat it like bad SQL.
var errInternal = errors.New("internal translator error")

// translator carries per-query state across the statements of a script.
type translator struct {
	named   map[string]string // declared named parameter types (lower-case keys)
	pos     []string          // declared positional parameter types
	posN    int               // positional parameters seen
	params  []string
	seen    map[string]bool
	unnestN int
	inMerge bool
	anonRow int // > 0 where anonymous STRUCTs should coerce by position
	depth   int // seq recursion depth
	// The parameters of the statement being translated (a script has several).
	stmtParams []string
	stmtSeen   map[string]bool
	stmtPos    int
}

// scripting keywords that start a statement BigQuery runs as procedural code.
var scripting = map[string]bool{"DECLARE": true, "SET": true, "IF": true, "LOOP": true, "WHILE": true,
	"REPEAT": true, "FOR": true, "CALL": true, "EXECUTE": true, "RAISE": true, "RETURN": true, "BREAK": true,
	"LEAVE": true, "CONTINUE": true, "ITERATE": true, "CASE": true}

// otherStatements are BigQuery statements the translator knows it does not run, by first word.
var otherStatements = map[string]string{
	"EXPORT": "EXPORT DATA", "LOAD": "LOAD DATA", "GRANT": "GRANT", "REVOKE": "REVOKE",
	"ASSERT": "ASSERT", "UNDROP": "UNDROP SCHEMA", "FROM": "pipe syntax (a query that starts with FROM)",
}

// unexpected is the syntax error of a statement that cannot start with n, worded as
// BigQuery words it: Unexpected identifier "SELEC", Unexpected keyword WHERE.
func unexpected(n node) *SyntaxError {
	what := fmt.Sprintf("%q", n.tok.text)
	switch n.tok.kind {
	case tkIdent:
		if keywords[n.upper()] {
			what = "keyword " + n.upper()
		} else {
			what = fmt.Sprintf("identifier %q", n.tok.text)
		}
	case tkQuotedIdent:
		what = "identifier " + n.tok.text
	case tkString:
		what = "string literal " + n.tok.text
	case tkNumber:
		if strings.ContainsAny(n.tok.text, ".eE") && !strings.HasPrefix(strings.ToLower(n.tok.text), "0x") {
			what = "floating point literal " + fmt.Sprintf("%q", n.tok.text)
		} else {
			what = "integer literal " + fmt.Sprintf("%q", n.tok.text)
		}
	}
	return &SyntaxError{Pos: n.tok.pos, Msg: "Unexpected " + what}
}

func (t *translator) statement(ns []node) (*Statement, error) {
	first := ns[0].upper()
	if ns[0].isGroup("(") {
		first = "SELECT"
	}
	st := &Statement{}
	var err error
	switch first {
	case "SELECT", "WITH":
		st.Kind = "SELECT"
		st.SQL, err = t.seq(nameAnonymousColumns(ns))
	case "INSERT":
		st.Kind = "INSERT"
		t.anonRow++
		st.SQL, st.Target, err = t.dml(ns, "INTO")
		t.anonRow--
	case "DELETE":
		st.Kind = "DELETE"
		st.SQL, st.Target, err = t.dml(ns, "FROM")
	case "MERGE":
		st.Kind = "MERGE"
		t.inMerge = true
		t.anonRow++
		st.SQL, st.Target, err = t.dml(ns, "INTO")
		t.anonRow--
		t.inMerge = false
	case "UPDATE":
		st.Kind = "UPDATE"
		st.SQL, st.Target, err = t.dml(ns, "")
	case "TRUNCATE":
		if len(ns) < 2 || !ns[1].isKw("TABLE") {
			return nil, &SyntaxError{Pos: ns[0].tok.pos, Msg: "expected TRUNCATE TABLE"}
		}
		st.Kind = "TRUNCATE_TABLE"
		var rest int
		st.Target, rest, err = tablePath(ns, 2)
		if err == nil && rest != len(ns) {
			err = &SyntaxError{Pos: ns[rest].tok.pos, Msg: "unexpected text after TRUNCATE TABLE name"}
		}
		st.SQL = "TRUNCATE TABLE " + quotePath(st.Target)
	case "CREATE":
		err = t.create(ns, st)
	case "DROP":
		err = t.drop(ns, st)
	case "ALTER":
		err = t.alter(ns, st)
	case "BEGIN":
		if len(ns) == 1 || (len(ns) == 2 && ns[1].isKw("TRANSACTION")) {
			st.Kind, st.SQL = "BEGIN_TRANSACTION", "BEGIN TRANSACTION"
			break
		}
		return nil, unsupported("scripting block BEGIN ... END")
	case "COMMIT", "ROLLBACK":
		if len(ns) == 1 || (len(ns) == 2 && ns[1].isKw("TRANSACTION")) {
			st.Kind, st.SQL = first+"_TRANSACTION", first
			break
		}
		return nil, &SyntaxError{Pos: ns[0].tok.pos, Msg: "expected " + first + " [TRANSACTION]"}
	default:
		if scripting[first] {
			return nil, unsupported("scripting statement %s", first)
		}
		if other, ok := otherStatements[first]; ok {
			return nil, unsupported("%s", other)
		}
		return nil, unexpected(ns[0])
	}
	if err != nil {
		return nil, err
	}
	st.SQL = strings.TrimSpace(st.SQL)
	if st.Target != nil && st.DDL != nil {
		st.DDL.Name = st.Target
	}
	return st, nil
}

// dml handles INSERT/DELETE/MERGE (adding the INTO/FROM that BigQuery lets you omit) and
// UPDATE, returning the SQL and the target table path.
func (t *translator) dml(ns []node, word string) (string, []string, error) {
	i := 1
	if word != "" && i < len(ns) && ns[i].isKw(word) {
		i++
	}
	target, j, err := tablePath(ns, i)
	if err != nil {
		return "", nil, err
	}
	rest, err := t.seq(ns[j:])
	if err != nil {
		return "", nil, err
	}
	head := strings.ToUpper(ns[0].tok.text)
	if word != "" {
		head += " " + word
	}
	return head + " " + quotePath(target) + rest, target, nil
}

// tablePath parses a table path at ns[i]: `p.d.t`, p.d.t, `p`.d.t, or my-project.d.t.
func tablePath(ns []node, i int) ([]string, int, error) {
	var parts []string
	for {
		if i >= len(ns) {
			return nil, i, &SyntaxError{Msg: "missing table name"}
		}
		n := ns[i]
		switch {
		case n.group:
			return nil, i, &SyntaxError{Pos: n.tok.pos, Msg: "expected a table name"}
		case n.tok.kind == tkQuotedIdent:
			if strings.Contains(n.tok.val, "*") {
				return nil, i, unsupported("wildcard table %s", n.tok.text)
			}
			for _, p := range strings.Split(n.tok.val, ".") {
				if p == "" {
					return nil, i, &SyntaxError{Pos: n.tok.pos, Msg: "empty name part in " + n.tok.text}
				}
				parts = append(parts, p)
			}
			i++
		case n.tok.kind == tkIdent:
			name := n.tok.text
			i++
			// Project ids may contain dashes unquoted: my-project.ds.t.
			for len(parts) == 0 && i+1 < len(ns) && ns[i].isOp("-") && ns[i].sp == "" && ns[i+1].sp == "" &&
				(ns[i+1].tok.kind == tkIdent || ns[i+1].tok.kind == tkNumber) && !ns[i+1].group {
				name += "-" + ns[i+1].tok.text
				i += 2
			}
			parts = append(parts, name)
		default:
			return nil, i, &SyntaxError{Pos: n.tok.pos, Msg: fmt.Sprintf("expected a table name, got %q", n.tok.text)}
		}
		if i < len(ns) && ns[i].isOp(".") {
			i++
			continue
		}
		if len(parts) > 3 {
			return nil, i, &SyntaxError{Pos: ns[0].tok.pos, Msg: "a table path has at most 3 parts: " + strings.Join(parts, ".")}
		}
		if i < len(ns) && ns[i].isOp("*") {
			return nil, i, unsupported("wildcard table")
		}
		return parts, i, nil
	}
}

// quotePath renders path parts as quoted DuckDB identifiers.
func quotePath(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = quoteIdent(p)
	}
	return strings.Join(q, ".")
}

// srcText renders nodes back to their BigQuery source text (normalized spacing).
func srcText(ns []node) string {
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			b.WriteString(n.sp)
		}
		b.WriteString(n.tok.text)
		if n.group {
			b.WriteString(srcText(n.kids))
			b.WriteString(closing[n.tok.text])
		}
	}
	return b.String()
}

// create handles CREATE TABLE/VIEW/SCHEMA.
func (t *translator) create(ns []node, st *Statement) error {
	d := &DDL{}
	st.DDL = d
	i := 1
	if i+1 < len(ns) && ns[i].isKw("OR") && ns[i+1].isKw("REPLACE") {
		d.OrReplace = true
		i += 2
	}
	if i < len(ns) && (ns[i].isKw("TEMP") || ns[i].isKw("TEMPORARY")) {
		d.Temp = true
		i++
	}
	if i >= len(ns) {
		return &SyntaxError{Pos: ns[0].tok.pos, Msg: "incomplete CREATE statement"}
	}
	what := ns[i].upper()
	switch what {
	case "TABLE", "VIEW", "SCHEMA":
	case "MATERIALIZED", "EXTERNAL", "SNAPSHOT", "FUNCTION", "PROCEDURE", "ROW", "SEARCH", "VECTOR", "MODEL", "AGGREGATE":
		return unsupported("CREATE %s", ns[i].tok.text)
	default:
		return unsupported("CREATE %s", ns[i].tok.text)
	}
	i++
	if i+2 < len(ns) && ns[i].isKw("IF") && ns[i+1].isKw("NOT") && ns[i+2].isKw("EXISTS") {
		d.IfNotExists = true
		i += 3
	}
	name, i, err := tablePath(ns, i)
	if err != nil {
		return err
	}
	st.Target = name
	var b strings.Builder
	b.WriteString("CREATE ")
	if d.OrReplace {
		b.WriteString("OR REPLACE ")
	}
	if d.Temp {
		b.WriteString("TEMP ")
	}
	b.WriteString(what + " ")
	if d.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(quotePath(name))

	if what == "SCHEMA" {
		st.Kind = "CREATE_SCHEMA"
		if len(name) > 2 {
			return &SyntaxError{Pos: ns[0].tok.pos, Msg: "a schema name has at most 2 parts"}
		}
		for i < len(ns) {
			switch {
			case ns[i].isKw("OPTIONS") && i+1 < len(ns) && ns[i+1].isGroup("("):
				if d.Options, err = parseOptions(ns[i+1].kids); err != nil {
					return err
				}
				i += 2
			case ns[i].isKw("DEFAULT") && i+1 < len(ns) && ns[i+1].isKw("COLLATE"):
				return unsupported("DEFAULT COLLATE")
			default:
				return &SyntaxError{Pos: ns[i].tok.pos, Msg: fmt.Sprintf("unexpected %q in CREATE SCHEMA", ns[i].tok.text)}
			}
		}
		st.SQL = b.String()
		return nil
	}

	var cols string
	if i < len(ns) && ns[i].isGroup("(") {
		if what == "VIEW" {
			cols, err = t.seq(ns[i].kids)
		} else {
			cols, err = t.columnDefs(ns[i].kids, d)
		}
		if err != nil {
			return err
		}
		b.WriteString(" (" + strings.TrimSpace(cols) + ")")
		i++
	}
	if i < len(ns) && (ns[i].isKw("LIKE") || ns[i].isKw("COPY") || ns[i].isKw("CLONE")) {
		return unsupported("CREATE TABLE ... %s", strings.ToUpper(ns[i].tok.text))
	}
	// Clauses before AS: PARTITION BY, CLUSTER BY, OPTIONS, DEFAULT COLLATE.
	for i < len(ns) && !ns[i].isKw("AS") {
		switch {
		case ns[i].isKw("PARTITION") && i+1 < len(ns) && ns[i+1].isKw("BY"):
			j := i + 2
			for j < len(ns) && !ns[j].isKw("CLUSTER") && !ns[j].isKw("OPTIONS") && !ns[j].isKw("AS") {
				j++
			}
			if err := parsePartition(ns[i+2:j], d); err != nil {
				return err
			}
			i = j
		case ns[i].isKw("CLUSTER") && i+1 < len(ns) && ns[i+1].isKw("BY"):
			j := i + 2
			for j < len(ns) && !ns[j].isKw("PARTITION") && !ns[j].isKw("OPTIONS") && !ns[j].isKw("AS") {
				j++
			}
			for _, c := range splitArgs(ns[i+2 : j]) {
				if len(c) != 1 || c[0].group || (c[0].tok.kind != tkIdent && c[0].tok.kind != tkQuotedIdent) {
					return &SyntaxError{Pos: ns[i].tok.pos, Msg: "CLUSTER BY takes column names"}
				}
				d.ClusterBy = append(d.ClusterBy, identName(c[0]))
			}
			i = j
		case ns[i].isKw("OPTIONS") && i+1 < len(ns) && ns[i+1].isGroup("("):
			if d.Options, err = parseOptions(ns[i+1].kids); err != nil {
				return err
			}
			i += 2
		case ns[i].isKw("DEFAULT") && i+1 < len(ns) && ns[i+1].isKw("COLLATE"):
			return unsupported("DEFAULT COLLATE")
		default:
			return &SyntaxError{Pos: ns[i].tok.pos, Msg: fmt.Sprintf("unexpected %q in CREATE %s", ns[i].tok.text, what)}
		}
	}
	if what == "VIEW" {
		st.Kind = "CREATE_VIEW"
		if d.PartitionBy != "" || d.ClusterBy != nil {
			return &SyntaxError{Pos: ns[0].tok.pos, Msg: "a view cannot be partitioned or clustered"}
		}
		if i >= len(ns) {
			return &SyntaxError{Pos: ns[0].tok.pos, Msg: "CREATE VIEW needs AS query"}
		}
	}
	if i < len(ns) { // AS query
		if i+1 >= len(ns) {
			return &SyntaxError{Pos: ns[i].tok.pos, Msg: "AS needs a query"}
		}
		if cols != "" && what == "TABLE" {
			return unsupported("CREATE TABLE with both a column list and AS SELECT")
		}
		q, err := t.seq(ns[i+1:])
		if err != nil {
			return err
		}
		b.WriteString(" AS" + q)
		if st.Kind == "" {
			st.Kind = "CREATE_TABLE_AS_SELECT"
		}
	} else if cols == "" {
		return &SyntaxError{Pos: ns[0].tok.pos, Msg: "CREATE TABLE needs a column list or AS query"}
	}
	if st.Kind == "" {
		st.Kind = "CREATE_TABLE"
	}
	st.SQL = b.String()
	return nil
}

// identName returns the name of an identifier node (backticks removed).
func identName(n node) string {
	if n.tok.kind == tkQuotedIdent {
		return n.tok.val
	}
	return n.tok.text
}

// columnDefs translates CREATE TABLE column definitions, capturing column OPTIONS.
func (t *translator) columnDefs(ns []node, d *DDL) (string, error) {
	var out []string
	for _, def := range splitArgs(ns) {
		if len(def) == 0 {
			return "", &SyntaxError{Msg: "empty column definition"}
		}
		if def[0].isKw("PRIMARY") || def[0].isKw("FOREIGN") || def[0].isKw("CONSTRAINT") {
			continue // BigQuery keys are NOT ENFORCED metadata; DuckDB would enforce them.
		}
		if def[0].group || (def[0].tok.kind != tkIdent && def[0].tok.kind != tkQuotedIdent) {
			return "", &SyntaxError{Pos: def[0].tok.pos, Msg: "expected a column name"}
		}
		name := identName(def[0])
		typ, j, err := parseType(def, 1)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", name, err)
		}
		var rest []node
		for j < len(def) {
			switch {
			case def[j].isKw("OPTIONS") && j+1 < len(def) && def[j+1].isGroup("("):
				o, err := parseOptions(def[j+1].kids)
				if err != nil {
					return "", err
				}
				if d.ColumnOptions == nil {
					d.ColumnOptions = map[string]map[string]string{}
				}
				d.ColumnOptions[name] = o
				j += 2
			case def[j].isKw("PRIMARY") && j+1 < len(def) && def[j+1].isKw("KEY"):
				j += 2
				if j+1 < len(def) && def[j].isKw("NOT") && def[j+1].isKw("ENFORCED") {
					j += 2
				}
			case def[j].isKw("COLLATE"):
				return "", unsupported("COLLATE")
			default:
				rest = append(rest, def[j])
				j++
			}
		}
		r, err := t.seq(rest)
		if err != nil {
			return "", err
		}
		out = append(out, quoteIdent(name)+" "+typ+r)
	}
	return strings.Join(out, ", "), nil
}

// parseOptions reads OPTIONS(name = value, ...).
func parseOptions(ns []node) (map[string]string, error) {
	opts := map[string]string{}
	for _, o := range splitArgs(ns) {
		if len(o) < 3 || o[0].tok.kind != tkIdent || o[0].group || !o[1].isOp("=") {
			return nil, &SyntaxError{Msg: "OPTIONS entries must be name = value"}
		}
		v := o[2:]
		if len(v) == 1 && !v[0].group && v[0].tok.kind == tkString {
			opts[strings.ToLower(o[0].tok.text)] = v[0].tok.val
		} else {
			opts[strings.ToLower(o[0].tok.text)] = srcText(v)
		}
	}
	return opts, nil
}

// parsePartition reads a PARTITION BY expression into d.
func parsePartition(ns []node, d *DDL) error {
	d.PartitionBy = srcText(ns)
	col := func(n node) (string, error) {
		if n.group || (n.tok.kind != tkIdent && n.tok.kind != tkQuotedIdent) {
			return "", unsupported("PARTITION BY %s", d.PartitionBy)
		}
		name := identName(n)
		switch strings.ToUpper(name) {
		case "_PARTITIONDATE", "_PARTITIONTIME":
			return "", unsupported("ingestion-time partitioning (%s)", name)
		}
		return name, nil
	}
	var err error
	switch {
	case len(ns) == 1:
		d.PartitionField, err = col(ns[0])
		d.PartitionType = "DAY"
		return err
	case len(ns) == 2 && ns[1].isGroup("("):
		fn := ns[0].upper()
		args := splitArgs(ns[1].kids)
		switch fn {
		case "DATE":
			if len(args) == 1 && len(args[0]) == 1 {
				d.PartitionField, err = col(args[0][0])
				d.PartitionType = "DAY"
				return err
			}
		case "DATE_TRUNC", "TIMESTAMP_TRUNC", "DATETIME_TRUNC":
			if len(args) == 2 && len(args[0]) == 1 && len(args[1]) == 1 {
				d.PartitionField, err = col(args[0][0])
				d.PartitionType = args[1][0].upper()
				switch d.PartitionType {
				case "DAY", "MONTH", "YEAR":
					return err
				case "HOUR":
					if fn != "DATE_TRUNC" {
						return err
					}
				}
			}
		case "RANGE_BUCKET":
			return unsupported("integer-range partitioning (RANGE_BUCKET)")
		}
	}
	return unsupported("PARTITION BY %s", d.PartitionBy)
}

// drop handles DROP TABLE/VIEW/SCHEMA.
func (t *translator) drop(ns []node, st *Statement) error {
	d := &DDL{}
	st.DDL = d
	if len(ns) < 3 {
		return &SyntaxError{Pos: ns[0].tok.pos, Msg: "incomplete DROP statement"}
	}
	what := ns[1].upper()
	switch what {
	case "TABLE", "VIEW", "SCHEMA":
	default:
		return unsupported("DROP %s", ns[1].tok.text)
	}
	i := 2
	if i+1 < len(ns) && ns[i].isKw("IF") && ns[i+1].isKw("EXISTS") {
		d.IfNotExists = true
		i += 2
	}
	name, i, err := tablePath(ns, i)
	if err != nil {
		return err
	}
	st.Target = name
	st.Kind = "DROP_" + what
	sql := "DROP " + what + " "
	if d.IfNotExists {
		sql += "IF EXISTS "
	}
	sql += quotePath(name)
	if what == "SCHEMA" && i < len(ns) && (ns[i].isKw("CASCADE") || ns[i].isKw("RESTRICT")) {
		sql += " " + strings.ToUpper(ns[i].tok.text)
		i++
	}
	if i != len(ns) {
		return &SyntaxError{Pos: ns[i].tok.pos, Msg: fmt.Sprintf("unexpected %q after DROP %s name", ns[i].tok.text, what)}
	}
	st.SQL = sql
	return nil
}

// alter handles the ALTER TABLE forms DuckDB shares: ADD COLUMN, DROP COLUMN, RENAME.
func (t *translator) alter(ns []node, st *Statement) error {
	if len(ns) < 3 {
		return &SyntaxError{Pos: ns[0].tok.pos, Msg: "incomplete ALTER statement"}
	}
	if !ns[1].isKw("TABLE") {
		return unsupported("ALTER %s", ns[1].tok.text)
	}
	i := 2
	ifExists := ""
	if i+1 < len(ns) && ns[i].isKw("IF") && ns[i+1].isKw("EXISTS") {
		ifExists = "IF EXISTS "
		i += 2
	}
	name, i, err := tablePath(ns, i)
	if err != nil {
		return err
	}
	st.Target, st.Kind = name, "ALTER_TABLE"
	head := "ALTER TABLE " + ifExists + quotePath(name) + " "
	actions := splitArgs(ns[i:])
	if len(actions) != 1 {
		return unsupported("ALTER TABLE with several actions")
	}
	a := actions[0]
	switch {
	case len(a) >= 3 && a[0].isKw("ADD") && a[1].isKw("COLUMN"):
		j := 2
		ine := ""
		if j+2 < len(a) && a[j].isKw("IF") && a[j+1].isKw("NOT") && a[j+2].isKw("EXISTS") {
			ine = "IF NOT EXISTS "
			j += 3
		}
		st.DDL = &DDL{}
		def, err := t.columnDefs(a[j:], st.DDL)
		if err != nil {
			return err
		}
		st.SQL = head + "ADD COLUMN " + ine + def
	case len(a) >= 3 && a[0].isKw("DROP") && a[1].isKw("COLUMN"):
		st.SQL = head + "DROP COLUMN " + srcTextQuoted(a[2:])
	case len(a) >= 3 && a[0].isKw("RENAME") && a[1].isKw("TO"):
		st.SQL = head + "RENAME TO " + srcTextQuoted(a[2:])
	case len(a) >= 5 && a[0].isKw("RENAME") && a[1].isKw("COLUMN"):
		st.SQL = head + "RENAME COLUMN " + srcTextQuoted(a[2:])
	default:
		return unsupported("ALTER TABLE %s", srcText(a))
	}
	return nil
}

// srcTextQuoted renders simple name lists, turning backtick identifiers into DuckDB quotes.
func srcTextQuoted(ns []node) string {
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			b.WriteString(n.sp)
		}
		if n.tok.kind == tkQuotedIdent {
			b.WriteString(quoteIdent(n.tok.val))
		} else {
			b.WriteString(n.tok.text)
		}
	}
	return b.String()
}

// nameAnonymousColumns gives the unaliased expression columns of the main SELECT the names
// BigQuery gives them (f0_, f1_, ...) instead of DuckDB's expression text. It only names
// items that certainly have no alias: those ending in a call, a bracket, a literal, a
// parameter, END or NULL/TRUE/FALSE.
func nameAnonymousColumns(ns []node) []node {
	sel := -1
	for i, n := range ns {
		if n.isKw("SELECT") {
			sel = i
			break
		}
	}
	if sel < 0 {
		return ns
	}
	start := sel + 1
	if start < len(ns) && (ns[start].isKw("DISTINCT") || ns[start].isKw("ALL")) {
		start++
	}
	if start < len(ns) && ns[start].isKw("AS") {
		return ns // SELECT AS STRUCT/VALUE
	}
	end := start
	for end < len(ns) && !isClauseEnd(ns[end]) {
		end++
	}
	items := splitArgs(ns[start:end])
	out := append([]node{}, ns[:start]...)
	k := 0
	for j, item := range items {
		if j > 0 {
			out = append(out, node{tok: token{kind: tkOp, text: ","}})
		}
		out = append(out, item...)
		if anonymous(item) {
			out = append(out, node{tok: token{kind: tkIdent, text: "AS"}, sp: " "},
				node{tok: token{kind: tkIdent, text: fmt.Sprintf("f%d_", k)}, sp: " "})
			k++
		}
	}
	return append(out, ns[end:]...)
}

// isClauseEnd reports whether n ends a select list.
func isClauseEnd(n node) bool {
	switch n.upper() {
	case "FROM", "WHERE", "GROUP", "HAVING", "QUALIFY", "WINDOW", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT":
		return true
	}
	return false
}

// anonymous reports whether a select item certainly has no alias and is not a column.
func anonymous(item []node) bool {
	if len(item) == 0 {
		return false
	}
	for _, n := range item {
		if n.isOp("*") && len(item) > 0 {
			return false // * and t.* (with EXCEPT/REPLACE)
		}
	}
	last := item[len(item)-1]
	switch {
	case last.group:
		return true
	case last.tok.kind == tkString || last.tok.kind == tkNumber || last.tok.kind == tkParam || last.tok.kind == tkQMark:
		return true
	}
	switch last.upper() {
	case "END", "NULL", "TRUE", "FALSE":
		return true
	}
	return false
}
