package protocol

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

func nodeCred(t *testing.T, ca *pki.CA, name string) *pki.Credential {
	t.Helper()
	c, err := ca.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: pki.RoleNode, Name: name}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOverlapHello checks that a hello signature binds the frame, the
// node, its party index and the run.
func TestOverlapHello(t *testing.T) {
	ca, err := pki.NewCA("test.fedscore.local", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := nodeCred(t, ca, "bank-a")
	r := OverlapRun{QueryID: "q-1", QueryDigest: Digest([]byte("env")), Run: 1}
	frame := []byte("hello frame with key K")
	sig, err := SignOverlapHello(a.Key, r, "bank-a", 0, frame)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyOverlapHello(a.Certificate, r, "bank-a", 0, frame, sig); err != nil {
		t.Fatal(err)
	}
	other := r
	other.Run = 2
	for name, check := range map[string]error{
		"swapped key":   VerifyOverlapHello(a.Certificate, r, "bank-a", 0, []byte("hello frame with key M"), sig),
		"other party":   VerifyOverlapHello(a.Certificate, r, "bank-a", 1, frame, sig),
		"other node":    VerifyOverlapHello(a.Certificate, r, "shop-b", 0, frame, sig),
		"other run":     VerifyOverlapHello(a.Certificate, other, "bank-a", 0, frame, sig),
		"other signer":  VerifyOverlapHello(nodeCred(t, ca, "bank-a").Certificate, r, "bank-a", 0, frame, sig),
		"joint purpose": func() error { _, err := VerifyQuery(&pb.SignedQuery{}, ca.Pool(), time.Now()); return err }(),
	} {
		if !errors.Is(check, ErrInvalid) {
			t.Errorf("%s: %v", name, check)
		}
	}
}

// TestOverlapQueryPurpose checks that an overlap query does not verify as a
// joint query, nor a joint query as an overlap query.
func TestOverlapQueryPurpose(t *testing.T) {
	ca, _ := pki.NewCA("test.fedscore.local", time.Hour)
	q, err := ca.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: pki.RoleQuerier, Name: "analyst"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &pb.QueryEnvelope{QueryId: "q-1", Spec: []byte("{}"), ExpiresUnixNanos: time.Now().Add(time.Hour).UnixNano()}
	ov, err := SignOverlapQuery(q, env)
	if err != nil {
		t.Fatal(err)
	}
	joint, err := SignQuery(q, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyOverlapQuery(ov, ca.Pool(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyQuery(ov, ca.Pool(), time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("an overlap query verified as a joint query: %v", err)
	}
	if _, err := VerifyOverlapQuery(joint, ca.Pool(), time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("a joint query verified as an overlap query: %v", err)
	}
}

func TestSealRelease(t *testing.T) {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := Digest([]byte("envelope"))
	rel := &pb.OverlapRelease{QueryId: "q-1", QueryDigest: digest, Figures: []*pb.OverlapFigure{{Kind: "intersection", Value: 1234}}}
	sealed, err := SealRelease(key.PublicKey().Bytes(), digest, rel)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("intersection")) {
		t.Error("the sealed release shows its contents")
	}
	got, err := OpenRelease(key, digest, sealed)
	if err != nil || got.Figures[0].Value != 1234 {
		t.Fatalf("open: %v %v", got, err)
	}
	if _, err := OpenRelease(key, Digest([]byte("other")), sealed); !errors.Is(err, ErrInvalid) {
		t.Errorf("opened as another query's release: %v", err)
	}
	other, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if _, err := OpenRelease(other, digest, sealed); !errors.Is(err, ErrInvalid) {
		t.Errorf("opened with another key: %v", err)
	}
}

func TestOverlapDone(t *testing.T) {
	ca, _ := pki.NewCA("test.fedscore.local", time.Hour)
	a := nodeCred(t, ca, "bank-a")
	r := OverlapRun{QueryID: "q-1", QueryDigest: Digest([]byte("env")), Run: 1}
	st := &pb.OverlapDoneStatement{QueryId: "q-1", QueryDigest: r.QueryDigest, Run: 1, Node: "bank-a", ReleaseDigest: Digest([]byte("sealed"))}
	b, sig, err := SignOverlapDone(a.Key, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyOverlapDone(a.Certificate, r, "bank-a", b, sig); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyOverlapDone(a.Certificate, r, "shop-b", b, sig); !errors.Is(err, ErrInvalid) {
		t.Errorf("statement accepted for another node: %v", err)
	}
	r.Run = 2
	if _, err := VerifyOverlapDone(a.Certificate, r, "bank-a", b, sig); !errors.Is(err, ErrInvalid) {
		t.Errorf("statement accepted for another run: %v", err)
	}
}
