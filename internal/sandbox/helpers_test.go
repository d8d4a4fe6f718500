package sandbox

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/internal/query"
	"github.com/fedscore/fedscore/node/dataset"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// partnerNames are the institutions of the test federations, in order.
var partnerNames = []string{"bank-east", "consumer-finance", "pay-platform", "merchant-south", "wealth-north"}

// testRows is the number of synthetic records per partner.
const testRows = 2500

// startTimeout bounds the start of a federation, key generation included.
const startTimeout = 60 * time.Second

// startFederation starts a federation and stops it when the test ends.
func startFederation(t *testing.T, cfg Config) *Federation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	fed, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start federation: %v", err)
	}
	t.Cleanup(func() {
		if err := fed.Close(); err != nil {
			t.Errorf("close federation: %v", err)
		}
	})
	return fed
}

// synthPartners generates n partners of synthetic data.
func synthPartners(t *testing.T, n, rows int) []Partner {
	t.Helper()
	ps, err := GeneratePartners(partnerNames[:n], rows, 7)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// mustSpec parses and validates a spec, in YAML or JSON.
func mustSpec(t *testing.T, src string) *query.Spec {
	t.Helper()
	s, err := query.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	if err := s.Validate(query.Limits{}); err != nil {
		t.Fatalf("spec: %v", err)
	}
	return s
}

// roundTrip returns s as the nodes see it: through its canonical form.
func roundTrip(t *testing.T, s *query.Spec) *query.Spec {
	t.Helper()
	b, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return mustSpec(t, string(b))
}

func defaultSpec(t *testing.T) *query.Spec {
	t.Helper()
	s, err := DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bundleRevision(t *testing.T) string {
	t.Helper()
	e, err := policy.NewEngine(context.Background(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e.Revision()
}

// observed is one message a node sent.
type observed struct {
	node string
	msg  *pb.NodeMessage
}

// recorder keeps a copy of every message the nodes send. Its observe
// method is a Config.Observe.
type recorder struct {
	mu      sync.Mutex
	msgs    []observed
	changed chan struct{}
	hook    func(node string, m *pb.NodeMessage)
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) observe(node string, m *pb.NodeMessage) {
	c := proto.Clone(m).(*pb.NodeMessage)
	r.mu.Lock()
	r.msgs = append(r.msgs, observed{node: node, msg: c})
	close(r.changed)
	r.changed = make(chan struct{})
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		hook(node, c)
	}
}

// setHook installs a function called (outside the lock) after each message
// is recorded, on the coordinator's receiving goroutine.
func (r *recorder) setHook(h func(node string, m *pb.NodeMessage)) {
	r.mu.Lock()
	r.hook = h
	r.mu.Unlock()
}

// mark returns the position of the next message.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// since returns the messages recorded from position i on.
func (r *recorder) since(i int) []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs[i:])
}

// waitFor waits until cond holds for the messages recorded from position i.
func (r *recorder) waitFor(ctx context.Context, i int, what string, cond func([]observed) bool) error {
	for {
		r.mu.Lock()
		msgs, changed := slices.Clone(r.msgs[i:]), r.changed
		r.mu.Unlock()
		if cond(msgs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-changed:
		}
	}
}

// taskOf returns the query id a node message answers, or "".
func taskOf(m *pb.NodeMessage) string {
	switch {
	case m.GetInput() != nil:
		return m.GetInput().QueryId
	case m.GetKeySwitchShare() != nil:
		return m.GetKeySwitchShare().QueryId
	case m.GetRefusal() != nil:
		return m.GetRefusal().TaskId
	}
	return ""
}

// answersPerNode counts, per node, the key-switch shares and refusals sent
// for query qid.
func answersPerNode(msgs []observed, qid string) (shares, refusals map[string]int) {
	shares, refusals = map[string]int{}, map[string]int{}
	for _, o := range msgs {
		if taskOf(o.msg) != qid {
			continue
		}
		switch {
		case o.msg.GetKeySwitchShare() != nil:
			shares[o.node]++
		case o.msg.GetRefusal() != nil:
			refusals[o.node]++
		}
	}
	return shares, refusals
}

// ---- an independent plaintext computation ----

// record gives the raw text of one record's fields; "" is missing.
type record func(column string) string

// tableRecords lists a table's records, each value as written to CSV.
func tableRecords(tbl *dataset.Table) []record {
	out := make([]record, tbl.Rows())
	for i := range out {
		out[i] = func(col string) string {
			c, ok := tbl.Column(col)
			if !ok {
				return ""
			}
			return c.String(i)
		}
	}
	return out
}

// consented applies the default bundle's cohort rule for purpose to a
// synthetic record: consent for the purpose recorded and true (or, with
// assumeConsent, no consent column at all), no withdrawal (a missing
// withdrawal flag excludes too), and an age of at least 14.
func consented(r record, purpose string, hasConsentColumn, hasWithdrawn, assumeConsent bool) bool {
	if hasConsentColumn {
		if r("consent_"+purpose) != "true" {
			return false
		}
	} else if !assumeConsent {
		return false
	}
	if hasWithdrawn && r("consent_withdrawn") != "false" {
		return false
	}
	age, err := strconv.ParseFloat(r("age"), 64)
	return err == nil && age >= 14
}

// naiveCell is one cell of the plaintext computation.
type naiveCell struct {
	count int64
	sums  map[int]int64   // by metric index: scaled, clipped sums
	hists map[int][]int64 // by metric index
}

// naiveResult computes spec row by row, without the query package, over the
// records that pass in. Cells are keyed by their labels joined with "|".
func naiveResult(t *testing.T, spec *query.Spec, recs []record, in func(record) bool) map[string]*naiveCell {
	t.Helper()
	cells := map[string]*naiveCell{}
	scale := math.Pow10(spec.Decimals)
	for _, r := range recs {
		if !in(r) || !naiveFilter(t, spec.Filter, r) {
			continue
		}
		labels := make([]string, len(spec.GroupBy))
		ok := true
		for i, g := range spec.GroupBy {
			if labels[i], ok = naiveGroup(g, r(g.Column)); !ok {
				break
			}
		}
		if !ok {
			continue
		}
		key := strings.Join(labels, "|")
		c := cells[key]
		if c == nil {
			c = &naiveCell{sums: map[int]int64{}, hists: map[int][]int64{}}
			cells[key] = c
		}
		c.count++
		for mi, m := range spec.Metrics {
			raw := r(m.Column)
			switch m.Kind {
			case query.KindSum, query.KindMean:
				if raw == "" {
					continue
				}
				v := mustFloat(t, raw)
				v = math.Max(m.Clip[0], math.Min(m.Clip[1], v))
				c.sums[mi] += int64(math.Round(v * scale))
			case query.KindHistogram:
				if c.hists[mi] == nil {
					c.hists[mi] = make([]int64, len(m.Bins)-1)
				}
				if raw == "" {
					continue
				}
				if b := naiveBin(m.Bins, mustFloat(t, raw)); b >= 0 {
					c.hists[mi][b]++
				}
			}
		}
	}
	return cells
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("value %q: %v", s, err)
	}
	return v
}

