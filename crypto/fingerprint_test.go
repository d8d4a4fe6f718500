package crypto

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, SeedSize) }

// encryptParties returns one serialized ciphertext per party, of random
// values small enough to sum exactly, and the plaintext sum.
func encryptParties(t *testing.T, f *federation, parties int) ([][]byte, []int64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, uint64(parties)))
	want := make([]int64, f.p.Slots())
	var blobs [][]byte
	for range parties {
		v := partyValues(rng, f.p.Slots(), f.p.MaxAbsValue()/int64(parties))
		for i, x := range v {
			want[i] += x
		}
		blobs = append(blobs, mustMarshal(t, f.mustEncrypt(t, v)[0]))
	}
	return blobs, want
}

func TestAccumulatorEqualsEvaluatorSum(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 3)
	blobs, want := encryptParties(t, f, 3)
	acc := f.p.NewCiphertextAccumulator()
	var cts []*Ciphertext
	for _, b := range blobs {
		if err := acc.Add(b); err != nil {
			t.Fatal(err)
		}
		ct, err := f.p.UnmarshalCiphertext(b)
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	sum, err := f.p.NewEvaluator().Sum(cts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := acc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, mustMarshal(t, sum)) || acc.Count() != 3 {
		t.Fatal("the accumulated sum does not encode as Evaluator.Sum")
	}

	// The c1 part alone is enough for the key switch, and the summed
	// decryption shares open the counts like the shares themselves.
	c1, err := f.p.CiphertextC1(got)
	if err != nil {
		t.Fatal(err)
	}
	half, err := f.p.UnmarshalCiphertextC1(c1)
	if err != nil {
		t.Fatal(err)
	}
	rk, rpk, err := f.p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	var ksShares [][]byte
	decShares := f.p.NewDecryptionShareAccumulator()
	for _, sk := range f.shares {
		ks, err := f.p.NewKeySwitcher(sk)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := ks.Share(rpk, half)
		if err != nil {
			t.Fatal(err)
		}
		ksShares = append(ksShares, sh)
		dec, err := f.p.NewDecrypter(sk)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := dec.Share(half)
		if err != nil {
			t.Fatal(err)
		}
		if err := decShares.Add(ds); err != nil {
			t.Fatal(err)
		}
	}
	switched, err := f.p.CombineKeySwitch(sum, ksShares)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rk.Decrypt(switched); err != nil || !equalInt64(v, want) {
		t.Fatalf("key switch from the c1 part: %v", err)
	}
	d, err := decShares.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.p.CombineDecrypt(sum, [][]byte{d}); err != nil || !equalInt64(v, want) {
		t.Fatalf("opening with the summed decryption shares: %v", err)
	}
}

func TestFingerprintIsLinear(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 3)
	p := f.p
	blobs, _ := encryptParties(t, f, 3)
	acc := p.NewCiphertextAccumulator()
	var fps []Fingerprint
	for _, b := range blobs {
		if err := acc.Add(b); err != nil {
			t.Fatal(err)
		}
		fp, err := p.Fingerprint(seed(1), b)
		if err != nil {
			t.Fatal(err)
		}
		// Every fingerprint survives its encoding.
		enc := mustMarshal(t, fp)
		back, err := p.UnmarshalFingerprint(enc)
		if err != nil || !back.Equal(fp) {
			t.Fatalf("fingerprint round trip: %v", err)
		}
		fps = append(fps, back)
	}
	sum, _ := acc.Bytes()
	want, err := p.SumFingerprints(fps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Fingerprint(seed(1), sum)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatal("the fingerprint of the sum is not the sum of the fingerprints")
	}
	// The c1 part is checked against whole-ciphertext fingerprints.
	c1, _ := p.CiphertextC1(sum)
	half, err := p.Fingerprint(seed(1), c1)
	if err != nil {
		t.Fatal(err)
	}
	if !half.Matches(want) || half.Equal(want) || want.Matches(half) {
		t.Fatal("the c1 fingerprint does not match exactly the c1 part of the sum")
	}
	// Another seed, a missing input, a doubled input or a changed
	// coefficient all fail the check.
	other, _ := p.Fingerprint(seed(2), sum)
	if other.Matches(want) {
		t.Error("fingerprints at two seeds agree")
	}
	partial, _ := p.SumFingerprints(fps[:2])
	doubled, _ := p.SumFingerprints(append(fps, fps[0]))
	for name, g := range map[string]Fingerprint{"missing input": partial, "doubled input": doubled} {
		if got.Matches(g) {
			t.Errorf("%s: fingerprints still match", name)
		}
	}
	for _, off := range []int{wireHeaderSize, wireHeaderSize + 8*p.bgv.N(), len(sum) - 8} {
		bad := bytes.Clone(sum)
		bad[off] ^= 1
		fp, err := p.Fingerprint(seed(1), bad)
		if err != nil {
			t.Fatal(err)
		}
		if fp.Matches(want) {
			t.Errorf("a sum changed at byte %d matches", off)
		}
	}
}

