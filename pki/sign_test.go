package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
)

const (
	purposeQuery   = "fedscore/query/v1"
	purposeReceipt = "fedscore/receipt/v1"
)

func TestSignVerify(t *testing.T) {
	ca := newTestCA(t)
	node := issue(t, ca, RoleNode, "bank-a")
	other := issue(t, ca, RoleNode, "bank-b")
	msg := []byte(`{"query_id":"q-1","ciphertext_sha256":"ab12"}`)

	sig, err := Sign(node.Key, purposeReceipt, msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	tampered := append([]byte(nil), msg...)
	tampered[3] ^= 1
	badSig := append([]byte(nil), sig...)
	badSig[len(badSig)-1] ^= 1

	tests := []struct {
		name    string
		verify  func() error
		wantErr bool
	}{
		{"round trip", func() error { return Verify(node.Certificate, purposeReceipt, msg, sig) }, false},
		{"wrong purpose", func() error { return Verify(node.Certificate, purposeQuery, msg, sig) }, true},
		{"tampered message", func() error { return Verify(node.Certificate, purposeReceipt, tampered, sig) }, true},
		{"tampered signature", func() error { return Verify(node.Certificate, purposeReceipt, msg, badSig) }, true},
		{"wrong certificate", func() error { return Verify(other.Certificate, purposeReceipt, msg, sig) }, true},
		{"CA certificate", func() error { return Verify(ca.Certificate(), purposeReceipt, msg, sig) }, true},
		{"nil certificate", func() error { return Verify(nil, purposeReceipt, msg, sig) }, true},
		{"empty signature", func() error { return Verify(node.Certificate, purposeReceipt, msg, nil) }, true},
		{"empty purpose", func() error { return Verify(node.Certificate, "", msg, sig) }, true},
	}
	for _, tt := range tests {
		err := tt.verify()
		if !tt.wantErr && err != nil {
			t.Errorf("%s: Verify: %v", tt.name, err)
		}
		if tt.wantErr && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", tt.name, err)
		}
	}
}

// TestSignDomainSeparation checks that moving bytes between purpose and
// message cannot produce the same signed digest.
func TestSignDomainSeparation(t *testing.T) {
	key := issue(t, newTestCA(t), RoleQuerier, "q").Key
	if _, err := Sign(key, "a\x00b", nil); err == nil {
		t.Error("Sign accepted a purpose containing NUL")
	}
	if _, err := Sign(key, "", []byte("m")); err == nil {
		t.Error("Sign accepted an empty purpose")
	}
	if string(signedDigest("ab", []byte("c"))) == string(signedDigest("a", []byte("bc"))) {
		t.Error("purpose/message boundary is ambiguous")
	}
}

func TestSignRejectsOtherCurves(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(key, purposeQuery, []byte("m")); err == nil {
		t.Error("Sign accepted a P-384 key")
	}
}
