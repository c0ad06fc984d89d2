// Package docs holds the project's prose documents; its test keeps docs/lessons.md true to
// the code: every failure class names tests, and every test it names exists.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	classRE  = regexp.MustCompile(`(?m)^## (\d+)\. (.+)$`)
	bulletRE = regexp.MustCompile("(?m)^- `([^`:]+): ((?:Test|Example|Benchmark|Fuzz)\\w*)`((?:[^\\n]|\\n  )*)")
	moreRE   = regexp.MustCompile("`((?:Test|Example|Benchmark|Fuzz)\\w*)`")
)

func TestEveryFailureClassNamesTestsThatExist(t *testing.T) {
	body, err := os.ReadFile("lessons.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	heads := classRE.FindAllStringSubmatchIndex(text, -1)
	if len(heads) != 15 {
		t.Fatalf("docs/lessons.md has %d failure classes, want 15", len(heads))
	}
	for i, h := range heads {
		end := len(text)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		section, name := text[h[0]:end], text[h[4]:h[5]]
		tests := 0
		for _, b := range bulletRE.FindAllStringSubmatch(section, -1) {
			names := []string{b[2]}
			for _, m := range moreRE.FindAllStringSubmatch(b[3], -1) {
				names = append(names, m[1])
			}
			src, err := os.ReadFile(filepath.Join("..", b[1]))
			if err != nil {
				t.Errorf("%q names %s, which does not exist", name, b[1])
				continue
			}
			for _, n := range names {
				if !strings.Contains(string(src), "func "+n+"(") {
					t.Errorf("%q names %s: %s, which has no such function", name, b[1], n)
				}
				tests++
			}
		}
		if tests == 0 {
			t.Errorf("%q names no test", name)
		}
	}
}
