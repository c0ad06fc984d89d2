package nba

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// suffixes are the generational suffixes PlayerLookup drops from the end of a name.
var suffixes = map[string]bool{"jr": true, "sr": true, "ii": true, "iii": true, "iv": true, "v": true}

// foldExtra are letters that Unicode decomposition does not reduce to an ASCII base letter.
var foldExtra = map[rune]string{
	'ß': "ss", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ı': "i",
	'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d",
}

// PlayerLookup is the key that joins a player across sources: the lower-case ASCII letters
// and digits of the name, accents folded, with a trailing generational suffix (Jr., Sr., II,
// III, IV, V) removed. "Jaren Jackson Jr.", "jaren jackson" and "Jaren Jackson Jr" all give
// "jarenjackson"; "Nikola Vučević" gives "nikolavucevic"; "De’Aaron Fox" gives "deaaronfox".
// A suffix is only removed when a name remains before it.
func PlayerLookup(name string) string {
	words := strings.FieldsFunc(foldName(name), func(r rune) bool { return r == ' ' || r == ',' })
	keys := make([]string, 0, len(words))
	for _, w := range words {
		if k := alnum(w); k != "" {
			keys = append(keys, k)
		}
	}
	for len(keys) > 1 && suffixes[keys[len(keys)-1]] {
		keys = keys[:len(keys)-1]
	}
	return strings.Join(keys, "")
}

// foldName decomposes accented letters, drops the combining marks and lower-cases.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case foldExtra[r] != "":
			b.WriteString(foldExtra[r])
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// alnum keeps the ASCII letters and digits of an already lower-cased word.
func alnum(w string) string {
	var b strings.Builder
	for _, r := range w {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
