package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// QueryArchiveFile is the name of the node's archive of admitted queries in
// its state directory.
const QueryArchiveFile = "queries.jsonl"

// QueryRecord is what a node keeps of every query it admitted: enough to
// answer a data subject's "which joint queries used my data?" by
// re-evaluating the query on that one record later. It holds no personal
// data: the spec, the cohort rule and identifiers only.
type QueryRecord struct {
	QueryID        string            `json:"query_id"`
	QueryDigest    string            `json:"query_digest"`
	Time           time.Time         `json:"time"`
	Querier        string            `json:"querier"`
	DecisionID     string            `json:"decision_id"`
	BundleRevision string            `json:"bundle_revision"`
	Spec           json.RawMessage   `json:"spec"`
	Cohort         policy.CohortRule `json:"cohort"`
}

// queryArchive appends QueryRecords, one JSON line each, synced.
type queryArchive struct {
	mu sync.Mutex
	f  *os.File
}

func openQueryArchive(path string) (*queryArchive, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open query archive: %w", err)
	}
	return &queryArchive{f: f}, nil
}

func (a *queryArchive) append(r QueryRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write query archive: %w", err)
	}
	return a.f.Sync()
}

func (a *queryArchive) Close() error { return a.f.Close() }

// SubjectUse says whether one archived query used a given record.
type SubjectUse struct {
	Query QueryRecord
	Used  bool
	// Cell names the record's cell when it was used; Reason says why not
	// otherwise.
	Cell   string
	Reason string
}

// SubjectQueries answers a data subject's question from a node's own
// records: for each query archived in [from, to) it re-evaluates the cohort
// rule and the query on row of t alone and reports whether the record
// entered the aggregate, and in which cell. Nothing about other customers
// is read into the answer.
func SubjectQueries(ctx context.Context, archivePath string, t *dataset.Table, row int, from, to time.Time) ([]SubjectUse, error) {
	if row < 0 || row >= t.Rows() {
		return nil, fmt.Errorf("row %d out of range", row)
	}
	f, err := os.Open(archivePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []SubjectUse
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var rec QueryRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", archivePath, line, err)
		}
		if rec.Time.Before(from) || (!to.IsZero() && !rec.Time.Before(to)) {
			continue
		}
		use, err := subjectUse(ctx, rec, t, row)
		if err != nil {
			return nil, fmt.Errorf("%s line %d (query %s): %w", archivePath, line, rec.QueryID, err)
		}
		out = append(out, use)
	}
	return out, sc.Err()
}

func subjectUse(ctx context.Context, rec QueryRecord, t *dataset.Table, row int) (SubjectUse, error) {
	use := SubjectUse{Query: rec}
	spec, err := query.Parse(rec.Spec)
	if err != nil {
		return use, err
	}
	cohort, err := source.Cohort(t, rec.Cohort)
	if err != nil {
		return use, err
	}
	if !cohort[row] {
		use.Reason = "not in the cohort (consent, withdrawal or age)"
		return use, nil
	}
	only := make([]bool, t.Rows())
	only[row] = true
	vec, _, err := aggregate.Aggregate(ctx, spec, t, only)
	if err != nil {
		return use, err
	}
	res, err := query.Decode(spec, vec)
	if err != nil {
		return use, err
	}
	for _, r := range res.Rows {
		if n, _ := r.Values[len(spec.GroupBy)].(int64); n > 0 {
			use.Used = true
			for g := range spec.GroupBy {
				if g > 0 {
					use.Cell += ", "
				}
				use.Cell += fmt.Sprintf("%s=%v", spec.GroupBy[g].Column, r.Values[g])
			}
			return use, nil
		}
	}
	use.Reason = "outside the query's filter or cells"
	return use, nil
}
