package blind

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	r255 "github.com/bwesterb/go-ristretto"
	"github.com/cloudflare/circl/expander"
)

func mustKey(t testing.TB) *Key {
	t.Helper()
	k, err := NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCommutative checks the property the protocol rests on:
// (H(x)^a)^b = (H(x)^b)^a, while different identifiers, keys or domains
// give different elements.
func TestCommutative(t *testing.T) {
	ctx := context.Background()
	a, b := mustKey(t), mustKey(t)
	h := NewHasher([]byte("domain-1"))
	ids := []string{"8613800138000", "8613800138001", "11010519491231002X"}
	pool := NewPool(2)
	xa := make([]Element, len(ids))
	xb := make([]Element, len(ids))
	if err := pool.HashBlind(ctx, h, a, ids, xa); err != nil {
		t.Fatal(err)
	}
	if err := pool.HashBlind(ctx, h, b, ids, xb); err != nil {
		t.Fatal(err)
	}
	if err := pool.Exp(ctx, b, xa, xa); err != nil {
		t.Fatal(err)
	}
	if err := pool.Exp(ctx, a, xb, xb); err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if xa[i] != xb[i] {
			t.Errorf("%d: (H^a)^b != (H^b)^a", i)
		}
		if i > 0 && xa[i] == xa[i-1] {
			t.Errorf("%d: distinct identifiers collide", i)
		}
	}
	if h.Hash(ids[0]) == NewHasher([]byte("domain-2")).Hash(ids[0]) {
		t.Error("domains do not separate")
	}
	if e, _ := Exp(h.Hash(ids[0]), a); e == h.Hash(ids[0]) || e == xa[0] {
		t.Error("exponentiation is not blinding")
	}
}

// TestHashToGroupVectors checks the map from 64 uniform bytes to the group
// that circl's hash to ristretto255 applies to expand_message_xmd's output
// (two Elligator 2 maps and a sum) against the vectors of RFC 9496,
// Appendix A.3, and that HashToElement is that map after the expander.
func TestHashToGroupVectors(t *testing.T) {
	for _, v := range []struct{ label, want string }{
		{"Ristretto is traditionally a short shot of espresso coffee", "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46"},
		{"made with the normal amount of ground coffee but extracted with", "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b"},
		{"by using a finer grind.", "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a"},
	} {
		u := sha512.Sum512([]byte(v.label))
		if got := hex.EncodeToString(fromUniform(u[:])); got != v.want {
			t.Errorf("%q: %s, want %s", v.label, got, v.want)
		}
	}
	msg, dst := []byte("8613800138000"), []byte(DST)
	u := expander.NewExpanderMD(crypto.SHA512, dst).Expand(msg, 64)
	b, _ := g.HashToElement(msg, dst).MarshalBinary()
	if !bytes.Equal(b, fromUniform(u)) {
		t.Error("HashToElement is not the RFC 9496 map of expand_message_xmd")
	}
}

// fromUniform is RFC 9496's element derivation from 64 uniform bytes.
func fromUniform(u []byte) []byte {
	var lo, hi [32]byte
	copy(lo[:], u[:32])
	copy(hi[:], u[32:])
	var p, q r255.Point
	p.SetElligator(&lo)
	q.SetElligator(&hi)
	p.Add(&p, &q)
	return p.Bytes()
}

func TestDecodeRejects(t *testing.T) {
	id := g.Identity()
	idb, _ := id.MarshalBinary()
	valid := NewHasher(nil).Hash("x")
	nonCanonical := valid
	nonCanonical[31] |= 0x80 // the top bit must be clear
	for name, b := range map[string][]byte{
		"identity":      idb,
		"short":         valid[:31],
		"long":          append(valid[:], 0),
		"non-canonical": nonCanonical[:],
		"not on curve":  bytes.Repeat([]byte{0xff}, 32),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrInvalidElement) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Decode(valid[:]); err != nil {
		t.Error(err)
	}
	bad := []Element{valid, nonCanonical}
	if err := NewPool(1).Exp(context.Background(), mustKey(t), bad, bad); !errors.Is(err, ErrInvalidElement) {
		t.Errorf("Exp of an invalid element: %v", err)
	}
}

func TestKeysAreFresh(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	if a.s.IsEqual(b.s) {
		t.Error("two keys are equal")
	}
	if _, err := NewKey(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("short randomness accepted")
	}
}

func TestPoolMatchesSerial(t *testing.T) {
	k := mustKey(t)
	h := NewHasher([]byte("p"))
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	par := make([]Element, len(ids))
	if err := NewPool(4).HashBlind(context.Background(), h, k, ids, par); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		want, _ := Exp(h.Hash(id), k)
		if par[i] != want {
			t.Fatalf("%d differs", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewPool(2).Exp(ctx, k, par, par); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
