package crypto

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Names of the parameter sets the package ships.
const (
	// ParamsBGV13 is the default: ring degree 2^13 (8192 slots) and a
	// ciphertext modulus of two 60-bit primes. Aggregation needs no
	// multiplicative depth, so Q only has to absorb encryption and
	// flooding noise, and no special modulus P is needed.
	ParamsBGV13 = "bgv13"

	// ParamsBGV14 is ParamsBGV13 with ring degree 2^14 (16384 slots).
	ParamsBGV14 = "bgv14"
)

// plaintextModulus is a prime close to 2^40 with T ≡ 1 mod 2^15, so that
// both shipped ring degrees (2N divides 2^15) get one slot per coefficient
// and sums of amounts up to about ±5.5e11 decode exactly.
const plaintextModulus = 1099510054913

// minSecurityBits is the lowest security level NewParams accepts.
const minSecurityBits = 128

// Params is an immutable BGV parameter set. The zero value is not usable;
// obtain one from NewParams. Params may be shared between goroutines.
type Params struct {
	name string
	bgv  heint.Parameters
	id   paramsID

	// encoder holds the encoding tables. It is never used directly, only
	// through ShallowCopy, so sharing it between goroutines is safe.
	encoder *heint.Encoder
}

// paramsID identifies a resolved parameter set on the wire. It is derived
// from the actual moduli, so a set whose primes change (for example with a
// new Lattigo version) no longer accepts objects made under the old one.
type paramsID [8]byte

// NewParams returns the parameter set with the given name (ParamsBGV13 or
// ParamsBGV14). It refuses a set that is below 128-bit security or whose
// flooding noise does not fit its moduli.
func NewParams(name string) (Params, error) {
	var lit heint.ParametersLiteral
	switch name {
	case ParamsBGV13:
		lit = heint.ParametersLiteral{LogN: 13, LogQ: []int{60, 60}, PlaintextModulus: plaintextModulus}
	case ParamsBGV14:
		lit = heint.ParametersLiteral{LogN: 14, LogQ: []int{60, 60}, PlaintextModulus: plaintextModulus}
	default:
		return Params{}, fmt.Errorf("%w: %q", errUnknownParams, name)
	}
	bgv, err := heint.NewParametersFromLiteral(lit)
	if err != nil {
		return Params{}, fmt.Errorf("crypto: building %s: %w", name, err)
	}
	p := Params{name: name, bgv: bgv, id: fingerprint(bgv), encoder: heint.NewEncoder(bgv)}
	if p.Slots() != p.bgv.N() {
		return Params{}, fmt.Errorf("crypto: %s: plaintext modulus gives %d slots, want %d", name, p.Slots(), p.bgv.N())
	}
	if p.securityBits() < minSecurityBits {
		return Params{}, fmt.Errorf("crypto: %s: logQP %.1f is below %d-bit security", name, p.logQP(), minSecurityBits)
	}
	if err := p.checkFlooding(); err != nil {
		return Params{}, fmt.Errorf("crypto: %s: %w", name, err)
	}
	return p, nil
}

func fingerprint(bgv heint.Parameters) paramsID {
	h := sha256.New()
	h.Write([]byte("fedscore/crypto bgv"))
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(bgv.LogN()))
	put(uint64(len(bgv.Q())))
	for _, q := range bgv.Q() {
		put(q)
	}
	put(uint64(len(bgv.P())))
	for _, q := range bgv.P() {
		put(q)
	}
	put(bgv.PlaintextModulus())
	var id paramsID
	copy(id[:], h.Sum(nil))
	return id
}

// Name returns the name the set was created with.
func (p Params) Name() string { return p.name }

// Slots returns the number of values one ciphertext holds.
func (p Params) Slots() int { return p.bgv.MaxSlots() }

// LogN returns the base-2 logarithm of the ring degree.
func (p Params) logN() int { return p.bgv.LogN() }

// LogQP returns the bit size of the full modulus, which sets the security level.
func (p Params) logQP() float64 { return p.bgv.LogQP() }

// PlaintextModulus returns T; slot arithmetic is modulo T.
func (p Params) plaintextModulus() uint64 { return p.bgv.PlaintextModulus() }

// MaxAbsValue returns (T-1)/2. Values are encoded centred, so any v with
// |v| <= MaxAbsValue, and any sum that stays within that bound, decodes exactly.
func (p Params) MaxAbsValue() int64 { return int64((p.plaintextModulus() - 1) / 2) }

// SecurityBits returns 256, 192 or 128 according to the
// HomomorphicEncryption.org standard table for a uniform ternary secret
// and error width 3.2, or 0 if the set is below 128-bit security.
func (p Params) securityBits() int {
	return securityBits(p.logN(), p.logQP())
}

// securityBits looks up the largest logQP allowed at each level for ring
// degree 2^logN (HE standard, November 2018, Table 1, ternary secret).
func securityBits(logN int, logQP float64) int {
	var b128, b192, b256 float64
	switch logN {
	case 12:
		b128, b192, b256 = 109, 75, 58
	case 13:
		b128, b192, b256 = 218, 152, 118
	case 14:
		b128, b192, b256 = 438, 305, 237
	case 15:
		b128, b192, b256 = 881, 611, 476
	default:
		return 0
	}
	switch {
	case logQP <= b256:
		return 256
	case logQP <= b192:
		return 192
	case logQP <= b128:
		return 128
	}
	return 0
}

// CiphertextSize returns the length of MarshalBinary for a ciphertext.
func (p Params) CiphertextSize() int { return wireSize(p.levels(), 2, p.bgv.N()) }

// KeySwitchShareSize returns the length of a serialized KeySwitcher share.
func (p Params) KeySwitchShareSize() int { return wireSize(p.levels(), 2, p.bgv.N()) }

func (p Params) levels() int { return p.bgv.MaxLevel() + 1 }

func (p Params) minModulus() uint64 {
	m := uint64(math.MaxUint64)
	for _, q := range p.bgv.Q() {
		m = min(m, q)
	}
	return m
}
