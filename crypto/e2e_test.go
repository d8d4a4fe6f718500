package crypto

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestEndToEnd(t *testing.T) {
	tests := []struct {
		params  string
		parties int
	}{
		{ParamsBGV13, 3},
		{ParamsBGV13, 5},
		{ParamsBGV14, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/N=%d", tt.params, tt.parties), func(t *testing.T) {
			f := newFederation(t, tt.params, tt.parties)
			p := f.p
			rng := rand.New(rand.NewPCG(uint64(tt.parties), 1))
			length := p.Slots() + 17 // spills into a second ciphertext
			bound := p.MaxAbsValue() / int64(tt.parties)

			want := make([]int64, 2*p.Slots())
			perParty := make([][]*Ciphertext, tt.parties)
			for i := range tt.parties {
				values := partyValues(rng, length, bound)
				for j, v := range values {
					want[j] += v
				}
				perParty[i] = f.mustEncrypt(t, values)
				if len(perParty[i]) != 2 {
					t.Fatalf("Encrypt(%d values) gave %d ciphertexts, want 2", length, len(perParty[i]))
				}
			}

			receiver, receiverPK, err := p.NewReceiverKey()
			if err != nil {
				t.Fatal(err)
			}
			eval := p.NewEvaluator()
			for c := range 2 {
				inputs := make([]*Ciphertext, tt.parties)
				for i := range inputs {
					inputs[i] = perParty[i][c]
				}
				sum, err := eval.Sum(inputs)
				if err != nil {
					t.Fatalf("Sum: %v", err)
				}
				got, err := receiver.Decrypt(f.switchTo(t, receiverPK, sum, nil))
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				wantC := want[c*p.Slots() : (c+1)*p.Slots()]
				if n := countEqual(got, wantC); n != len(wantC) {
					t.Fatalf("ciphertext %d: %d of %d slots decrypt to the exact sum", c, n, len(wantC))
				}
			}
		})
	}
}

// TestExtremeValues checks that ±MaxAbsValue survive encoding and that the
// decoder centres symmetrically.
func TestExtremeValues(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 1)
	m := f.p.MaxAbsValue()
	values := []int64{m, -m, 0, 1, -1, m - 1, -(m - 1)}
	receiver, receiverPK, err := f.p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	got, err := receiver.Decrypt(f.switchTo(t, receiverPK, f.mustEncrypt(t, values)[0], nil))
	if err != nil {
		t.Fatal(err)
	}
	if !equalInt64(got[:len(values)], values) {
		t.Fatalf("decrypted %v, want %v", got[:len(values)], values)
	}
	for i, v := range got[len(values):] {
		if v != 0 {
			t.Fatalf("padding slot %d = %d, want 0", len(values)+i, v)
		}
	}
}

func TestWrongKeyGivesWrongValues(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 3)
	p := f.p
	rng := rand.New(rand.NewPCG(7, 7))
	values := partyValues(rng, p.Slots(), 1000)
	ct := f.mustEncrypt(t, values)[0]

	receiver, receiverPK, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	switched := f.switchTo(t, receiverPK, ct, nil)
	if got, _ := receiver.Decrypt(switched); countEqual(got, values) != len(values) {
		t.Fatal("the intended receiver cannot decrypt")
	}

	tests := []struct {
		name string
		key  *ReceiverKey
		ct   *Ciphertext
	}{
		{"other receiver key", other, switched},
		{"share missing", receiver, f.switchTo(t, receiverPK, ct, []int{0, 2})},
		{"share duplicated", receiver, f.switchTo(t, receiverPK, ct, []int{0, 1, 1})},
		{"not switched", receiver, ct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.key.Decrypt(tt.ct)
			if err != nil {
				t.Fatal(err)
			}
			// A handful of slots may match by chance; T is about 2^40.
			if n := countEqual(got, values); n > 2 {
				t.Fatalf("%d of %d slots decrypt correctly, want garbage", n, len(values))
			}
		})
	}
}

func TestSumIsDeterministic(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 2)
	cts := append(f.mustEncrypt(t, []int64{1, 2, 3}), f.mustEncrypt(t, []int64{4, 5, 6})...)
	before := mustMarshal(t, cts[0])
	a, err := f.p.NewEvaluator().Sum(cts)
	if err != nil {
		t.Fatal(err)
	}
	// A separately built Params of the same name interoperates.
	b, err := mustParams(t, ParamsBGV13).NewEvaluator().Sum(cts)
	if err != nil {
		t.Fatal(err)
	}
	ab, bb := mustMarshal(t, a), mustMarshal(t, b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two Sums of the same inputs marshal differently")
	}
	if !bytes.Equal(before, mustMarshal(t, cts[0])) {
		t.Fatal("Sum modified its input")
	}
	if len(ab) != f.p.CiphertextSize() {
		t.Fatalf("ciphertext is %d bytes, CiphertextSize() = %d", len(ab), f.p.CiphertextSize())
	}
}

func TestSumRejects(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 1)
	g := newFederation(t, ParamsBGV14, 1)
	ct := f.mustEncrypt(t, []int64{1})[0]
	other := g.mustEncrypt(t, []int64{1})[0]
	tooMany := make([]*Ciphertext, MaxParties+1)
	for i := range tooMany {
		tooMany[i] = ct
	}
	tests := []struct {
		name string
		cts  []*Ciphertext
		want error
	}{
		{"empty", nil, errEmpty},
		{"other params", []*Ciphertext{ct, other}, ErrParamsMismatch},
		{"too many", tooMany, errOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.p.NewEvaluator().Sum(tt.cts); !errorsIs(err, tt.want) {
				t.Fatalf("Sum: got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := f.p.NewEvaluator().Sum([]*Ciphertext{ct, nil}); err == nil {
		t.Fatal("Sum accepted a nil ciphertext")
	}
}

func TestEncryptRejects(t *testing.T) {
	f := newFederation(t, ParamsBGV13, 1)
	m := f.p.MaxAbsValue()
	tests := []struct {
		name   string
		values []int64
		want   error
		index  string
	}{
		{"empty", nil, errEmpty, ""},
		{"above", []int64{0, 0, 0, 0, 0, m + 1}, errOutOfRange, "index 5"},
		{"below", []int64{-(m + 1)}, errOutOfRange, "index 0"},
		{"min int64", []int64{1, -1 << 63}, errOutOfRange, "index 1"},
		{"second ciphertext", append(make([]int64, f.p.Slots()), 1<<62), errOutOfRange, "index 8192"},
	}
	enc, err := f.p.NewEncryptor(f.pk)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cts, err := enc.Encrypt(tt.values)
			if !errorsIs(err, tt.want) {
				t.Fatalf("Encrypt: got %v, want %v", err, tt.want)
			}
			if cts != nil {
				t.Fatal("Encrypt returned ciphertexts with an error")
			}
			if !containsString(err.Error(), tt.index) {
				t.Fatalf("error %q does not name %q", err, tt.index)
			}
		})
	}
}
