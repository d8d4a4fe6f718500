package review

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/fedscore/fedscore/policy"
)

// Bundle is a bundle laid out for review.
type Bundle struct {
	Info  *policy.BundleInfo
	Rules []Rule
	// Data is the bundle's data.fedscore document: purposes, columns,
	// release gate, privacy settings.
	Data map[string]any
}

// Rule is one rule of the bundle that refuses a query (a deny) or
// excludes records (a cohort condition).
type Rule struct {
	// Package is the Rego package, such as "fedscore.admission".
	Package string `json:"package"`
	// Kind is "deny" or "condition".
	Kind        string `json:"kind"`
	Code        string `json:"code"`
	Article     string `json:"article"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Line        int    `json:"line"`
	// Source is the rule's Rego text.
	Source string `json:"source"`
}

// key identifies a rule across revisions: its package, kind and code, and
// which of the rules sharing those it is.
func (r Rule) key(n int) string { return fmt.Sprintf("%s/%s/%s/%d", r.Package, r.Kind, r.Code, n) }

// Read lays out the bundle at the root of fsys (see [policy.OpenBundle]).
// It does not verify the signature; Info reports what the bundle claims.
func Read(fsys fs.FS) (*Bundle, error) {
	info, err := policy.InspectBundle(fsys)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Info: info}
	if b.Data, err = readData(fsys); err != nil {
		return nil, err
	}
	for _, f := range info.Files {
		if !strings.HasSuffix(f.Path, ".rego") || strings.HasSuffix(f.Path, "_test.rego") {
			continue
		}
		src, err := fs.ReadFile(fsys, f.Path)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		rules, err := moduleRules(f.Path, src)
		if err != nil {
			return nil, err
		}
		b.Rules = append(b.Rules, rules...)
	}
	return b, nil
}

// readData merges the bundle's data.json files, each under the path of its
// directory, and returns the fedscore document.
func readData(fsys fs.FS) (map[string]any, error) {
	root := map[string]any{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) != "data.json" {
			return err
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("review: %s: %w", p, err)
		}
		at := root
		if dir := path.Dir(p); dir != "." {
			for _, seg := range strings.Split(dir, "/") {
				next, _ := at[seg].(map[string]any)
				if next == nil {
					next = map[string]any{}
					at[seg] = next
				}
				at = next
			}
		}
		for k, v := range doc {
			at[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	data, _ := root["fedscore"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	return data, nil
}

var codePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,}$`)

// moduleRules returns the coded rules of one Rego module.
func moduleRules(file string, src []byte) ([]Rule, error) {
	mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	pkg := strings.TrimPrefix(mod.Package.Path.String(), "data.")
	var out []Rule
	for _, r := range mod.Rules {
		kind := ""
		switch r.Head.Name.String() {
		case "deny":
			kind = "deny"
		case "conditions":
			kind = "condition"
		}
		if r.Head.Name == "" && len(r.Head.Reference) > 0 {
			switch r.Head.Reference[0].Value.String() {
			case "deny":
				kind = "deny"
			case "conditions":
				kind = "condition"
			}
		}
		if kind == "" || r.Head.Key == nil {
			continue
		}
		code, article := codeAndArticle(r.Head.Key)
		if code == "" {
			continue
		}
		rule := Rule{Package: pkg, Kind: kind, Code: code, Article: article, File: file, Source: string(r.Location.Text)}
		if r.Location != nil {
			rule.Line = r.Location.Row
		}
		for _, a := range r.Annotations {
			if a.Scope == "rule" || a.Scope == "document" {
				rule.Title, rule.Description = a.Title, strings.TrimSpace(a.Description)
			}
		}
		out = append(out, rule)
	}
	return out, nil
}

// codeAndArticle finds the code and cited article in a rule's key: the
// first UPPER_SNAKE string argument of a call and the string after it, or
// an object's "code" and "article".
func codeAndArticle(t *ast.Term) (code, article string) {
	switch v := t.Value.(type) {
	case ast.Call:
		args := v[1:]
		for i, a := range args {
			s, ok := a.Value.(ast.String)
			if !ok || !codePattern.MatchString(string(s)) {
				continue
			}
			if i+1 < len(args) {
				if art, ok := args[i+1].Value.(ast.String); ok {
					return string(s), string(art)
				}
			}
			return string(s), ""
		}
	case ast.Object:
		get := func(k string) string {
			if x := v.Get(ast.StringTerm(k)); x != nil {
				if s, ok := x.Value.(ast.String); ok {
					return string(s)
				}
			}
			return ""
		}
		return get("code"), get("article")
	}
	return "", ""
}

// Codes lists the distinct rule codes, sorted.
func (b *Bundle) Codes() []string {
	var out []string
	for _, r := range b.Rules {
		out = append(out, r.Code)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
