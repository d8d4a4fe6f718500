package psi

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/noise"
	"github.com/fedscore/fedscore/psi/wire"
)

// Limits of a session.
const (
	MinParties = 2
	// MaxParties bounds k; the ring costs k exponentiations per element and
	// the cells grow as 2^k.
	MaxParties = 8
	// MaxSegments bounds the group-by party's segments.
	MaxSegments = 4096
	// DefaultMaxList is the default public bound on one party's set.
	DefaultMaxList = 1 << 27
)

// ErrConfig reports an unusable session configuration.
var ErrConfig = errors.New("invalid PSI session configuration")

// Config is the public description of one PSI-cardinality session. Every
// party and the relay must hold the same Config (in fedscore it is derived
// from the signed overlap query).
type Config struct {
	Session wire.SessionID
	// Domain separates this query's hashes from every other.
	Domain ident.Domain
	// Parties is k. Party k−1 compares; party 0 inserts the dummies.
	Parties int
	// GroupBy is the index of the party whose set is split into Segments
	// segments, or -1.
	GroupBy int
	// Segments of the GroupBy party (ignored without GroupBy).
	Segments int
	// DP, if set, protects every released count and every set size.
	DP *DP
	// MaxList bounds each party's set before padding (DefaultMaxList if 0).
	MaxList uint64
	// PrivateRelease keeps the released cells from the parties: the
	// comparer hands them to its Options.Release (which seals them for
	// the querier, say) and sends the other parties only the digest that
	// returns. Without it every party receives the cells.
	PrivateRelease bool
}

// DP holds the privacy parameters of a session.
type DP struct {
	Epsilon, Delta float64
}

// list is one blinded list: a party's set, or one segment of the
// group-by party's set.
type list struct {
	id      uint16
	owner   int
	segment uint32
}

// cell is one released count.
type cell struct {
	parties uint16
	segment uint32
}

// plan is everything the parties derive from a Config.
type plan struct {
	cfg       Config
	k         int
	comparer  int
	noiser    int
	lists     []list
	byOwner   [][]uint16 // list ids per owner
	cells     []cell
	cellIndex map[cell]int
	noise     *noise.Calibration
	prefix    []byte
}

func newPlan(cfg Config) (*plan, error) {
	if cfg.Parties < MinParties || cfg.Parties > MaxParties {
		return nil, fmt.Errorf("%w: %d parties, want %d to %d", ErrConfig, cfg.Parties, MinParties, MaxParties)
	}
	if cfg.GroupBy < -1 || cfg.GroupBy >= cfg.Parties {
		return nil, fmt.Errorf("%w: group-by party %d", ErrConfig, cfg.GroupBy)
	}
	segments := 1
	if cfg.GroupBy >= 0 {
		if cfg.Segments < 1 || cfg.Segments > MaxSegments {
			return nil, fmt.Errorf("%w: %d segments, want 1 to %d", ErrConfig, cfg.Segments, MaxSegments)
		}
		segments = cfg.Segments
	}
	if cfg.MaxList == 0 {
		cfg.MaxList = DefaultMaxList
	}
	if cfg.MaxList > wire.MaxTotal/2 {
		return nil, fmt.Errorf("%w: list bound %d", ErrConfig, cfg.MaxList)
	}
	prefix, err := cfg.Domain.Prefix()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p := &plan{cfg: cfg, k: cfg.Parties, comparer: cfg.Parties - 1, noiser: 0, prefix: prefix}
	p.byOwner = make([][]uint16, p.k)
	for o := 0; o < p.k; o++ {
		n := 1
		if o == cfg.GroupBy {
			n = segments
		}
		for s := 0; s < n; s++ {
			id := uint16(len(p.lists))
			p.lists = append(p.lists, list{id: id, owner: o, segment: uint32(s)})
			p.byOwner[o] = append(p.byOwner[o], id)
		}
	}
	// Sets of two or more parties; those with the group-by party per
	// segment.
	nCells := (1 << p.k) - 1 - p.k
	if cfg.GroupBy >= 0 {
		withG := (1 << (p.k - 1)) - 1 // sets containing it and another
		nCells += withG * (segments - 1)
	}
	if nCells > wire.MaxCells {
		return nil, fmt.Errorf("%w: %d cells exceed %d", ErrConfig, nCells, wire.MaxCells)
	}
	p.cellIndex = make(map[cell]int, nCells)
	for mask := uint16(1); mask < 1<<p.k; mask++ {
		if bits.OnesCount16(mask) < 2 {
			continue
		}
		n := 1
		if cfg.GroupBy >= 0 && mask&(1<<cfg.GroupBy) != 0 {
			n = segments
		}
		for s := 0; s < n; s++ {
			c := cell{parties: mask, segment: uint32(s)}
			p.cellIndex[c] = len(p.cells)
			p.cells = append(p.cells, c)
		}
	}
	if cfg.DP != nil {
		// A record changes the cells it moves between (one for two
		// parties, two otherwise) and its list's size.
		values := 2
		if p.k > 2 {
			values = 3
		}
		c, err := noise.Calibrate(cfg.DP.Epsilon, cfg.DP.Delta, values)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		p.noise = &c
	}
	return p, nil
}

// partyAt returns the party that applies the (h+1)-th exponent to a list
// of owner o: lists go round the ring from their owner.
func (p *plan) partyAt(o, h int) int { return (o + h) % p.k }

// recipient returns who receives a list of owner o that carries h
// exponents: the next party on the ring, or the comparer once all k have
// blinded it.
func (p *plan) recipient(o, h int) int {
	if h >= p.k {
		return p.comparer
	}
	return p.partyAt(o, h)
}

// noiserHop returns how many exponents a list of owner o carries once the
// noise party has blinded it.
func (p *plan) noiserHop(o int) int { return (p.noiser-o+p.k)%p.k + 1 }

// inCell reports whether list l receives the dummies of cell c.
func (p *plan) inCell(l list, c cell) bool {
	if c.parties&(1<<l.owner) == 0 {
		return false
	}
	if l.owner == p.cfg.GroupBy {
		return c.segment == l.segment
	}
	return true
}

// slots returns how many dummy elements the noise party adds to list l.
func (p *plan) slots(l list) uint64 {
	if p.noise == nil {
		return 0
	}
	n := uint64(0)
	for _, c := range p.cells {
		if p.inCell(l, c) {
			n += uint64(p.noise.Slots())
		}
	}
	return n
}

// maxTotal bounds the length of list l at any hop.
func (p *plan) maxTotal(l list) uint64 {
	t := p.cfg.MaxList + p.slots(l)
	if p.noise != nil {
		t += uint64(p.noise.Slots()) // size padding
	}
	return t
}
