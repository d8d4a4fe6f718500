package sharebox

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
)

type testMembers struct {
	alice, bob, mallory *pki.Credential
}

func newMembers(t *testing.T) testMembers {
	t.Helper()
	ca, err := pki.NewCA("fed.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) *pki.Credential {
		c, err := ca.Issue(pki.Identity{TrustDomain: "fed.example", Role: pki.RoleNode, Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return testMembers{alice: issue("alice"), bob: issue("bob"), mallory: issue("mallory")}
}

func mustKeyPair(t *testing.T) *KeyPair {
	t.Helper()
	kp, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func randomShare(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testCtx() Context { return Context{Epoch: "epoch-7", Sender: "alice", Recipient: "bob"} }

func TestSealOpenRoundTrip(t *testing.T) {
	m := newMembers(t)
	bobKey := mustKeyPair(t)
	for _, n := range []int{1, 32, 64 << 10} {
		share := randomShare(t, n)
		box, err := Seal(m.alice.Key, bobKey.PublicBytes(), testCtx(), share)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		got, err := Open(bobKey, m.alice.Certificate, testCtx(), box)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, share) {
			t.Fatalf("opened %d bytes differ from the sealed share", n)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	m := newMembers(t)
	bobKey, carolKey := mustKeyPair(t), mustKeyPair(t)
	share := randomShare(t, 4096)
	box, err := Seal(m.alice.Key, bobKey.PublicBytes(), testCtx(), share)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 1
		return b
	}
	with := func(f func(*Context)) Context {
		c := testCtx()
		f(&c)
		return c
	}
	// A sender that signs a box sealed under another context: the signature
	// holds, the HPKE info does not.
	bobPub, _ := hpke.DHKEM(ecdh.X25519()).NewPublicKey(bobKey.PublicBytes())
	kdf, aead := suite()
	otherCtx := with(func(c *Context) { c.Epoch = "epoch-8" })
	misbound, err := hpke.Seal(bobPub, kdf, aead, hpkeInfo(otherCtx), share)
	if err != nil {
		t.Fatal(err)
	}
	misboundSig, err := pki.Sign(m.alice.Key, ShareSignaturePurpose, signedMessage(testCtx(), bobKey.PublicBytes(), misbound))
	if err != nil {
		t.Fatal(err)
	}
	// Mallory re-signs Alice's ciphertext as her own.
	resigned, err := pki.Sign(m.mallory.Key, ShareSignaturePurpose, signedMessage(testCtx(), bobKey.PublicBytes(), box.Ciphertext))
	if err != nil {
		t.Fatal(err)
	}
	// A signature over the right bytes but for another purpose.
	otherPurpose, err := pki.Sign(m.alice.Key, PublicKeySignaturePurpose, signedMessage(testCtx(), bobKey.PublicBytes(), box.Ciphertext))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		kp   *KeyPair
		cert *pki.Credential
		ctx  Context
		box  *Box
		want error
	}{
		{"other recipient's key", carolKey, m.alice, testCtx(), box, ErrBadSignature},
		{"other recipient", bobKey, m.alice, with(func(c *Context) { c.Recipient = "carol" }), box, ErrBadSignature},
		{"other epoch", bobKey, m.alice, otherCtx, box, ErrBadSignature},
		{"other sender", bobKey, m.alice, with(func(c *Context) { c.Sender = "mallory" }), box, ErrBadSignature},
		{"other sender's certificate", bobKey, m.mallory, testCtx(), box, ErrBadSignature},
		{"flipped ciphertext byte (encapsulated key)", bobKey, m.alice, testCtx(), &Box{flip(box.Ciphertext, 0), box.Signature}, ErrBadSignature},
		{"flipped ciphertext byte (body)", bobKey, m.alice, testCtx(), &Box{flip(box.Ciphertext, len(box.Ciphertext)/2), box.Signature}, ErrBadSignature},
		{"flipped ciphertext byte (tag)", bobKey, m.alice, testCtx(), &Box{flip(box.Ciphertext, len(box.Ciphertext)-1), box.Signature}, ErrBadSignature},
		{"flipped signature byte", bobKey, m.alice, testCtx(), &Box{box.Ciphertext, flip(box.Signature, len(box.Signature)-1)}, ErrBadSignature},
		{"truncated ciphertext", bobKey, m.alice, testCtx(), &Box{box.Ciphertext[:len(box.Ciphertext)-1], box.Signature}, ErrBadSignature},
		{"signature by another key", bobKey, m.alice, testCtx(), &Box{box.Ciphertext, resigned}, ErrBadSignature},
		{"signature for another purpose", bobKey, m.alice, testCtx(), &Box{box.Ciphertext, otherPurpose}, ErrBadSignature},
		{"no signature", bobKey, m.alice, testCtx(), &Box{Ciphertext: box.Ciphertext}, ErrBadSignature},
		{"signed, sealed for another context", bobKey, m.alice, testCtx(), &Box{misbound, misboundSig}, ErrOpen},
		{"no box", bobKey, m.alice, testCtx(), nil, ErrInvalid},
		{"empty context field", bobKey, m.alice, with(func(c *Context) { c.Epoch = "" }), box, ErrInvalid},
		{"no key pair", nil, m.alice, testCtx(), box, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.kp, tc.cert.Certificate, tc.ctx, tc.box)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Fatal("a rejected box returned plaintext")
			}
		})
	}
	// The signature is checked before anything is decrypted, and pki's
	// sentinel stays visible.
	if _, err := Open(bobKey, m.mallory.Certificate, testCtx(), box); !errors.Is(err, pki.ErrBadSignature) {
		t.Errorf("got %v, want it to wrap pki.ErrBadSignature", err)
	}
	if _, err := Open(bobKey, nil, testCtx(), box); !errors.Is(err, ErrBadSignature) {
		t.Errorf("nil certificate: got %v, want ErrBadSignature", err)
	}
	// The untouched box still opens after all of the above.
	if got, err := Open(bobKey, m.alice.Certificate, testCtx(), box); err != nil || !bytes.Equal(got, share) {
		t.Fatalf("original box: %v", err)
	}
}

func TestRelayCannotRead(t *testing.T) {
	m := newMembers(t)
	bobKey, relayKey := mustKeyPair(t), mustKeyPair(t)
	share := randomShare(t, 4096)
	box, err := Seal(m.alice.Key, bobKey.PublicBytes(), testCtx(), share)
	if err != nil {
		t.Fatal(err)
	}
	// No 16-byte window of the share appears in anything the relay sees.
	for i := 0; i+16 <= len(share); i += 8 {
		if bytes.Contains(box.Ciphertext, share[i:i+16]) || bytes.Contains(box.Signature, share[i:i+16]) {
			t.Fatalf("share bytes %d..%d appear in the box", i, i+16)
		}
	}
	// The relay's own key does not open it, with or without the signature check.
	if _, err := Open(relayKey, m.alice.Certificate, testCtx(), box); err == nil {
		t.Fatal("the relay opened a box sealed for another member")
	}
	priv, err := hpke.NewDHKEMPrivateKey(relayKey.Private)
	if err != nil {
		t.Fatal(err)
	}
	kdf, aead := suite()
	if _, err := hpke.Open(priv, kdf, aead, hpkeInfo(testCtx()), box.Ciphertext); err == nil {
		t.Fatal("the relay decrypted a box sealed for another member")
	}
	// Sealing is randomized: two boxes of one share are unrelated.
	again, err := Seal(m.alice.Key, bobKey.PublicBytes(), testCtx(), share)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Ciphertext, box.Ciphertext) {
		t.Fatal("sealing the same share twice gave the same ciphertext")
	}
}

