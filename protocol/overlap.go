package protocol

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// Signature purposes of overlap queries. An overlap query is signed under
// its own purpose, so that it can never be taken for a joint query or the
// other way round.
const (
	PurposeOverlapQuery = "fedscore/overlap-query/v1"
	// PurposeOverlapHello signs a partner's PSI hello: its ephemeral
	// channel key for one run of one query.
	PurposeOverlapHello = "fedscore/overlap-hello/v1"
	// PurposeOverlapDone signs a partner's statement of the release digest.
	PurposeOverlapDone = "fedscore/overlap-done/v1"
)

// releaseInfo prefixes the HPKE info of a sealed overlap release.
const releaseInfo = "fedscore/overlap-release/v1"

// SignOverlapQuery signs an overlap query envelope as the querier.
func SignOverlapQuery(cred *pki.Credential, env *pb.QueryEnvelope) (*pb.SignedQuery, error) {
	return signQuery(cred, env, PurposeOverlapQuery)
}

// VerifyOverlapQuery checks an overlap query as VerifyQuery checks a joint
// query.
func VerifyOverlapQuery(sq *pb.SignedQuery, roots *x509.CertPool, now time.Time) (*VerifiedQuery, error) {
	return verifyQuery(sq, roots, now, PurposeOverlapQuery)
}

// OverlapRun names one run of an overlap query in signed statements.
type OverlapRun struct {
	QueryID     string
	QueryDigest []byte
	Run         uint32
}

// SignOverlapHello signs node's hello frame as party of run.
func SignOverlapHello(key crypto.Signer, r OverlapRun, node string, party int, frame []byte) ([]byte, error) {
	b, err := helloStatement(r, node, party, frame)
	if err != nil {
		return nil, err
	}
	return pki.Sign(key, PurposeOverlapHello, b)
}

// VerifyOverlapHello checks node's signature, by cert, over its hello frame
// as party of run.
func VerifyOverlapHello(cert *x509.Certificate, r OverlapRun, node string, party int, frame, sig []byte) error {
	b, err := helloStatement(r, node, party, frame)
	if err != nil {
		return err
	}
	if err := pki.Verify(cert, PurposeOverlapHello, b, sig); err != nil {
		return fmt.Errorf("%w: hello of %s: %w", ErrInvalid, node, err)
	}
	return nil
}

func helloStatement(r OverlapRun, node string, party int, frame []byte) ([]byte, error) {
	return Marshal(&pb.OverlapHelloStatement{
		QueryId: r.QueryID, QueryDigest: r.QueryDigest, Run: r.Run, Node: node, Party: uint32(party), FrameDigest: Digest(frame),
	})
}

// SignOverlapDone signs a partner's statement of the release digest.
func SignOverlapDone(key crypto.Signer, st *pb.OverlapDoneStatement) (statement, sig []byte, err error) {
	b, err := Marshal(st)
	if err != nil {
		return nil, nil, err
	}
	sig, err = pki.Sign(key, PurposeOverlapDone, b)
	if err != nil {
		return nil, nil, fmt.Errorf("sign overlap statement: %w", err)
	}
	return b, sig, nil
}

// VerifyOverlapDone checks node's signed statement, by cert, and that it
// names node and run.
func VerifyOverlapDone(cert *x509.Certificate, r OverlapRun, node string, statement, sig []byte) (*pb.OverlapDoneStatement, error) {
	if err := pki.Verify(cert, PurposeOverlapDone, statement, sig); err != nil {
		return nil, fmt.Errorf("%w: overlap statement of %s: %w", ErrInvalid, node, err)
	}
	st := &pb.OverlapDoneStatement{}
	if err := proto.Unmarshal(statement, st); err != nil {
		return nil, fmt.Errorf("%w: overlap statement of %s: %w", ErrInvalid, node, err)
	}
	switch {
	case st.Node != node:
		return nil, fmt.Errorf("%w: overlap statement of %s claims node %q", ErrInvalid, node, st.Node)
	case st.QueryId != r.QueryID || !bytes.Equal(st.QueryDigest, r.QueryDigest) || st.Run != r.Run:
		return nil, fmt.Errorf("%w: overlap statement of %s is for another query or run", ErrInvalid, node)
	case len(st.ReleaseDigest) != sha256.Size:
		return nil, fmt.Errorf("%w: overlap statement of %s has no release digest", ErrInvalid, node)
	}
	return st, nil
}

// hpkeSuite is the ciphersuite of sealed releases.
func hpkeSuite() (hpke.KDF, hpke.AEAD) { return hpke.HKDFSHA256(), hpke.AES256GCM() }

func releaseContext(queryDigest []byte) []byte {
	return append([]byte(releaseInfo), queryDigest...)
}

// SealRelease seals an overlap release to the querier's X25519 public key,
// bound to the query digest: only the querier can open it, and only as
// the release of that query.
func SealRelease(receiverKey, queryDigest []byte, release *pb.OverlapRelease) ([]byte, error) {
	pk, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(receiverKey)
	if err != nil {
		return nil, fmt.Errorf("%w: receiver key: %w", ErrInvalid, err)
	}
	b, err := Marshal(release)
	if err != nil {
		return nil, err
	}
	kdf, aead := hpkeSuite()
	return hpke.Seal(pk, kdf, aead, releaseContext(queryDigest), b)
}

// OpenRelease opens a sealed release with the querier's private key and
// checks that it is the release of the query with digest queryDigest.
func OpenRelease(key *ecdh.PrivateKey, queryDigest, sealed []byte) (*pb.OverlapRelease, error) {
	priv, err := hpke.NewDHKEMPrivateKey(key)
	if err != nil {
		return nil, err
	}
	kdf, aead := hpkeSuite()
	b, err := hpke.Open(priv, kdf, aead, releaseContext(queryDigest), sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: the release does not open: %w", ErrInvalid, err)
	}
	r := &pb.OverlapRelease{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%w: release: %w", ErrInvalid, err)
	}
	if !bytes.Equal(r.QueryDigest, queryDigest) {
		return nil, fmt.Errorf("%w: the release is for another query", ErrInvalid)
	}
	return r, nil
}
