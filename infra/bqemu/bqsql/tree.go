package bqsql

import (
	"fmt"
	"strings"
)

// spaceChars are the characters the lexer treats as whitespace.
const spaceChars = " \t\n\r\f\v"

// maxDepth bounds bracket nesting, which the translator walks recursively.
const maxDepth = 500

// node is a token, or a bracketed group whose tok is the opening bracket.
type node struct {
	tok   token
	kids  []node
	group bool
	sp    string // the whitespace that separated it from the previous node (comments dropped)
	tail  string // a group's whitespace before its closing bracket
}

// isGroup reports whether n is a group opened by open ("(" or "[").
func (n node) isGroup(open string) bool { return n.group && n.tok.text == open }

// isKw reports whether n is the bare identifier kw (case-insensitive).
func (n node) isKw(kw string) bool {
	return !n.group && n.tok.kind == tkIdent && strings.EqualFold(n.tok.text, kw)
}

// isOp reports whether n is the operator op.
func (n node) isOp(op string) bool { return !n.group && n.tok.kind == tkOp && n.tok.text == op }

// upper returns the upper-cased identifier text of a bare identifier, or "".
func (n node) upper() string {
	if n.group || n.tok.kind != tkIdent {
		return ""
	}
	return strings.ToUpper(n.tok.text)
}

var closing = map[string]string{"(": ")", "[": "]"}

// buildTree drops trivia (remembering where it was) and nests brackets.
func buildTree(toks []token) ([]node, error) {
	type frame struct {
		open  token
		sp    string
		nodes []node
	}
	stack := []frame{{}}
	sp := ""
	for _, t := range toks {
		switch t.kind {
		case tkSpace:
			sp += t.text
			continue
		case tkComment:
			if strings.HasPrefix(t.text, "/*") {
				sp += " " // a line comment is followed by its newline
			}
			continue
		}
		top := &stack[len(stack)-1]
		if t.kind == tkOp {
			switch t.text {
			case "(", "[":
				if len(stack) > maxDepth {
					return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("brackets nested deeper than %d", maxDepth)}
				}
				stack = append(stack, frame{open: t, sp: sp})
				sp = ""
				continue
			case ")", "]":
				if len(stack) == 1 || closing[top.open.text] != t.text {
					return nil, &SyntaxError{Pos: t.pos, Msg: "unbalanced " + t.text}
				}
				g := node{tok: top.open, kids: top.nodes, group: true, sp: top.sp, tail: sp}
				stack = stack[:len(stack)-1]
				parent := &stack[len(stack)-1]
				parent.nodes = append(parent.nodes, g)
				sp = ""
				continue
			case "{", "}":
				return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected " + t.text}
			}
		}
		top.nodes = append(top.nodes, node{tok: t, sp: sp})
		sp = ""
	}
	if len(stack) != 1 {
		open := stack[len(stack)-1].open
		return nil, &SyntaxError{Pos: open.pos, Msg: "unclosed " + open.text}
	}
	return stack[0].nodes, nil
}

// splitTop splits nodes at top-level separators for which sep returns true.
func splitTop(ns []node, sep func(node) bool) [][]node {
	var out [][]node
	start, angle := 0, 0 // angle: depth inside ARRAY<...> / STRUCT<...> type brackets
	for i, n := range ns {
		switch {
		case n.isOp("<") && (angle > 0 || (i > 0 && (ns[i-1].isKw("ARRAY") || ns[i-1].isKw("STRUCT")))):
			angle++
		case n.isOp(">") && angle > 0:
			angle--
		case angle == 0 && sep(n):
			out = append(out, ns[start:i])
			start = i + 1
		}
	}
	return append(out, ns[start:])
}

// splitArgs splits a call's contents at commas.
func splitArgs(ns []node) [][]node {
	if len(ns) == 0 {
		return nil
	}
	return splitTop(ns, func(n node) bool { return n.isOp(",") })
}

// indexKw returns the index of the first top-level keyword kw in ns, or -1.
func indexKw(ns []node, kw string) int {
	for i, n := range ns {
		if n.isKw(kw) {
			return i
		}
	}
	return -1
}
