package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// thresholdFederation is a federation whose members also hold t-of-N
// threshold shares of the collective key.
type thresholdFederation struct {
	*federation
	threshold int
	points    []ShamirPoint
	tsks      []*ThresholdShare
}

// newThresholdFederation runs the collective key generation and the Shamir
// share exchange among n members with the given points (index+1 if nil).
func newThresholdFederation(t testing.TB, n, threshold int, points []ShamirPoint) *thresholdFederation {
	t.Helper()
	f := newFederation(t, ParamsBGV13, n)
	if points == nil {
		for i := range n {
			points = append(points, ShamirPoint(i+1))
		}
	}
	tf := &thresholdFederation{federation: f, threshold: threshold, points: points}
	sent := make([][][]byte, n)
	for i, sk := range f.shares {
		out, err := f.p.ShamirShares(sk, threshold, points)
		if err != nil {
			t.Fatalf("ShamirShares(member %d): %v", i, err)
		}
		if len(out) != n {
			t.Fatalf("ShamirShares returned %d shares, want %d", len(out), n)
		}
		sent[i] = out
	}
	for j := range n {
		var received [][]byte
		for i := range n {
			received = append(received, sent[i][j])
		}
		tsk, err := f.p.AggregateShamirShares(received)
		if err != nil {
			t.Fatalf("AggregateShamirShares(member %d): %v", j, err)
		}
		// Every member stores its share and reloads it.
		b := mustMarshal(t, tsk)
		if tsk, err = f.p.UnmarshalThresholdShare(b); err != nil {
			t.Fatalf("UnmarshalThresholdShare: %v", err)
		}
		if !bytes.Equal(mustMarshal(t, tsk), b) {
			t.Fatal("threshold share does not round-trip")
		}
		tf.tsks = append(tf.tsks, tsk)
	}
	return tf
}

// activePoints returns the points of the given members.
func (tf *thresholdFederation) activePoints(members []int) []ShamirPoint {
	pts := make([]ShamirPoint, len(members))
	for i, m := range members {
		pts[i] = tf.points[m]
	}
	return pts
}

// derive returns the additive shares of the given members for the active set.
func (tf *thresholdFederation) derive(t testing.TB, members []int, active []ShamirPoint) []*SecretShare {
	t.Helper()
	var out []*SecretShare
	for _, m := range members {
		sk, err := tf.p.ActiveSecretShare(tf.tsks[m], tf.points[m], tf.points, active, tf.threshold)
		if err != nil {
			t.Fatalf("ActiveSecretShare(member %d): %v", m, err)
		}
		out = append(out, sk)
	}
	return out
}

// decryptWith opens ct collectively with the given additive shares.
func decryptWith(t testing.TB, p Params, sks []*SecretShare, ct *Ciphertext) []int64 {
	t.Helper()
	var shares [][]byte
	for _, sk := range sks {
		d, err := p.NewDecrypter(sk)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := d.Share(ct)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh)
	}
	got, err := p.CombineDecrypt(ct, shares)
	if err != nil {
		t.Fatalf("CombineDecrypt: %v", err)
	}
	return got
}

// switchWith switches ct to receiver with the given additive shares and
// decrypts the result with the receiver key.
func switchWith(t testing.TB, p Params, sks []*SecretShare, rk *ReceiverKey, rpk *PublicKey, ct *Ciphertext) []int64 {
	t.Helper()
	var shares [][]byte
	for _, sk := range sks {
		ks, err := p.NewKeySwitcher(sk)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := ks.Share(rpk, ct)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh)
	}
	out, err := p.CombineKeySwitch(ct, shares)
	if err != nil {
		t.Fatalf("CombineKeySwitch: %v", err)
	}
	got, err := rk.Decrypt(out)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// sumKey returns the sum of the additive shares as a single key.
func sumKey(p Params, sks []*SecretShare) *ReceiverKey {
	sum := rlwe.NewSecretKey(p.bgv)
	for _, sk := range sks {
		p.bgv.RingQ().Add(sum.Value.Q, sk.sk.Value.Q, sum.Value.Q)
	}
	return &ReceiverKey{params: p, sk: sum}
}

