package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// ErrBudgetExhausted reports a spend that would take a (purpose, segment
// family) past its daily ε limit.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")

// budgetSlack is the relative tolerance of the limit check, so that a
// budget spent in steps such as 10 × 0.1 is not refused over float64
// rounding of the running total.
const budgetSlack = 1e-9

const ledgerVersion = 1

// dayLayout formats UTC days in the ledger file.
const dayLayout = "2006-01-02"

// Ledger records the ε spent per purpose and segment family per UTC day, in
// a JSON file replaced atomically on every spend. A Ledger is safe for
// concurrent use by goroutines; only one process may own the file.
type Ledger struct {
	path  string
	mu    sync.Mutex
	spent map[ledgerKey]float64
}

type ledgerKey struct {
	day, purpose, family string
}

// ledgerFile is the on-disk form: entries sorted by day, purpose, family.
type ledgerFile struct {
	Version int           `json:"version"`
	Entries []ledgerEntry `json:"entries"`
}

type ledgerEntry struct {
	Day     string  `json:"day"` // UTC, YYYY-MM-DD
	Purpose string  `json:"purpose"`
	Family  string  `json:"family"`
	Spent   float64 `json:"spent"`
}

// OpenLedger loads the ledger at path; a missing file is an empty ledger
// (the file is created by the first Spend).
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path, spent: map[ledgerKey]float64{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open privacy ledger: %w", err)
	}
	var f ledgerFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("privacy ledger %s: %w", path, err)
	}
	if f.Version != ledgerVersion {
		return nil, fmt.Errorf("privacy ledger %s: version %d, want %d", path, f.Version, ledgerVersion)
	}
	for i, e := range f.Entries {
		if _, err := time.Parse(dayLayout, e.Day); err != nil {
			return nil, fmt.Errorf("privacy ledger %s: entry %d: bad day %q", path, i, e.Day)
		}
		if e.Purpose == "" || e.Family == "" {
			return nil, fmt.Errorf("privacy ledger %s: entry %d: empty purpose or family", path, i)
		}
		if !(e.Spent >= 0) || math.IsInf(e.Spent, 0) {
			return nil, fmt.Errorf("privacy ledger %s: entry %d: bad spent value %v", path, i, e.Spent)
		}
		k := ledgerKey{e.Day, e.Purpose, e.Family}
		if _, dup := l.spent[k]; dup {
			return nil, fmt.Errorf("privacy ledger %s: entry %d: duplicate %s/%s on %s", path, i, e.Purpose, e.Family, e.Day)
		}
		l.spent[k] = e.Spent
	}
	return l, nil
}

// Spend records eps spent on (purpose, family) on now's UTC day if the day's
// total stays within limit, and fails with ErrBudgetExhausted otherwise
// (spending nothing). The record is on disk when Spend returns nil; if
// writing fails, nothing is spent.
func (l *Ledger) Spend(purpose, family string, eps, limit float64, now time.Time) error {
	if purpose == "" || family == "" {
		return fmt.Errorf("privacy ledger: empty purpose or segment family")
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return fmt.Errorf("privacy ledger: epsilon %v is not positive and finite", eps)
	}
	if !(limit > 0) || math.IsInf(limit, 0) {
		return fmt.Errorf("privacy ledger: limit %v is not positive and finite", limit)
	}
	k := ledgerKey{now.UTC().Format(dayLayout), purpose, family}
	l.mu.Lock()
	defer l.mu.Unlock()
	old, had := l.spent[k]
	if old+eps > limit*(1+budgetSlack) {
		return fmt.Errorf("%w: %s/%s on %s: spent %g + %g exceeds the daily limit %g", ErrBudgetExhausted, purpose, family, k.day, old, eps, limit)
	}
	l.spent[k] = old + eps
	if err := l.saveLocked(); err != nil {
		if had {
			l.spent[k] = old
		} else {
			delete(l.spent, k)
		}
		return err
	}
	return nil
}

// Spent returns the ε spent on (purpose, family) on now's UTC day.
func (l *Ledger) Spent(purpose, family string, now time.Time) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spent[ledgerKey{now.UTC().Format(dayLayout), purpose, family}]
}

// Prune drops the records of UTC days before before's UTC day.
func (l *Ledger) Prune(before time.Time) error {
	cut := before.UTC().Format(dayLayout)
	l.mu.Lock()
	defer l.mu.Unlock()
	removed := map[ledgerKey]float64{}
	for k, v := range l.spent {
		if k.day < cut { // the layout sorts like the dates
			removed[k] = v
			delete(l.spent, k)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	if err := l.saveLocked(); err != nil {
		for k, v := range removed {
			l.spent[k] = v
		}
		return err
	}
	return nil
}

func (l *Ledger) saveLocked() error {
	f := ledgerFile{Version: ledgerVersion, Entries: make([]ledgerEntry, 0, len(l.spent))}
	for k, v := range l.spent {
		f.Entries = append(f.Entries, ledgerEntry{Day: k.day, Purpose: k.purpose, Family: k.family, Spent: v})
	}
	sort.Slice(f.Entries, func(i, j int) bool {
		a, b := f.Entries[i], f.Entries[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Purpose != b.Purpose {
			return a.Purpose < b.Purpose
		}
		return a.Family < b.Family
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode privacy ledger: %w", err)
	}
	if err := atomicfile.Write(l.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write privacy ledger: %w", err)
	}
	return nil
}
