package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestRoundTrip serializes every object, decodes it, checks the encoding
// is stable, and runs the whole protocol on the decoded copies only.
func TestRoundTrip(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 3)
	p := f.p

	roundTrip := func(name string, b []byte, decode func([]byte) (interface{ MarshalBinary() ([]byte, error) }, error)) any {
		t.Helper()
		v, err := decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if again := mustMarshal(t, v); !bytes.Equal(again, b) {
			t.Fatalf("%s: re-encoding differs", name)
		}
		return v
	}

	var shares []*SecretShare
	for _, sk := range f.shares {
		v := roundTrip("secret share", mustMarshal(t, sk), func(b []byte) (interface{ MarshalBinary() ([]byte, error) }, error) {
			return p.UnmarshalSecretShare(b)
		})
		shares = append(shares, v.(*SecretShare))
	}
	pk := roundTrip("public key", mustMarshal(t, f.pk), func(b []byte) (interface{ MarshalBinary() ([]byte, error) }, error) {
		return p.UnmarshalPublicKey(b)
	}).(*PublicKey)
	rk, rpk0, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	rpk := roundTrip("receiver public key", mustMarshal(t, rpk0), func(b []byte) (interface{ MarshalBinary() ([]byte, error) }, error) {
		return p.UnmarshalPublicKey(b)
	}).(*PublicKey)

	rng := rand.New(rand.NewPCG(3, 3))
	want := make([]int64, p.Slots())
	var cts []*Ciphertext
	enc, err := p.NewEncryptor(pk)
	if err != nil {
		t.Fatal(err)
	}
	for range shares {
		values := partyValues(rng, p.Slots(), 1<<30)
		for i, v := range values {
			want[i] += v
		}
		out, err := enc.Encrypt(values)
		if err != nil {
			t.Fatal(err)
		}
		c := roundTrip("ciphertext", mustMarshal(t, out[0]), func(b []byte) (interface{ MarshalBinary() ([]byte, error) }, error) {
			return p.UnmarshalCiphertext(b)
		})
		cts = append(cts, c.(*Ciphertext))
	}
	sum, err := p.NewEvaluator().Sum(cts)
	if err != nil {
		t.Fatal(err)
	}
	var ksShares [][]byte
	for _, sk := range shares {
		ks, err := p.NewKeySwitcher(sk)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := ks.Share(rpk, sum)
		if err != nil {
			t.Fatal(err)
		}
		if len(sh) != p.KeySwitchShareSize() {
			t.Fatalf("key-switch share is %d bytes, KeySwitchShareSize() = %d", len(sh), p.KeySwitchShareSize())
		}
		ksShares = append(ksShares, sh)
	}
	switched, err := p.CombineKeySwitch(sum, ksShares)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rk.Decrypt(switched)
	if err != nil {
		t.Fatal(err)
	}
	if n := countEqual(got, want); n != len(want) {
		t.Fatalf("%d of %d slots correct after round trips", n, len(want))
	}
}

// TestCKGMismatchedCRS guards against a CKG share that ignores the
// secret or the CRS: the key must only work when both agree.
func TestCKGMismatchedCRS(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 2)
	p := f.p
	otherCRS := bytes.Repeat([]byte{9}, CRSSize)
	a, err := p.CKGShare(f.shares[0], f.crs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.CKGShare(f.shares[1], otherCRS)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := p.CombineCKG(f.crs, [][]byte{a, b})
	if err != nil {
		t.Fatal(err)
	}
	bad := &federation{p: p, crs: f.crs, shares: f.shares, pk: pk}
	values := []int64{1, 2, 3, 4, 5, 6, 7, 8}
	rk, rpk, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := rk.Decrypt(bad.switchTo(t, rpk, bad.mustEncrypt(t, values)[0], nil))
	if err != nil {
		t.Fatal(err)
	}
	if countEqual(got, values) > 2 {
		t.Fatal("a key built from shares on different CRSs still decrypts")
	}
	for _, crs := range [][]byte{nil, make([]byte, CRSSize-1), make([]byte, CRSSize+1)} {
		if _, err := p.CKGShare(f.shares[0], crs); !errors.Is(err, ErrMalformed) {
			t.Errorf("CKGShare with %d-byte CRS: got %v, want ErrMalformed", len(crs), err)
		}
	}
	if _, err := p.CombineCKG(f.crs, nil); !errors.Is(err, errEmpty) {
		t.Errorf("CombineCKG with no shares: got %v, want errEmpty", err)
	}
}

// encodings holds a valid encoding of every object under one parameter set.
type encodings map[kind][]byte

func validEncodings(t *testing.T, f *federation) (encodings, *Ciphertext) {
	t.Helper()
	p := f.p
	ct := f.mustEncrypt(t, []int64{1, 2, 3})[0]
	_, rpk, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	ckg, err := p.CKGShare(f.shares[0], f.crs)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := p.NewKeySwitcher(f.shares[0])
	if err != nil {
		t.Fatal(err)
	}
	ksShare, err := ks.Share(rpk, ct)
	if err != nil {
		t.Fatal(err)
	}
	return encodings{
		kindCiphertext:     mustMarshal(t, ct),
		kindPublicKey:      mustMarshal(t, f.pk),
		kindSecretShare:    mustMarshal(t, f.shares[0]),
		kindCKGShare:       ckg,
		kindKeySwitchShare: ksShare,
	}, ct
}

