package nba

import (
	"strings"
	"unicode"
	"unicode/utf8"

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
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return foldUnicode(s)
		}
	}
	// ASCII, as most names are: decomposition changes nothing, no ASCII character is a
	// combining mark or in foldExtra, and the ASCII spaces are the six below.
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			b[i] = ' '
		}
	}
	return string(b)
}

// foldUnicode is foldName for any text.
func foldUnicode(s string) string {
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

// nameKeys splits a name into the keys of its words (folded as PlayerLookup folds them) and
// its trailing generational suffixes ("jr", "ii"; "" without one).
func nameKeys(name string) (words []string, suffix string) {
	for _, w := range strings.FieldsFunc(foldName(name), func(r rune) bool { return r == ' ' || r == ',' }) {
		if k := alnum(w); k != "" {
			words = append(words, k)
		}
	}
	var sfx []string
	for len(words) > 1 && suffixes[words[len(words)-1]] {
		sfx = append([]string{words[len(words)-1]}, sfx...)
		words = words[:len(words)-1]
	}
	return words, strings.Join(sfx, " ")
}

// PrintedInFull reports whether a printed name holds a first name too: two words or more
// before its suffix. A game book's inactive list prints a player's last name only ("Morant",
// "Jackson Jr.") unless a teammate shares it; a one-word name is a bare last name.
func PrintedInFull(printed string) bool {
	w, _ := nameKeys(printed)
	return len(w) >= 2
}

// SurnameOf reports whether printed, a name as a game book's inactive list prints it (the
// last name with its suffix: "Jackson Jr.", "Dončić"), names the player full ("Jaren Jackson
// Jr."): the printed words are the last words of full (case, accents, punctuation and
// spacing aside) and the two have the same suffix. A full name is a surname of itself.
func SurnameOf(printed, full string) bool {
	pw, ps := nameKeys(printed)
	fw, fs := nameKeys(full)
	if len(pw) == 0 || ps != fs {
		return false
	}
	want := strings.Join(pw, "")
	for k := 1; k <= len(fw); k++ {
		if strings.Join(fw[len(fw)-k:], "") == want {
			return true
		}
	}
	return false
}

// ResolveName finds the one player a printed name stands for among candidates (full names in
// any spelling; one player may appear under several, as the same player_lookup): the
// candidate whose player_lookup is the printed name's, else the only player whose surname it
// is (SurnameOf). It returns that player's lookup; ok is false when no player or more than one
// fits, so that a name is left unresolved rather than guessed.
func ResolveName(printed string, candidates []string) (lookup string, ok bool) {
	key := PlayerLookup(printed)
	fits := map[string]bool{}
	for _, c := range candidates {
		l := PlayerLookup(c)
		if l == "" {
			continue
		}
		if l == key {
			return l, true
		}
		if SurnameOf(printed, c) {
			fits[l] = true
		}
	}
	if len(fits) != 1 {
		return "", false
	}
	for l := range fits {
		return l, true
	}
	return "", false
}
