package review

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
)

// Change says how something differs between two revisions.
type Change string

const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Diff lists what differs between two bundles.
type Diff struct {
	From     string          `json:"from"` // revisions
	To       string          `json:"to"`
	Rules    []RuleChange    `json:"rules"`
	Settings []SettingChange `json:"settings"`
	Files    []FileChange    `json:"files"`
}

// RuleChange is a rule added, removed or changed (its article, title or
// Rego text).
type RuleChange struct {
	Change Change `json:"change"`
	Old    *Rule  `json:"old,omitempty"`
	New    *Rule  `json:"new,omitempty"`
}

// SettingChange is one setting of the data document, by path such as
// "release_gate.min_cell_size". For lists of strings, Added and Removed
// name the elements that differ.
type SettingChange struct {
	Change  Change   `json:"change"`
	Path    string   `json:"path"`
	Old     any      `json:"old,omitempty"`
	New     any      `json:"new,omitempty"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// FileChange is a file whose content differs.
type FileChange struct {
	Change Change `json:"change"`
	Path   string `json:"path"`
	OldSHA string `json:"old_sha256,omitempty"`
	NewSHA string `json:"new_sha256,omitempty"`
}

// Compare lists the differences from a to b.
func Compare(a, b *Bundle) Diff {
	d := Diff{From: a.Info.Manifest.Revision, To: b.Info.Manifest.Revision}
	d.Rules = compareRules(a.Rules, b.Rules)
	d.Settings = compareSettings(flatten(a.Data), flatten(b.Data))
	d.Files = compareFiles(a, b)
	return d
}

func keyed(rules []Rule) (map[string]*Rule, []string) {
	m := map[string]*Rule{}
	var order []string
	seen := map[string]int{}
	for i := range rules {
		r := &rules[i]
		base := r.Package + "/" + r.Kind + "/" + r.Code
		k := r.key(seen[base])
		seen[base]++
		m[k] = r
		order = append(order, k)
	}
	return m, order
}

func compareRules(a, b []Rule) []RuleChange {
	am, aorder := keyed(a)
	bm, border := keyed(b)
	var out []RuleChange
	for _, k := range aorder {
		old, nu := am[k], bm[k]
		switch {
		case nu == nil:
			out = append(out, RuleChange{Change: Removed, Old: old})
		case old.Article != nu.Article || old.Title != nu.Title || old.Source != nu.Source:
			out = append(out, RuleChange{Change: Changed, Old: old, New: nu})
		}
	}
	for _, k := range border {
		if am[k] == nil {
			out = append(out, RuleChange{Change: Added, New: bm[k]})
		}
	}
	return out
}

// flatten maps every leaf of a JSON document (objects descended, lists
// kept whole) to its dotted path.
func flatten(doc map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		out[prefix] = v
	}
	for k, v := range doc {
		walk(k, v)
	}
	return out
}

func compareSettings(a, b map[string]any) []SettingChange {
	paths := slices.Sorted(maps.Keys(a))
	for p := range b {
		if _, ok := a[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var out []SettingChange
	for _, p := range paths {
		old, inA := a[p]
		nu, inB := b[p]
		switch {
		case !inB:
			out = append(out, SettingChange{Change: Removed, Path: p, Old: old})
		case !inA:
			out = append(out, SettingChange{Change: Added, Path: p, New: nu})
		case !reflect.DeepEqual(old, nu):
			c := SettingChange{Change: Changed, Path: p, Old: old, New: nu}
			c.Added, c.Removed = listDelta(old, nu)
			out = append(out, c)
		}
	}
	return out
}

// listDelta returns the elements only in nu and only in old when both are
// lists of strings.
func listDelta(old, nu any) (added, removed []string) {
	os, ok1 := stringList(old)
	ns, ok2 := stringList(nu)
	if !ok1 || !ok2 {
		return nil, nil
	}
	for _, s := range ns {
		if !slices.Contains(os, s) {
			added = append(added, s)
		}
	}
	for _, s := range os {
		if !slices.Contains(ns, s) {
			removed = append(removed, s)
		}
	}
	return added, removed
}

func stringList(v any) ([]string, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(l))
	for i, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

func compareFiles(a, b *Bundle) []FileChange {
	sha := func(x *Bundle) map[string]string {
		m := map[string]string{}
		for _, f := range x.Info.Files {
			m[f.Path] = f.SHA256
		}
		return m
	}
	am, bm := sha(a), sha(b)
	var out []FileChange
	for _, p := range slices.Sorted(maps.Keys(am)) {
		switch nb, ok := bm[p]; {
		case !ok:
			out = append(out, FileChange{Change: Removed, Path: p, OldSHA: am[p]})
		case nb != am[p]:
			out = append(out, FileChange{Change: Changed, Path: p, OldSHA: am[p], NewSHA: nb})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(bm)) {
		if _, ok := am[p]; !ok {
			out = append(out, FileChange{Change: Added, Path: p, NewSHA: bm[p]})
		}
	}
	return out
}

// String renders a setting value compactly, for tables.
func String(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
