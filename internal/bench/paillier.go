package bench

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The Paillier baseline uses textbook Paillier (EUROCRYPT 1999) with
// g = n+1 and CRT decryption, the variant python-paillier — FATE's
// library — implements. No Go module that fits (maintained, pinned
// release, plain Paillier) could be fetched, so it is written here with
// math/big. It is a baseline for timing only: nothing in fedscore
// encrypts with it.

// paillierPublicKey encrypts and adds.
type paillierPublicKey struct {
	n, n2, half *big.Int
}

// paillierKey is a key pair with the CRT precomputations of decryption.
type paillierKey struct {
	paillierPublicKey
	p, q, p2, q2 *big.Int
	pm1, qm1     *big.Int // p-1, q-1
	hp, hq       *big.Int // L_p(g^(p-1) mod p²)^-1 mod p, and for q
	qInv         *big.Int // q^-1 mod p
}

// newPaillierKey generates a key with a modulus n of exactly bits bits.
func newPaillierKey(random io.Reader, bits int) (*paillierKey, error) {
	if bits < 64 || bits%2 != 0 {
		return nil, fmt.Errorf("bench: paillier: modulus of %d bits: need an even number ≥ 64", bits)
	}
	for {
		p, err := rand.Prime(random, bits/2)
		if err != nil {
			return nil, fmt.Errorf("bench: paillier: %w", err)
		}
		q, err := rand.Prime(random, bits/2)
		if err != nil {
			return nil, fmt.Errorf("bench: paillier: %w", err)
		}
		n := new(big.Int).Mul(p, q)
		if p.Cmp(q) == 0 || n.BitLen() != bits {
			continue
		}
		// With p and q of equal length, gcd(pq, (p-1)(q-1)) = 1 holds.
		k := &paillierKey{p: p, q: q}
		k.n = n
		k.n2 = new(big.Int).Mul(n, n)
		k.half = new(big.Int).Rsh(n, 1)
		k.p2 = new(big.Int).Mul(p, p)
		k.q2 = new(big.Int).Mul(q, q)
		k.pm1 = new(big.Int).Sub(p, big.NewInt(1))
		k.qm1 = new(big.Int).Sub(q, big.NewInt(1))
		g := new(big.Int).Add(n, big.NewInt(1))
		if k.hp = k.h(g, p, k.p2, k.pm1); k.hp == nil {
			continue
		}
		if k.hq = k.h(g, q, k.q2, k.qm1); k.hq == nil {
			continue
		}
		if k.qInv = new(big.Int).ModInverse(q, p); k.qInv == nil {
			continue
		}
		return k, nil
	}
}

// h returns L_x(g^(x-1) mod x²)^-1 mod x, or nil when it has no inverse.
func (k *paillierKey) h(g, x, x2, xm1 *big.Int) *big.Int {
	u := new(big.Int).Exp(g, xm1, x2)
	l := lFunc(u, x)
	return l.ModInverse(l, x)
}

// lFunc is L_x(u) = (u-1)/x.
func lFunc(u, x *big.Int) *big.Int {
	l := new(big.Int).Sub(u, big.NewInt(1))
	return l.Quo(l, x)
}

// encode maps v to [0, n): negative values wrap around.
func (k *paillierPublicKey) encode(v int64) *big.Int {
	m := big.NewInt(v)
	if v < 0 {
		m.Add(m, k.n)
	}
	return m
}

// Encrypt returns (1 + m·n) · r^n mod n² for a fresh random r in [1, n).
func (k *paillierPublicKey) Encrypt(random io.Reader, v int64) (*big.Int, error) {
	m := k.encode(v)
	var r *big.Int
	for {
		var err error
		if r, err = rand.Int(random, k.n); err != nil {
			return nil, fmt.Errorf("bench: paillier encrypt: %w", err)
		}
		if r.Sign() > 0 {
			break
		}
	}
	c := new(big.Int).Exp(r, k.n, k.n2)
	gm := new(big.Int).Mul(m, k.n)
	gm.Add(gm, big.NewInt(1))
	c.Mul(c, gm)
	return c.Mod(c, k.n2), nil
}

// Add returns the encryption of the sum of the plaintexts of a and b.
func (k *paillierPublicKey) Add(a, b *big.Int) *big.Int {
	c := new(big.Int).Mul(a, b)
	return c.Mod(c, k.n2)
}

// errPaillierRange reports a decrypted value that does not fit an int64.
var errPaillierRange = errors.New("bench: paillier: plaintext outside int64")

// Decrypt returns the centred plaintext of c, using the CRT.
func (k *paillierKey) Decrypt(c *big.Int) (int64, error) {
	mp := lFunc(new(big.Int).Exp(c, k.pm1, k.p2), k.p)
	mp.Mul(mp, k.hp).Mod(mp, k.p)
	mq := lFunc(new(big.Int).Exp(c, k.qm1, k.q2), k.q)
	mq.Mul(mq, k.hq).Mod(mq, k.q)
	// m = mq + q·((mp - mq)·q⁻¹ mod p)
	u := new(big.Int).Sub(mp, mq)
	u.Mul(u, k.qInv).Mod(u, k.p)
	m := u.Mul(u, k.q).Add(u, mq)
	if m.Cmp(k.half) > 0 {
		m.Sub(m, k.n)
	}
	if !m.IsInt64() {
		return 0, errPaillierRange
	}
	return m.Int64(), nil
}

// ciphertextBytes is the size of one serialized ciphertext: an element of
// Z*_{n²}.
func (k *paillierPublicKey) ciphertextBytes() int { return (k.n2.BitLen() + 7) / 8 }

// randReader is the randomness of key generation and encryption.
func randReader() io.Reader { return rand.Reader }
