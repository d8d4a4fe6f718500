package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func sample() *Frame {
	return &Frame{Type: Batch, From: 1, To: 2, Session: SessionID{7}, List: 3, Hop: 2, Seq: 9, Count: 2, Payload: make([]byte, sealOverhead+64)}
}

func TestRoundTrip(t *testing.T) {
	f := sample()
	b := f.Encode()
	g, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if g.Type != f.Type || g.From != f.From || g.To != f.To || g.Session != f.Session || g.List != f.List || g.Hop != f.Hop || g.Seq != f.Seq || g.Count != f.Count || !bytes.Equal(g.Payload, f.Payload) {
		t.Errorf("round trip: %+v", g)
	}
	var buf bytes.Buffer
	WriteFrame(&buf, f)
	WriteFrame(&buf, f)
	for i := 0; i < 2; i++ {
		if _, err := ReadFrame(&buf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Errorf("after the last frame: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := sample().Encode()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short header":   good[:47],
		"bad magic":      mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version 2":      mut(func(b []byte) []byte { b[4] = 2; return b }),
		"reserved":       mut(func(b []byte) []byte { b[27] = 1; return b }),
		"unknown type":   mut(func(b []byte) []byte { b[5] = 99; return b }),
		"to itself":      mut(func(b []byte) []byte { b[7] = b[6]; return b }),
		"party 16":       mut(func(b []byte) []byte { b[6] = 16; return b }),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"count mismatch": mut(func(b []byte) []byte { b[35] = 3; return b }),
		"huge count":     mut(func(b []byte) []byte { b[32] = 0xff; return b }),
		"huge length":    mut(func(b []byte) []byte { b[44] = 0xff; return b }),
		"hop 0":          mut(func(b []byte) []byte { b[26] = 0; return b }),
		"batch total":    mut(func(b []byte) []byte { b[43] = 1; return b }),
		"hello to one":   (&Frame{Type: Hello, From: 1, To: 2, Payload: make([]byte, 32)}).Encode(),
		"hello short":    (&Frame{Type: Hello, From: 1, To: Broadcast, Payload: make([]byte, 31)}).Encode(),
		"long abort":     (&Frame{Type: Abort, From: 1, To: Broadcast, Payload: make([]byte, 129)}).Encode(),
		"start total":    (&Frame{Type: ListStart, From: 1, To: 2, Hop: 1, Total: MaxTotal + 1, Payload: make([]byte, 49)}).Encode(),
		"result list":    (&Frame{Type: Result, From: 1, To: 2, Payload: make([]byte, 30)}).Encode(),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A stream claiming a huge payload is refused before allocating it.
	h := mut(func(b []byte) []byte { b[44] = 0x7f; return b })[:HeaderSize]
	if _, err := ReadFrame(bytes.NewReader(h)); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge payload on a stream: %v", err)
	}
}

func TestSeal(t *testing.T) {
	a, _ := NewEphemeral()
	b, _ := NewEphemeral()
	s := SessionID{1}
	ab, err := a.Channel(s, 0, 1, b.Public())
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := b.Channel(s, 1, 0, a.Public())
	f := &Frame{Type: Batch, Session: s, List: 2, Hop: 1, Count: 1}
	ab.Seal(f, make([]byte, 32))
	if _, err := ba.Open(nil, f); err != nil {
		t.Fatal(err)
	}
	// Any header change, reordering or reflection fails.
	for name, g := range map[string]func(f Frame) Frame{
		"seq":       func(f Frame) Frame { f.Seq++; return f },
		"list":      func(f Frame) Frame { f.List++; return f },
		"hop":       func(f Frame) Frame { f.Hop++; return f },
		"payload":   func(f Frame) Frame { p := append([]byte(nil), f.Payload...); p[3] ^= 1; f.Payload = p; return f },
		"reflected": func(f Frame) Frame { f.From, f.To = f.To, f.From; return f },
	} {
		h := g(*f)
		if _, err := ba.Open(nil, &h); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Another session derives other keys.
	other, _ := b.Channel(SessionID{2}, 1, 0, a.Public())
	if _, err := other.Open(nil, f); !errors.Is(err, ErrOpen) {
		t.Errorf("other session: %v", err)
	}
	if _, err := a.Channel(s, 0, 1, make([]byte, 31)); err == nil {
		t.Error("short peer key accepted")
	}
	if _, err := a.Channel(s, 0, 1, make([]byte, 32)); err == nil {
		t.Error("all-zero peer key (low order) accepted")
	}
}

func TestRelease(t *testing.T) {
	cells := []Cell{{Parties: 3, Segment: 0, Value: -4}, {Parties: 3, Segment: 1, Value: 1 << 40}, {Parties: 7, Value: 0}}
	got, err := DecodeRelease(EncodeRelease(cells))
	if err != nil || len(got) != 3 || got[0] != cells[0] || got[1] != cells[1] || got[2] != cells[2] {
		t.Fatalf("%v %v", got, err)
	}
	for name, c := range map[string][]Cell{
		"single party": {{Parties: 4}},
		"out of order": {{Parties: 7}, {Parties: 3}},
		"repeated":     {{Parties: 3}, {Parties: 3}},
	} {
		if _, err := DecodeRelease(EncodeRelease(c)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	b := EncodeRelease(cells)
	for _, bad := range [][]byte{nil, b[:4], b[:len(b)-1], append(b, 0), {2, 0, 0, 0, 0}} {
		if _, err := DecodeRelease(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	var e [ElementSize]byte
	e[0] = 9
	if base, err := DecodeStart(EncodeStart(&e)); err != nil || *base != e {
		t.Error("start with base")
	}
	if base, err := DecodeStart(EncodeStart(nil)); err != nil || base != nil {
		t.Error("start without base")
	}
	for _, bad := range [][]byte{nil, make([]byte, 32), append([]byte{2}, e[:]...), append([]byte{0}, e[:]...)} {
		if _, err := DecodeStart(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("start %x: %v", bad, err)
		}
	}
}
