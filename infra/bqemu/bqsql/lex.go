package bqsql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokKind classifies a lexical token.
type tokKind int

const (
	tkSpace       tokKind = iota // whitespace
	tkComment                    // --, # or /* */ comment
	tkIdent                      // bare identifier or keyword
	tkQuotedIdent                // `backtick` identifier; val holds the decoded text
	tkString                     // string or bytes literal; val holds the decoded value
	tkNumber                     // numeric literal
	tkParam                      // @name; val holds name
	tkSysVar                     // @@name
	tkQMark                      // ? positional parameter
	tkOp                         // punctuation and operators
)

// token is one lexical unit. Concatenating the text of all tokens gives back the input.
type token struct {
	kind  tokKind
	text  string // exact source text
	val   string // decoded value for strings, quoted identifiers and parameters
	bytes bool   // a b'' literal
	pos   int    // byte offset in the input
}

// SyntaxError reports BigQuery SQL that the translator cannot read: bad tokens,
// unbalanced brackets, wrong argument counts.
type SyntaxError struct {
	Pos          int    // byte offset in the query
	Line, Column int    // 1-based position of Pos, as BigQuery reports it ([line:column])
	Msg          string // what is wrong
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("syntax error at [%d:%d]: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("syntax error at offset %d: %s", e.Pos, e.Msg)
}

// locate fills Line and Column from Pos within src.
func (e *SyntaxError) locate(src string) {
	if e.Pos < 0 || e.Pos > len(src) {
		return
	}
	before := src[:e.Pos]
	e.Line = strings.Count(before, "\n") + 1
	e.Column = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lex splits src into tokens without losing any byte.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	lastSig := -1 // index in toks of the last non-trivia token
	for i < len(src) {
		start := i
		c := src[i]
		var t token
		switch {
		case isSpace(c):
			for i < len(src) && isSpace(src[i]) {
				i++
			}
			t = token{kind: tkSpace}
		case c == '#' || (c == '-' && strings.HasPrefix(src[i:], "--")):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			t = token{kind: tkComment}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, &SyntaxError{Pos: i, Msg: "unterminated /* comment"}
			}
			i += 2 + end + 2
			t = token{kind: tkComment}
		case c == '`':
			val, n, err := scanQuoted(src[i:], 1, false)
			if err != nil {
				return nil, &SyntaxError{Pos: i, Msg: "identifier: " + err.Error()}
			}
			if !utf8.ValidString(val) {
				return nil, &SyntaxError{Pos: i, Msg: "identifier is not valid UTF-8"}
			}
			i += n
			t = token{kind: tkQuotedIdent, val: val}
		case c == '\'' || c == '"' || isStringPrefix(src[i:]):
			raw, byt := false, false
			for src[i] != '\'' && src[i] != '"' {
				switch src[i] {
				case 'r', 'R':
					raw = true
				case 'b', 'B':
					byt = true
				}
				i++
			}
			val, n, err := scanString(src[i:], raw)
			if err != nil {
				return nil, &SyntaxError{Pos: start, Msg: err.Error()}
			}
			if !byt && !utf8.ValidString(val) {
				return nil, &SyntaxError{Pos: start, Msg: "string literal is not valid UTF-8 (use a b'' bytes literal)"}
			}
			i += n
			t = token{kind: tkString, val: val, bytes: byt}
		case isIdentStart(c):
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			t = token{kind: tkIdent, val: src[start:i]}
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1]) && !afterOperand(toks, lastSig)):
			n, err := scanNumber(src[i:])
			if err != nil {
				return nil, &SyntaxError{Pos: i, Msg: err.Error()}
			}
			i += n
			t = token{kind: tkNumber}
		case c == '@':
			if strings.HasPrefix(src[i:], "@@") {
				i += 2
				for i < len(src) && (isIdentChar(src[i]) || src[i] == '.') {
					i++
				}
				t = token{kind: tkSysVar, val: src[start+2 : i]}
				break
			}
			i++
			if i < len(src) && src[i] == '`' {
				val, n, err := scanQuoted(src[i:], 1, false)
				if err != nil {
					return nil, &SyntaxError{Pos: start, Msg: "parameter name: " + err.Error()}
				}
				i += n
				t = token{kind: tkParam, val: val}
				break
			}
			for i < len(src) && isIdentChar(src[i]) {
				i++
			}
			if i == start+1 {
				return nil, &SyntaxError{Pos: start, Msg: "'@' must be followed by a parameter name"}
			}
			t = token{kind: tkParam, val: src[start+1 : i]}
		case c == '?':
			i++
			t = token{kind: tkQMark}
		default:
			op := scanOp(src[i:])
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, &SyntaxError{Pos: i, Msg: fmt.Sprintf("unexpected character %q (quote unusual names with backticks)", r)}
			}
			i += len(op)
			t = token{kind: tkOp}
		}
		t.text = src[start:i]
		t.pos = start
		toks = append(toks, t)
		if t.kind != tkSpace && t.kind != tkComment {
			lastSig = len(toks) - 1
		}
	}
	return toks, nil
}

