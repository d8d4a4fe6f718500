package psi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	mrand "math/rand/v2"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/spool"
	"github.com/fedscore/fedscore/psi/wire"
)

// runState is a party's state during Run; only Run's goroutine touches it.
type runState struct {
	p        *Party
	hellos   int
	own      *ownLists
	report   Report
	started  bool
	incoming map[hopKey]*incoming
	seen     map[hopKey]bool
	sizes    []uint64 // per list, without dummies; known once seen
	known    []bool
	compare  *spool.Sorter // comparer only: element|list id
	finals   int
	result   *Result
	rng      *mrand.Rand
	plain    []byte
	els      []blind.Element
}

type hopKey struct {
	list uint16
	hop  uint8
}

// incoming is a list being received.
type incoming struct {
	l      list
	hop    int // exponents on arrival
	total  uint64
	got    uint64
	seq    uint32
	base   *blind.Element
	digest hash.Hash
	// Exactly one of these receives the elements: the shuffle sorter of a
	// list to forward, or the comparer's sorter (final lists, and lists
	// whose last exponent the comparer applies itself).
	sorter *spool.Sorter
	final  bool
	apply  bool // this party raises the elements to its key
}

const (
	shuffleRecord = 8 + blind.ElementSize
	compareRecord = blind.ElementSize + 2
)

func newRunState(p *Party) *runState {
	return &runState{
		p:        p,
		incoming: make(map[hopKey]*incoming),
		seen:     make(map[hopKey]bool),
		sizes:    make([]uint64, len(p.plan.lists)),
		known:    make([]bool, len(p.plan.lists)),
		rng:      newShuffleRand(),
		els:      make([]blind.Element, wire.MaxBatch),
	}
}

func (st *runState) close() {
	for _, in := range st.incoming {
		if in.sorter != nil {
			in.sorter.Close()
		}
	}
	if st.compare != nil {
		st.compare.Close()
	}
	if st.own != nil && st.own.sorter != nil {
		st.own.sorter.Close()
	}
}

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// handle processes one received frame.
func (st *runState) handle(ctx context.Context, b []byte, jobs chan<- job) error {
	p := st.p
	f, err := wire.Decode(b)
	if err != nil {
		return err
	}
	if f.Session != p.plan.cfg.Session {
		return protocolError("frame of another session")
	}
	if int(f.From) >= p.plan.k || (f.To != wire.Broadcast && int(f.To) != p.self) || int(f.From) == p.self {
		return protocolError("frame from %d to %d at party %d", f.From, f.To, p.self)
	}
	switch f.Type {
	case wire.Hello:
		if p.chans[f.From] != nil {
			return protocolError("second hello from %d", f.From)
		}
		c, err := p.eph.Channel(p.plan.cfg.Session, uint8(p.self), f.From, f.Payload)
		if err != nil {
			return err
		}
		p.chans[f.From] = c
		st.hellos++
		return nil
	case wire.Abort:
		return fmt.Errorf("%w: party %d: %.32q", ErrAborted, f.From, f.Payload)
	}
	c := p.chans[f.From]
	if c == nil {
		return protocolError("%v from %d before its hello", f.Type, f.From)
	}
	plain, err := c.Open(st.plain, f)
	if err != nil {
		return err
	}
	st.plain = plain
	switch f.Type {
	case wire.ListStart:
		return st.start(f, plain)
	case wire.Batch:
		return st.batch(ctx, f, plain)
	case wire.ListEnd:
		return st.end(ctx, f, plain, jobs)
	case wire.Result:
		if int(f.From) != p.plan.comparer {
			return protocolError("result from party %d", f.From)
		}
		if pl := p.plan; pl.cfg.PrivateRelease {
			return protocolError("cells released to the parties of a private release")
		}
		cells, err := wire.DecodeRelease(plain)
		if err != nil {
			return err
		}
		return st.finish(cells)
	case wire.Released:
		if int(f.From) != p.plan.comparer || !p.plan.cfg.PrivateRelease {
			return protocolError("released frame from party %d", f.From)
		}
		if err := st.finish(nil); err != nil {
			return err
		}
		st.result.ReleaseDigest = append([]byte(nil), plain...)
		return nil
	}
	return protocolError("unexpected %v", f.Type)
}

// noteSize records the size of list l from a frame carrying h exponents.
func (st *runState) noteSize(l list, h int, total uint64) {
	if st.known[l.id] {
		return
	}
	if st.p.plan.noise != nil && h >= st.p.plan.noiserHop(l.owner) {
		total -= st.p.plan.slots(l)
	}
	st.sizes[l.id], st.known[l.id] = total, true
}

