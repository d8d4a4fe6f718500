package psi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/noise"
	"github.com/fedscore/fedscore/psi/wire"
)

// count runs at the comparer once every list is fully blinded: one pass
// over all lists sorted together finds, for every element, the set of
// parties whose lists hold it; every set of two or more parties (and the
// group-by party's segment) is a cell. The counts then get the comparer's
// release noise and go to every party.
func (st *runState) count(jobs chan<- job) error {
	p := st.p
	pl := p.plan
	it, err := st.compare.Sort()
	if err != nil {
		return err
	}
	counts := make([]int64, len(pl.cells))
	var cur [blind.ElementSize]byte
	var mask uint16
	var seg uint32
	have := false
	flush := func() {
		if have && bits.OnesCount16(mask) >= 2 {
			c := cell{parties: mask}
			if pl.cfg.GroupBy >= 0 && mask&(1<<pl.cfg.GroupBy) != 0 {
				c.segment = seg
			}
			counts[pl.cellIndex[c]]++
		}
	}
	for r, ok := it.Next(); ok; r, ok = it.Next() {
		if !have || !bytes.Equal(cur[:], r[:blind.ElementSize]) {
			flush()
			copy(cur[:], r)
			mask, seg, have = 0, 0, true
		}
		l := pl.lists[binary.BigEndian.Uint16(r[blind.ElementSize:])]
		mask |= 1 << l.owner
		if l.owner == pl.cfg.GroupBy {
			seg = l.segment
		}
	}
	flush()
	if err := it.Err(); err != nil {
		return err
	}
	st.compare.Close()
	st.compare = nil
	if p.observeCounts != nil {
		p.observeCounts(append([]int64(nil), counts...))
	}

	cells := make([]wire.Cell, len(pl.cells))
	var release *noise.ReleaseSampler
	if pl.noise != nil {
		if release, err = noise.NewReleaseSampler(nil, *pl.noise); err != nil {
			return err
		}
	}
	for i, c := range pl.cells {
		v := counts[i]
		if release != nil {
			v += release.Sample() - int64(pl.noise.Shift)
		}
		cells[i] = wire.Cell{Parties: c.parties, Segment: c.segment, Value: v}
	}
	if err := st.finish(cells); err != nil {
		return err
	}
	typ, body := wire.Result, wire.EncodeRelease(cells)
	if pl.cfg.PrivateRelease {
		digest, err := p.opts.Release(st.result)
		if err != nil {
			return fmt.Errorf("%w the release: %w", ErrRefused, err)
		}
		if len(digest) != wire.DigestSize {
			return fmt.Errorf("release digest of %d bytes, want %d", len(digest), wire.DigestSize)
		}
		st.result.ReleaseDigest = append([]byte(nil), digest...)
		typ, body = wire.Released, digest
	}
	jobs <- job{run: func(send func(*wire.Frame) error) error {
		for to := 0; to < pl.k; to++ {
			if to == p.self {
				continue
			}
			f := &wire.Frame{Type: typ, Session: pl.cfg.Session, List: wire.ResultList}
			p.chans[to].Seal(f, body)
			if err := send(f); err != nil {
				return err
			}
		}
		return nil
	}}
	return nil
}

// finish builds the party's result from the released cells (none at a
// party of a private release).
func (st *runState) finish(cells []wire.Cell) error {
	pl := st.p.plan
	if cells != nil || !pl.cfg.PrivateRelease || st.p.self == pl.comparer {
		if err := st.checkCells(cells); err != nil {
			return err
		}
	}
	for id, ok := range st.known {
		if !ok {
			return protocolError("result before list %d was seen", id)
		}
	}
	r := &Result{Parties: pl.k, GroupBy: pl.cfg.GroupBy, Noisy: pl.noise != nil}
	if pl.cfg.GroupBy >= 0 {
		r.Segments = pl.cfg.Segments
	}
	for _, c := range cells {
		r.Cells = append(r.Cells, Cell(c))
	}
	for _, l := range pl.lists {
		n := int64(st.sizes[l.id])
		if pl.noise != nil {
			n -= int64(pl.noise.Shift)
		}
		r.Sizes = append(r.Sizes, ListSize{Owner: l.owner, Segment: l.segment, Elements: n})
	}
	if pl.noise != nil {
		r.Noise = *pl.noise
	}
	st.result = r
	return nil
}

// checkCells checks that released cells are the session's.
func (st *runState) checkCells(cells []wire.Cell) error {
	pl := st.p.plan
	if len(cells) != len(pl.cells) {
		return protocolError("release of %d cells, want %d", len(cells), len(pl.cells))
	}
	for i, c := range pl.cells {
		if cells[i].Parties != c.parties || cells[i].Segment != c.segment {
			return protocolError("release cell %d does not match the session", i)
		}
	}
	return nil
}
