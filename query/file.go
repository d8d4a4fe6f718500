package query

import (
	"fmt"
	"os"
)

// ReadFile reads a spec file (YAML or JSON) and validates it under the
// default [Limits], so that its errors, naming the file and the offending
// fields, are reported before anything is signed or sent.
func ReadFile(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec, err := Parse(b)
	if err == nil {
		err = spec.Validate(Limits{})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}
