package psi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
)

// TestNoIdentifierLeavesAParty asserts on the bytes of every frame, and on
// every sealed payload as its recipient opens it, that no identifier (raw,
// normalised or as national digits) and no unblinded hash of one ever
// appears: only blinded elements travel.
func TestNoIdentifierLeavesAParty(t *testing.T) {
	for _, dp := range []*DP{nil, {Epsilon: 1, Delta: 1e-9}} {
		t.Run(fmt.Sprintf("dp=%v", dp != nil), func(t *testing.T) {
			cfg := testConfig(3)
			cfg.DP = dp
			l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 2, BatchSize: 64})
			if err != nil {
				t.Fatal(err)
			}
			sets := [][]ident.Record{records(span(0, 300)...), records(span(200, 500)...), records(span(250, 260)...)}
			var secrets [][]byte
			h := blind.NewHasher(l.Parties[0].plan.prefix)
			for _, s := range sets {
				for _, r := range s {
					e := h.Hash(r.ID)
					secrets = append(secrets, []byte(r.ID), []byte(r.ID[2:]), e[:])
				}
			}
			type seen struct {
				from, to int
				frame    []byte
			}
			var mu sync.Mutex
			var all []seen
			l.Observe = func(from, to int, frame []byte) {
				mu.Lock()
				all = append(all, seen{from, to, append([]byte(nil), frame...)})
				mu.Unlock()
			}
			src := make([]ident.Source, 3)
			for i := range sets {
				src[i] = &ident.SliceSource{Records: sets[i]}
			}
			if _, err := l.Run(context.Background(), src); err != nil {
				t.Fatal(err)
			}
			var leaks []string
			check := func(what string, b []byte) {
				for _, s := range secrets {
					if bytes.Contains(b, s) {
						leaks = append(leaks, what)
						return
					}
				}
			}
			opened := 0
			for _, x := range all {
				check(fmt.Sprintf("frame %d→%d", x.from, x.to), x.frame)
				f, err := wire.Decode(x.frame)
				if err != nil {
					t.Fatalf("undecodable frame: %v", err)
				}
				if f.Type == wire.Hello || f.Type == wire.Abort {
					continue
				}
				plain, err := l.Parties[x.to].chans[x.from].Open(nil, f)
				if err != nil {
					t.Fatalf("%v %d→%d does not open: %v", f.Type, x.from, x.to, err)
				}
				opened++
				check(fmt.Sprintf("%v payload %d→%d", f.Type, x.from, x.to), plain)
				if f.Type == wire.Batch && bytes.Contains(x.frame, plain[:blind.ElementSize]) {
					leaks = append(leaks, "batch elements in the clear on the wire")
				}
			}
			frames := len(all)
			if len(leaks) > 0 {
				t.Errorf("identifiers or hashes leaked: %v", leaks[:min(5, len(leaks))])
			}
			if frames < 20 || opened < 10 {
				t.Errorf("observed %d frames, opened %d", frames, opened)
			}
		})
	}
}

// TestRelayLearnsOnlySizes checks what the relay records: every list at
// every hop with its size, and the bytes per link.
func TestRelayLearnsOnlySizes(t *testing.T) {
	cfg := testConfig(2)
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	src := []ident.Source{&ident.SliceSource{Records: records(span(0, 30)...)}, &ident.SliceSource{Records: records(span(10, 50)...)}}
	if _, err := l.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := l.Relay.Stats()
	// List 0 (party 0's) goes to party 1, which applies the last exponent
	// itself; list 1 goes 1 → 0 → 1.
	want := []ListHop{{List: 0, Hop: 1, From: 0, To: 1, Elements: 30}, {List: 1, Hop: 1, From: 1, To: 0, Elements: 40}, {List: 1, Hop: 2, From: 0, To: 1, Elements: 40}}
	got := map[ListHop]bool{}
	for _, h := range st.Lists {
		got[h] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("relay did not see %+v; saw %+v", w, st.Lists)
		}
	}
	if len(st.Lists) != len(want) || st.Link[0][1] == 0 || st.Link[1][0] == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestTamperedFrameIsRejected flips one byte of a sealed batch on its way:
