package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// budgetLedger counts the releases a node made per purpose per UTC day,
// persisted so that a restart does not reset the budget the policy limits.
type budgetLedger struct {
	mu   sync.Mutex
	path string
	// Days maps "2006-01-02" to purpose to releases.
	Days map[string]map[string]int `json:"days"`
}

func openBudget(path string) (*budgetLedger, error) {
	b := &budgetLedger{path: path, Days: map[string]map[string]int{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release budget: %w", err)
	}
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("release budget %s: %w", path, err)
	}
	if b.Days == nil {
		b.Days = map[string]map[string]int{}
	}
	return b, nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// used returns the releases made for purpose on t's day.
func (b *budgetLedger) used(purpose string, t time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Days[day(t)][purpose]
}

// spend records one release and persists the ledger before returning.
func (b *budgetLedger) spend(purpose string, t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := day(t)
	if b.Days[d] == nil {
		b.Days[d] = map[string]int{}
	}
	b.Days[d][purpose]++
	data, err := json.Marshal(b)
	if err == nil {
		err = atomicfile.Write(b.path, data, 0o600)
	}
	if err != nil {
		b.Days[d][purpose]--
		return fmt.Errorf("persist release budget: %w", err)
	}
	return nil
}
