package node

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLedgerRefusesSecondShareAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	d1, d2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Claim(d1); err != nil {
		t.Fatal(err)
	}
	if err := l.Claim(d2, d1); !errors.Is(err, ErrAlreadyShared) {
		t.Fatalf("second claim of d1: %v", err)
	}
	// One digest twice in one claim is two shares of one ciphertext.
	d3 := bytes.Repeat([]byte{3}, 32)
	if err := l.Claim(d3, d3); !errors.Is(err, ErrAlreadyShared) {
		t.Fatalf("d3 twice in one claim: %v", err)
	}
	l.Close()

	l, err = OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Claim(d1); !errors.Is(err, ErrAlreadyShared) {
		t.Errorf("claim after restart: %v", err)
	}
	// The failed all-or-none claims above must not have recorded d2 or d3.
	if err := l.Claim(d2, d3); err != nil {
		t.Errorf("d2, d3: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v", st.Mode().Perm())
	}
}

func TestLedgerRejectsCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	os.WriteFile(path, []byte("not-a-digest\n"), 0o600)
	if _, err := OpenLedger(path); err == nil {
		t.Fatal("corrupt ledger opened")
	}
}