func TestSealRejects(t *testing.T) {
	m := newMembers(t)
	bobKey := mustKeyPair(t)
	p256, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	long := string(make([]byte, MaxFieldLen+1))
	for _, tc := range []struct {
		name  string
		pub   []byte
		ctx   Context
		share []byte
	}{
		{"no recipient key", nil, testCtx(), []byte("s")},
		{"short recipient key", bobKey.PublicBytes()[:31], testCtx(), []byte("s")},
		{"P-256 recipient key", p256.PublicKey().Bytes(), testCtx(), []byte("s")},
		{"empty epoch", bobKey.PublicBytes(), Context{Sender: "a", Recipient: "b"}, []byte("s")},
		{"empty sender", bobKey.PublicBytes(), Context{Epoch: "e", Recipient: "b"}, []byte("s")},
		{"empty recipient", bobKey.PublicBytes(), Context{Epoch: "e", Sender: "a"}, []byte("s")},
		{"oversized field", bobKey.PublicBytes(), Context{Epoch: long, Sender: "a", Recipient: "b"}, []byte("s")},
		{"empty share", bobKey.PublicBytes(), testCtx(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Seal(m.alice.Key, tc.pub, tc.ctx, tc.share); !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := Seal(nil, bobKey.PublicBytes(), testCtx(), []byte("s")); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil signer: got %v, want ErrInvalid", err)
	}
	// Open refuses a key pair on another curve.
	if _, err := Open(&KeyPair{Private: p256}, m.alice.Certificate, testCtx(), &Box{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("P-256 key pair: got %v, want ErrInvalid", err)
	}
}

func TestContextEncodingIsUnambiguous(t *testing.T) {
	// Field boundaries cannot shift: ("ab", "c") and ("a", "bc") differ.
	a := Context{Epoch: "e", Sender: "ab", Recipient: "c"}
	b := Context{Epoch: "e", Sender: "a", Recipient: "bc"}
	if bytes.Equal(hpkeInfo(a), hpkeInfo(b)) || bytes.Equal(signedMessage(a, nil, nil), signedMessage(b, nil, nil)) {
		t.Fatal("contexts with shifted field boundaries encode alike")
	}
}

func TestPublicKeySignature(t *testing.T) {
	m := newMembers(t)
	bobKey := mustKeyPair(t)
	pub := bobKey.PublicBytes()
	sig, err := SignPublicKey(m.bob.Key, "epoch-7", "bob", pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPublicKey(m.bob.Certificate, "epoch-7", "bob", pub, sig); err != nil {
		t.Fatalf("VerifyPublicKey: %v", err)
	}
	relayPub := mustKeyPair(t).PublicBytes()
	for _, tc := range []struct {
		name         string
		cert         *pki.Credential
		epoch, owner string
		pub          []byte
		want         error
	}{
		{"substituted key", m.bob, "epoch-7", "bob", relayPub, ErrBadSignature},
		{"other epoch", m.bob, "epoch-8", "bob", pub, ErrBadSignature},
		{"other owner", m.bob, "epoch-7", "alice", pub, ErrBadSignature},
		{"other certificate", m.mallory, "epoch-7", "bob", pub, ErrBadSignature},
		{"malformed key", m.bob, "epoch-7", "bob", pub[:16], ErrInvalid},
		{"empty owner", m.bob, "epoch-7", "", pub, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyPublicKey(tc.cert.Certificate, tc.epoch, tc.owner, tc.pub, sig); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A box signature is not a key signature, and vice versa.
	box, err := Seal(m.bob.Key, pub, Context{Epoch: "epoch-7", Sender: "bob", Recipient: "bob"}, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPublicKey(m.bob.Certificate, "epoch-7", "bob", pub, box.Signature); !errors.Is(err, ErrBadSignature) {
		t.Errorf("box signature accepted as a key signature: %v", err)
	}
}
