package crypto

import (
	"errors"
	"slices"
	"testing"
)

func TestCollectiveDecryption(t *testing.T) {
	for _, tt := range []struct {
		params  string
		parties int
	}{{ParamsBGV13, 3}, {ParamsBGV13, 5}, {ParamsBGV14, 3}} {
		t.Run(tt.params, func(t *testing.T) {
			f := newFederation(t, tt.params, tt.parties)
			enc, err := f.p.NewEncryptor(f.pk)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]int64, f.p.Slots())
			var cts []*Ciphertext
			for i := range tt.parties {
				vals := make([]int64, f.p.Slots())
				for j := range vals {
					vals[j] = int64((j*7+i*13)%1000) - 300
					want[j] += vals[j]
				}
				c, err := enc.Encrypt(vals)
				if err != nil {
					t.Fatal(err)
				}
				cts = append(cts, c[0])
			}
			sum, err := f.p.NewEvaluator().Sum(cts)
			if err != nil {
				t.Fatal(err)
			}
			shares := make([][]byte, tt.parties)
			for i, sk := range f.shares {
				d, err := f.p.NewDecrypter(sk)
				if err != nil {
					t.Fatal(err)
				}
				if shares[i], err = d.ShallowCopy().Share(sum); err != nil {
					t.Fatal(err)
				}
			}
			got, err := f.p.CombineDecrypt(sum, shares)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("collective decryption differs from the plaintext sum")
			}
			missing, err := f.p.CombineDecrypt(sum, shares[1:])
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(missing, want) {
				t.Error("decryption without every party's share gave the plaintext")
			}
		})
	}
}

func TestCombineDecryptRejectsOtherShares(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 2)
	enc, _ := f.p.NewEncryptor(f.pk)
	cts, err := enc.Encrypt([]int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	_, rpk, _ := f.p.NewReceiverKey()
	ks, _ := f.p.NewKeySwitcher(f.shares[0])
	pcks, err := ks.Share(rpk, cts[0])
	if err != nil {
		t.Fatal(err)
	}
	d, _ := f.p.NewDecrypter(f.shares[0])
	good, _ := d.Share(cts[0])
	for name, shares := range map[string][][]byte{
		"key-switch share": {pcks},
		"truncated":        {good[:len(good)-1]},
		"none":             nil,
	} {
		if _, err := f.p.CombineDecrypt(cts[0], shares); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "key-switch share" && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v does not wrap ErrMalformed", name, err)
		}
	}
}
