package psi

import (
	"context"
	"errors"
	"testing"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/wire"
)

// handshake returns the parties of cfg with every channel open, and party
// 1's run state, to feed it frames directly.
func handshake(t *testing.T, cfg Config) ([]*Party, *runState) {
	t.Helper()
	var ps []*Party
	for i := 0; i < cfg.Parties; i++ {
		p, err := NewParty(cfg, i, Options{TempDir: t.TempDir(), Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		for j, q := range ps {
			if i == j {
				continue
			}
			c, err := p.eph.Channel(cfg.Session, uint8(i), uint8(j), q.eph.Public())
			if err != nil {
				t.Fatal(err)
			}
			p.chans[j] = c
		}
	}
	st := newRunState(ps[1])
	st.hellos = cfg.Parties - 1
	t.Cleanup(st.close)
	return ps, st
}

// TestPartyRejects sends party 1 frames that a hostile peer or relay could
// craft, sealed correctly: each must be refused by the party itself.
func TestPartyRejects(t *testing.T) {
	cfg := testConfig(3)
	cfg.MaxList = 10
	cfg.DP = &DP{Epsilon: 1, Delta: 1e-9}
	ctx := context.Background()
	jobs := make(chan job, 16)
	sealedFrom := func(ps []*Party, from int, f wire.Frame, plain []byte) []byte {
		f.Session = cfg.Session
		ps[from].chans[1].Seal(&f, plain)
		return f.Encode()
	}
	base := blind.Base([]byte("x"), "y")
	identity := make([]byte, 32)
	for _, tt := range []struct {
		name  string
		build func(ps []*Party) [][]byte
		want  error
	}{
		{"list off its path", func(ps []*Party) [][]byte {
			// List 0 (owner 0) at hop 1 must come from party 0.
			return [][]byte{sealedFrom(ps, 2, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1}, wire.EncodeStart((*[32]byte)(&base)))}
		}, ErrProtocol},
		{"unexpected dummy base", func(ps []*Party) [][]byte {
			// List 0 belongs to the noise party, which has inserted its
			// dummies already: it must not carry a base.
			return [][]byte{sealedFrom(ps, 0, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1}, wire.EncodeStart((*[32]byte)(&base)))}
		}, ErrProtocol},
		{"above the bound", func(ps []*Party) [][]byte {
			return [][]byte{sealedFrom(ps, 0, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 10_000}, wire.EncodeStart(nil))}
		}, ErrProtocol},
		{"identity element", func(ps []*Party) [][]byte {
			return [][]byte{
				sealedFrom(ps, 0, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1}, wire.EncodeStart(nil)),
				sealedFrom(ps, 0, wire.Frame{Type: wire.Batch, List: 0, Hop: 1, Count: 1}, identity),
			}
		}, blind.ErrInvalidElement},
		{"more elements than announced", func(ps []*Party) [][]byte {
			e := blind.Random()
			return [][]byte{
				sealedFrom(ps, 0, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1}, wire.EncodeStart(nil)),
				sealedFrom(ps, 0, wire.Frame{Type: wire.Batch, List: 0, Hop: 1, Count: 2}, append(e[:], e[:]...)),
			}
		}, ErrProtocol},
		{"wrong digest", func(ps []*Party) [][]byte {
			e := blind.Random()
			return [][]byte{
				sealedFrom(ps, 0, wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1}, wire.EncodeStart(nil)),
				sealedFrom(ps, 0, wire.Frame{Type: wire.Batch, List: 0, Hop: 1, Count: 1}, e[:]),
				sealedFrom(ps, 0, wire.Frame{Type: wire.ListEnd, List: 0, Hop: 1, Total: 1}, make([]byte, 32)),
			}
		}, ErrProtocol},
		{"result from a party that does not compare", func(ps []*Party) [][]byte {
			return [][]byte{sealedFrom(ps, 0, wire.Frame{Type: wire.Result, List: wire.ResultList}, wire.EncodeRelease(nil))}
		}, ErrProtocol},
		{"sealed for another party", func(ps []*Party) [][]byte {
			f := wire.Frame{Type: wire.ListStart, List: 0, Hop: 1, Total: 1, Session: cfg.Session}
			ps[0].chans[2].Seal(&f, wire.EncodeStart(nil))
			f.To = 1
			return [][]byte{f.Encode()}
		}, wire.ErrOpen},
		{"second hello", func(ps []*Party) [][]byte { return [][]byte{ps[0].Hello()} }, ErrProtocol},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps, st := handshake(t, cfg)
			var err error
			for _, b := range tt.build(ps) {
				if err = st.handle(ctx, b, jobs); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	cfg := testConfig(4)
	cfg.GroupBy, cfg.Segments = 2, 5
	p, err := newPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 11 party sets of two or more; the 7 containing party 2 per segment.
	if len(p.lists) != 3+5 || len(p.cells) != 7*5+4 {
		t.Errorf("%d lists, %d cells", len(p.lists), len(p.cells))
	}
	for o := 0; o < 4; o++ {
		seen := map[int]bool{}
		for h := 0; h < 4; h++ {
			seen[p.partyAt(o, h)] = true
		}
		if len(seen) != 4 || p.partyAt(o, 0) != o || p.recipient(o, 4) != p.comparer {
			t.Errorf("owner %d: path does not visit every party once", o)
		}
		if p.partyAt(o, p.noiserHop(o)-1) != p.noiser {
			t.Errorf("owner %d: noise party hop %d", o, p.noiserHop(o))
		}
	}
	for _, bad := range []Config{
		{Parties: 1, GroupBy: -1, Domain: cfg.Domain},
		{Parties: 9, GroupBy: -1, Domain: cfg.Domain},
		{Parties: 2, GroupBy: 2, Domain: cfg.Domain},
		{Parties: 2, GroupBy: 0, Segments: 0, Domain: cfg.Domain},
		{Parties: 2, GroupBy: 0, Segments: 5000, Domain: cfg.Domain},
		{Parties: 2, GroupBy: -1},
		{Parties: 2, GroupBy: -1, Domain: cfg.Domain, DP: &DP{Epsilon: 0, Delta: 1e-9}},
		{Parties: 8, GroupBy: 0, Segments: 4096, Domain: cfg.Domain}, // too many cells
	} {
		if _, err := newPlan(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
