package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// bundleName names the bundle inside OPA's store and compiler.
const bundleName = "fedscore"

// dataRoot is the data document holding the bundle's configuration.
const dataRoot = "fedscore"

// The "all:" prefix keeps the bundle's .manifest, which embed would skip.
//
//go:embed all:bundle
var embedded embed.FS

// DefaultBundle returns the policy bundle compiled into the binary: the
// admission and cohort policies, their configuration and their tests.
func DefaultBundle() fs.FS {
	sub, err := fs.Sub(embedded, "bundle")
	if err != nil {
		// fs.Sub fails only for an invalid path, which "bundle" is not.
		panic(err)
	}
	return sub
}

// isTestModule reports whether a bundle module holds policy tests, which
// the bundle ships for review but the decision engine does not compile.
func isTestModule(m bundle.ModuleFile) bool {
	return strings.HasSuffix(m.Path, "_test.rego")
}

// withoutTests removes test modules from b. Removing them after reading
// keeps a signed bundle's file list intact for verification.
func withoutTests(b *bundle.Bundle) {
	b.Modules = slices.DeleteFunc(b.Modules, isTestModule)
}

// mergeData merges overrides over b's data.fedscore document. Nested objects
// are merged key by key; any other value replaces the bundle's. Top-level
// keys must exist in the bundle.
func mergeData(b *bundle.Bundle, overrides map[string]any) error {
	if len(overrides) == 0 {
		return nil
	}
	// Round-trip through JSON so that Go values (ints, structs, typed slices)
	// become the JSON values OPA stores and compares.
	var ov any = maps.Clone(overrides)
	if err := util.RoundTrip(&ov); err != nil {
		return fmt.Errorf("%w: data overrides: %w", ErrBundle, err)
	}
	base, _ := b.Data[dataRoot].(map[string]any)
	for k := range overrides {
		// A misspelt key would otherwise be ignored and leave the
		// bundle's setting in force.
		if _, ok := base[k]; !ok {
			return fmt.Errorf("%w: data override %s: no such key in data.%s", ErrBundle, k, dataRoot)
		}
	}
	b.Data[dataRoot] = mergeObjects(base, ov.(map[string]any))
	return nil
}

func mergeObjects(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	maps.Copy(out, base)
	for k, v := range over {
		bv, bok := out[k].(map[string]any)
		ov, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeObjects(bv, ov)
			continue
		}
		out[k] = v
	}
	return out
}

// capabilities returns the built-ins a bundle may use: everything in this
// OPA version except those reaching the network or the runtime environment,
// so that a decision depends only on the bundle, the input and the time.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		switch b.Name {
		case "http.send", "net.lookup_ip_addr", "opa.runtime":
			return true
		}
		return false
	})
	return caps
}
