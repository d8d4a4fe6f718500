package crypto

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// federation is an in-process set of parties sharing a collective key.
type federation struct {
	p      Params
	crs    []byte
	shares []*SecretShare
	pk     *PublicKey
}

func mustParams(t testing.TB, name string) Params {
	t.Helper()
	p, err := NewParams(name)
	if err != nil {
		t.Fatalf("NewParams(%q): %v", name, err)
	}
	return p
}

func newFederation(t testing.TB, name string, parties int) *federation {
	t.Helper()
	p := mustParams(t, name)
	f := &federation{p: p, crs: make([]byte, CRSSize)}
	for i := range f.crs {
		f.crs[i] = byte(i)
	}
	ckgShares := make([][]byte, parties)
	for i := range parties {
		sk, err := p.NewSecretShare()
		if err != nil {
			t.Fatal(err)
		}
		f.shares = append(f.shares, sk)
		if ckgShares[i], err = p.CKGShare(sk, f.crs); err != nil {
			t.Fatalf("CKGShare: %v", err)
		}
	}
	pk, err := p.CombineCKG(f.crs, ckgShares)
	if err != nil {
		t.Fatalf("CombineCKG: %v", err)
	}
	f.pk = pk
	return f
}

// switchTo returns ct switched to receiver using the shares of the given
// parties (all of them if parties is nil).
func (f *federation) switchTo(t testing.TB, receiver *PublicKey, ct *Ciphertext, parties []int) *Ciphertext {
	t.Helper()
	if parties == nil {
		for i := range f.shares {
			parties = append(parties, i)
		}
	}
	var shares [][]byte
	for _, i := range parties {
		ks, err := f.p.NewKeySwitcher(f.shares[i])
		if err != nil {
			t.Fatal(err)
		}
		sh, err := ks.Share(receiver, ct)
		if err != nil {
			t.Fatalf("Share: %v", err)
		}
		shares = append(shares, sh)
	}
	out, err := f.p.CombineKeySwitch(ct, shares)
	if err != nil {
		t.Fatalf("CombineKeySwitch: %v", err)
	}
	return out
}

// partyValues returns n values of magnitude close to bound, with both
// signs and the exact extremes included.
func partyValues(rng *rand.Rand, n int, bound int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		m := bound - rng.Int64N(1000)
		if i%7 == 0 {
			m = bound
		}
		if rng.IntN(2) == 0 {
			m = -m
		}
		v[i] = m
	}
	return v
}

// mustEncrypt encrypts values under f's collective key.
func (f *federation) mustEncrypt(t testing.TB, values []int64) []*Ciphertext {
	t.Helper()
	enc, err := f.p.NewEncryptor(f.pk)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := enc.Encrypt(values)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return cts
}

func mustMarshal(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

// countEqual returns how many of the first len(want) slots of got match want.
func countEqual(got, want []int64) int {
	n := 0
	for i := range want {
		if got[i] == want[i] {
			n++
		}
	}
	return n
}

func equalInt64(a, b []int64) bool {
	return len(a) == len(b) && countEqual(a, b) == len(b)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func containsString(s, sub string) bool { return strings.Contains(s, sub) }
