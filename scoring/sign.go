package scoring

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
)

// Signed model files
//
// A signed model file is a JSON document
//
//	{"format": "fedscore.signed-model.v1",
//	 "model": {...},
//	 "signature": {"key_id": "...", "alg": "ES256", "digest": "<hex>", "sig": "<base64url>"}}
//
// where digest is the model's [Model.Digest] (SHA-256 of its canonical
// JSON) and sig is the ES256 signature (ECDSA P-256 over SHA-256, r‖s as
// in JWS) of the signing input
//
//	"fedscore.model.v1" 0x00 key_id 0x00 digest
//
// The signing input binds the key ID and separates model signatures from
// every other use of the same key, such as policy bundles. The model is
// kept in its readable, indented form; only its canonical form is signed.

// SignedModelFormat is the format tag of a signed model file.
const SignedModelFormat = "fedscore.signed-model.v1"

const (
	signingAlg    = "ES256"
	signingDomain = "fedscore.model.v1"
)

// A VerificationKey is a public key trusted to sign models under its key
// ID: ECDSA P-256, the keys that sign policy bundles. It has the fields of
// VerificationKey, so one converts to the other.
type VerificationKey struct {
	ID  string
	Key *ecdsa.PublicKey // P-256
}

// A Signature is the signature block of a signed model file.
type Signature struct {
	KeyID  string `json:"key_id"`
	Alg    string `json:"alg"`
	Digest string `json:"digest"`
	Sig    string `json:"sig"`
}

type signedFile struct {
	Format    string          `json:"format"`
	Model     json.RawMessage `json:"model"`
	Signature *Signature      `json:"signature"`
}

// Sign validates m and returns a signed model file, signed with key
// (ECDSA P-256, as for policy bundles) under keyID.
func Sign(m *Model, key *ecdsa.PrivateKey, keyID string) ([]byte, error) {
	if keyID == "" {
		return nil, fmt.Errorf("scoring: signing: empty key ID: %w", ErrInvalidArgument)
	}
	if key == nil || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("scoring: signing: the key must be ECDSA P-256 (ES256): %w", ErrInvalidArgument)
	}
	body, err := Encode(m)
	if err != nil {
		return nil, err
	}
	digest, err := m.Digest()
	if err != nil {
		return nil, err
	}
	h := signingHash(keyID, digest)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("scoring: signing: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	out, err := json.MarshalIndent(signedFile{
		Format: SignedModelFormat,
		Model:  body,
		Signature: &Signature{
			KeyID:  keyID,
			Alg:    signingAlg,
			Digest: digest,
			Sig:    base64.RawURLEncoding.EncodeToString(sig),
		},
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("scoring: signing: %w", err)
	}
	out = append(out, '\n')
	// Never hand out a signature that a node would reject.
	if _, err := Verify(out, VerificationKey{ID: keyID, Key: &key.PublicKey}); err != nil {
		return nil, fmt.Errorf("scoring: signing: the signed model does not verify: %w", err)
	}
	return out, nil
}

func signingHash(keyID, digest string) [32]byte {
	msg := make([]byte, 0, len(signingDomain)+len(keyID)+len(digest)+2)
	msg = append(msg, signingDomain...)
	msg = append(msg, 0)
	msg = append(msg, keyID...)
	msg = append(msg, 0)
	msg = append(msg, digest...)
	return sha256.Sum256(msg)
}

// Verify checks that one of keys signed the model in the signed model
// file data, under the key's ID, and that the model is unchanged since
// and valid. It returns the model, with ProtectedInputs filled in. Errors
// wrap [ErrUnsigned], [ErrBadSignature] or [ErrInvalidModel].
func Verify(data []byte, keys ...VerificationKey) (*Model, error) {
	m, _, err := VerifyWithSignature(data, keys...)
	return m, err
}

// VerifyWithSignature is [Verify] that also returns the verified
// signature block, for audit records.
func VerifyWithSignature(data []byte, keys ...VerificationKey) (*Model, *Signature, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		// Let the strict decoder describe the problem.
		if err := checkShape(data, &signedFile{}, ""); err != nil {
			return nil, nil, err
		}
		return nil, nil, fieldErr("", err.Error())
	}
	if _, ok := top["signature"]; !ok {
		if _, isModel := top["features"]; isModel {
			return nil, nil, fmt.Errorf("scoring: a plain model file, not a signed one: %w", ErrUnsigned)
		}
		return nil, nil, fmt.Errorf("scoring: no signature: %w", ErrUnsigned)
	}
	var f signedFile
	if err := decodeStrict(data, &f, ""); err != nil {
		return nil, nil, err
	}
	if f.Format != SignedModelFormat {
		return nil, nil, fieldErr("format", fmt.Sprintf("%q is not %q", f.Format, SignedModelFormat))
	}
	if f.Signature == nil {
		return nil, nil, fmt.Errorf("scoring: signature is null: %w", ErrUnsigned)
	}
	sig := *f.Signature
	if sig.Alg != signingAlg {
		return nil, nil, fmt.Errorf("scoring: signature algorithm %q, want %s: %w", sig.Alg, signingAlg, ErrBadSignature)
	}
	if len(f.Model) == 0 || string(f.Model) == "null" {
		return nil, nil, fieldErr("model", "missing")
	}
	m, err := decodeModel(f.Model, "model.")
	if err != nil {
		return nil, nil, err
	}
	digest, err := m.Digest()
	if err != nil {
		return nil, nil, err
	}
	if _, err := hex.DecodeString(sig.Digest); err != nil || len(sig.Digest) != 64 {
		return nil, nil, fmt.Errorf("scoring: signature digest %q is not a hex SHA-256: %w", sig.Digest, ErrBadSignature)
	}
	if sig.Digest != digest {
		return nil, nil, fmt.Errorf("scoring: the model was changed after signing (digest %s, signed %s): %w", digest, sig.Digest, ErrBadSignature)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig.Sig)
	if err != nil || len(raw) != 64 {
		return nil, nil, fmt.Errorf("scoring: signature value is not a base64url ES256 signature: %w", ErrBadSignature)
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("scoring: no trusted verification keys: %w", ErrBadSignature)
	}
	h := signingHash(sig.KeyID, digest)
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	trusted := false
	for _, k := range keys {
		if k.ID != sig.KeyID || k.Key == nil || k.Key.Curve != elliptic.P256() {
			continue
		}
		trusted = true
		if ecdsa.Verify(k.Key, h[:], r, s) {
			m.ProtectedInputs = ProtectedInputs(m, nil)
			return m, &sig, nil
		}
	}
	if !trusted {
		return nil, nil, fmt.Errorf("scoring: signed under key ID %q, which is not trusted: %w", sig.KeyID, ErrBadSignature)
	}
	return nil, nil, fmt.Errorf("scoring: signature by key ID %q does not verify: %w", sig.KeyID, ErrBadSignature)
}

// VerifyFile reads a signed model file and verifies it as [Verify] does.
func VerifyFile(path string, keys ...VerificationKey) (*Model, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	m, err := Verify(data, keys...)
	if err != nil {
		return nil, fmt.Errorf("scoring: %s: %w", path, err)
	}
	return m, nil
}