func (st *runState) start(f *wire.Frame, plain []byte) error {
	p := st.p
	pl := p.plan
	if int(f.List) >= len(pl.lists) {
		return protocolError("unknown list %d", f.List)
	}
	l := pl.lists[f.List]
	h := int(f.Hop)
	key := hopKey{f.List, f.Hop}
	switch {
	case h < 1 || h > pl.k:
		return protocolError("list %d at hop %d", l.id, h)
	case int(f.From) != pl.partyAt(l.owner, h-1) || pl.recipient(l.owner, h) != p.self:
		return protocolError("list %d at hop %d from %d to %d is off its path", l.id, h, f.From, p.self)
	case st.seen[key]:
		return protocolError("list %d at hop %d sent twice", l.id, h)
	case f.Total > pl.maxTotal(l):
		return protocolError("list %d of %d elements exceeds the bound %d", l.id, f.Total, pl.maxTotal(l))
	}
	st.seen[key] = true
	base, err := wire.DecodeStart(plain)
	if err != nil {
		return err
	}
	wantBase := pl.noise != nil && h < pl.noiserHop(l.owner)
	if (base != nil) != wantBase {
		return protocolError("list %d at hop %d: dummy base present %v, want %v", l.id, h, base != nil, wantBase)
	}
	if base != nil {
		if _, err := blind.Decode(base[:]); err != nil {
			return err
		}
	}
	st.noteSize(l, h, f.Total)
	in := &incoming{l: l, hop: h, total: f.Total, digest: sha256.New(), final: h == pl.k, apply: h < pl.k}
	if base != nil {
		in.base = (*blind.Element)(base)
	}
	if in.final || pl.recipient(l.owner, h+1) == p.self {
		if err := st.comparer(); err != nil {
			return err
		}
	} else if in.sorter, err = p.sorter(shuffleRecord); err != nil {
		return err
	}
	st.incoming[key] = in
	return nil
}

// comparer creates the comparer's sorter on first use.
func (st *runState) comparer() error {
	if st.p.self != st.p.plan.comparer {
		return protocolError("final list at a party that does not compare")
	}
	if st.compare == nil {
		s, err := st.p.sorter(compareRecord)
		if err != nil {
			return err
		}
		st.compare = s
	}
	return nil
}

func (st *runState) batch(ctx context.Context, f *wire.Frame, plain []byte) error {
	in := st.incoming[hopKey{f.List, f.Hop}]
	if in == nil {
		return protocolError("batch of list %d at hop %d before its start", f.List, f.Hop)
	}
	if f.Seq != in.seq || uint64(f.Count) > in.total-in.got {
		return protocolError("list %d: batch %d of %d elements out of order or beyond the total", f.List, f.Seq, f.Count)
	}
	in.seq++
	in.got += uint64(f.Count)
	in.digest.Write(plain)
	els := st.els[:f.Count]
	for i := range els {
		copy(els[i][:], plain[i*blind.ElementSize:])
	}
	if in.apply {
		if err := st.p.pool.Exp(ctx, st.p.key, els, els); err != nil {
			return fmt.Errorf("list %d: %w", f.List, err)
		}
	} else {
		for i := range els {
			if _, err := blind.Decode(els[i][:]); err != nil {
				return fmt.Errorf("list %d: %w", f.List, err)
			}
		}
	}
	for i := range els {
		if err := st.add(in, &els[i]); err != nil {
			return err
		}
	}
	return nil
}

// add stores one processed element of in.
func (st *runState) add(in *incoming, e *blind.Element) error {
	if in.sorter == nil {
		var rec [compareRecord]byte
		copy(rec[:], e[:])
		binary.BigEndian.PutUint16(rec[blind.ElementSize:], in.l.id)
		return st.compare.Add(rec[:])
	}
	var rec [shuffleRecord]byte
	binary.BigEndian.PutUint64(rec[:], st.rng.Uint64())
	copy(rec[8:], e[:])
	return in.sorter.Add(rec[:])
}