func TestUnmarshalRejects(t *testing.T) {
	f13 := newFederation(t, ParamsBGV13, 1)
	f14 := newFederation(t, ParamsBGV14, 1)
	p := f13.p
	valid, ct := validEncodings(t, f13)
	valid14, _ := validEncodings(t, f14)

	decoders := map[kind]func([]byte) error{
		kindCiphertext:  func(b []byte) error { _, err := p.UnmarshalCiphertext(b); return err },
		kindPublicKey:   func(b []byte) error { _, err := p.UnmarshalPublicKey(b); return err },
		kindSecretShare: func(b []byte) error { _, err := p.UnmarshalSecretShare(b); return err },
		kindCKGShare: func(b []byte) error {
			_, err := p.CombineCKG(f13.crs, [][]byte{valid[kindCKGShare], b})
			return err
		},
		kindKeySwitchShare: func(b []byte) error {
			_, err := p.CombineKeySwitch(ct, [][]byte{valid[kindKeySwitchShare], b})
			return err
		},
	}

	edit := func(b []byte, fn func([]byte)) []byte {
		c := bytes.Clone(b)
		fn(c)
		return c
	}
	setCoeff := func(b []byte, off int, v uint64) []byte {
		return edit(b, func(c []byte) { binary.LittleEndian.PutUint64(c[off:], v) })
	}
	q := p.bgv.Q()

	for k, good := range valid {
		decode := decoders[k]
		t.Run(k.String(), func(t *testing.T) {
			if err := decode(good); err != nil {
				t.Fatalf("valid encoding rejected: %v", err)
			}
			otherKind := kindCiphertext
			if k == kindCiphertext {
				otherKind = kindKeySwitchShare
			}
			tests := []struct {
				name string
				b    []byte
				want error
			}{
				{"empty", nil, ErrMalformed},
				{"1 byte", good[:1], ErrMalformed},
				{"header minus one", good[:wireHeaderSize-1], ErrMalformed},
				{"header only", good[:wireHeaderSize], ErrMalformed},
				{"header plus one", good[:wireHeaderSize+1], ErrMalformed},
				{"half", good[:len(good)/2], ErrMalformed},
				{"one short", good[:len(good)-1], ErrMalformed},
				{"trailing byte", append(bytes.Clone(good), 0), ErrMalformed},
				{"trailing coefficient", append(bytes.Clone(good), make([]byte, 8)...), ErrMalformed},
				{"bad magic", edit(good, func(c []byte) { c[0] ^= 1 }), ErrMalformed},
				{"bad version", edit(good, func(c []byte) { c[4] = 2 }), ErrMalformed},
				{"wrong kind", edit(good, func(c []byte) { c[5] = byte(otherKind) }), ErrMalformed},
				{"extra polynomial", edit(good, func(c []byte) { c[7]++ }), ErrMalformed},
				{"missing modulus", edit(good, func(c []byte) { c[8]-- }), ErrMalformed},
				{"ring degree", edit(good, func(c []byte) { c[6]++ }), ErrParamsMismatch},
				{"fingerprint", edit(good, func(c []byte) { c[9] ^= 1 }), ErrParamsMismatch},
				{"bgv14 object", valid14[k], ErrParamsMismatch},
				{"first coefficient all ones", setCoeff(good, wireHeaderSize, ^uint64(0)), ErrMalformed},
				{"first coefficient = q0", setCoeff(good, wireHeaderSize, q[0]), ErrMalformed},
				{"last coefficient = q1", setCoeff(good, len(good)-8, q[len(q)-1]), ErrMalformed},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := decode(tt.b)
					if !errors.Is(err, tt.want) {
						t.Fatalf("got %v, want %v", err, tt.want)
					}
				})
			}
			// The largest valid coefficient is accepted.
			if err := decode(setCoeff(good, len(good)-8, q[len(q)-1]-1)); err != nil {
				t.Fatalf("coefficient q-1 rejected: %v", err)
			}
		})
	}
}

func TestCombineKeySwitchRejects(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 1)
	ct := f.mustEncrypt(t, []int64{1})[0]
	if _, err := f.p.CombineKeySwitch(ct, nil); !errors.Is(err, errEmpty) {
		t.Fatalf("no shares: got %v, want errEmpty", err)
	}
	g := newFederation(t, ParamsBGV14, 1)
	other := g.mustEncrypt(t, []int64{1})[0]
	if _, err := f.p.CombineKeySwitch(other, [][]byte{{1}}); !errors.Is(err, ErrParamsMismatch) {
		t.Fatalf("bgv14 ciphertext: got %v, want ErrParamsMismatch", err)
	}
	ks, err := f.p.NewKeySwitcher(f.shares[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Share(g.pk, ct); !errors.Is(err, ErrParamsMismatch) {
		t.Fatalf("Share to bgv14 receiver: got %v, want ErrParamsMismatch", err)
	}
	if _, err := f.p.NewEncryptor(g.pk); !errors.Is(err, ErrParamsMismatch) {
		t.Fatalf("NewEncryptor with bgv14 key: got %v, want ErrParamsMismatch", err)
	}
}
