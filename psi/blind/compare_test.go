package blind

import (
	"crypto"
	"crypto/rand"
	"testing"

	"github.com/cloudflare/circl/expander"
	gtank "github.com/gtank/ristretto255"
)

// BenchmarkGroups measures the protocol's two group operations side by
// side in circl (which this package uses) and in gtank/ristretto255 over
// filippo.io/edwards25519: one scalar multiplication of a decoded element
// and one hash to the group of the same expander output.
func BenchmarkGroups(b *testing.B) {
	msg := []byte("fedscore/psi/v1 domain prefix and 8613800138000")
	uniform := expander.NewExpanderMD(crypto.SHA512, []byte(DST)).Expand(msg, 64)
	var seed [64]byte
	rand.Read(seed[:])
	b.Run("ScalarMult/circl", func(b *testing.B) {
		k := mustKey(b)
		e := g.HashToElement(msg, []byte(DST))
		for b.Loop() {
			e.Mul(e, k.s)
		}
	})
	b.Run("ScalarMult/gtank", func(b *testing.B) {
		k := gtank.NewScalar().FromUniformBytes(seed[:])
		e := gtank.NewElement().FromUniformBytes(uniform)
		for b.Loop() {
			e.ScalarMult(k, e)
		}
	})
	b.Run("HashToGroup/circl", func(b *testing.B) {
		for b.Loop() {
			g.HashToElement(msg, []byte(DST))
		}
	})
	b.Run("HashToGroup/gtank", func(b *testing.B) {
		x := expander.NewExpanderMD(crypto.SHA512, []byte(DST))
		for b.Loop() {
			gtank.NewElement().FromUniformBytes(x.Expand(msg, 64))
		}
	})
}

// TestGroupsAgree checks that both implementations compute the same
// elements: the hash to the group and a scalar multiplication.
func TestGroupsAgree(t *testing.T) {
	msg := []byte("8613800138000")
	uniform := expander.NewExpanderMD(crypto.SHA512, []byte(DST)).Expand(msg, 64)
	c, _ := g.HashToElement(msg, []byte(DST)).MarshalBinary()
	ge := gtank.NewElement().FromUniformBytes(uniform)
	if got := ge.Encode(nil); string(got) != string(c) {
		t.Fatalf("hash to group: gtank %x, circl %x", got, c)
	}
	var seed [64]byte
	rand.Read(seed[:])
	gs := gtank.NewScalar().FromUniformBytes(seed[:])
	cs := g.NewScalar()
	if err := cs.UnmarshalBinary(gs.Encode(nil)); err != nil {
		t.Fatal(err)
	}
	ce := g.HashToElement(msg, []byte(DST))
	ce.Mul(ce, cs)
	cb, _ := ce.MarshalBinary()
	if got := gtank.NewElement().ScalarMult(gs, ge).Encode(nil); string(got) != string(cb) {
		t.Fatalf("scalar multiplication: gtank %x, circl %x", got, cb)
	}
}
