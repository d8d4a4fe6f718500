package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fedscore/fedscore/crypto"
)

// Config selects what Run measures. Every (Nodes, Cells, Records)
// combination is one configuration.
type Config struct {
	// Nodes lists the partner counts, each at least 3 (the default
	// policy bundle's minimum) and at most crypto.MaxParties.
	Nodes []int `json:"nodes"`
	// Cells lists the query sizes: aggregate values per partner (see the
	// package documentation).
	Cells []int `json:"cells"`
	// Records lists the records per partner.
	Records []int `json:"records"`
	// Queries is the number of measured queries per configuration.
	Queries int `json:"queries"`
	// Warmup is the number of queries run and discarded first.
	Warmup int `json:"warmup"`
	// BaselineRuns is how often each baseline and the node component
	// measurement run per configuration; the medians are reported.
	BaselineRuns int `json:"baseline_runs"`
	// PaillierBits is the Paillier modulus size; 0 skips the baseline.
	PaillierBits int `json:"paillier_bits"`
	// PaillierSubset is how many values per partner the Paillier baseline
	// encrypts, adds and decrypts; its time is extrapolated linearly.
	PaillierSubset int `json:"paillier_subset"`
	// Params names the crypto parameter set; empty means bgv13.
	Params string `json:"params"`
	// Seed seeds the generated partner data.
	Seed uint64 `json:"seed"`
	// MaxDistinctRows bounds the generated records per records size:
	// with N partners of R records each, min(N, MaxDistinctRows/R)
	// distinct tables are generated (at least one) and partners share
	// them round-robin. Nodes only read their table.
	MaxDistinctRows int `json:"max_distinct_rows"`
	// QueryTimeout bounds each query.
	QueryTimeout time.Duration `json:"-"`
	// StateDir is where federations keep their PKI, keystores, ledgers
	// and audit logs; empty means the system's temporary directory.
	StateDir string `json:"state_dir,omitempty"`
	// Verify checks one answer per configuration against the plaintext
	// computation before measuring.
	Verify bool `json:"verify"`
	// ProfileDir, when set, receives a CPU profile of every
	// configuration's measured queries, cpu-N<n>-C<cells>-R<records>.pprof,
	// for go tool pprof.
	ProfileDir string `json:"-"`
	// Progress, when set, receives one line per step.
	Progress io.Writer `json:"-"`
}

// DefaultConfig is the full matrix of the performance issue: 3, 10 and 30
// partners, 512, 8192 and 32768 cells, 100k and 1M records per partner,
// 20 queries each.
func DefaultConfig() Config {
	return Config{
		Nodes:           []int{3, 10, 30},
		Cells:           []int{512, 8192, 32768},
		Records:         []int{100_000, 1_000_000},
		Queries:         20,
		Warmup:          2,
		BaselineRuns:    5,
		PaillierBits:    2048,
		PaillierSubset:  8,
		Seed:            1,
		MaxDistinctRows: 10_000_000,
		QueryTimeout:    10 * time.Minute,
		Verify:          true,
	}
}

// QuickConfig is a small run for smoke tests and CI: 3 partners, 512
// cells, 20k records each, 5 queries.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Nodes, c.Cells, c.Records = []int{3}, []int{512}, []int{20_000}
	c.Queries, c.Warmup, c.BaselineRuns, c.PaillierSubset = 5, 1, 3, 2
	c.QueryTimeout = 2 * time.Minute
	return c
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("bench: invalid config")

// Validate checks c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.Nodes) == 0 || len(c.Cells) == 0 || len(c.Records) == 0:
		return bad("nodes, cells and records each need at least one value")
	case c.Queries < 1:
		return bad("queries %d is below 1", c.Queries)
	case c.Warmup < 0:
		return bad("warmup %d is negative", c.Warmup)
	case c.BaselineRuns < 1:
		return bad("baseline runs %d is below 1", c.BaselineRuns)
	case c.PaillierBits != 0 && (c.PaillierBits < 256 || c.PaillierBits%2 != 0):
		return bad("paillier bits %d: need an even number ≥ 256, or 0 to skip", c.PaillierBits)
	case c.PaillierBits != 0 && c.PaillierSubset < 1:
		return bad("paillier subset %d is below 1", c.PaillierSubset)
	case c.MaxDistinctRows < 1:
		return bad("max distinct rows %d is below 1", c.MaxDistinctRows)
	case c.QueryTimeout <= 0:
		return bad("query timeout %v is not positive", c.QueryTimeout)
	}
	for _, n := range c.Nodes {
		if n < 3 || n > crypto.MaxParties {
			return bad("%d nodes: need 3 to %d", n, crypto.MaxParties)
		}
	}
	for _, r := range c.Records {
		if r < 1 {
			return bad("%d records: need at least 1", r)
		}
	}
	for _, cells := range c.Cells {
		if _, err := Spec(cells); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	return nil
}
