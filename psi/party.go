package psi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
)

// Errors a party reports, usable with errors.Is.
var (
	// ErrProtocol reports a frame that is well-formed but does not fit the
	// session: wrong sender, hop, order, size or digest.
	ErrProtocol = errors.New("PSI protocol violation")
	// ErrAborted reports an abort frame from another party.
	ErrAborted = errors.New("PSI session aborted by a party")
	// ErrSetTooLarge reports a set above the session's MaxList.
	ErrSetTooLarge = errors.New("set exceeds the session's list bound")
	// ErrRefused reports a party's own refusal of its input
	// (Options.Admit) or of the release (Options.Release).
	ErrRefused = errors.New("the party refused")
)

// Options are a party's local settings; they do not need to agree across
// parties.
type Options struct {
	// Workers is the number of goroutines for group operations
	// (GOMAXPROCS if 0).
	Workers int
	// TempDir holds spooled lists ("" means os.TempDir()).
	TempDir string
	// Memory bounds each spool buffer in bytes (spool.DefaultMemory if 0).
	// A party holds one per list it is receiving and two while preparing
	// its own lists; beyond that, lists spill to TempDir.
	Memory int
	// BatchSize is the number of elements per batch frame (wire.MaxBatch
	// if 0).
	BatchSize int
	// Admit, if set, sees the party's report on its own set once the set
	// is blinded and deduplicated, before any of it leaves the party; an
	// error refuses the input and aborts the session (a policy's minimum
	// set size, say).
	Admit func(Report) error
	// Release is called at the comparer of a session with PrivateRelease,
	// with the released result; it must deliver the cells where they
	// belong and return the 32-byte digest the other parties receive.
	Release func(*Result) ([]byte, error)
}

// Party is one party's side of a session: it reads its own set, blinds
// lists, relays them round the ring and, as comparer, counts. Create one
// per session with NewParty and call Run once.
type Party struct {
	plan  *plan
	self  int
	opts  Options
	key   *blind.Key
	eph   *wire.Ephemeral
	pool  *blind.Pool
	hash  *blind.Hasher
	base  blind.Element // the public start of every dummy base
	chans []*wire.Channel
	dummy *dummyPlan // the noise party's dummies
	hopMu sync.Mutex
	hops  []Hop // the list transfers this party sent and received
	// observeCounts, if set (tests only), sees the comparer's counts
	// before the release noise.
	observeCounts func([]int64)
}