// subsets returns every k-element subset of {0, …, n-1} in increasing order.
func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

func TestThresholdEveryActiveSetDecrypts(t *testing.T) {
	for _, tt := range []struct{ n, t int }{{3, 2}, {5, 3}, {7, 4}, {3, 1}, {3, 3}} {
		t.Run(fmt.Sprintf("%d-of-%d", tt.t, tt.n), func(t *testing.T) {
			tf := newThresholdFederation(t, tt.n, tt.t, nil)
			p := tf.p
			rk, rpk, err := p.NewReceiverKey()
			if err != nil {
				t.Fatal(err)
			}
			ideal := sumKey(p, tf.shares)
			rng := rand.New(rand.NewPCG(uint64(tt.n), uint64(tt.t)))
			for _, members := range subsets(tt.n, tt.t) {
				active := tf.activePoints(members)
				sks := tf.derive(t, members, active)
				// A fresh ciphertext per query: no member ever makes two
				// shares of one ciphertext.
				want := partyValues(rng, 64, p.MaxAbsValue())
				ct := tf.mustEncrypt(t, want)[0]

				if got := decryptWith(t, p, sks, ct); !equalInt64(got[:len(want)], want) {
					t.Fatalf("active %v: collective decryption is wrong (%d/%d slots)", members, countEqual(got, want), len(want))
				}
				ct = tf.mustEncrypt(t, want)[0]
				if got := switchWith(t, p, sks, rk, rpk, ct); !equalInt64(got[:len(want)], want) {
					t.Fatalf("active %v: key switch is wrong (%d/%d slots)", members, countEqual(got, want), len(want))
				}
				// The derived shares sum to the ideal key Σ s_i.
				if !sumKey(p, sks).sk.Value.Q.Equal(&ideal.sk.Value.Q) {
					t.Fatalf("active %v: derived shares do not sum to the collective key", members)
				}
			}
		})
	}
}

func TestThresholdInsufficientOrWrongShares(t *testing.T) {
	for _, tt := range []struct{ n, t int }{{3, 2}, {5, 3}, {7, 4}} {
		t.Run(fmt.Sprintf("%d-of-%d", tt.t, tt.n), func(t *testing.T) {
			tf := newThresholdFederation(t, tt.n, tt.t, nil)
			p := tf.p
			rng := rand.New(rand.NewPCG(7, uint64(tt.n)))
			want := partyValues(rng, 64, p.MaxAbsValue())
			fresh := func() *Ciphertext { return tf.mustEncrypt(t, want)[0] }
			garbage := func(what string, got []int64) {
				t.Helper()
				if n := countEqual(got, want); n != 0 {
					t.Errorf("%s: %d/%d slots decrypted correctly, want none", what, n, len(want))
				}
			}

			// The last t members are active, so member 0 (and more) is absent.
			members := subsets(tt.n, tt.t)[len(subsets(tt.n, tt.t))-1]
			active := tf.activePoints(members)
			sks := tf.derive(t, members, active)

			// The sum of the derived shares is the ideal key: it decrypts
			// a ciphertext under the collective public key on its own.
			got, err := sumKey(p, sks).Decrypt(fresh())
			if err != nil {
				t.Fatal(err)
			}
			if !equalInt64(got[:len(want)], want) {
				t.Fatal("the sum of the derived shares does not decrypt like the collective key")
			}

			// t−1 derived shares, in either direction.
			garbage("t-1 derived shares", decryptWith(t, p, sks[:tt.t-1], fresh()))
			rk, rpk, _ := p.NewReceiverKey()
			garbage("t-1 derived shares, key switch", switchWith(t, p, sks[1:], rk, rpk, fresh()))

			// t−1 members cannot form an active set at all.
			if _, err := p.ActiveSecretShare(tf.tsks[members[0]], active[0], tf.points, active[:tt.t-1], tt.t); !errors.Is(err, errThreshold) {
				t.Errorf("ActiveSecretShare with t-1 active members: %v, want errThreshold", err)
			}

			// The raw additive shares of the t active members.
			var raw []*SecretShare
			for _, m := range members {
				raw = append(raw, tf.shares[m])
			}
			garbage("raw additive shares", decryptWith(t, p, raw, fresh()))
			garbage("raw additive shares, key switch", switchWith(t, p, raw, rk, rpk, fresh()))

			// The threshold shares used directly, without the Lagrange step.
			var undivided []*SecretShare
			for _, m := range members {
				undivided = append(undivided, &SecretShare{params: p, sk: &rlwe.SecretKey{Value: tf.tsks[m].share.Poly}})
			}
			garbage("threshold shares without combining", decryptWith(t, p, undivided, fresh()))

			// Shares derived for two different active sets do not mix: the
			// first member's share comes from the set of the first t members.
			other := tf.activePoints(subsets(tt.n, tt.t)[0])
			mixed := append(tf.derive(t, []int{0}, other), sks[1:]...)
			garbage("shares derived for different active sets", decryptWith(t, p, mixed, fresh()))

			// The order of the active set does not change the derived share.
			reversed := slices.Clone(active)
			slices.Reverse(reversed)
			again := tf.derive(t, members[:1], reversed)
			if !bytes.Equal(mustMarshal(t, again[0]), mustMarshal(t, sks[0])) {
				t.Error("the derived share depends on the order of the active set")
			}
		})
	}
}

