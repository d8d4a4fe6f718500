package scoring

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/policy"
)

// testKey returns a P-256 key that went through the policy package's PEM
// handling, as a regulator's key file does.
func testKey(t testing.TB) (*ecdsa.PrivateKey, VerificationKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := policy.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := policy.MarshalPublicKeyPEM(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := policy.ParsePrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := policy.ParsePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k2, VerificationKey{ID: "regulator", Key: pk}
}

func TestSignVerify(t *testing.T) {
	key, vk := testKey(t)
	m := testModel()
	signed, err := Sign(m, key, vk.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, sig, err := VerifyWithSignature(signed, vk)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Digest()
	if d, _ := got.Digest(); d != want || sig.Digest != want || sig.KeyID != "regulator" || sig.Alg != "ES256" {
		t.Errorf("verified digest %s, signature %+v; want digest %s", d, sig, want)
	}
	// The model in the file stays readable: indented, one field a line.
	if !bytes.Contains(signed, []byte("\n        \"column\": \"x\",\n")) {
		t.Errorf("signed file is not indented:\n%s", signed)
	}
	// Re-formatting the file does not break the signature: only the
	// canonical model is signed.
	var v any
	if err := json.Unmarshal(signed, &v); err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(v)
	if _, err := Verify(compact, vk); err != nil {
		t.Errorf("compacted signed file: %v", err)
	}
	// VerifyFile reads the same.
	path := filepath.Join(t.TempDir(), "model.signed.json")
	if err := os.WriteFile(path, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(path, vk); err != nil {
		t.Errorf("VerifyFile: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	key, vk := testKey(t)
	_, other := testKey(t)
	signed, err := Sign(testModel(), key, vk.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := string(signed)
	replace := func(old, new string) []byte {
		if !strings.Contains(s, old) {
			t.Fatalf("edit does not apply: %q", old)
		}
		return []byte(strings.Replace(s, old, new, 1))
	}
	var f signedFile
	if err := json.Unmarshal(signed, &f); err != nil {
		t.Fatal(err)
	}
	// A tampered model with its digest updated to match.
	tampered := testModel()
	tampered.Features[0].Weight = 0.6
	tamperedDigest, _ := tampered.Digest()
	withDigest := replace(`"weight": 0.5`, `"weight": 0.6`)
	withDigest = bytes.Replace(withDigest, []byte(f.Signature.Digest), []byte(tamperedDigest), 1)
	plain, _ := Encode(testModel())
	nullSig, _ := json.Marshal(map[string]any{"format": SignedModelFormat, "model": f.Model, "signature": nil})

	tests := []struct {
		name string
		data []byte
		keys []VerificationKey
		want error
	}{
		{"tampered weight", replace(`"weight": 0.5`, `"weight": 0.6`), []VerificationKey{vk}, ErrBadSignature},
		{"tampered weight and digest", withDigest, []VerificationKey{vk}, ErrBadSignature},
		{"tampered grade cut", replace(`"min_score": 600`, `"min_score": 599`), []VerificationKey{vk}, ErrBadSignature},
		{"other key under the same ID", signed, []VerificationKey{{ID: vk.ID, Key: other.Key}}, ErrBadSignature},
		{"right key under another ID", signed, []VerificationKey{{ID: "consortium", Key: vk.Key}}, ErrBadSignature},
		{"key ID changed in the file", replace(`"key_id": "regulator"`, `"key_id": "consortium"`), []VerificationKey{vk, {ID: "consortium", Key: vk.Key}}, ErrBadSignature},
		{"no keys", signed, nil, ErrBadSignature},
		{"alg none", replace(`"alg": "ES256"`, `"alg": "none"`), []VerificationKey{vk}, ErrBadSignature},
		{"truncated sig", replace(f.Signature.Sig, f.Signature.Sig[:20]), []VerificationKey{vk}, ErrBadSignature},
		{"plain model file", plain, []VerificationKey{vk}, ErrUnsigned},
		{"null signature", nullSig, []VerificationKey{vk}, ErrUnsigned},
		{"duplicate signature", replace(`"signature": {`, `"signature": null, "signature": {`), []VerificationKey{vk}, ErrInvalidModel},
		{"unknown envelope field", replace(`"format":`, `"comment": "hi", "format":`), []VerificationKey{vk}, ErrInvalidModel},
		{"invalid model inside", replace(`"std": 2`, `"std": -2`), []VerificationKey{vk}, ErrInvalidModel},
		{"wrong format", replace(SignedModelFormat, "fedscore.signed-model.v0"), []VerificationKey{vk}, ErrInvalidModel},
		{"not JSON", []byte("model"), []VerificationKey{vk}, ErrInvalidModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Verify(tt.data, tt.keys...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want %v", m, err, tt.want)
			}
		})
	}
	// The invalid model's error names the field inside the envelope.
	if _, err := Verify(replace(`"std": 2`, `"std": -2`), vk); !strings.Contains(err.Error(), "model.features[0].std: ") {
		t.Errorf("error %q does not name model.features[0].std", err)
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	key, _ := testKey(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := testModel()
	bad.Features[0].Std = 0
	tests := []struct {
		name  string
		m     *Model
		key   *ecdsa.PrivateKey
		keyID string
		want  error
	}{
		{"empty key ID", testModel(), key, "", ErrInvalidArgument},
		{"nil key", testModel(), nil, "k", ErrInvalidArgument},
		{"P-384 key", testModel(), p384, "k", ErrInvalidArgument},
		{"invalid model", bad, key, "k", ErrInvalidModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sign(tt.m, tt.key, tt.keyID); !errors.Is(err, tt.want) {
				t.Errorf("Sign = %v, want %v", err, tt.want)
			}
		})
	}
}
