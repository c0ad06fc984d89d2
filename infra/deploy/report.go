package deploy

import (
	"fmt"
	"slices"
	"strings"
)

// Action is what a plan would do, or an apply did, to one resource.
type Action string

// Actions of a Change.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
)

// Field is one declared setting of a resource: for a create its value, for an update the
// value found (Got) and the one declared (Want).
type Field struct {
	Name, Got, Want string
}

// Change is one resource of a Report.
type Change struct {
	Kind string // service-account, secret, topic, subscription, bucket, ..., iam-policy
	Name string
	// Action is what the plan would do or what the apply did.
	Action Action
	// Fields are every declared setting of a resource to create, or the settings that
	// differ on one to update.
	Fields []Field
}

// Report lists every resource deploy looked at, in the order it handles them.
type Report struct {
	// Applied reports an apply (past tense); otherwise a plan.
	Applied bool
	// Notes say what the reader must know: placeholders of an offline plan, a secret
	// without a value.
	Notes   []string
	Changes []Change
}

// Count is the number of resources with action a.
func (r Report) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Find returns the change of one resource.
func (r Report) Find(kind, name string) (Change, bool) {
	i := slices.IndexFunc(r.Changes, func(c Change) bool { return c.Kind == kind && c.Name == name })
	if i < 0 {
		return Change{}, false
	}
	return r.Changes[i], true
}

func (r Report) verb(a Action) string {
	if !r.Applied || a == Unchanged {
		return string(a)
	}
	return string(a) + "d"
}

// String is the plan or the apply's account for a terminal: one line per resource, its
// fields indented below (every field for a create, old → new for an update), the totals.
func (r Report) String() string {
	var b strings.Builder
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteByte('\n')
	}
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%-9s %-16s %s\n", r.verb(c.Action), c.Kind, c.Name)
		for _, f := range c.Fields {
			switch c.Action {
			case Create:
				fmt.Fprintf(&b, "            %s = %s\n", f.Name, f.Want)
			case Update:
				if f.Got == "" && f.Want == "" { // a setting named without its values (the topology's)
					fmt.Fprintf(&b, "            %s differs\n", f.Name)
					continue
				}
				fmt.Fprintf(&b, "            %s: %s → %s\n", f.Name, orNone(f.Got), orNone(f.Want))
			default:
				fmt.Fprintf(&b, "            %s: %s → %s\n", f.Name, orNone(f.Got), orNone(f.Want))
			}
		}
	}
	verbs := []string{"to create", "to update", "unchanged"}
	if r.Applied {
		verbs = []string{"created", "updated", "unchanged"}
	}
	fmt.Fprintf(&b, "%d %s, %d %s, %d %s\n", r.Count(Create), verbs[0], r.Count(Update), verbs[1], r.Count(Unchanged), verbs[2])
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// kv is an ordered list of a resource's declared settings.
type kv []Field

func (k *kv) set(name, value string) { *k = append(*k, Field{Name: name, Want: value}) }

// diff compares the declared settings with those found (missing keys are empty) and
// returns the ones that differ, in declaration order, then the found ones not declared.
func diff(want kv, got map[string]string) []Field {
	var out []Field
	seen := map[string]bool{}
	for _, f := range want {
		seen[f.Name] = true
		if got[f.Name] != f.Want {
			out = append(out, Field{Name: f.Name, Got: got[f.Name], Want: f.Want})
		}
	}
	for _, k := range sortedKeys(got) {
		if !seen[k] && got[k] != "" {
			out = append(out, Field{Name: k, Got: got[k]})
		}
	}
	return out
}