func (st *runState) end(ctx context.Context, f *wire.Frame, plain []byte, jobs chan<- job) error {
	p := st.p
	pl := p.plan
	key := hopKey{f.List, f.Hop}
	in := st.incoming[key]
	if in == nil {
		return protocolError("end of list %d at hop %d before its start", f.List, f.Hop)
	}
	if in.got != in.total || f.Total != in.total {
		return protocolError("list %d ended after %d of %d elements", f.List, in.got, in.total)
	}
	digest := in.digest.Sum(nil)
	if subtle.ConstantTimeCompare(digest, plain) != 1 {
		return protocolError("list %d: digest does not match its elements", f.List)
	}
	delete(st.incoming, key)
	p.recordHop(Hop{List: f.List, Hop: in.hop, From: int(f.From), To: p.self, Elements: in.total, Digest: digest})
	if in.sorter == nil {
		st.finals++
		if st.finals == len(pl.lists) {
			return st.count(jobs)
		}
		return nil
	}
	var out *blind.Element
	if in.base != nil {
		b, err := blind.Exp(*in.base, p.key)
		if err != nil {
			return err
		}
		if p.dummy != nil {
			if err := p.dummy.insert(ctx, pl, p.pool, in.l, b, func(e *blind.Element) error { return st.add(in, e) }); err != nil {
				return err
			}
		} else {
			out = &b
		}
	}
	it, err := in.sorter.Sort()
	if err != nil {
		in.sorter.Close()
		return err
	}
	hop := in.hop + 1
	to := pl.recipient(in.l.owner, hop)
	fr := &wire.Frame{Session: pl.cfg.Session, List: in.l.id, Hop: uint8(hop), Total: in.sorter.Len()}
	sorter := in.sorter
	jobs <- job{run: func(send func(*wire.Frame) error) error {
		defer sorter.Close()
		return p.sendList(send, to, fr, out, func() ([]byte, bool) {
			r, ok := it.Next()
			if !ok {
				return nil, false
			}
			return r[8:], true
		}, it.Err)
	}}
	return nil
}

// maybeStart queues the own lists once they are ready and every channel is
// open.
func (st *runState) maybeStart(jobs chan<- job) error {
	p := st.p
	if st.started || st.own == nil || st.hellos < p.plan.k-1 {
		return nil
	}
	st.started = true
	own := st.own
	it, err := own.sorter.Sort()
	if err != nil {
		return err
	}
	for i, id := range p.plan.byOwner[p.self] {
		st.noteSize(p.plan.lists[id], 1, own.totals[i])
	}
	to := p.plan.recipient(p.self, 1)
	sorter := own.sorter
	own.sorter = nil
	jobs <- job{run: func(send func(*wire.Frame) error) error {
		defer sorter.Close()
		var pending []byte // the first record of the next list, if read
		for i, id := range p.plan.byOwner[p.self] {
			fr := &wire.Frame{Session: p.plan.cfg.Session, List: id, Hop: 1, Total: own.totals[i]}
			left := own.totals[i]
			err := p.sendList(send, to, fr, own.base, func() ([]byte, bool) {
				if left == 0 {
					return nil, false
				}
				if pending == nil {
					r, ok := it.Next()
					if !ok {
						return nil, false
					}
					pending = r
				}
				if binary.BigEndian.Uint32(pending) != uint32(i) {
					return nil, false
				}
				left--
				e := pending[12:]
				pending = nil
				return e, true
			}, it.Err)
			if err != nil {
				return err
			}
		}
		return nil
	}}
	return nil
}

// sendList sends one list: start (with the dummy base, if any), batches of
// the elements next yields, and an end with their digest.
func (p *Party) sendList(send func(*wire.Frame) error, to int, fr *wire.Frame, base *blind.Element, next func() ([]byte, bool), iterErr func() error) error {
	c := p.chans[to]
	total := fr.Total
	start := *fr
	start.Type = wire.ListStart
	var b *[blind.ElementSize]byte
	if base != nil {
		b = (*[blind.ElementSize]byte)(base)
	}
	c.Seal(&start, wire.EncodeStart(b))
	if err := send(&start); err != nil {
		return err
	}
	digest := sha256.New()
	buf := make([]byte, 0, p.opts.BatchSize*blind.ElementSize)
	batch := wire.Frame{Type: wire.Batch, Session: fr.Session, List: fr.List, Hop: fr.Hop}
	var sent uint64
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		digest.Write(buf)
		batch.Count = uint32(len(buf) / blind.ElementSize)
		sent += uint64(batch.Count)
		batch.Payload = nil
		c.Seal(&batch, buf)
		buf = buf[:0]
		err := send(&batch)
		batch.Seq++
		return err
	}
	for {
		e, ok := next()
		if !ok {
			break
		}
		buf = append(buf, e...)
		if len(buf) == cap(buf) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := iterErr(); err != nil {
		return err
	}
	if sent != total {
		return fmt.Errorf("list %d: sent %d of %d elements", fr.List, sent, total)
	}
	end := wire.Frame{Type: wire.ListEnd, Session: fr.Session, List: fr.List, Hop: fr.Hop, Total: total}
	sum := digest.Sum(nil)
	c.Seal(&end, sum)
	if err := send(&end); err != nil {
		return err
	}
	p.recordHop(Hop{List: fr.List, Hop: int(fr.Hop), From: p.self, To: to, Elements: total, Digest: sum})
	return nil
}
