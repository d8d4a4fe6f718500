package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/stattest"
	"github.com/fedscore/fedscore/internal/synth"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/noise"
	"github.com/fedscore/fedscore/psi/wire"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/query/overlap"
)

// overlapData is the audience of five partners with known overlaps:
//
//	bank-a  persons 0..299 (tiers 1, 2, 3 by hundred), 0..49 again spelt
//	        otherwise, 5 malformed numbers, 1000..1099 without consent,
//	        2000..2019 minors
//	shop-b  persons 50..449 and 1000..1099, all consented
//	pay-c   persons 0..299
//	trip-d  persons 5000..5099
//	card-e  person 42 and persons 5000..5099
func overlapData(t testing.TB) []Partner {
	t.Helper()
	a := append(synth.Audience(0, 100, "1"), synth.Audience(100, 200, "2")...)
	a = append(a, synth.Audience(200, 300, "3")...)
	for _, c := range synth.Audience(0, 50, "1") {
		c.Spelling++ // the same person, written another way
		a = append(a, c)
	}
	for p := 0; p < 5; p++ {
		a = append(a, synth.Customer{Person: 7000 + p, Consent: true, Age: 40, Tier: "1", Malformed: true})
	}
	for _, c := range synth.Audience(1000, 1100, "1") {
		c.Consent = false
		a = append(a, c)
	}
	for _, c := range synth.Audience(2000, 2020, "2") {
		c.Age = 12 // under the policy's minimum age of 14
		a = append(a, c)
	}
	b := append(synth.Audience(50, 450, "2"), synth.Audience(1000, 1100, "2")...)
	e := append(synth.Audience(42, 43, "1"), synth.Audience(5000, 5100, "3")...)
	sets := []struct {
		name string
		cs   []synth.Customer
	}{{"bank-a", a}, {"shop-b", b}, {"pay-c", synth.Audience(0, 300, "1")}, {"trip-d", synth.Audience(5000, 5100, "2")}, {"card-e", e}}
	var out []Partner
	for _, s := range sets {
		tab, err := synth.AudienceTable(s.cs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Partner{Name: s.name, Data: tab})
	}
	return out
}

// overlapPolicy relaxes the default bundle for small exact tests: no DP,
// sets of any size and the floor minimum cell size of 11.
func overlapPolicy() map[string]any {
	return exactResults(map[string]any{
		"overlap":      map[string]any{"min_set_size": 1},
		"release_gate": map[string]any{"min_cell_size": 11},
	})
}

func overlapSpec(t testing.TB, partners ...string) *overlap.Spec {
	t.Helper()
	s := &overlap.Spec{Purpose: "marketing_analytics", Identifier: overlap.Identifier{Kind: "mobile", Column: "phone_number"}}
	for _, p := range partners {
		s.Partners = append(s.Partners, overlap.Partner{Name: p})
	}
	return s
}

func figure(t *testing.T, ans *querier.OverlapAnswer, kind string, segment int, partners ...string) overlap.Figure {
	t.Helper()
	f, ok := ans.Figure(kind, segment, partners...)
	if !ok {
		t.Fatalf("no %s figure of %v segment %d in %+v", kind, partners, segment, ans.Figures)
	}
	return f
}

func wantFigure(t *testing.T, ans *querier.OverlapAnswer, kind string, segment int, value int64, withheld bool, partners ...string) {
	t.Helper()
	f := figure(t, ans, kind, segment, partners...)
	if f.Value != value || f.Withheld != withheld {
		t.Errorf("%s of %v, segment %d: %d (withheld %v), want %d (withheld %v)", kind, partners, segment, f.Value, f.Withheld, value, withheld)
	}
}