// afterOperand reports whether the last significant token ends an operand, so that a
// following '.' is a member access rather than the start of a number like .5.
func afterOperand(toks []token, last int) bool {
	if last < 0 {
		return false
	}
	t := toks[last]
	switch t.kind {
	case tkIdent, tkQuotedIdent, tkParam:
		return true
	case tkOp:
		return t.text == ")" || t.text == "]"
	}
	return false
}

func isStringPrefix(s string) bool {
	n := 0
	for n < len(s) && n < 2 {
		switch s[n] {
		case 'r', 'R', 'b', 'B':
			n++
			continue
		}
		break
	}
	if n == 0 || n >= len(s) {
		return false
	}
	if n == 2 && strings.EqualFold(s[:1], s[1:2]) {
		return false // rr'' or bb'' is not a prefix
	}
	return s[n] == '\'' || s[n] == '"'
}

var ops = []string{"<=", ">=", "<>", "!=", "||", "=>", "(", ")", "[", "]", "{", "}", ",", ";", ".", "+", "-", "*", "/", "%", "=", "<", ">", "~", "&", "|", "^", ":"}

func scanOp(s string) string {
	for _, op := range ops {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

func scanNumber(s string) (int, error) {
	i := 0
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		i = 2
		for i < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[i]) >= 0 {
			i++
		}
		if i == 2 {
			return 0, fmt.Errorf("malformed hex literal %q", s[:i])
		}
		return i, nil
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	if i < len(s) && isIdentStart(s[i]) {
		return 0, fmt.Errorf("malformed number %q", s[:i+1])
	}
	return i, nil
}

// scanString reads a quoted literal starting at s[0] (a quote), which may be triple quoted.
func scanString(s string, raw bool) (string, int, error) {
	q := s[0]
	triple := len(s) >= 3 && s[1] == q && s[2] == q
	if triple {
		val, n, err := scanQuoted(s, 3, raw)
		return val, n, err
	}
	return scanQuoted(s, 1, raw)
}

// scanQuoted reads a literal delimited by qn copies of the quote character s[0] and
// decodes its escapes unless raw. It returns the decoded value and the bytes consumed.
func scanQuoted(s string, qn int, raw bool) (string, int, error) {
	q := s[0]
	delim := strings.Repeat(string(q), qn)
	var b strings.Builder
	i := qn
	for {
		if i >= len(s) {
			return "", 0, fmt.Errorf("unterminated literal starting with %s", delim)
		}
		c := s[i]
		if strings.HasPrefix(s[i:], delim) {
			return b.String(), i + qn, nil
		}
		if c == '\n' && qn == 1 && q != '`' {
			return "", 0, fmt.Errorf("newline in a single-quoted literal (use a triple-quoted string)")
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", 0, fmt.Errorf("unterminated literal starting with %s", delim)
		}
		if raw {
			// A raw literal keeps the backslash, which still protects the next character.
			b.WriteByte('\\')
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		n, err := decodeEscape(&b, s[i:])
		if err != nil {
			return "", 0, err
		}
		i += n
	}
}

// decodeEscape decodes the escape sequence at s[0] == '\\' into b and returns its length.
func decodeEscape(b *strings.Builder, s string) (int, error) {
	c := s[1]
	simple := map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
		'\\': '\\', '?': '?', '"': '"', '\'': '\'', '`': '`'}
	if r, ok := simple[c]; ok {
		b.WriteByte(r)
		return 2, nil
	}
	hex := func(n int) (uint64, error) {
		if len(s) < 2+n {
			return 0, fmt.Errorf("truncated escape \\%c", c)
		}
		v, err := strconv.ParseUint(s[2:2+n], 16, 32)
		if err != nil {
			return 0, fmt.Errorf("bad escape %q", s[:2+n])
		}
		return v, nil
	}
	switch {
	case c >= '0' && c <= '7':
		if len(s) < 4 {
			return 0, fmt.Errorf("truncated octal escape")
		}
		v, err := strconv.ParseUint(s[1:4], 8, 16)
		if err != nil || v > 255 {
			return 0, fmt.Errorf("bad octal escape %q", s[:4])
		}
		b.WriteByte(byte(v))
		return 4, nil
	case c == 'x' || c == 'X':
		v, err := hex(2)
		if err != nil {
			return 0, err
		}
		b.WriteByte(byte(v))
		return 4, nil
	case c == 'u':
		v, err := hex(4)
		if err != nil {
			return 0, err
		}
		b.WriteRune(rune(v))
		return 6, nil
	case c == 'U':
		v, err := hex(8)
		if err != nil {
			return 0, err
		}
		if v > utf8.MaxRune {
			return 0, fmt.Errorf("escape %q is beyond Unicode", s[:10])
		}
		b.WriteRune(rune(v))
		return 10, nil
	}
	return 0, fmt.Errorf("unknown escape sequence \\%c", c)
}
