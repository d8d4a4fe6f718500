package privacy

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLedgerSpendAndExhaust(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budget", "ledger.json")
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	if err := l.Spend("marketing_segment", "age-region", 4, 10, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Spend("marketing_segment", "age-region", 6, 10, now); err != nil {
		t.Fatalf("spending exactly up to the limit: %v", err)
	}
	err = l.Spend("marketing_segment", "age-region", 0.01, 10, now)
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("over the limit: err = %v, want ErrBudgetExhausted", err)
	}
	if got := l.Spent("marketing_segment", "age-region", now); got != 10 {
		t.Errorf("spent %v after a refused spend, want 10", got)
	}
	// Other families and purposes have their own budgets.
	if err := l.Spend("marketing_segment", "income", 1, 10, now); err != nil {
		t.Error(err)
	}
	if err := l.Spend("risk_report", "age-region", 1, 10, now); err != nil {
		t.Error(err)
	}
	// Ten steps of 0.1 fit a limit of 1 despite float64 rounding.
	for i := range 10 {
		if err := l.Spend("p", "f", 0.1, 1, now); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := l.Spend("p", "f", 0.1, 1, now); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("eleventh 0.1: err = %v", err)
	}
	for _, bad := range []struct {
		purpose, family string
		eps, limit      float64
	}{
		{"", "f", 1, 2}, {"p", "", 1, 2}, {"p", "f", 0, 2}, {"p", "f", -1, 2},
		{"p", "f", math.NaN(), 2}, {"p", "f", math.Inf(1), 2}, {"p", "f", 1, 0}, {"p", "f", 1, math.NaN()},
	} {
		if err := l.Spend(bad.purpose, bad.family, bad.eps, bad.limit, now); err == nil || errors.Is(err, ErrBudgetExhausted) {
			t.Errorf("Spend(%q, %q, %v, %v): err = %v, want a validation error", bad.purpose, bad.family, bad.eps, bad.limit, err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v, want 0600", st.Mode().Perm())
	}
}

func TestLedgerDayRollover(t *testing.T) {
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.json"))
	if err != nil {
		t.Fatal(err)
	}
	shanghai := time.FixedZone("UTC+8", 8*3600)
	// 07:30 in Shanghai on the 15th is still the 14th in UTC.
	late := time.Date(2026, 3, 14, 23, 30, 0, 0, time.UTC)
	sameDay := time.Date(2026, 3, 15, 7, 30, 0, 0, shanghai)
	nextDay := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	if err := l.Spend("p", "f", 1, 1, late); err != nil {
		t.Fatal(err)
	}
	if err := l.Spend("p", "f", 1, 1, sameDay); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("same UTC day in another zone: err = %v", err)
	}
	if got := l.Spent("p", "f", nextDay); got != 0 {
		t.Errorf("spent %v on a fresh UTC day", got)
	}
	if err := l.Spend("p", "f", 1, 1, nextDay); err != nil {
		t.Errorf("new UTC day: %v", err)
	}
	if got := l.Spent("p", "f", late); got != 1 {
		t.Errorf("previous day now shows %v", got)
	}
	if err := l.Prune(nextDay); err != nil {
		t.Fatal(err)
	}
	if l.Spent("p", "f", late) != 0 || l.Spent("p", "f", nextDay) != 1 {
		t.Error("Prune removed the wrong days")
	}
}

func TestLedgerPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Spend("marketing_segment", "age-region", 2.5, 10, now); err != nil {
		t.Fatal(err)
	}
	if err := l.Spend("marketing_segment", "income", 1.25, 10, now); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := l2.Spent("marketing_segment", "age-region", now); got != 2.5 {
		t.Errorf("reopened: spent %v, want 2.5", got)
	}
	if err := l2.Spend("marketing_segment", "age-region", 8, 10, now); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("reopened ledger forgot the spend: err = %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"day": "2026-01-02"`) || !strings.Contains(string(data), `"version": 1`) {
		t.Errorf("unexpected file:\n%s", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	for name, content := range map[string]string{
		"garbage":   "not json",
		"version":   `{"version": 2, "entries": []}`,
		"unknown":   `{"version": 1, "entries": [], "extra": 1}`,
		"bad day":   `{"version": 1, "entries": [{"day": "2026-13-01", "purpose": "p", "family": "f", "spent": 1}]}`,
		"negative":  `{"version": 1, "entries": [{"day": "2026-01-01", "purpose": "p", "family": "f", "spent": -1}]}`,
		"empty key": `{"version": 1, "entries": [{"day": "2026-01-01", "purpose": "", "family": "f", "spent": 1}]}`,
		"duplicate": `{"version": 1, "entries": [{"day": "2026-01-01", "purpose": "p", "family": "f", "spent": 1}, {"day": "2026-01-01", "purpose": "p", "family": "f", "spent": 2}]}`,
	} {
		bad := filepath.Join(t.TempDir(), "ledger.json")
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenLedger(bad); err == nil {
			t.Errorf("%s: corrupt ledger accepted", name)
		}
	}
}

func TestLedgerWriteFailureSpendsNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.json")
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// A directory where the file should be makes the rename fail.
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Spend("p", "f", 1, 5, now); err == nil {
		t.Fatal("Spend succeeded although the ledger cannot be written")
	}
	if got := l.Spent("p", "f", now); got != 0 {
		t.Errorf("failed spend was counted: %v", got)
	}
}

func TestLedgerConcurrentSpend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.json")
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const workers, limit = 50, 3.0
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exhausted := 0, 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Spend("p", "f", 0.25, limit, now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrBudgetExhausted):
				exhausted++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 12 || exhausted != workers-12 {
		t.Errorf("%d spends succeeded and %d were refused, want 12 and %d", ok, exhausted, workers-12)
	}
	l2, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := l2.Spent("p", "f", now); got != limit {
		t.Errorf("persisted spend %v, want %v", got, limit)
	}
}