// TestOverlapExact runs overlap queries with known answers through a real
// federation, without DP: partial, full, empty and one-element overlaps,
// duplicates and malformed numbers within a partner, records without
// consent and minors (which never enter a set), a group-by and three
// partners; and checks that nothing a node sends carries an identifier,
// raw, normalised or hashed.
func TestOverlapExact(t *testing.T) {
	rec := newRecorder()
	partners := overlapData(t)
	fed := startFederation(t, Config{Partners: partners, PolicyData: overlapPolicy(), Observe: rec.observe})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	run := func(s *overlap.Spec) *querier.OverlapAnswer {
		t.Helper()
		ans, err := fed.Overlap(ctx, s)
		if err != nil {
			t.Fatalf("overlap of %v: %v", s.Names(), err)
		}
		if ans.Noisy || ans.MinCellSize != 11 || ans.Comparer != s.Names()[len(s.Partners)-1] || len(ans.Partners) != len(s.Partners) {
			t.Errorf("answer %+v", ans)
		}
		return ans
	}
	var queries []string

	t.Run("partial, duplicates, malformed, no consent", func(t *testing.T) {
		ans := run(overlapSpec(t, "bank-a", "shop-b"))
		queries = append(queries, ans.QueryID)
		// bank-a's set is persons 0..299: its duplicates collapse, the
		// malformed numbers, the records without consent (1000..1099, which
		// shop-b also holds) and the minors stay out.
		wantFigure(t, ans, overlap.KindSize, -1, 300, false, "bank-a")
		wantFigure(t, ans, overlap.KindSize, -1, 500, false, "shop-b")
		wantFigure(t, ans, overlap.KindIntersection, -1, 250, false, "bank-a", "shop-b")
		wantFigure(t, ans, overlap.KindUnion, -1, 550, false, "bank-a", "shop-b")
	})
	t.Run("full", func(t *testing.T) {
		ans := run(overlapSpec(t, "pay-c", "bank-a"))
		wantFigure(t, ans, overlap.KindIntersection, -1, 300, false, "pay-c", "bank-a")
		wantFigure(t, ans, overlap.KindUnion, -1, 300, false, "pay-c", "bank-a")
	})
	t.Run("empty", func(t *testing.T) {
		ans := run(overlapSpec(t, "bank-a", "trip-d"))
		// 0 is below the minimum cell size, and the union would reveal it.
		wantFigure(t, ans, overlap.KindIntersection, -1, 0, true, "bank-a", "trip-d")
		wantFigure(t, ans, overlap.KindUnion, -1, 0, true, "bank-a", "trip-d")
		wantFigure(t, ans, overlap.KindSize, -1, 100, false, "trip-d")
	})
	t.Run("one element", func(t *testing.T) {
		ans := run(overlapSpec(t, "card-e", "trip-d"))
		wantFigure(t, ans, overlap.KindIntersection, -1, 100, false, "card-e", "trip-d")
		ans = run(overlapSpec(t, "bank-a", "card-e"))
		wantFigure(t, ans, overlap.KindIntersection, -1, 0, true, "bank-a", "card-e") // 1 < 11
		wantFigure(t, ans, overlap.KindSize, -1, 101, false, "card-e")
	})
	t.Run("group by and filter", func(t *testing.T) {
		s := overlapSpec(t, "bank-a", "shop-b")
		s.Partners[0].GroupBy = []query.GroupBy{{Column: "city_tier", Values: []string{"1", "2", "3"}}}
		s.Partners[1].Filter = []query.Predicate{{Column: "age", Op: query.OpGe, Value: 18.0}}
		ans := run(s)
		for seg, want := range []int64{50, 100, 100} {
			wantFigure(t, ans, overlap.KindIntersection, seg, want, false, "bank-a", "shop-b")
			wantFigure(t, ans, overlap.KindSize, seg, 100, false, "bank-a")
		}
		wantFigure(t, ans, overlap.KindIntersection, -1, 250, false, "bank-a", "shop-b")
	})
	t.Run("three partners", func(t *testing.T) {
		ans := run(overlapSpec(t, "bank-a", "shop-b", "pay-c"))
		wantFigure(t, ans, overlap.KindIntersection, -1, 250, false, "bank-a", "shop-b", "pay-c")
		wantFigure(t, ans, overlap.KindIntersection, -1, 250, false, "bank-a", "shop-b")
		wantFigure(t, ans, overlap.KindIntersection, -1, 300, false, "bank-a", "pay-c")
		wantFigure(t, ans, overlap.KindIntersection, -1, 250, false, "shop-b", "pay-c")
		wantFigure(t, ans, overlap.KindUnion, -1, 550, false, "bank-a", "shop-b", "pay-c")
	})
	checkNoIdentifierLeaves(t, rec.since(0), queries)
}

// checkNoIdentifierLeaves asserts on every message the nodes sent that no
// identifier of the test's audience appears in it: not as written, not
// normalised, not as national digits, and not as its unblinded hash in
// any query's domain.
func checkNoIdentifierLeaves(t *testing.T, msgs []observed, queries []string) {
	t.Helper()
	var secrets [][]byte
	persons := []int{0, 1, 42, 49, 50, 120, 299, 449, 1000, 1050, 2000, 5000}
	var hashers []*blind.Hasher
	for _, qid := range queries {
		prefix, err := ident.Domain{Federation: TrustDomain, Query: qid, Kind: ident.KindMobile}.Prefix()
		if err != nil {
			t.Fatal(err)
		}
		hashers = append(hashers, blind.NewHasher(prefix))
	}
	for _, p := range persons {
		for sp := range 4 {
			norm, written := synth.Mobile(p, sp)
			secrets = append(secrets, []byte(norm), []byte(norm[2:]), []byte(written))
			for _, h := range hashers {
				e := h.Hash(norm)
				secrets = append(secrets, e[:])
			}
		}
	}
	frames := 0
	for _, o := range msgs {
		b, err := proto.Marshal(o.msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Fatalf("%s sent a %T carrying an identifier", o.node, o.msg.Body)
			}
		}
		if o.msg.GetOverlapFrame() != nil || o.msg.GetOverlapHello() != nil {
			frames++
		}
	}
	if frames == 0 {
		t.Fatal("no overlap frame observed")
	}
}

