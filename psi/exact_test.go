package psi

import (
	"fmt"
	"math/bits"
	"testing"

	"github.com/fedscore/fedscore/psi/ident"
)

// expected computes the cells, sizes and union of sets in the clear.
type expected struct {
	cells map[cell]int64
	sizes []int64
	union int64
}

func expect(k, groupBy int, sets [][]ident.Record) expected {
	holders := map[string]uint16{}
	segOf := map[string]uint32{}
	e := expected{cells: map[cell]int64{}, sizes: make([]int64, k)}
	for p, s := range sets {
		seen := map[string]bool{}
		for _, r := range s {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			e.sizes[p]++
			holders[r.ID] |= 1 << p
			if p == groupBy {
				if old, ok := segOf[r.ID]; !ok || r.Segment < old {
					segOf[r.ID] = r.Segment
				}
			}
		}
	}
	for id, m := range holders {
		e.union++
		if bits.OnesCount16(m) < 2 {
			continue
		}
		c := cell{parties: m}
		if groupBy >= 0 && m&(1<<groupBy) != 0 {
			c.segment = segOf[id]
		}
		e.cells[c]++
	}
	return e
}

func checkExact(t *testing.T, res []*Result, e expected) {
	t.Helper()
	for i, r := range res {
		if r.Noisy {
			t.Fatalf("party %d: noisy result without DP", i)
		}
		for _, c := range r.Cells {
			if want := e.cells[cell{c.Parties, c.Segment}]; c.Value != want {
				t.Errorf("party %d: cell %04b/%d = %d, want %d", i, c.Parties, c.Segment, c.Value, want)
			}
		}
		for p := range e.sizes {
			if got := r.Size(p); got != e.sizes[p] {
				t.Errorf("party %d: size of %d = %d, want %d", i, p, got, e.sizes[p])
			}
		}
		if got := r.Union(); got != e.union {
			t.Errorf("party %d: union %d, want %d", i, got, e.union)
		}
	}
}

// TestExact runs partners with known overlaps without DP: every party
// learns the exact cells, sizes and union.
func TestExact(t *testing.T) {
	dup := append(records(span(0, 50)...), records(span(0, 50)...)...) // every identifier twice
	for _, tt := range []struct {
		name string
		sets [][]ident.Record
	}{
		{"k=2 partial", [][]ident.Record{records(span(0, 100)...), records(span(60, 250)...)}},
		{"k=2 empty intersection", [][]ident.Record{records(span(0, 100)...), records(span(100, 200)...)}},
		{"k=2 full", [][]ident.Record{records(span(0, 300)...), records(span(0, 300)...)}},
		{"k=2 one element", [][]ident.Record{records(7), records(span(0, 20)...)}},
		{"k=2 one party empty", [][]ident.Record{nil, records(span(0, 20)...)}},
		{"k=2 both empty", [][]ident.Record{nil, nil}},
		{"k=2 duplicates within a partner", [][]ident.Record{dup, records(span(25, 75)...)}},
		{"k=3", [][]ident.Record{records(span(0, 100)...), records(span(50, 150)...), records(span(90, 200)...)}},
		{"k=3 one common element", [][]ident.Record{records(1, 2, 3), records(3, 4), records(3, 5, 1)}},
		{"k=4", [][]ident.Record{records(span(0, 120)...), records(span(30, 150)...), records(span(60, 180)...), records(append(span(0, 10), span(100, 200)...)...)}},
		{"k=4 disjoint", [][]ident.Record{records(span(0, 10)...), records(span(10, 20)...), records(span(20, 30)...), records(span(30, 40)...)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := len(tt.sets)
			checkExact(t, runLocal(t, testConfig(k), tt.sets), expect(k, -1, tt.sets))
		})
	}
}

func TestAllAndPairwise(t *testing.T) {
	sets := [][]ident.Record{records(span(0, 100)...), records(span(50, 150)...), records(span(90, 200)...)}
	res := runLocal(t, testConfig(3), sets)
	r := res[1]
	for _, tt := range []struct {
		mask uint16
		want int64
	}{
		{Mask(0, 1, 2), 10}, // 90..99
		{Mask(0, 1), 50},    // 50..99
		{Mask(1, 2), 60},    // 90..149
		{Mask(0, 2), 10},    // 90..99
	} {
		if got := r.Intersection(tt.mask, -1); got != tt.want {
			t.Errorf("intersection of %03b = %d, want %d", tt.mask, got, tt.want)
		}
	}
	if r.Union() != 200 {
		t.Errorf("union %d", r.Union())
	}
}

// TestGroupBy splits one side into segments: the cells of that party are
// per segment, identifiers in two segments are kept in the lowest.
func TestGroupBy(t *testing.T) {
	for _, g := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("group-by party %d", g), func(t *testing.T) {
			t.Parallel()
			sets := [][]ident.Record{records(span(0, 100)...), records(span(50, 150)...), records(span(90, 200)...)}
			for i := range sets[g] {
				sets[g][i].Segment = uint32(i % 3)
			}
			// Conflict: one identifier listed again in another segment.
			sets[g] = append(sets[g], ident.Record{ID: sets[g][0].ID, Segment: 2})
			cfg := testConfig(3)
			cfg.GroupBy, cfg.Segments = g, 4 // segment 3 stays empty
			res := runLocal(t, cfg, sets)
			checkExact(t, res, expect(3, g, sets))
			if rep := res[g].Local; rep.Conflicts != 1 || rep.Duplicates != 1 || len(rep.Elements) != 4 || rep.Elements[3] != 0 {
				t.Errorf("report %+v", rep)
			}
			var sum int64
			for s := 0; s < 4; s++ {
				sum += res[0].Intersection(Mask(0, 1, 2), s)
			}
			if all := res[0].Intersection(Mask(0, 1, 2), -1); sum != all || all != 10 {
				t.Errorf("per-segment intersections sum to %d, total %d", sum, all)
			}
		})
	}
}

// TestLegacyIDCardsMatch checks that normalisation makes a partner's
// legacy 15-digit numbers meet the other partner's 18-digit numbers.
func TestLegacyIDCardsMatch(t *testing.T) {
	legacy := []string{"110105491231002", "440524800101001", "320311770706001"}
	var a, b []ident.Record
	for _, raw := range legacy {
		n15, err := ident.NormalizeIDCard(raw)
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, ident.Record{ID: n15})
		full := raw[:6] + "19" + raw[6:]
		n18, err := ident.NormalizeIDCard(full + string(ident.CheckCharacter(full)))
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, ident.Record{ID: n18})
	}
	cfg := testConfig(2)
	cfg.Domain.Kind = ident.KindIDCard
	res := runLocal(t, cfg, [][]ident.Record{a, append(b, ident.Record{ID: "11010519491231002X"})})
	if got := res[0].Intersection(Mask(0, 1), -1); got != 3 {
		t.Errorf("intersection %d, want 3", got)
	}
}
