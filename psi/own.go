package psi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/noise"
	"github.com/fedscore/fedscore/psi/spool"
)

// Report is what a party learns about its own input; it stays local.
type Report struct {
	// Records is the number of records read from the source.
	Records int
	// Duplicates counts records whose identifier appeared before.
	Duplicates int
	// Conflicts counts identifiers the source put in more than one
	// segment; each is kept in its lowest segment.
	Conflicts int
	// Elements is the set size per own list, Padding the random elements
	// added to hide it (DP only).
	Elements, Padding []uint64
}

// ownLists holds a party's own blinded, deduplicated, padded and shuffled
// lists, in one sorter of records segment|random key|element.
type ownLists struct {
	sorter *spool.Sorter
	totals []uint64 // per own list, as sent
	base   *blind.Element
}

type prepareResult struct {
	own    *ownLists
	report Report
	err    error
}

const (
	dedupRecord = blind.ElementSize + 4
	ownRecord   = 4 + 8 + blind.ElementSize
)

// newShuffleRand returns a CSPRNG for the random sort keys that shuffle a
// list.
func newShuffleRand() *mrand.Rand {
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return mrand.New(mrand.NewChaCha8(seed))
}

func (p *Party) sorter(recordSize int) (*spool.Sorter, error) {
	return spool.NewSorter(spool.Config{Dir: p.opts.TempDir, RecordSize: recordSize, Memory: p.opts.Memory})
}

// prepare reads the party's set, blinds it with the party's key,
// deduplicates it (by blinded element, so equal identifiers collapse),
// pads each list and shuffles it.
func (p *Party) prepare(ctx context.Context, src ident.Source) (res prepareResult) {
	own := p.plan.byOwner[p.self]
	res.report.Elements = make([]uint64, len(own))
	res.report.Padding = make([]uint64, len(own))
	dedup, err := p.sorter(dedupRecord)
	if err != nil {
		return prepareResult{err: err}
	}
	defer dedup.Close()
	if err := p.readBlinded(ctx, src, len(own), dedup, &res.report); err != nil {
		return prepareResult{err: err}
	}

	out, err := p.sorter(ownRecord)
	if err != nil {
		return prepareResult{err: err}
	}
	ok := false
	defer func() {
		if !ok {
			out.Close()
		}
	}()
	rng := newShuffleRand()
	rec := make([]byte, ownRecord)
	add := func(seg uint32, e *blind.Element) error {
		binary.BigEndian.PutUint32(rec, seg)
		binary.BigEndian.PutUint64(rec[4:], rng.Uint64())
		copy(rec[12:], e[:])
		return out.Add(rec)
	}
	it, err := dedup.Sort()
	if err != nil {
		return prepareResult{err: err}
	}
	var prev []byte
	var unique uint64
	for r, more := it.Next(); more; r, more = it.Next() {
		if prev != nil && bytes.Equal(prev[:blind.ElementSize], r[:blind.ElementSize]) {
			res.report.Duplicates++
			if !bytes.Equal(prev[blind.ElementSize:], r[blind.ElementSize:]) {
				res.report.Conflicts++
			}
			continue
		}
		prev = append(prev[:0], r...)
		unique++
		if unique > p.plan.cfg.MaxList {
			return prepareResult{err: fmt.Errorf("%w: more than %d identifiers", ErrSetTooLarge, p.plan.cfg.MaxList)}
		}
		seg := binary.BigEndian.Uint32(r[blind.ElementSize:])
		res.report.Elements[seg]++
		if err := add(seg, (*blind.Element)(r[:blind.ElementSize])); err != nil {
			return prepareResult{err: err}
		}
	}
	if err := it.Err(); err != nil {
		return prepareResult{err: err}
	}
	lists := &ownLists{totals: make([]uint64, len(own))}
	copy(lists.totals, res.report.Elements)
	if n := p.plan.noise; n != nil {
		if err := p.pad(ctx, own, *n, add, &res.report, lists); err != nil {
			return prepareResult{err: err}
		}
	}
	lists.sorter = out
	ok = true
	res.own = lists
	return res
}

// readBlinded reads src in batches, blinds each batch and adds
// element|segment records to dedup.
func (p *Party) readBlinded(ctx context.Context, src ident.Source, segments int, dedup *spool.Sorter, report *Report) error {
	batch := p.opts.BatchSize
	ids := make([]string, 0, batch)
	segs := make([]uint32, 0, batch)
	els := make([]blind.Element, batch)
	rec := make([]byte, dedupRecord)
	flush := func() error {
		out := els[:len(ids)]
		if err := p.pool.HashBlind(ctx, p.hash, p.key, ids, out); err != nil {
			return err
		}
		for i := range out {
			copy(rec, out[i][:])
			binary.BigEndian.PutUint32(rec[blind.ElementSize:], segs[i])
			if err := dedup.Add(rec); err != nil {
				return err
			}
		}
		ids, segs = ids[:0], segs[:0]
		return nil
	}
	limit := 2 * p.plan.cfg.MaxList // duplicates are allowed, within reason
	for {
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read own set: %w", err)
		}
		if int(r.Segment) >= segments {
			return fmt.Errorf("read own set: record %d: segment %d of %d", report.Records+1, r.Segment, segments)
		}
		report.Records++
		if uint64(report.Records) > limit {
			return fmt.Errorf("%w: more than %d records", ErrSetTooLarge, limit)
		}
		ids = append(ids, r.ID)
		segs = append(segs, r.Segment)
		if len(ids) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// pad adds the size noise to every own list and, at the noise party, the
// dummies of its own lists; it sets the dummy base the lists carry.
func (p *Party) pad(ctx context.Context, own []uint16, cal noise.Calibration, add func(uint32, *blind.Element) error, report *Report, lists *ownLists) error {
	sizes, err := noise.NewDummySampler(nil, cal)
	if err != nil {
		return err
	}
	for i := range own {
		n := uint64(sizes.Sample())
		report.Padding[i] = n
		lists.totals[i] += n
		for ; n > 0; n-- {
			e := blind.Random()
			if err := add(uint32(i), &e); err != nil {
				return err
			}
		}
	}
	base, err := blind.Exp(p.base, p.key)
	if err != nil {
		return err
	}
	if p.dummy == nil {
		lists.base = &base
		return nil
	}
	for i, id := range own {
		l := p.plan.lists[id]
		err := p.dummy.insert(ctx, p.plan, p.pool, l, base, func(e *blind.Element) error { return add(uint32(i), e) })
		if err != nil {
			return err
		}
		lists.totals[i] += p.plan.slots(l)
	}
	return nil
}
