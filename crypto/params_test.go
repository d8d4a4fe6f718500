package crypto

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

var shippedParams = []string{ParamsBGV13, ParamsBGV14}

func TestParams(t *testing.T) {
	tests := []struct {
		name     string
		logN     int
		security int
	}{
		{ParamsBGV13, 13, 192},
		{ParamsBGV14, 14, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParams(t, tt.name)
			if p.Name() != tt.name || p.logN() != tt.logN {
				t.Fatalf("Name, LogN = %q, %d; want %q, %d", p.Name(), p.logN(), tt.name, tt.logN)
			}
			if p.Slots() != 1<<tt.logN {
				t.Errorf("Slots() = %d, want %d", p.Slots(), 1<<tt.logN)
			}
			T := p.plaintextModulus()
			if !new(big.Int).SetUint64(T).ProbablyPrime(32) {
				t.Errorf("T = %d is not prime", T)
			}
			if T%(2<<tt.logN) != 1 {
				t.Errorf("T = %d is not 1 mod 2N", T)
			}
			if lt := math.Log2(float64(T)); lt < 39.9 || lt > 40 {
				t.Errorf("log2 T = %.2f, want about 40", lt)
			}
			if p.MaxAbsValue() != int64((T-1)/2) {
				t.Errorf("MaxAbsValue() = %d, want %d", p.MaxAbsValue(), (T-1)/2)
			}
			if got := p.securityBits(); got < 128 || got != tt.security {
				t.Errorf("securityBits() = %d, want %d", got, tt.security)
			}
			if lq := p.logQP(); lq < 119 || lq > 120 {
				t.Errorf("logQP() = %.2f, want two ~60-bit primes", lq)
			}
			if len(p.bgv.Q()) != 2 || len(p.bgv.P()) != 0 {
				t.Errorf("moduli Q=%v P=%v, want two Q primes and no P", p.bgv.Q(), p.bgv.P())
			}
			want := wireHeaderSize + 2*2*8<<tt.logN
			if p.CiphertextSize() != want {
				t.Errorf("CiphertextSize() = %d, want %d", p.CiphertextSize(), want)
			}
		})
	}
}

func TestUnknownParams(t *testing.T) {
	for _, name := range []string{"", "bgv12", "BGV13", "ckks13"} {
		if _, err := NewParams(name); !errors.Is(err, errUnknownParams) {
			t.Errorf("NewParams(%q): got %v, want errUnknownParams", name, err)
		}
	}
}

func TestSecurityTable(t *testing.T) {
	tests := []struct {
		logN  int
		logQP float64
		want  int
	}{
		{12, 58, 256}, {12, 75, 192}, {12, 109, 128}, {12, 109.5, 0},
		{13, 118, 256}, {13, 120, 192}, {13, 152, 192}, {13, 218, 128}, {13, 218.001, 0},
		{14, 120, 256}, {14, 237, 256}, {14, 305, 192}, {14, 438, 128}, {14, 439, 0},
		{15, 881, 128}, {15, 882, 0},
		{11, 10, 0}, {16, 100, 0},
	}
	for _, tt := range tests {
		if got := securityBits(tt.logN, tt.logQP); got != tt.want {
			t.Errorf("securityBits(%d, %g) = %d, want %d", tt.logN, tt.logQP, got, tt.want)
		}
	}
}

func TestFloodingConstraints(t *testing.T) {
	for _, name := range shippedParams {
		t.Run(name, func(t *testing.T) {
			p := mustParams(t, name)
			sigma := p.floodingSigma()
			if 6*sigma >= float64(p.minModulus()) {
				t.Errorf("6σ = 2^%.1f reaches the smallest prime 2^%.1f", math.Log2(6*sigma), math.Log2(float64(p.minModulus())))
			}
			if sigma > 1<<50 {
				t.Errorf("σ = 2^%.1f > 2^50", math.Log2(sigma))
			}
			if s := p.floodingSecurityBits(); s < 40 {
				t.Errorf("statistical security %.1f bits < 40", s)
			}
			// The sizing rule for s = 40, alpha = 2^10, n = 2^logN,
			// B_ct = 6·236·8 gives about 2^47.3 (logN 13), 2^47.8 (logN 14).
			if ls := math.Log2(sigma); ls < 47 || ls > 48 {
				t.Errorf("log2 σ = %.2f, want within [47, 48]", ls)
			}
			margin := math.Log2(float64(p.plaintextModulus())) +
				math.Log2(ciphertextNoiseBound()+6*sigma*math.Sqrt(MaxParties))
			if margin >= p.bgv.LogQ()-1 {
				t.Errorf("T·noise = 2^%.1f does not fit Q/2 = 2^%.1f", margin, p.bgv.LogQ()-1)
			}
		})
	}
}

// TestFloodingNoiseApplied measures the noise of a switched ciphertext: it
// must be the parties' flooding noise, about σ·sqrt(parties), and no less.
func TestFloodingNoiseApplied(t *testing.T) {
	const parties = 3
	f := newFederation(t, ParamsBGV13, parties)
	p := f.p
	rk, rpk, err := p.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}
	switched := f.switchTo(t, rpk, f.mustEncrypt(t, []int64{5})[0], nil)

	// Decryption gives m·T^-1 + e mod Q, so T·dec centred is m + T·e.
	ringQ := p.bgv.RingQ()
	pt := rlwe.NewDecryptor(p.bgv, rk.sk).DecryptNew(switched.ct)
	ringQ.INTT(pt.Value, pt.Value)
	ringQ.MulScalar(pt.Value, p.plaintextModulus(), pt.Value)
	coeffs := make([]*big.Int, p.bgv.N())
	for i := range coeffs {
		coeffs[i] = new(big.Int)
	}
	ringQ.PolyToBigintCentered(pt.Value, 1, coeffs)
	T := new(big.Float).SetUint64(p.plaintextModulus())
	var sumSq float64
	for _, c := range coeffs {
		e, _ := new(big.Float).Quo(new(big.Float).SetInt(c), T).Float64()
		sumSq += e * e
	}
	got := math.Log2(math.Sqrt(sumSq / float64(len(coeffs))))
	want := math.Log2(p.floodingSigma() * math.Sqrt(parties))
	if math.Abs(got-want) > 0.5 {
		t.Fatalf("noise std 2^%.2f, want about 2^%.2f", got, want)
	}
}
