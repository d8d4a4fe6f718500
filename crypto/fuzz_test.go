package crypto

import (
	"bytes"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// fuzzSeeds adds a valid encoding, its truncations and small edits.
func fuzzSeeds(f *testing.F, valid []byte) {
	f.Add(valid)
	for _, n := range []int{0, 1, 4, wireHeaderSize - 1, wireHeaderSize, wireHeaderSize + 8, len(valid) / 2, len(valid) - 1} {
		f.Add(valid[:n])
	}
	f.Add(append(bytes.Clone(valid), 0))
	bad := bytes.Clone(valid)
	bad[wireHeaderSize+7] = 0xff
	f.Add(bad)
}

func FuzzUnmarshalCiphertext(f *testing.F) {
	fed := newFederation(f, ParamsBGV13, 1)
	p := fed.p
	fuzzSeeds(f, mustMarshal(f, fed.mustEncrypt(f, []int64{1, -2, 3})[0]))
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, err := p.UnmarshalCiphertext(b)
		if err != nil {
			return
		}
		again := mustMarshal(t, ct)
		if !bytes.Equal(again, b) {
			t.Fatal("accepted input re-marshals differently")
		}
	})
}

func FuzzUnmarshalKeySwitchShare(f *testing.F) {
	fed := newFederation(f, ParamsBGV13, 1)
	p := fed.p
	ct := fed.mustEncrypt(f, []int64{1})[0]
	_, rpk, err := p.NewReceiverKey()
	if err != nil {
		f.Fatal(err)
	}
	ks, err := p.NewKeySwitcher(fed.shares[0])
	if err != nil {
		f.Fatal(err)
	}
	share, err := ks.Share(rpk, ct)
	if err != nil {
		f.Fatal(err)
	}
	fuzzSeeds(f, share)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, combineErr := p.CombineKeySwitch(ct, [][]byte{b})
		el := rlwe.NewElement(p.bgv, 1, p.bgv.MaxLevel())
		err := p.unmarshalPolys(b, kindKeySwitchShare, el.Value[0], el.Value[1])
		if (err == nil) != (combineErr == nil) {
			t.Fatalf("decoder and CombineKeySwitch disagree: %v vs %v", err, combineErr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(p.marshalPolys(kindKeySwitchShare, el.Value[0], el.Value[1]), b) {
			t.Fatal("accepted input re-marshals differently")
		}
	})
}
