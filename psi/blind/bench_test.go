package blind

import (
	"context"
	"fmt"
	"testing"
)

// The two operations the protocol's cost bound counts.

// BenchmarkHashToGroup is one hash of an identifier to ristretto255
// (expand_message_xmd with SHA-512, two Elligator maps, one addition).
func BenchmarkHashToGroup(b *testing.B) {
	msg := []byte("fedscore/psi/v1 domain prefix and 8613800138000")
	for b.Loop() {
		g.HashToElement(msg, []byte(DST))
	}
}

// BenchmarkScalarMult is one constant-time variable-base scalar
// multiplication, without encoding.
func BenchmarkScalarMult(b *testing.B) {
	k := mustKey(b)
	e := g.HashToElement([]byte("x"), []byte(DST))
	for b.Loop() {
		e.Mul(e, k.s)
	}
}

// BenchmarkDecodeEncode is the encoding overhead of one protocol step on
// top of its scalar multiplication: decode an element and encode a result.
func BenchmarkDecodeEncode(b *testing.B) {
	x := NewHasher(nil).Hash("x")
	e := g.NewElement()
	var out Element
	for b.Loop() {
		if err := e.UnmarshalBinary(x[:]); err != nil {
			b.Fatal(err)
		}
		encode(&out, e)
	}
}

// BenchmarkPool measures a batch through the worker pool, per element:
// first blinding (hash, multiply, encode) and a later hop (decode,
// multiply, encode).
func BenchmarkPool(b *testing.B) {
	const batch = 4096
	k := mustKey(b)
	h := NewHasher([]byte("bench"))
	ids := make([]string, batch)
	for i := range ids {
		ids[i] = fmt.Sprintf("86138%08d", i)
	}
	els := make([]Element, batch)
	ctx := context.Background()
	for _, w := range []int{1, 2} {
		p := NewPool(w)
		b.Run(fmt.Sprintf("HashBlind/workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				if err := p.HashBlind(ctx, h, k, ids, els); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/element")
		})
		b.Run(fmt.Sprintf("Exp/workers=%d", w), func(b *testing.B) {
			for b.Loop() {
				if err := p.Exp(ctx, k, els, els); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/element")
		})
	}
}
