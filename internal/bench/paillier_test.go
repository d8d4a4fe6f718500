package bench

import (
	"crypto/rand"
	"math/big"
	"testing"
)

func TestPaillierRoundTrip(t *testing.T) {
	k, err := newPaillierKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.n.BitLen(); got != 512 {
		t.Fatalf("modulus has %d bits, want 512", got)
	}
	values := []int64{0, 1, 42, -7, 1 << 40, -(1 << 40)}
	sum := int64(0)
	var acc = mustEncrypt(t, k, 0)
	for _, v := range values {
		c := mustEncrypt(t, k, v)
		got, err := k.Decrypt(c)
		if err != nil || got != v {
			t.Fatalf("Decrypt(Encrypt(%d)) = %d, %v", v, got, err)
		}
		acc = k.Add(acc, c)
		sum += v
	}
	if got, err := k.Decrypt(acc); err != nil || got != sum {
		t.Fatalf("decrypted sum = %d, %v; want %d", got, err, sum)
	}
	a, b := mustEncrypt(t, k, 5), mustEncrypt(t, k, 5)
	if a.Cmp(b) == 0 {
		t.Fatal("two encryptions of 5 are equal: encryption is not randomised")
	}
	if got := k.ciphertextBytes(); got != 128 {
		t.Fatalf("ciphertext is %d bytes, want 128", got)
	}
}

func mustEncrypt(t *testing.T, k *paillierKey, v int64) *big.Int {
	t.Helper()
	c, err := k.Encrypt(rand.Reader, v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