// the recipient must refuse it and the session must fail everywhere.
func TestTamperedFrameIsRejected(t *testing.T) {
	l, err := NewLocal(testConfig(2), Options{TempDir: t.TempDir(), Workers: 1, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	l.Observe = func(from, to int, frame []byte) {
		if wire.Type(frame[5]) == wire.Batch {
			once.Do(func() { frame[len(frame)-20] ^= 1 }) // delivered as modified
		}
	}
	src := []ident.Source{&ident.SliceSource{Records: records(span(0, 100)...)}, &ident.SliceSource{Records: records(span(0, 100)...)}}
	_, err = l.Run(context.Background(), src)
	if !errors.Is(err, wire.ErrOpen) {
		t.Errorf("error %v, want ErrOpen", err)
	}
}

// TestMalformedInputStopsTheSession: a party whose identifier file has a
// malformed line fails with the file and line, and the others are told.
func TestMalformedInputStopsTheSession(t *testing.T) {
	l, err := NewLocal(testConfig(2), Options{TempDir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := ident.NewReader(strings.NewReader("13800138000\n+1 415 555 0100\n"), ident.ReaderConfig{File: "partner-a.txt", Kind: ident.KindMobile})
	_, err = l.Run(context.Background(), []ident.Source{bad, &ident.SliceSource{Records: records(1, 2)}})
	var le *ident.LineError
	if !errors.As(err, &le) || le.Line != 2 || le.File != "partner-a.txt" {
		t.Errorf("error %v, want partner-a.txt:2", err)
	}
	if !errors.Is(err, ErrAborted) {
		t.Errorf("error %q: the other party was not told", err.Error())
	}
}

// TestMalformedCountedAndReported: with a budget the malformed lines are
// skipped, counted and reported, never included.
func TestMalformedCountedAndReported(t *testing.T) {
	in := "13800000000\nnot-a-phone\n138 0000 0001\n12345\n+86 13800000002\n"
	r, _ := ident.NewReader(strings.NewReader(in), ident.ReaderConfig{File: "a.txt", Kind: ident.KindMobile, MaxMalformed: 10})
	l, err := NewLocal(testConfig(2), Options{TempDir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Run(context.Background(), []ident.Source{r, &ident.SliceSource{Records: records(span(0, 10)...)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[0].Intersection(Mask(0, 1), -1); got != 3 || res[0].Size(0) != 3 {
		t.Errorf("intersection %d, size %d", got, res[0].Size(0))
	}
	if rep := r.Report(); rep.Malformed != 2 || rep.Examples[0].Line != 2 || rep.Examples[1].Line != 4 {
		t.Errorf("report %+v", rep)
	}
}

func TestSetAboveTheBound(t *testing.T) {
	cfg := testConfig(2)
	cfg.MaxList = 10
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Run(context.Background(), []ident.Source{&ident.SliceSource{Records: records(span(0, 11)...)}, &ident.SliceSource{Records: records(1)}})
	if !errors.Is(err, ErrSetTooLarge) {
		t.Errorf("error %v", err)
	}
}

// TestRelayRejectsOffPlanFrames feeds the relay frames that break the
// plan: every one must be refused.
func TestRelayRejectsOffPlanFrames(t *testing.T) {
	cfg := testConfig(3)
	cfg.MaxList = 100
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sealed := func(f wire.Frame, n int) []byte {
		f.Session = cfg.Session
		f.Payload = make([]byte, n)
		return f.Encode()
	}
	start := wire.Frame{Type: wire.ListStart, From: 0, To: 1, List: 0, Hop: 1, Total: 5}
	if _, err := r.Route(sealed(start, 49)); err != nil {
		t.Fatalf("valid start refused: %v", err)
	}
	other := start
	other.Session = wire.SessionID{9}
	for name, b := range map[string][]byte{
		"started twice":     sealed(start, 49),
		"wrong sender":      sealed(wire.Frame{Type: wire.ListStart, From: 2, To: 1, List: 0, Hop: 1}, 49),
		"skips a party":     sealed(wire.Frame{Type: wire.ListStart, From: 0, To: 2, List: 0, Hop: 1}, 49),
		"unknown list":      sealed(wire.Frame{Type: wire.ListStart, From: 0, To: 1, List: 7, Hop: 1}, 49),
		"above the bound":   sealed(wire.Frame{Type: wire.ListStart, From: 1, To: 2, List: 1, Hop: 1, Total: 101}, 49),
		"batch beyond":      sealed(wire.Frame{Type: wire.Batch, From: 0, To: 1, List: 0, Hop: 1, Count: 6}, 16+6*32),
		"batch out of seq":  sealed(wire.Frame{Type: wire.Batch, From: 0, To: 1, List: 0, Hop: 1, Seq: 1, Count: 1}, 48),
		"early end":         sealed(wire.Frame{Type: wire.ListEnd, From: 0, To: 1, List: 0, Hop: 1, Total: 5}, 48),
		"result from non-C": sealed(wire.Frame{Type: wire.Result, From: 0, To: 1, List: wire.ResultList}, 30),
		"another session":   other.Encode(),
	} {
		if _, err := r.Route(b); !errors.Is(err, ErrProtocol) && !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
