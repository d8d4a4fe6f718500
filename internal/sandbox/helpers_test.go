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

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/query"
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

// minCellSize is the release gate's minimum cell size under the default
// bundle with data merged over it.
func minCellSize(t *testing.T, data map[string]any) int64 {
	t.Helper()
	e, err := policy.NewEngine(context.Background(), policy.Options{DataOverrides: data})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Release(context.Background(), policy.ReleaseInput{
		Query: policy.QueryInfo{ID: "check", Purpose: "risk_analytics", MinPartners: 3}, NodeName: "check", Cells: 1,
	})
	if err != nil || !d.Allow || d.MinCellSize <= 0 {
		t.Fatalf("release decision %+v: %v", d, err)
	}
	return d.MinCellSize
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
	case m.GetDecryptionShare() != nil:
		return m.GetDecryptionShare().QueryId
	case m.GetRefusal() != nil:
		return m.GetRefusal().TaskId
	}
	return ""
}

// refusalsPerNode counts, per node, the refusals sent for query qid.
func refusalsPerNode(msgs []observed, qid string) map[string]int {
	out := map[string]int{}
	for _, o := range msgs {
		if o.msg.GetRefusal() != nil && taskOf(o.msg) == qid {
			out[o.node]++
		}
	}
	return out
}

// ---- an independent plaintext computation ----

// record gives the raw text of one record's fields; "" is missing.
type record func(column string) string

// cohortRecords lists the records of a table that are in the cohort, each
// value as written to CSV.
func cohortRecords(tbl *dataset.Table, cohort []bool) []record {
	var out []record
	for i := range tbl.Rows() {
		if !cohort[i] {
			continue
		}
		out = append(out, func(col string) string {
			c, ok := tbl.Column(col)
			if !ok {
				return ""
			}
			return c.String(i)
		})
	}
	return out
}

// admissionInfo is what a node asks its policy about spec.
func admissionInfo(spec *query.Spec) policy.QueryInfo {
	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	return policy.QueryInfo{
		ID: "check", Purpose: spec.Purpose, Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners,
		PipiaID: spec.PipiaID, Destination: spec.Destination, Recipient: spec.Recipient,
	}
}

// policyCohort is the cohort the policy admits from p's records into spec.
func policyCohort(t *testing.T, ctx context.Context, engine *policy.Engine, spec *query.Spec, p Partner) []bool {
	t.Helper()
	var cols []string
	for _, c := range p.Data.Columns() {
		cols = append(cols, c.Name)
	}
	d, err := engine.Admit(ctx, policy.AdmissionInput{Query: admissionInfo(spec), NodeName: p.Name, NodeColumns: cols})
	if err != nil || !d.Allow {
		t.Fatalf("admission for %s: %v %v", p.Name, err, d.Reasons)
	}
	cohort, err := source.Cohort(p.Data, d.Cohort)
	if err != nil {
		t.Fatal(err)
	}
	return cohort
}

// checkSyntheticCohort checks a cohort of synthetic records against the
// core rules, independently of the policy: consent to the purpose given
// and not withdrawn, separate consent where the query reads sensitive
// columns, and no child under 14.
func checkSyntheticCohort(t *testing.T, p Partner, spec *query.Spec, cohort []bool, sensitive bool) {
	t.Helper()
	n := 0
	for _, r := range cohortRecords(p.Data, cohort) {
		n++
		age, err := strconv.ParseFloat(r("age"), 64)
		switch {
		case r("consent_"+spec.Purpose) != "true":
			t.Fatalf("%s: a record without consent to %s is in the cohort", p.Name, spec.Purpose)
		case r("consent_withdrawn") != "false":
			t.Fatalf("%s: a record that withdrew consent is in the cohort", p.Name)
		case err != nil || age < 14:
			t.Fatalf("%s: a record aged %q is in the cohort", p.Name, r("age"))
		case sensitive && r("consent_sensitive") != "true":
			t.Fatalf("%s: a record without separate consent to sensitive processing is in the cohort", p.Name)
		}
	}
	if n == 0 || n == p.Data.Rows() {
		t.Fatalf("%s: %d of %d records in the cohort", p.Name, n, p.Data.Rows())
	}
}

// naiveCell is one cell of the plaintext computation.
type naiveCell struct {
	count int64
	sums  map[int]int64   // by metric index: scaled, clipped sums
	hists map[int][]int64 // by metric index
}

