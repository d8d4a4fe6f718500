package psi

import (
	"context"
	"fmt"
	"testing"

	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
)

func testConfig(k int) Config {
	return Config{
		Session: wire.SessionID{1, 2, 3},
		Domain:  ident.Domain{Federation: "test-fed", Query: "q-1", Kind: ident.KindMobile},
		Parties: k,
		GroupBy: -1,
	}
}

// phone returns the i-th synthetic normalised mobile number.
func phone(i int) string { return fmt.Sprintf("86138%08d", i) }

func records(ids ...int) []ident.Record {
	r := make([]ident.Record, len(ids))
	for i, id := range ids {
		r[i] = ident.Record{ID: phone(id)}
	}
	return r
}

func span(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func runLocal(t testing.TB, cfg Config, sets [][]ident.Record) []*Result {
	t.Helper()
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := make([]ident.Source, len(sets))
	for i, s := range sets {
		src[i] = &ident.SliceSource{Records: s}
	}
	res, err := l.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTwoPartiesExact(t *testing.T) {
	res := runLocal(t, testConfig(2), [][]ident.Record{records(span(0, 100)...), records(span(60, 250)...)})
	for i, r := range res {
		if got := r.Intersection(Mask(0, 1), -1); got != 40 {
			t.Errorf("party %d: intersection %d, want 40", i, got)
		}
		if got := r.Union(); got != 250 {
			t.Errorf("party %d: union %d, want 250", i, got)
		}
	}
}
