package query

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(specYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(good); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(specYAML, "min_partners: 2", "min_partners: 1", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(bad)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "min_partners") {
		t.Errorf("ReadFile of an invalid spec = %v, want a ValidationError naming the file and min_partners", err)
	}
}