// naiveBin finds v's bin by a linear scan; the last bin is closed.
func naiveBin(edges []float64, v float64) int {
	for k := 0; k+1 < len(edges); k++ {
		last := k+2 == len(edges)
		if v >= edges[k] && (v < edges[k+1] || last && v == edges[k+1]) {
			return k
		}
	}
	return -1
}

func binLabel(edges []float64, k int) string {
	closing := ")"
	if k+2 == len(edges) {
		closing = "]"
	}
	return "[" + dataset.FormatNumber(edges[k]) + "," + dataset.FormatNumber(edges[k+1]) + closing
}

func naiveGroup(g query.GroupBy, raw string) (string, bool) {
	if raw == "" {
		return "", false
	}
	if g.Bins != nil {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return "", false
		}
		b := naiveBin(g.Bins, v)
		if b < 0 {
			return "", false
		}
		return binLabel(g.Bins, b), true
	}
	if slices.Contains(g.Values, raw) {
		return raw, true
	}
	return "", false
}

func naiveFilter(t *testing.T, preds []query.Predicate, r record) bool {
	for _, p := range preds {
		raw := r(p.Column)
		if raw == "" {
			return false
		}
		lits := p.Values
		if p.Value != nil {
			lits = []any{p.Value}
		}
		eq := func(lit any) bool {
			switch x := lit.(type) {
			case float64:
				return mustFloat(t, raw) == x
			case bool:
				return raw == strconv.FormatBool(x)
			case string:
				return raw == x
			}
			t.Fatalf("literal %v of type %T", lit, lit)
			return false
		}
		var ok bool
		switch p.Op {
		case query.OpEq:
			ok = eq(lits[0])
		case query.OpNe:
			ok = !eq(lits[0])
		case query.OpIn:
			ok = slices.ContainsFunc(lits, eq)
		case query.OpNotIn:
			ok = !slices.ContainsFunc(lits, eq)
		case query.OpLt:
			ok = mustFloat(t, raw) < lits[0].(float64)
		case query.OpLe:
			ok = mustFloat(t, raw) <= lits[0].(float64)
		case query.OpGt:
			ok = mustFloat(t, raw) > lits[0].(float64)
		case query.OpGe:
			ok = mustFloat(t, raw) >= lits[0].(float64)
		case query.OpBetween:
			v := mustFloat(t, raw)
			ok = v >= lits[0].(float64) && v <= lits[1].(float64)
		default:
			t.Fatalf("op %q", p.Op)
		}
		if !ok {
			return false
		}
	}
	return true
}

