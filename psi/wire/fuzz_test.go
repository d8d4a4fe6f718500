package wire

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that decoding never panics, never accepts a frame that
// does not re-encode to the same bytes, and bounds what it allocates.
func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Add((&Frame{Type: Hello, From: 1, To: Broadcast, Payload: make([]byte, 32)}).Encode())
	f.Add((&Frame{Type: ListStart, From: 0, To: 1, Hop: 1, Total: 5, Payload: make([]byte, 49)}).Encode())
	f.Add((&Frame{Type: ListEnd, From: 0, To: 1, Hop: 2, Total: 5, Payload: make([]byte, 48)}).Encode())
	f.Add((&Frame{Type: Result, From: 2, To: 0, List: ResultList, Payload: make([]byte, 40)}).Encode())
	f.Add((&Frame{Type: Abort, From: 2, To: Broadcast, Payload: []byte("protocol")}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err == nil && !bytes.Equal(fr.Encode(), b) {
			t.Fatalf("accepted %x re-encodes differently", b)
		}
		g, err := ReadFrame(bytes.NewReader(b))
		if err == nil && len(g.Payload) > MaxPayload {
			t.Fatalf("payload of %d bytes", len(g.Payload))
		}
	})
}

// FuzzDecodeRelease checks the result body decoder.
func FuzzDecodeRelease(f *testing.F) {
	f.Add(EncodeRelease([]Cell{{Parties: 3, Value: 5}, {Parties: 3, Segment: 2, Value: -1}}))
	f.Add(EncodeRelease(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		cells, err := DecodeRelease(b)
		if err == nil && !bytes.Equal(EncodeRelease(cells), b) {
			t.Fatalf("accepted %x re-encodes differently", b)
		}
	})
}

// FuzzDecodeStart checks the list start body decoder.
func FuzzDecodeStart(f *testing.F) {
	f.Add(EncodeStart(nil))
	f.Add(EncodeStart(&[ElementSize]byte{1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		base, err := DecodeStart(b)
		if err == nil {
			var p *[ElementSize]byte
			if base != nil {
				p = base
			}
			if !bytes.Equal(EncodeStart(p), b) {
				t.Fatalf("accepted %x re-encodes differently", b)
			}
		}
	})
}