func TestThresholdArbitraryPoints(t *testing.T) {
	// Large, non-consecutive points below the smallest modulus.
	points := []ShamirPoint{1 << 40, 17, 1<<59 + 3, 99991}
	tf := newThresholdFederation(t, len(points), 3, points)
	rng := rand.New(rand.NewPCG(1, 2))
	want := partyValues(rng, 32, tf.p.MaxAbsValue())
	members := []int{3, 0, 2}
	active := tf.activePoints(members)
	got := decryptWith(t, tf.p, tf.derive(t, members, active), tf.mustEncrypt(t, want)[0])
	if !equalInt64(got[:len(want)], want) {
		t.Fatal("decryption with arbitrary Shamir points is wrong")
	}
}

func TestShamirSharesRejects(t *testing.T) {
	p := mustParams(t, ParamsBGV13)
	sk, _ := p.NewSecretShare()
	p14 := mustParams(t, ParamsBGV14)
	sk14, _ := p14.NewSecretShare()
	pts := []ShamirPoint{1, 2, 3}
	tooMany := make([]ShamirPoint, MaxParties+1)
	for i := range tooMany {
		tooMany[i] = ShamirPoint(i + 1)
	}
	for _, tc := range []struct {
		name      string
		sk        *SecretShare
		threshold int
		points    []ShamirPoint
		want      error
	}{
		{"threshold 0", sk, 0, pts, errThreshold},
		{"threshold negative", sk, -1, pts, errThreshold},
		{"threshold above members", sk, 4, pts, errThreshold},
		{"no recipients", sk, 1, nil, errThreshold},
		{"zero point", sk, 2, []ShamirPoint{1, 0, 3}, errThreshold},
		{"duplicate point", sk, 2, []ShamirPoint{1, 2, 1}, errThreshold},
		{"point not below the modulus", sk, 2, []ShamirPoint{1, ShamirPoint(p.minModulus())}, errThreshold},
		{"too many recipients", sk, 2, tooMany, errThreshold},
		{"other parameters", sk14, 2, pts, ErrParamsMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.ShamirShares(tc.sk, tc.threshold, tc.points); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.ShamirShares(nil, 2, pts); err == nil {
		t.Error("nil SecretShare accepted")
	}
}

func TestAggregateShamirSharesRejects(t *testing.T) {
	p := mustParams(t, ParamsBGV13)
	sk, _ := p.NewSecretShare()
	sh, err := p.ShamirShares(sk, 2, []ShamirPoint{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sh[0], sh[1]) || bytes.Equal(sh[1], sh[2]) {
		t.Fatal("different recipients got the same Shamir share")
	}
	p14 := mustParams(t, ParamsBGV14)
	sk14, _ := p14.NewSecretShare()
	sh14, err := p14.ShamirShares(sk14, 1, []ShamirPoint{1})
	if err != nil {
		t.Fatal(err)
	}
	tooLarge := bytes.Clone(sh[0])
	binary.LittleEndian.PutUint64(tooLarge[wireHeaderSize:], p.bgv.Q()[0])
	for _, tc := range []struct {
		name   string
		shares [][]byte
		want   error
	}{
		{"none", nil, errEmpty},
		{"truncated", [][]byte{sh[0][:len(sh[0])-1]}, ErrMalformed},
		{"trailing byte", [][]byte{append(bytes.Clone(sh[0]), 0)}, ErrMalformed},
		{"secret share instead", [][]byte{mustMarshal(t, sk)}, ErrMalformed},
		{"coefficient not below the modulus", [][]byte{sh[1], tooLarge}, ErrMalformed},
		{"replayed share", [][]byte{sh[0], sh[1], sh[0]}, ErrMalformed},
		{"other parameters", [][]byte{sh14[0]}, ErrParamsMismatch},
		{"too many", slices.Repeat([][]byte{sh[0]}, MaxParties+1), errOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.AggregateShamirShares(tc.shares); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnmarshalThresholdShareRejects(t *testing.T) {
	p := mustParams(t, ParamsBGV13)
	sk, _ := p.NewSecretShare()
	sh, err := p.ShamirShares(sk, 1, []ShamirPoint{5})
	if err != nil {
		t.Fatal(err)
	}
	tsk, err := p.AggregateShamirShares(sh)
	if err != nil {
		t.Fatal(err)
	}
	valid := mustMarshal(t, tsk)
	if _, err := p.UnmarshalThresholdShare(valid); err != nil {
		t.Fatalf("valid share rejected: %v", err)
	}
	tooLarge := bytes.Clone(valid)
	binary.LittleEndian.PutUint64(tooLarge[len(tooLarge)-8:], p.bgv.Q()[1])
	badVersion := bytes.Clone(valid)
	badVersion[4] = 2
	p14 := mustParams(t, ParamsBGV14)
	sk14, _ := p14.NewSecretShare()
	sh14, _ := p14.ShamirShares(sk14, 1, []ShamirPoint{1})
	tsk14, err := p14.AggregateShamirShares(sh14)
	if err != nil {
		t.Fatal(err)
	}
	otherID := bytes.Clone(valid)
	otherID[9] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"header only", valid[:wireHeaderSize], ErrMalformed},
		{"truncated", valid[:len(valid)-1], ErrMalformed},
		{"trailing byte", append(bytes.Clone(valid), 0), ErrMalformed},
		{"Shamir share instead", sh[0], ErrMalformed},
		{"secret share instead", mustMarshal(t, sk), ErrMalformed},
		{"coefficient not below the modulus", tooLarge, ErrMalformed},
		{"unknown version", badVersion, ErrMalformed},
		{"other parameters", mustMarshal(t, tsk14), ErrParamsMismatch},
		{"other fingerprint", otherID, ErrParamsMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.UnmarshalThresholdShare(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := (*ThresholdShare)(nil).MarshalBinary(); err == nil {
		t.Error("marshal of nil ThresholdShare succeeded")
	}
}

func TestActiveSecretShareRejects(t *testing.T) {
	tf := newThresholdFederation(t, 4, 3, nil)
	p := tf.p
	all := tf.points // 1, 2, 3, 4
	tsk := tf.tsks[0]
	p14 := mustParams(t, ParamsBGV14)
	sk14, _ := p14.NewSecretShare()
	sh14, _ := p14.ShamirShares(sk14, 1, []ShamirPoint{1})
	tsk14, err := p14.AggregateShamirShares(sh14)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		tsk       *ThresholdShare
		own       ShamirPoint
		all       []ShamirPoint
		active    []ShamirPoint
		threshold int
		want      error
	}{
		{"own not active", tsk, 1, all, []ShamirPoint{2, 3, 4}, 3, errThreshold},
		{"too few active", tsk, 1, all, []ShamirPoint{1, 2}, 3, errThreshold},
		{"too many active", tsk, 1, all, []ShamirPoint{1, 2, 3, 4}, 3, errThreshold},
		{"unknown active point", tsk, 1, all, []ShamirPoint{1, 2, 9}, 3, errThreshold},
		{"duplicate active point", tsk, 1, all, []ShamirPoint{1, 2, 2}, 3, errThreshold},
		{"zero active point", tsk, 1, all, []ShamirPoint{1, 2, 0}, 3, errThreshold},
		{"zero member point", tsk, 1, []ShamirPoint{1, 2, 3, 0}, []ShamirPoint{1, 2, 3}, 3, errThreshold},
		{"duplicate member point", tsk, 1, []ShamirPoint{1, 2, 3, 3}, []ShamirPoint{1, 2, 3}, 3, errThreshold},
		{"no members", tsk, 1, nil, []ShamirPoint{1, 2, 3}, 3, errThreshold},
		{"threshold 0", tsk, 1, all, nil, 0, errThreshold},
		{"threshold above members", tsk, 1, all, []ShamirPoint{1, 2, 3, 4, 5}, 5, errThreshold},
		{"other parameters", tsk14, 1, all, []ShamirPoint{1, 2, 3}, 3, ErrParamsMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.ActiveSecretShare(tc.tsk, tc.own, tc.all, tc.active, tc.threshold); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.ActiveSecretShare(nil, 1, all, []ShamirPoint{1, 2, 3}, 3); err == nil {
		t.Error("nil ThresholdShare accepted")
	}
	// A derived share serializes like any other secret share.
	sk, err := p.ActiveSecretShare(tsk, 1, all, []ShamirPoint{3, 1, 4}, 3)
	if err != nil {
		t.Fatal(err)
	}
	b := mustMarshal(t, sk)
	back, err := p.UnmarshalSecretShare(b)
	if err != nil {
		t.Fatalf("derived share does not decode: %v", err)
	}
	if !bytes.Equal(mustMarshal(t, back), b) {
		t.Fatal("derived share does not round-trip")
	}
}

func TestThresholdKindsDistinct(t *testing.T) {
	// The threshold kinds are numbered after the last kind of wire.go; a
	// kind that wire.go names itself would collide with them.
	for _, k := range []kind{kindShamirShare, kindThresholdShare} {
		if k <= kindDecryptionShare {
			t.Errorf("kind %d overlaps the kinds of wire.go", k)
		}
		if got, generic := k.String(), fmt.Sprintf("kind %d", uint8(k)); got != generic {
			t.Errorf("kind %d is also wire.go's %q", k, got)
		}
	}
	if kindShamirShare == kindThresholdShare {
		t.Error("Shamir and threshold shares share a kind")
	}
}

func FuzzUnmarshalThresholdShare(f *testing.F) {
	p := mustParams(f, ParamsBGV13)
	sk, err := p.NewSecretShare()
	if err != nil {
		f.Fatal(err)
	}
	sh, err := p.ShamirShares(sk, 1, []ShamirPoint{1})
	if err != nil {
		f.Fatal(err)
	}
	tsk, err := p.AggregateShamirShares(sh)
	if err != nil {
		f.Fatal(err)
	}
	fuzzSeeds(f, mustMarshal(f, tsk))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := p.UnmarshalThresholdShare(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrParamsMismatch) {
				t.Fatalf("error wraps neither ErrMalformed nor ErrParamsMismatch: %v", err)
			}
			return
		}
		if !bytes.Equal(mustMarshal(t, got), b) {
			t.Fatal("accepted input re-marshals differently")
		}
	})
}