// TestOverlapRefusals checks that every node's policy refuses what it
// must, with the rule's code and article: a purpose that does not permit
// overlap queries, an identifier kind the purpose does not permit, a node
// without consent records, a set under the minimum size, and a partner
// that is not a member.
func TestOverlapRefusals(t *testing.T) {
	partners := overlapData(t)[:2]
	nc := dataset.NewBuilder()
	norm := make([]string, 50)
	for i := range norm {
		_, norm[i] = synth.Mobile(i, 0)
	}
	nc.AddCategory("phone_number", norm)
	nc.AddNumber("age", make([]float64, 50))
	ncTable, err := nc.Build()
	if err != nil {
		t.Fatal(err)
	}
	partners = append(partners, Partner{Name: "no-consent", Data: ncTable})
	fed := startFederation(t, Config{Partners: partners, PolicyData: overlapPolicy()})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name    string
		edit    func(s *overlap.Spec)
		code    string
		article string
	}{
		{"purpose without overlap", func(s *overlap.Spec) { s.Purpose = "credit_scoring"; s.PipiaID = "PIPIA-2026-CS-01" }, "OVERLAP_NOT_PERMITTED", "PIPL Art. 6, 14"},
		{"identifier kind", func(s *overlap.Spec) {
			s.Purpose, s.PipiaID = "risk_analytics", "PIPIA-2026-RA-01"
		}, "OVERLAP_IDENTIFIER_KIND", "PIPL Art. 6"},
		{"identifier column", func(s *overlap.Spec) { s.Identifier.Column = "city_tier" }, "OVERLAP_IDENTIFIER_COLUMN", "PIPL Art. 6"},
		{"no consent records", func(s *overlap.Spec) { s.Partners[1].Name = "no-consent" }, "CONSENT_COLUMN_MISSING", "PIPL Art. 13-14"},
		{"set under the minimum", func(s *overlap.Spec) { s.MinSetSize = 301 }, "OVERLAP_SET_TOO_SMALL", "PIPL Art. 73(4)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := overlapSpec(t, "bank-a", "shop-b")
			tt.edit(s)
			_, err := fed.Overlap(ctx, s)
			if err == nil {
				t.Fatal("the overlap was answered")
			}
			if !strings.Contains(err.Error(), tt.code) || !strings.Contains(err.Error(), tt.article) {
				t.Errorf("refusal %v lacks %s (%s)", err, tt.code, tt.article)
			}
		})
	}
	s := overlapSpec(t, "bank-a", "nobody")
	if _, err := fed.Overlap(ctx, s); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("an overlap with a non-member: %v", err)
	}
}

