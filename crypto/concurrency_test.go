package crypto

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentShallowCopies runs the whole protocol in several goroutines
// at once, each with its own copies of the stateful objects and sharing
// keys, parameters and the receiver key. Run it under -race.
func TestConcurrentShallowCopies(t *testing.T) {
	const (
		parties    = 3
		goroutines = 4
	)
	f := newFederation(t, ParamsBGV13, parties)
	p := f.p
	rk, rpk, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := p.NewEncryptor(f.pk)
	if err != nil {
		t.Fatal(err)
	}
	eval := p.NewEvaluator()
	switchers := make([]*KeySwitcher, parties)
	for i, sk := range f.shares {
		if switchers[i], err = p.NewKeySwitcher(sk); err != nil {
			t.Fatal(err)
		}
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		enc, eval := enc.ShallowCopy(), eval.ShallowCopy()
		ks := make([]*KeySwitcher, parties)
		for i, s := range switchers {
			ks[i] = s.ShallowCopy()
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			want := make([]int64, p.Slots())
			cts := make([]*Ciphertext, parties)
			for i := range parties {
				values := partyValues(rng, p.Slots(), p.MaxAbsValue()/parties)
				for j, v := range values {
					want[j] += v
				}
				out, err := enc.Encrypt(values)
				if err != nil {
					t.Error(err)
					return
				}
				cts[i] = out[0]
			}
			sum, err := eval.Sum(cts)
			if err != nil {
				t.Error(err)
				return
			}
			shares := make([][]byte, parties)
			for i := range parties {
				if shares[i], err = ks[i].Share(rpk, sum); err != nil {
					t.Error(err)
					return
				}
			}
			switched, err := p.CombineKeySwitch(sum, shares)
			if err != nil {
				t.Error(err)
				return
			}
			got, err := rk.Decrypt(switched)
			if err != nil {
				t.Error(err)
				return
			}
			if n := countEqual(got, want); n != len(want) {
				t.Errorf("goroutine %d: %d of %d slots correct", g, n, len(want))
			}
		})
	}
	wg.Wait()
}