// compareNaive checks a decrypted result cell by cell against the naive
// computation.
func compareNaive(t *testing.T, spec *query.Spec, got *query.Result, want map[string]*naiveCell) {
	t.Helper()
	cells := 1
	for _, g := range spec.GroupBy {
		if g.Bins != nil {
			cells *= len(g.Bins) - 1
		} else {
			cells *= len(g.Values)
		}
	}
	if len(got.Rows) != cells {
		t.Fatalf("result has %d rows, want %d cells", len(got.Rows), cells)
	}
	scale := math.Pow10(spec.Decimals)
	seen := 0
	empty := &naiveCell{sums: map[int]int64{}, hists: map[int][]int64{}}
	for _, row := range got.Rows {
		v := row.Values
		labels := make([]string, len(spec.GroupBy))
		for i := range labels {
			labels[i] = v[i].(string)
		}
		key := strings.Join(labels, "|")
		w := want[key]
		if w == nil {
			w = empty
		} else {
			seen++
		}
		col := len(labels)
		if v[col] != w.count {
			t.Errorf("cell %s: count %v, want %d", key, v[col], w.count)
		}
		col++
		for mi, m := range spec.Metrics {
			switch m.Kind {
			case query.KindSum:
				if want := float64(w.sums[mi]) / scale; v[col] != want {
					t.Errorf("cell %s: sum_%s %v, want %v", key, m.Column, v[col], want)
				}
				col++
			case query.KindMean:
				var want any
				if w.count > 0 {
					want = float64(w.sums[mi]) / scale / float64(w.count)
				}
				if v[col] != want {
					t.Errorf("cell %s: mean_%s %v, want %v", key, m.Column, v[col], want)
				}
				col++
			case query.KindHistogram:
				for b := range len(m.Bins) - 1 {
					var want int64
					if h := w.hists[mi]; h != nil {
						want = h[b]
					}
					if v[col] != want {
						t.Errorf("cell %s: hist_%s bin %s: %v, want %d", key, m.Column, binLabel(m.Bins, b), v[col], want)
					}
					col++
				}
			}
		}
		if col != len(v) {
			t.Errorf("cell %s: %d values, expected %d", key, len(v), col)
		}
	}
	if seen != len(want) {
		t.Errorf("the result covers %d of the %d non-empty cells of the plaintext computation", seen, len(want))
	}
}
