package psi

import (
	"fmt"
	"sync"

	"github.com/fedscore/fedscore/psi/wire"
)

// Relay routes a session's frames between parties, as the coordinator
// does. It reads only frame headers: the payloads are sealed between the
// parties of each hop, so the relay learns which list of how many elements
// goes from whom to whom, and nothing about the elements. It still checks
// that every frame follows the session's plan, so a broken or hostile
// party is stopped at the relay. Relay is safe for concurrent use.
type Relay struct {
	plan  *plan
	mu    sync.Mutex
	lists map[hopKey]*relayList
	stats RelayStats
}

type relayList struct {
	total, got uint64
	seq        uint32
	ended      bool
}

// RelayStats is what the relay saw.
type RelayStats struct {
	Frames int
	Bytes  int64
	// Link holds the bytes sent from party i to party j (broadcasts are
	// counted once per recipient).
	Link [][]int64
	// Lists holds the size of every list at every hop.
	Lists []ListHop
}

// ListHop is one transfer of a list.
type ListHop struct {
	List     uint16
	Hop      int
	From, To int
	Elements uint64
}

// NewRelay returns the relay of session cfg.
func NewRelay(cfg Config) (*Relay, error) {
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	r := &Relay{plan: p, lists: make(map[hopKey]*relayList)}
	r.stats.Link = make([][]int64, p.k)
	for i := range r.stats.Link {
		r.stats.Link[i] = make([]int64, p.k)
	}
	return r, nil
}

// Route checks one frame and returns the parties to deliver it to.
func (r *Relay) Route(frame []byte) ([]int, error) {
	f, err := wire.Decode(frame)
	if err != nil {
		return nil, err
	}
	pl := r.plan
	if f.Session != pl.cfg.Session {
		return nil, protocolError("relay: frame of another session")
	}
	from := int(f.From)
	if from >= pl.k || (f.To != wire.Broadcast && int(f.To) >= pl.k) {
		return nil, protocolError("relay: party index out of range")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var to []int
	switch f.Type {
	case wire.Hello, wire.Abort:
		for i := 0; i < pl.k; i++ {
			if i != from {
				to = append(to, i)
			}
		}
	case wire.Result, wire.Released:
		if from != pl.comparer || (f.Type == wire.Released) != pl.cfg.PrivateRelease {
			return nil, protocolError("relay: result from party %d", from)
		}
		to = []int{int(f.To)}
	default:
		if err := r.track(f); err != nil {
			return nil, err
		}
		to = []int{int(f.To)}
	}
	r.stats.Frames++
	for _, t := range to {
		r.stats.Bytes += int64(len(frame))
		r.stats.Link[from][t] += int64(len(frame))
	}
	return to, nil
}

// track checks a list frame against the plan and the frames before it.
func (r *Relay) track(f *wire.Frame) error {
	pl := r.plan
	if int(f.List) >= len(pl.lists) {
		return protocolError("relay: unknown list %d", f.List)
	}
	l := pl.lists[f.List]
	h := int(f.Hop)
	if h < 1 || h > pl.k || int(f.From) != pl.partyAt(l.owner, h-1) || int(f.To) != pl.recipient(l.owner, h) {
		return protocolError("relay: list %d at hop %d from %d to %d is off its path", f.List, h, f.From, f.To)
	}
	key := hopKey{f.List, f.Hop}
	s := r.lists[key]
	switch f.Type {
	case wire.ListStart:
		if s != nil {
			return protocolError("relay: list %d at hop %d started twice", f.List, h)
		}
		if f.Total > pl.maxTotal(l) {
			return protocolError("relay: list %d of %d elements exceeds the bound", f.List, f.Total)
		}
		r.lists[key] = &relayList{total: f.Total}
		r.stats.Lists = append(r.stats.Lists, ListHop{List: f.List, Hop: h, From: int(f.From), To: int(f.To), Elements: f.Total})
	case wire.Batch:
		if s == nil || s.ended || f.Seq != s.seq || uint64(f.Count) > s.total-s.got {
			return protocolError("relay: batch %d of list %d at hop %d out of order", f.Seq, f.List, h)
		}
		s.seq++
		s.got += uint64(f.Count)
	case wire.ListEnd:
		if s == nil || s.ended || s.got != s.total || f.Total != s.total {
			return protocolError("relay: list %d at hop %d ended early", f.List, h)
		}
		s.ended = true
	default:
		return fmt.Errorf("%w: relay: unexpected %v", ErrProtocol, f.Type)
	}
	return nil
}

// Stats returns a copy of what the relay saw so far.
func (r *Relay) Stats() RelayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Link = make([][]int64, len(r.stats.Link))
	for i := range s.Link {
		s.Link[i] = append([]int64(nil), r.stats.Link[i]...)
	}
	s.Lists = append([]ListHop(nil), r.stats.Lists...)
	return s
}
