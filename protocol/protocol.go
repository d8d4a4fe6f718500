// Package protocol holds the signed statements that fedscore's parties
// exchange — queries, receipts and key-generation shares — and the checks
// every party runs on them. Node, coordinator and querier share this code so
// that what one signs is exactly what the others verify.
package protocol

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// Signature purposes: each statement kind is signed under its own purpose
// so that a signature can never be replayed as another kind.
const (
	PurposeQuery      = "fedscore/query/v1"
	PurposeReceipt    = "fedscore/receipt/v1"
	PurposeSetupShare = "fedscore/setup-share/v1"
	// PurposeDecryptionShare signs a node's collective-decryption shares.
	PurposeDecryptionShare = "fedscore/decryption-share/v1"
)

// ErrInvalid reports a statement that failed verification.
var ErrInvalid = errors.New("invalid statement")

// Marshal encodes m deterministically, so that signer and verifier agree on
// the bytes.
func Marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// Digest is the SHA-256 of b.
func Digest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}

// ChainDER returns a credential's certificate chain in DER, leaf first.
func ChainDER(cred *pki.Credential) [][]byte {
	out := [][]byte{cred.Certificate.Raw}
	for _, c := range cred.Chain {
		out = append(out, c.Raw)
	}
	return out
}

// SignQuery signs a query envelope as the querier.
func SignQuery(cred *pki.Credential, env *pb.QueryEnvelope) (*pb.SignedQuery, error) {
	b, err := Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("marshal query envelope: %w", err)
	}
	sig, err := pki.Sign(cred.Key, PurposeQuery, b)
	if err != nil {
		return nil, fmt.Errorf("sign query: %w", err)
	}
	return &pb.SignedQuery{Envelope: b, Signature: sig, CertChain: ChainDER(cred)}, nil
}

// VerifiedQuery is a signed query whose signature and signer were checked.
type VerifiedQuery struct {
	Envelope *pb.QueryEnvelope
	Querier  pki.Identity
	// Digest identifies the query: the SHA-256 of the signed envelope.
	Digest []byte
}

// VerifyQuery checks the querier's certificate chain and signature and that
// the query has not expired at now.
func VerifyQuery(sq *pb.SignedQuery, roots *x509.CertPool, now time.Time) (*VerifiedQuery, error) {
	if sq == nil {
		return nil, fmt.Errorf("%w: no signed query", ErrInvalid)
	}
	id, cert, err := pki.VerifyPeerCertificate(sq.CertChain, roots, pki.RoleQuerier, now)
	if err != nil {
		return nil, fmt.Errorf("%w: querier certificate: %w", ErrInvalid, err)
	}
	if err := pki.Verify(cert, PurposeQuery, sq.Envelope, sq.Signature); err != nil {
		return nil, fmt.Errorf("%w: query signature of %s: %w", ErrInvalid, id, err)
	}
	env := &pb.QueryEnvelope{}
	if err := proto.Unmarshal(sq.Envelope, env); err != nil {
		return nil, fmt.Errorf("%w: query envelope: %w", ErrInvalid, err)
	}
	if env.QueryId == "" {
		return nil, fmt.Errorf("%w: query has no id", ErrInvalid)
	}
	if exp := time.Unix(0, env.ExpiresUnixNanos); !now.Before(exp) {
		return nil, fmt.Errorf("%w: query %s expired at %s", ErrInvalid, env.QueryId, exp.UTC().Format(time.RFC3339))
	}
	return &VerifiedQuery{Envelope: env, Querier: id, Digest: Digest(sq.Envelope)}, nil
}

// SignReceipt signs a node's receipt.
func SignReceipt(key crypto.Signer, r *pb.Receipt) (receipt, sig []byte, err error) {
	b, err := Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal receipt: %w", err)
	}
	sig, err = pki.Sign(key, PurposeReceipt, b)
	if err != nil {
		return nil, nil, fmt.Errorf("sign receipt: %w", err)
	}
	return b, sig, nil
}

// VerifyReceipt checks a signed input's certificate chain and receipt
// signature, and that the receipt names its signer and the expected query.
func VerifyReceipt(in *pb.SignedInput, roots *x509.CertPool, queryID string, queryDigest []byte, now time.Time) (*pb.Receipt, pki.Identity, error) {
	id, cert, err := pki.VerifyPeerCertificate(in.CertChain, roots, pki.RoleNode, now)
	if err != nil {
		return nil, pki.Identity{}, fmt.Errorf("%w: certificate of input from %q: %w", ErrInvalid, in.Node, err)
	}
	if err := pki.Verify(cert, PurposeReceipt, in.Receipt, in.Signature); err != nil {
		return nil, id, fmt.Errorf("%w: receipt signature of %s: %w", ErrInvalid, id.Name, err)
	}
	r := &pb.Receipt{}
	if err := proto.Unmarshal(in.Receipt, r); err != nil {
		return nil, id, fmt.Errorf("%w: receipt of %s: %w", ErrInvalid, id.Name, err)
	}
	switch {
	case r.Node != id.Name || in.Node != id.Name:
		return nil, id, fmt.Errorf("%w: receipt of %s claims node %q", ErrInvalid, id.Name, r.Node)
	case r.QueryId != queryID:
		return nil, id, fmt.Errorf("%w: receipt of %s is for query %q, not %q", ErrInvalid, id.Name, r.QueryId, queryID)
	case string(r.QueryDigest) != string(queryDigest):
		return nil, id, fmt.Errorf("%w: receipt of %s is for another version of query %s", ErrInvalid, id.Name, queryID)
	case len(r.CiphertextDigests) != len(in.CiphertextBlobs):
		return nil, id, fmt.Errorf("%w: receipt of %s lists %d ciphertexts, input has %d", ErrInvalid, id.Name, len(r.CiphertextDigests), len(in.CiphertextBlobs))
	}
	return r, id, nil
}

// SetupStatementBytes returns the bytes a node signs for its key-generation share.
func SetupStatementBytes(epoch, params string, crs []byte, node string, share []byte) ([]byte, error) {
	return Marshal(&pb.SetupStatement{Epoch: epoch, Params: params, Crs: crs, Node: node, ShareDigest: Digest(share)})
}

// DecryptionStatementBytes returns the bytes a node signs for its
// decryption shares of a query's phase 1 aggregates.
func DecryptionStatementBytes(queryID, node string, aggregateDigests, shareDigests [][]byte) ([]byte, error) {
	return Marshal(&pb.DecryptionStatement{QueryId: queryID, Node: node, AggregateDigests: aggregateDigests, ShareDigests: shareDigests})
}
