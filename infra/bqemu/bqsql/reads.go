package bqsql

import "strings"

// conditionEnd are the keywords that end a WHERE, ON or QUALIFY condition at its own level.
var conditionEnd = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "HAVING": true, "QUALIFY": true,
	"WINDOW": true, "ORDER": true, "LIMIT": true, "UNION": true, "INTERSECT": true, "EXCEPT": true,
	"JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "CROSS": true,
	"ON": true, "USING": true, "WHEN": true, "SET": true, "VALUES": true,
}

// fromEnd are the keywords that end a FROM list at its own level.
var fromEnd = map[string]bool{
	"SELECT": true, "WHERE": true, "GROUP": true, "HAVING": true, "QUALIFY": true, "WINDOW": true,
	"ORDER": true, "LIMIT": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "WHEN": true,
	"SET": true, "VALUES": true,
}

// readScan collects what one statement reads; see Statement.Reads and Statement.FilterNames.
type readScan struct {
	reads   [][]string
	filters map[string]bool
	ctes    map[string]bool
}

// scanReads fills st.Reads and st.FilterNames from the statement's nodes. It is a token-level
// approximation, not name resolution: a path right after FROM, JOIN, USING or a comma of a
// FROM list is a read, and every name anywhere inside a WHERE, ON or QUALIFY condition
// (subqueries included) counts as filtered. Targets of DML and DDL are not reads, and
// CREATE VIEW reads nothing until the view is queried.
func scanReads(ns []node, st *Statement) {
	r := &readScan{filters: map[string]bool{}, ctes: map[string]bool{}}
	if ns[0].isKw("CREATE") {
		for _, n := range ns {
			if n.isKw("AS") {
				break
			}
			if n.isKw("VIEW") {
				return
			}
		}
	}
	r.walk(ns)
	for _, p := range r.reads {
		if len(p) == 1 && r.ctes[strings.ToLower(p[0])] {
			continue
		}
		st.Reads = append(st.Reads, p)
	}
	if len(r.filters) > 0 {
		st.FilterNames = r.filters
	}
}

func (r *readScan) walk(ns []node) {
	inFrom, expectItem := false, false
	for i := 0; i < len(ns); i++ {
		n := ns[i]
		if n.group {
			r.walk(n.kids)
			expectItem = false
			continue
		}
		u := n.upper()
		if expectItem {
			expectItem = false
			if (n.tok.kind == tkIdent && u != "UNNEST") || n.tok.kind == tkQuotedIdent {
				if path, next, err := tablePath(ns, i); err == nil {
					r.reads = append(r.reads, path)
					i = next - 1
					continue
				}
			}
		}
		switch {
		case n.tok.kind == tkIdent && i+2 < len(ns) && ns[i+1].isKw("AS") && ns[i+2].isGroup("(") &&
			i > 0 && (ns[i-1].isKw("WITH") || ns[i-1].isKw("RECURSIVE") || ns[i-1].isOp(",")):
			r.ctes[strings.ToLower(n.tok.text)] = true
		case u == "FROM":
			// DELETE FROM target, EXTRACT(part FROM x) and IS [NOT] DISTINCT FROM x read nothing.
			if i <= 1 || ns[i-1].isKw("DISTINCT") {
				continue
			}
			inFrom, expectItem = true, true
		case u == "JOIN":
			inFrom, expectItem = true, true
		case u == "USING": // a MERGE source; JOIN ... USING (cols) is a group, not a path
			expectItem = true
		case n.isOp(","):
			expectItem = inFrom
		case u == "WHERE" || u == "ON" || u == "QUALIFY":
			inFrom = inFrom && u == "ON"
			r.condition(ns[i+1:])
		case fromEnd[u]:
			inFrom = false
		}
	}
}

// condition records the names of a condition that starts at ns[0].
func (r *readScan) condition(ns []node) {
	cases := 0
	for _, n := range ns {
		switch u := n.upper(); {
		case u == "CASE":
			cases++
		case u == "END" && cases > 0:
			cases--
		case cases == 0 && (conditionEnd[u] || n.isOp(",")):
			return
		}
		r.names(n)
	}
}

// names records the lower-cased identifiers in n, descending into groups.
func (r *readScan) names(n node) {
	switch {
	case n.group:
		for _, k := range n.kids {
			r.names(k)
		}
	case n.tok.kind == tkIdent:
		r.filters[strings.ToLower(n.tok.text)] = true
	case n.tok.kind == tkQuotedIdent:
		for _, p := range strings.Split(n.tok.val, ".") {
			r.filters[strings.ToLower(p)] = true
		}
	}
}