// NewParty creates party index self of the session cfg, with a fresh
// secret key and a fresh ephemeral channel key.
func NewParty(cfg Config, self int, opts Options) (*Party, error) {
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	if self < 0 || self >= p.k {
		return nil, fmt.Errorf("%w: party index %d of %d", ErrConfig, self, p.k)
	}
	if cfg.PrivateRelease && self == p.comparer && opts.Release == nil {
		return nil, fmt.Errorf("%w: a private release needs the comparer's Options.Release", ErrConfig)
	}
	if opts.BatchSize <= 0 || opts.BatchSize > wire.MaxBatch {
		opts.BatchSize = wire.MaxBatch
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	key, err := blind.NewKey(nil)
	if err != nil {
		return nil, err
	}
	eph, err := wire.NewEphemeral()
	if err != nil {
		return nil, err
	}
	party := &Party{
		plan: p, self: self, opts: opts, key: key, eph: eph,
		pool:  blind.NewPool(opts.Workers),
		hash:  blind.NewHasher(p.prefix),
		base:  blind.Base(p.prefix, "dummy-base"),
		chans: make([]*wire.Channel, p.k),
	}
	if p.noise != nil && self == p.noiser {
		if party.dummy, err = newDummyPlan(p); err != nil {
			return nil, err
		}
	}
	return party, nil
}

// Hello returns the frame that announces this party's channel key. Run
// sends it first; it is exposed so that an integration can sign it.
func (p *Party) Hello() []byte { return p.helloFrame().Encode() }

func (p *Party) helloFrame() *wire.Frame {
	return &wire.Frame{Type: wire.Hello, From: uint8(p.self), To: wire.Broadcast, Session: p.plan.cfg.Session, Payload: p.eph.Public()}
}

// job is work for the sending goroutine. An always job (the abort) runs
// even after the session failed.
type job struct {
	run    func(send func(*wire.Frame) error) error
	always bool
}

// Run takes part in the session: it reads the party's set from src,
// receives frames from in and sends frames with emit. Frames from one
// sender must arrive in the order it sent them. emit is called from one
// goroutine at a time and should return once ctx is done. Run returns when
// the result is known, after its last frame is sent; every party gets the
// released counts and the sizes of all lists. On an error Run broadcasts an
// abort frame with a short reason code.
func (p *Party) Run(ctx context.Context, src ident.Source, in <-chan []byte, emit func([]byte) error) (res *Result, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := newRunState(p)
	defer st.close()

	// Every job is queued without blocking: the hello, the own lists,
	// one forward per list, the result and the abort.
	jobs := make(chan job, len(p.plan.lists)+4)
	sent := make(chan error, 1)
	go func() {
		e := p.sender(ctx, jobs, emit)
		if e != nil {
			cancel(e)
		}
		sent <- e
	}()
	defer func() {
		if err != nil && !errors.Is(err, ErrAborted) {
			jobs <- job{run: func(send func(*wire.Frame) error) error { return send(p.abortFrame(err)) }, always: true}
		}
		close(jobs)
		if e := <-sent; e != nil && err == nil {
			res, err = nil, e
		}
		if res != nil {
			p.hopMu.Lock()
			res.Hops = append([]Hop(nil), p.hops...)
			p.hopMu.Unlock()
		}
	}()
	jobs <- job{run: func(send func(*wire.Frame) error) error { return send(p.helloFrame()) }}

	prepared := make(chan prepareResult, 1)
	go func() { prepared <- p.prepare(ctx, src) }()

	for {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case pr := <-prepared:
			prepared = nil
			if pr.err != nil {
				return nil, pr.err
			}
			st.own, st.report = pr.own, pr.report
			if p.opts.Admit != nil {
				if err := p.opts.Admit(pr.report); err != nil {
					return nil, fmt.Errorf("%w its input: %w", ErrRefused, err)
				}
			}
		case b, ok := <-in:
			if !ok {
				return nil, fmt.Errorf("%w: input closed before the result", ErrProtocol)
			}
			if err := st.handle(ctx, b, jobs); err != nil {
				return nil, err
			}
		}
		if err := st.maybeStart(jobs); err != nil {
			return nil, err
		}
		if st.result != nil {
			st.result.Local = st.report
			return st.result, nil
		}
	}
}

// abortFrame is an abort with a short reason code for err.
func (p *Party) abortFrame(err error) *wire.Frame {
	reason := "error"
	switch {
	case errors.Is(err, ErrProtocol), errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrOpen), errors.Is(err, blind.ErrInvalidElement):
		reason = "protocol"
	case errors.Is(err, ErrSetTooLarge):
		reason = "set-too-large"
	case errors.Is(err, ErrRefused):
		reason = "refused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		reason = "cancelled"
	}
	return &wire.Frame{Type: wire.Abort, From: uint8(p.self), To: wire.Broadcast, Session: p.plan.cfg.Session, Payload: []byte(reason)}
}

// recordHop notes one list transfer for the result.
func (p *Party) recordHop(h Hop) {
	p.hopMu.Lock()
	defer p.hopMu.Unlock()
	p.hops = append(p.hops, h)
}

// sender runs jobs in order until jobs is closed; after a failure or
// cancellation only always jobs run.
func (p *Party) sender(ctx context.Context, jobs <-chan job, emit func([]byte) error) error {
	var buf []byte
	send := func(f *wire.Frame) error {
		buf = f.Append(buf[:0])
		// emit may keep the slice: give it its own copy.
		return emit(append([]byte(nil), buf...))
	}
	var failed error
	for j := range jobs {
		if j.always || (failed == nil && ctx.Err() == nil) {
			if err := j.run(send); err != nil && failed == nil && !j.always {
				failed = err
			}
		}
	}
	return failed
}