func TestFingerprintOfDecryptionShares(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 3)
	p := f.p
	blobs, _ := encryptParties(t, f, 1)
	ct, _ := p.UnmarshalCiphertext(blobs[0])
	acc := p.NewDecryptionShareAccumulator()
	var fps []Fingerprint
	for _, sk := range f.shares {
		dec, _ := p.NewDecrypter(sk)
		sh, err := dec.Share(ct)
		if err != nil {
			t.Fatal(err)
		}
		acc.Add(sh)
		fp, err := p.Fingerprint(seed(7), sh)
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, fp)
	}
	sum, _ := acc.Bytes()
	got, _ := p.Fingerprint(seed(7), sum)
	want, err := p.SumFingerprints(fps)
	if err != nil || !got.Equal(want) {
		t.Fatalf("summed decryption shares: %v", err)
	}
}

func TestFingerprintRejectsBadInput(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 1)
	p := f.p
	blobs, _ := encryptParties(t, f, 1)
	ks, _ := p.NewKeySwitcher(f.shares[0])
	_, rpk, _ := p.NewReceiverKey()
	ct, _ := p.UnmarshalCiphertext(blobs[0])
	ksShare, _ := ks.Share(rpk, ct)
	p14 := mustParams(t, ParamsBGV14)
	tests := []struct {
		name string
		seed []byte
		blob []byte
		want error
	}{
		{"short seed", seed(1)[:16], blobs[0], ErrMalformed},
		{"truncated", seed(1), blobs[0][:len(blobs[0])-1], ErrMalformed},
		{"key-switch share", seed(1), ksShare, ErrMalformed},
		{"coefficient above the modulus", seed(1), func() []byte {
			b := bytes.Clone(blobs[0])
			for i := range 8 {
				b[wireHeaderSize+i] = 0xff
			}
			return b
		}(), ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := p.Fingerprint(tt.seed, tt.blob); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := p14.Fingerprint(seed(1), blobs[0]); !errors.Is(err, ErrParamsMismatch) {
		t.Errorf("other parameters: %v", err)
	}
	acc := p.NewCiphertextAccumulator()
	if err := acc.Add(ksShare); !errors.Is(err, ErrMalformed) {
		t.Errorf("accumulating a key-switch share: %v", err)
	}
	if _, err := acc.Bytes(); !errors.Is(err, errEmpty) {
		t.Errorf("empty accumulator: %v", err)
	}
	for range MaxParties {
		if err := acc.Add(blobs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := acc.Add(blobs[0]); !errors.Is(err, errOutOfRange) {
		t.Errorf("more than MaxParties: %v", err)
	}
	fp, _ := p.Fingerprint(seed(1), blobs[0])
	enc := mustMarshal(t, fp)
	if _, err := p14.UnmarshalFingerprint(enc); err == nil {
		t.Error("a bgv13 fingerprint decoded under bgv14")
	}
	if _, err := p.UnmarshalFingerprint(enc[:len(enc)-1]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated fingerprint: %v", err)
	}
	if _, err := p.SumFingerprints([]Fingerprint{fp, {}}); err == nil {
		t.Error("summed an empty fingerprint")
	}
}

func FuzzUnmarshalFingerprint(f *testing.F) {
	fed := newFederation(f, ParamsBGV13, 1)
	p := fed.p
	fp, err := p.Fingerprint(seed(1), mustMarshal(f, fed.mustEncrypt(f, []int64{1, 2})[0]))
	if err != nil {
		f.Fatal(err)
	}
	valid := mustMarshal(f, fp)
	f.Add(valid)
	f.Add(valid[:fingerprintHeaderSize])
	f.Add(append(bytes.Clone(valid), 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := p.UnmarshalFingerprint(b)
		if err != nil {
			return
		}
		if again := mustMarshal(t, got); !bytes.Equal(again, b) {
			t.Fatal("accepted fingerprint re-marshals differently")
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	f := newFederation(b, ParamsBGV13, 1)
	blob := mustMarshal(b, f.mustEncrypt(b, []int64{1})[0])
	for b.Loop() {
		if _, err := f.p.Fingerprint(seed(1), blob); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccumulate(b *testing.B) {
	f := newFederation(b, ParamsBGV13, 1)
	blob := mustMarshal(b, f.mustEncrypt(b, []int64{1})[0])
	acc := f.p.NewCiphertextAccumulator()
	for b.Loop() {
		if acc.Count() == MaxParties {
			acc = f.p.NewCiphertextAccumulator()
		}
		if err := acc.Add(blob); err != nil {
			b.Fatal(err)
		}
	}
}
