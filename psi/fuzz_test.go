package psi

import (
	"testing"

	"github.com/fedscore/fedscore/psi/wire"
)

// FuzzRelayRoute feeds the relay arbitrary frames: it must never panic and
// must only route frames that decode.
func FuzzRelayRoute(f *testing.F) {
	cfg := testConfig(3)
	f.Add((&wire.Frame{Type: wire.ListStart, From: 0, To: 1, Session: cfg.Session, List: 0, Hop: 1, Total: 5, Payload: make([]byte, 49)}).Encode())
	f.Add((&wire.Frame{Type: wire.Hello, From: 1, To: wire.Broadcast, Session: cfg.Session, Payload: make([]byte, 32)}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewRelay(cfg)
		if err != nil {
			t.Fatal(err)
		}
		to, err := r.Route(b)
		if err == nil {
			if _, derr := wire.Decode(b); derr != nil || len(to) == 0 {
				t.Fatalf("routed an undecodable frame to %v", to)
			}
		}
	})
}