// TestOverlapDPAndBudget runs overlaps with the default bundle's DP: the
// release states its noise, every figure is within the noise's tail bound
// of the exact count, both overlaps spend the same ledger as joint
// queries, and once the day's budget is spent the nodes refuse.
func TestOverlapDPAndBudget(t *testing.T) {
	partners := overlapData(t)[:2]
	fed := startFederation(t, Config{Partners: partners, PolicyData: map[string]any{
		"overlap":      map[string]any{"min_set_size": 1},
		"release_gate": map[string]any{"min_cell_size": 11},
		"purposes":     map[string]any{"marketing_analytics": map[string]any{"dp": map[string]any{"daily_epsilon": 3}}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := overlapSpec(t, "bank-a", "shop-b")
	s.Epsilon, s.Delta = 2, 1e-9
	ans, err := fed.Overlap(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := noise.Calibrate(2, 1e-9, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Noisy || ans.Epsilon != 2 || ans.NoiseScale != cal.Scale || math.Abs(ans.CellVariance-cal.Variance()) > 1e-9 {
		t.Errorf("noise stated as %+v, want scale %v variance %v", ans, cal.Scale, cal.Variance())
	}
	// The figure noise is the sum of its cells' noises: |noise| ≤ 2s + 40t
	// per cell with overwhelming probability.
	bound := func(cells int) int64 { return int64(cells) * int64(2*cal.Shift+int(40*cal.Scale)) }
	for _, want := range []struct {
		kind     string
		partners []string
		value    int64
	}{{overlap.KindIntersection, []string{"bank-a", "shop-b"}, 250}, {overlap.KindSize, []string{"bank-a"}, 300}, {overlap.KindSize, []string{"shop-b"}, 500}} {
		f := figure(t, ans, want.kind, -1, want.partners...)
		if d := f.Value - want.value; f.Withheld || d > bound(f.Cells) || -d > bound(f.Cells) {
			t.Errorf("%s of %v: %d, exact %d, bound %d", want.kind, want.partners, f.Value, want.value, bound(f.Cells))
		}
	}
	_, err = fed.Overlap(ctx, s) // 2 + 2 > 3
	if err == nil || !strings.Contains(err.Error(), "DP_BUDGET_EXHAUSTED") {
		t.Fatalf("a second overlap beyond the daily budget: %v", err)
	}
}

// TestOverlapAudit checks that every partner's audit log verifies and
// records the overlap: its admission, its own set (size, malformed and
// duplicate numbers), the hellos, every list transfer, the release digest
// and the ε spent, and that the comparer's release record names the
// sealed release the others' records name.
func TestOverlapAudit(t *testing.T) {
	dir := t.TempDir()
	fed := startFederation(t, Config{Partners: overlapData(t)[:2], PolicyData: overlapPolicy(), Dir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ans, err := fed.Overlap(ctx, overlapSpec(t, "bank-a", "shop-b"))
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, name := range []string{"bank-a", "shop-b"} {
		path := filepath.Join(fed.NodeStateDir(name), "audit.log")
		// The log is checkpointed when the node closes; read what it has.
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := audit.Filter(f, audit.FilterOptions{QueryID: ans.QueryID})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[audit.Kind]audit.Entry{}
		for _, e := range entries {
			if e.QueryID == ans.QueryID {
				kinds[e.Kind] = e
			}
		}
		adm, set, run := kinds[audit.KindAdmission], kinds[audit.KindCohort], kinds[audit.KindOverlap]
		if adm.Result != audit.ResultAllow || adm.Detail["overlap"] != "true" || adm.DecisionID == "" {
			t.Errorf("%s: admission %+v", name, adm)
		}
		if set.Result != audit.ResultAllow || set.Detail["set_size"] == "" || set.Detail["malformed"] == "" || set.Detail["duplicates"] == "" {
			t.Errorf("%s: set %+v", name, set)
		}
		if run.Result != audit.ResultAllow || len(run.InputDigests) != 2 || len(run.CiphertextDigests) == 0 || run.Detail["release_digest"] == "" || run.Detail["epsilon"] == "" {
			t.Errorf("%s: run %+v", name, run)
		}
		digests = append(digests, run.Detail["release_digest"])
		if name == "bank-a" && (set.Detail["set_size"] != "300" || set.Detail["malformed"] != "5" || set.Detail["duplicates"] != "50") {
			t.Errorf("bank-a's set: %v", set.Detail)
		}
		if name == "shop-b" {
			rel := kinds[audit.KindRelease]
			if rel.Result != audit.ResultAllow || len(rel.CiphertextDigests) != 1 || rel.CiphertextDigests[0] != run.Detail["release_digest"] {
				t.Errorf("the comparer's release record %+v", rel)
			}
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("the partners record different releases: %v", digests)
	}
	fed.Close()
	for _, name := range []string{"bank-a", "shop-b"} {
		f, err := os.Open(filepath.Join(dir, "nodes", name, "state", "audit.log"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = audit.Verify(f, audit.VerifyOptions{Roots: fed.CA().Pool(), RequireFinalCheckpoint: true})
		f.Close()
		if err != nil {
			t.Errorf("%s: audit log does not verify: %v", name, err)
		}
	}
}

// swapHelloKeys is a coordinator that relays every overlap hello with its
// own channel key in place of the sender's: a relay trying to sit between
// two partners.
type swapHelloKeys struct {
	pb.CoordinatorServer
	key     []byte
	mu      sync.Mutex
	swapped int
}

func (w *swapHelloKeys) Attach(stream pb.Coordinator_AttachServer) error {
	return w.CoordinatorServer.Attach(&swapStream{stream, w})
}

type swapStream struct {
	pb.Coordinator_AttachServer
	w *swapHelloKeys
}

func (s *swapStream) Send(m *pb.CoordinatorMessage) error {
	if h := m.GetOverlapHello(); h != nil {
		f, err := wire.Decode(h.Frame)
		if err != nil {
			return err
		}
		f.Payload = s.w.key
		swapped := proto.Clone(h).(*pb.OverlapHello)
		swapped.Frame = f.Encode()
		m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_OverlapHello{OverlapHello: swapped}}
		s.w.mu.Lock()
		s.w.swapped++
		s.w.mu.Unlock()
	}
	return s.Coordinator_AttachServer.Send(m)
}

// TestRelaySwappingHelloKeysIsDetected plays a coordinator that replaces
// the partners' channel keys in their hellos: every partner checks each
// hello's signature against the epoch's certificate of its sender, refuses
// the run and records why, and nothing is released.
func TestRelaySwappingHelloKeysIsDetected(t *testing.T) {
	eph, err := wire.NewEphemeral()
	if err != nil {
		t.Fatal(err)
	}
	w := &swapHelloKeys{key: eph.Public()}
	dir := t.TempDir()
	fed := startFederation(t, Config{Partners: overlapData(t)[:2], PolicyData: overlapPolicy(), Dir: dir,
		WrapCoordinator: func(s pb.CoordinatorServer) pb.CoordinatorServer { w.CoordinatorServer = s; return w }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = fed.Overlap(ctx, overlapSpec(t, "bank-a", "shop-b"))
	if err == nil {
		t.Fatal("an overlap with swapped hello keys was answered")
	}
	if !strings.Contains(err.Error(), "hello") {
		t.Errorf("error %v does not name the hello", err)
	}
	w.mu.Lock()
	swapped := w.swapped
	w.mu.Unlock()
	if swapped == 0 {
		t.Fatal("the relay swapped no hello")
	}
	found := false
	for _, name := range []string{"bank-a", "shop-b"} {
		b, err := os.ReadFile(filepath.Join(fed.NodeStateDir(name), "audit.log"))
		if err != nil {
			t.Fatal(err)
		}
		found = found || bytes.Contains(b, []byte("HELLO_NOT_VERIFIED"))
	}
	if !found {
		t.Error("no partner recorded the hello that did not verify")
	}
}

// TestOverlapNoiseThroughTheFederation checks the noise of the stated
// distribution end to end: two partners sharing exactly 30 customers in
// each of 300 segments of one partner's set, so that every released
// segment count is 30 + (n − s) + z, n the noise party's dummies and z the
// comparer's discrete Laplace noise, far above the minimum cell size. The
// released values less 30 must fit that convolution (χ², as internal/dp's
// and psi's tests do).
func TestOverlapNoiseThroughTheFederation(t *testing.T) {
	const segments, shared = 300, 30
	values := make([]string, segments)
	var a []synth.Customer
	for i := range values {
		values[i] = fmt.Sprint(i)
		for _, c := range synth.Audience(i*shared, (i+1)*shared, values[i]) {
			a = append(a, c)
		}
	}
	at, err := synth.AudienceTable(a)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := synth.AudienceTable(synth.Audience(0, segments*shared, "1"))
	if err != nil {
		t.Fatal(err)
	}
	fed := startFederation(t, Config{Partners: []Partner{{Name: "bank-a", Data: at}, {Name: "shop-b", Data: bt}},
		PolicyData: map[string]any{"overlap": map[string]any{"min_set_size": 1}, "release_gate": map[string]any{"min_cell_size": 11}}})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	s := overlapSpec(t, "bank-a", "shop-b")
	s.Epsilon, s.Delta = 2, 1e-6
	s.Partners[0].GroupBy = []query.GroupBy{{Column: "city_tier", Values: values}}
	ans, err := fed.Overlap(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := noise.Calibrate(2, 1e-6, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Noisy || ans.NoiseScale != cal.Scale {
		t.Fatalf("noise stated as scale %v, want %v", ans.NoiseScale, cal.Scale)
	}
	const half = 40
	var offsets []int
	for _, f := range ans.Figures {
		if f.Kind != overlap.KindIntersection || f.Segment < 0 {
			continue
		}
		if f.Withheld {
			t.Fatalf("segment %d withheld", f.Segment)
		}
		offsets = append(offsets, int(f.Value-shared)+half)
	}
	if len(offsets) != segments {
		t.Fatalf("%d segment figures, want %d", len(offsets), segments)
	}
	stat, df, p := stattest.ChiSquare(cal.ReleasedPMF(half), offsets)
	t.Logf("released segment counts (t = %g, s = %d): chi2 = %.1f, df = %d, p = %.4f", cal.Scale, cal.Shift, stat, df, p)
	if p < stattest.PValueFloor {
		t.Errorf("released counts do not fit (n − s) + z: p = %.3g", p)
	}
}
