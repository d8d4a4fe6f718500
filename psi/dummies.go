package psi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/noise"
)

// dummyPlan is the noise party's secret: how many matching dummies each
// cell gets, and a seed from which the exponent of each dummy is derived,
// so that the same dummy is inserted into every list of its cell.
type dummyPlan struct {
	counts []int
	seed   [32]byte
	slots  int
}

func newDummyPlan(p *plan) (*dummyPlan, error) {
	s, err := noise.NewDummySampler(nil, *p.noise)
	if err != nil {
		return nil, err
	}
	d := &dummyPlan{counts: drawDummyCounts(s, len(p.cells)), slots: p.noise.Slots()}
	if _, err := rand.Read(d.seed[:]); err != nil {
		return nil, fmt.Errorf("dummy seed: %w", err)
	}
	return d, nil
}

// drawDummyCounts draws the number of matching dummies of n cells.
func drawDummyCounts(s *noise.DummySampler, n int) []int {
	counts := make([]int, n)
	for i := range counts {
		counts[i] = s.Sample()
	}
	return counts
}

// insert adds the dummies of list l: for each of its cells, the matching
// dummies base^r (base already raised to the noise party's key, r derived
// per cell and dummy) and random fillers up to the cell's slots.
func (d *dummyPlan) insert(ctx context.Context, p *plan, pool *blind.Pool, l list, base blind.Element, add func(*blind.Element) error) error {
	var keys []*blind.Key
	fillers := 0
	label := make([]byte, 8)
	for ci, c := range p.cells {
		if !p.inCell(l, c) {
			continue
		}
		for u := 0; u < d.counts[ci]; u++ {
			binary.BigEndian.PutUint32(label, uint32(ci))
			binary.BigEndian.PutUint32(label[4:], uint32(u))
			keys = append(keys, blind.DeriveKey(d.seed[:], label))
		}
		fillers += d.slots - d.counts[ci]
	}
	out := make([]blind.Element, len(keys))
	if err := pool.Powers(ctx, base, keys, out); err != nil {
		return err
	}
	for i := range out {
		if err := add(&out[i]); err != nil {
			return err
		}
	}
	for ; fillers > 0; fillers-- {
		e := blind.Random()
		if err := add(&e); err != nil {
			return err
		}
	}
	return nil
}