// naiveResult computes spec row by row, without the query package, over the
// records that pass in; spec is the query as signed, each metric at its
// decimals. Cells are keyed by their labels joined with "|".
func naiveResult(t *testing.T, spec *query.Spec, recs []record, in func(record) bool) map[string]*naiveCell {
	t.Helper()
	cells := map[string]*naiveCell{}
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
				c.sums[mi] += int64(math.Round(v * math.Pow10(spec.MetricDecimals(mi))))
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
// computation and the release rules: a value is withheld (nil) exactly
// where the release gate must or may suppress it. Every count or
// histogram bin below minCell is withheld (primary suppression); every
// released one equals the plaintext and is at least minCell; a withheld
// cell has no value at all; and no line of the table (cells differing in
// one group_by) and no cell's histogram has exactly one withheld entry,
// which could be derived from its margin (complementary suppression).
func compareNaive(t *testing.T, spec *query.Spec, got *query.Result, want map[string]*naiveCell, minCell int64) {
	t.Helper()
	labels := make([][]string, len(spec.GroupBy))
	cells := 1
	for i, g := range spec.GroupBy {
		if g.Bins != nil {
			for k := range len(g.Bins) - 1 {
				labels[i] = append(labels[i], binLabel(g.Bins, k))
			}
		} else {
			labels[i] = g.Values
		}
		cells *= len(labels[i])
	}
	if len(got.Rows) != cells {
		t.Fatalf("result has %d rows, want %d cells", len(got.Rows), cells)
	}
	seen, released := 0, 0
	empty := &naiveCell{sums: map[int]int64{}, hists: map[int][]int64{}}
	withheld := map[string]bool{} // by coordinates
	// check compares a count or bin that may be withheld; it reports
	// whether it was released.
	check := func(key, what string, v any, want int64) bool {
		if v == nil {
			return false
		}
		if v != want {
			t.Errorf("cell %s: %s %v, want %d", key, what, v, want)
		}
		if want < minCell {
			t.Errorf("cell %s: %s %d released below the minimum cell size %d", key, what, want, minCell)
		}
		return true
	}
	for _, row := range got.Rows {
		v := row.Values
		lab := make([]string, len(spec.GroupBy))
		coords := make([]string, len(spec.GroupBy))
		for i := range lab {
			lab[i] = v[i].(string)
			k := slices.Index(labels[i], lab[i])
			if k < 0 {
				t.Fatalf("row label %q is not a cell of group_by %d", lab[i], i)
			}
			coords[i] = strconv.Itoa(k)
		}
		key := strings.Join(lab, "|")
		w := want[key]
		if w == nil {
			w = empty
		} else {
			seen++
		}
		col := len(lab)
		cellReleased := check(key, "count", v[col], w.count)
		if !cellReleased {
			withheld[strings.Join(coords, ",")] = true
		} else {
			released++
		}
		col++
		for mi, m := range spec.Metrics {
			switch m.Kind {
			case query.KindSum, query.KindMean:
				var want any
				scale := math.Pow10(spec.MetricDecimals(mi))
				switch {
				case !cellReleased:
				case m.Kind == query.KindSum:
					want = float64(w.sums[mi]) / scale
				case w.count > 0:
					want = float64(w.sums[mi]) / scale / float64(w.count)
				}
				if v[col] != want {
					t.Errorf("cell %s: %s_%s %v, want %v", key, m.Kind, m.Column, v[col], want)
				}
				col++
			case query.KindHistogram:
				bins := len(m.Bins) - 1
				out := 0
				for b := range bins {
					var want int64
					if h := w.hists[mi]; h != nil {
						want = h[b]
					}
					what := "hist_" + m.Column + " bin " + binLabel(m.Bins, b)
					if !cellReleased {
						if v[col] != nil {
							t.Errorf("cell %s: %s %v released from a withheld cell", key, what, v[col])
						}
					} else if !check(key, what, v[col], want) {
						out++
					}
					col++
				}
				if cellReleased && out == 1 && bins > 1 {
					t.Errorf("cell %s: exactly one hist_%s bin is withheld; it follows from the cell count", key, m.Column)
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
	// Complementary suppression along every line of the table.
	for d := range labels {
		if len(labels[d]) < 2 {
			continue
		}
		lines := map[string]int{}
		for c := range withheld {
			co := strings.Split(c, ",")
			co[d] = "*"
			lines[strings.Join(co, ",")]++
		}
		for line, n := range lines {
			if n == 1 {
				t.Errorf("line %s of group_by %s has exactly one withheld cell", line, spec.GroupBy[d].Column)
			}
		}
	}
	t.Logf("%d of %d cells released (minimum cell size %d)", released, cells, minCell)
	if released == 0 {
		t.Errorf("no cell released: the comparison checked nothing")
	}
}
