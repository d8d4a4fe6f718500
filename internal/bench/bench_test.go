package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/protocol"
)

// The benchmarks below measure the per-query hot paths with the exported
// API, one operation per iteration, named key=value for benchstat:
//
//	go test -run '^$' -bench . -count 10 ./internal/bench > new.txt
//	benchstat old.txt new.txt
//
// The crypto package's own benchmarks cover the primitives at both
// parameter sets (go test -bench . ./crypto).

func benchFederation(b *testing.B, n int) *cryptoFederation {
	b.Helper()
	p, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		b.Fatal(err)
	}
	f, err := newCryptoFederation(p, n)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func fullVector(p crypto.Params) []int64 {
	v := make([]int64, p.Slots())
	for i := range v {
		v[i] = int64(i % 1000)
	}
	return v
}

func mustCiphertext(b *testing.B, f *cryptoFederation) *crypto.Ciphertext {
	b.Helper()
	cts, err := f.enc.Encrypt(fullVector(f.params))
	if err != nil {
		b.Fatal(err)
	}
	return cts[0]
}

// BenchmarkEncrypt encodes and encrypts one full 8192-slot vector.
func BenchmarkEncrypt(b *testing.B) {
	f := benchFederation(b, 3)
	v := fullVector(f.params)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.enc.Encrypt(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptionShare is one party's share of opening the counts.
func BenchmarkDecryptionShare(b *testing.B) {
	f := benchFederation(b, 3)
	ct := mustCiphertext(b, f)
	dec, err := f.params.NewDecrypter(f.shares[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Share(ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeySwitchShare is one party's share of switching the values to
// the querier's key.
func BenchmarkKeySwitchShare(b *testing.B) {
	f := benchFederation(b, 3)
	ct := mustCiphertext(b, f)
	ks, err := f.params.NewKeySwitcher(f.shares[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.Share(f.rpk, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregate adds N ciphertexts, as the coordinator and every
// verifying node do per ciphertext and phase.
func BenchmarkAggregate(b *testing.B) {
	for _, n := range []int{3, 10, 30} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			f := benchFederation(b, 3)
			ct := mustCiphertext(b, f)
			cts := make([]*crypto.Ciphertext, n)
			for i := range cts {
				cts[i] = ct
			}
			eval := f.params.NewEvaluator()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := eval.Sum(cts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCombineKeySwitch combines N key-switch shares.
func BenchmarkCombineKeySwitch(b *testing.B) {
	for _, n := range []int{3, 10, 30} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			f := benchFederation(b, 3)
			ct := mustCiphertext(b, f)
			ks, err := f.params.NewKeySwitcher(f.shares[0])
			if err != nil {
				b.Fatal(err)
			}
			sh, err := ks.Share(f.rpk, ct)
			if err != nil {
				b.Fatal(err)
			}
			shares := make([][]byte, n)
			for i := range shares {
				shares[i] = sh
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.params.CombineKeySwitch(ct, shares); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyInputs is one verifier's check of one phase with one
// ciphertext per partner: N receipts and N fingerprint-statement
// signatures (certificates cached), the fingerprints of its own input and
// of the sum, and the spot-checked inputs. Every verifier does it twice
// per query.
func BenchmarkVerifyInputs(b *testing.B) {
	for _, n := range []int{3, 10, 30} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			f := benchFederation(b, n)
			c, err := newComponentBench(context.Background(), f.params, f)
			if err != nil {
				b.Fatal(err)
			}
			blob, err := mustCiphertext(b, f).MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			blobs := [][]byte{blob}
			step := protocol.Step{QueryID: "q-bench", QueryDigest: []byte("query digest"), Epoch: "bench", Run: 1, Phase: 1}
			signed, _, err := c.signPhase(step, blobs)
			if err != nil {
				b.Fatal(err)
			}
			sum, err := c.sumOf(blobs)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.verifyPhase(step, signed, blobs, sum); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCryptoOnly is the crypto-only baseline: one whole query's
// Lattigo operations, parties in parallel.
func BenchmarkCryptoOnly(b *testing.B) {
	for _, n := range []int{3, 10} {
		for _, cells := range []int{512, 8192, 32768} {
			b.Run(fmt.Sprintf("N=%d/cells=%d", n, cells), func(b *testing.B) {
				f := benchFederation(b, n)
				parties, err := f.parties()
				if err != nil {
					b.Fatal(err)
				}
				spec, err := Spec(cells)
				if err != nil {
					b.Fatal(err)
				}
				l := spec.Layout()
				counts, values := make([][]int64, n), make([][]int64, n)
				for i := range n {
					counts[i], values[i] = make([]int64, l.Cells), make([]int64, l.VectorLen)
				}
				for b.Loop() {
					if _, err := f.query(parties, counts, values); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkScan is one partner's consent cohort and aggregation for the
// 8192-cell query, on one core.
func BenchmarkScan(b *testing.B) {
	for _, records := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			t, err := synth.Generate(synth.Config{Partner: "p", Rows: records, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			f := benchFederation(b, 3)
			c, err := newComponentBench(ctx, f.params, f)
			if err != nil {
				b.Fatal(err)
			}
			spec, err := Spec(8192)
			if err != nil {
				b.Fatal(err)
			}
			rule, _, err := c.rules(ctx, spec, t)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := scan(ctx, spec, t, rule); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPaillier measures 2048-bit textbook Paillier per value.
func BenchmarkPaillier(b *testing.B) {
	k, err := newPaillierKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	c, err := k.Encrypt(rand.Reader, 12345)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=encrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Encrypt(rand.Reader, 12345); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=add", func(b *testing.B) {
		for b.Loop() {
			k.Add(c, c)
		}
	})
	b.Run("op=decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Decrypt(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
