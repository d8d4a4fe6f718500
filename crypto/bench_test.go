package crypto

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// benchParams runs fn as one sub-benchmark per shipped parameter set.
func benchParams(b *testing.B, fn func(b *testing.B, f *federation)) {
	for _, name := range shippedParams {
		b.Run("params="+name, func(b *testing.B) {
			fn(b, newFederation(b, name, 3))
		})
	}
}

func fullVector(p Params) []int64 {
	return partyValues(rand.New(rand.NewPCG(1, 2)), p.Slots(), p.MaxAbsValue()/MaxParties)
}

func BenchmarkEncode(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		enc, err := f.p.NewEncryptor(f.pk)
		if err != nil {
			b.Fatal(err)
		}
		for i, v := range fullVector(f.p) {
			enc.buf[i] = uint64(v + int64(f.p.plaintextModulus()))
		}
		pt := heint.NewPlaintext(f.p.bgv, f.p.bgv.MaxLevel())
		b.ReportAllocs()
		for b.Loop() {
			if err := enc.encoder.Encode(enc.buf, pt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncrypt encodes and encrypts one full ciphertext.
func BenchmarkEncrypt(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		enc, err := f.p.NewEncryptor(f.pk)
		if err != nil {
			b.Fatal(err)
		}
		values := fullVector(f.p)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.Encrypt(values); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSum(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		ct := f.mustEncrypt(b, fullVector(f.p))[0]
		for _, n := range []int{3, 10} {
			b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
				cts := make([]*Ciphertext, n)
				for i := range cts {
					cts[i] = ct
				}
				eval := f.p.NewEvaluator()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := eval.Sum(cts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

func BenchmarkKeySwitchShare(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		ct := f.mustEncrypt(b, fullVector(f.p))[0]
		_, rpk, err := f.p.NewReceiverKey()
		if err != nil {
			b.Fatal(err)
		}
		ks, err := f.p.NewKeySwitcher(f.shares[0])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ks.Share(rpk, ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCombineKeySwitch decodes and aggregates three shares.
func BenchmarkCombineKeySwitch(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		ct := f.mustEncrypt(b, fullVector(f.p))[0]
		_, rpk, err := f.p.NewReceiverKey()
		if err != nil {
			b.Fatal(err)
		}
		var shares [][]byte
		for _, sk := range f.shares {
			ks, err := f.p.NewKeySwitcher(sk)
			if err != nil {
				b.Fatal(err)
			}
			sh, err := ks.Share(rpk, ct)
			if err != nil {
				b.Fatal(err)
			}
			shares = append(shares, sh)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.p.CombineKeySwitch(ct, shares); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecrypt decrypts and decodes one ciphertext.
func BenchmarkDecrypt(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		rk, rpk, err := f.p.NewReceiverKey()
		if err != nil {
			b.Fatal(err)
		}
		ct := f.switchTo(b, rpk, f.mustEncrypt(b, fullVector(f.p))[0], nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rk.Decrypt(ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMarshalCiphertext(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		ct := f.mustEncrypt(b, fullVector(f.p))[0]
		b.SetBytes(int64(f.p.CiphertextSize()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ct.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnmarshalCiphertext(b *testing.B) {
	benchParams(b, func(b *testing.B, f *federation) {
		data := mustMarshal(b, f.mustEncrypt(b, fullVector(f.p))[0])
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.p.UnmarshalCiphertext(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
