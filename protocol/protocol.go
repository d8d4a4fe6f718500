// Package protocol holds the signed statements that fedscore's parties
// exchange — queries, receipts, fingerprints, shares and key-generation
// shares — and the checks every party runs on them. Node, coordinator and querier share this code so
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
	PurposeReceipt    = "fedscore/receipt/v2"
	PurposeSetupShare = "fedscore/setup-share/v1"
	// PurposeDecryptionShare signs a node's collective-decryption shares.
	PurposeDecryptionShare = "fedscore/decryption-share/v2"
	// PurposeKeySwitchShare signs a node's key-switch shares.
	PurposeKeySwitchShare = "fedscore/key-switch-share/v1"
	// PurposeFingerprint signs a node's fingerprints of its contribution
	// to a verification round.
	PurposeFingerprint = "fedscore/fingerprint/v1"
)

// MaxRuns bounds the runs of one query: a coordinator re-runs a threshold
// query that lost a member at most this often, and a node admits no later
// run.
const MaxRuns = 3

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
	return signQuery(cred, env, PurposeQuery)
}

// signQuery signs a query envelope under purpose.
func signQuery(cred *pki.Credential, env *pb.QueryEnvelope, purpose string) (*pb.SignedQuery, error) {
	b, err := Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("marshal query envelope: %w", err)
	}
	sig, err := pki.Sign(cred.Key, purpose, b)
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
	return verifyQuery(sq, roots, now, PurposeQuery)
}

// verifyQuery checks a query signed under purpose.
func verifyQuery(sq *pb.SignedQuery, roots *x509.CertPool, now time.Time, purpose string) (*VerifiedQuery, error) {
	if sq == nil {
		return nil, fmt.Errorf("%w: no signed query", ErrInvalid)
	}
	id, cert, err := pki.VerifyPeerCertificate(sq.CertChain, roots, pki.RoleQuerier, now)
	if err != nil {
		return nil, fmt.Errorf("%w: querier certificate: %w", ErrInvalid, err)
	}
	if err := pki.Verify(cert, purpose, sq.Envelope, sq.Signature); err != nil {
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

// Step names one phase of one run of a query: every signed statement of a
// run names its step, so that none can be used in another run, phase or
// query.
type Step struct {
	QueryID string
	// QueryDigest is the SHA-256 of the signed query envelope.
	QueryDigest []byte
	Epoch       string
	Run         uint32
	Phase       int32
}

// VerifyReceipt checks a receipt's signature by cert, whose verified
// identity is node, and that it names node and step.
func VerifyReceipt(cert *x509.Certificate, node string, receipt, sig []byte, step Step) (*pb.Receipt, error) {
	if err := pki.Verify(cert, PurposeReceipt, receipt, sig); err != nil {
		return nil, fmt.Errorf("%w: receipt signature of %s: %w", ErrInvalid, node, err)
	}
	return ParseReceipt(node, receipt, step)
}

// ParseReceipt decodes a receipt and checks that it names node and step,
// and well-formed ciphertext digests; it does not check the signature.
func ParseReceipt(node string, receipt []byte, step Step) (*pb.Receipt, error) {
	r := &pb.Receipt{}
	if err := proto.Unmarshal(receipt, r); err != nil {
		return nil, fmt.Errorf("%w: receipt of %s: %w", ErrInvalid, node, err)
	}
	switch {
	case r.Node != node:
		return nil, fmt.Errorf("%w: receipt of %s claims node %q", ErrInvalid, node, r.Node)
	case r.QueryId != step.QueryID:
		return nil, fmt.Errorf("%w: receipt of %s is for query %q, not %q", ErrInvalid, node, r.QueryId, step.QueryID)
	case string(r.QueryDigest) != string(step.QueryDigest):
		return nil, fmt.Errorf("%w: receipt of %s is for another version of query %s", ErrInvalid, node, step.QueryID)
	case r.Epoch != step.Epoch:
		return nil, fmt.Errorf("%w: receipt of %s is for epoch %q, not %q", ErrInvalid, node, r.Epoch, step.Epoch)
	case r.Run != step.Run:
		return nil, fmt.Errorf("%w: receipt of %s is for run %d, not %d", ErrInvalid, node, r.Run, step.Run)
	case r.Phase != step.Phase:
		return nil, fmt.Errorf("%w: receipt of %s is for phase %d, not %d", ErrInvalid, node, r.Phase, step.Phase)
	case len(r.CiphertextDigests) == 0:
		return nil, fmt.Errorf("%w: receipt of %s names no ciphertext", ErrInvalid, node)
	}
	for i, d := range r.CiphertextDigests {
		if len(d) != sha256.Size {
			return nil, fmt.Errorf("%w: receipt of %s: ciphertext digest %d is not a SHA-256", ErrInvalid, node, i)
		}
	}
	return r, nil
}

// SetupStatementBytes returns the bytes a node signs for its key-generation share.
func SetupStatementBytes(epoch, params string, crs []byte, node string, share []byte) ([]byte, error) {
	return Marshal(&pb.SetupStatement{Epoch: epoch, Params: params, Crs: crs, Node: node, ShareDigest: Digest(share)})
}

// DecryptionStatementBytes returns the bytes a node signs for its
// decryption shares of a run's phase 1 aggregate (its c1 parts).
func DecryptionStatementBytes(queryID, node string, run uint32, aggregateDigests, shareDigests [][]byte) ([]byte, error) {
	return Marshal(&pb.DecryptionStatement{QueryId: queryID, Node: node, Run: run, Phase: 1, AggregateDigests: aggregateDigests, ShareDigests: shareDigests})
}

// KeySwitchStatementBytes returns the bytes a node signs for its key-switch
// shares of a run's phase 2 aggregate (its c1 parts) towards a receiver key.
func KeySwitchStatementBytes(queryID, node string, run uint32, aggregateDigests, shareDigests [][]byte, receiverKeyDigest []byte) ([]byte, error) {
	return Marshal(&pb.KeySwitchStatement{
		QueryId: queryID, Node: node, Run: run, Phase: 2,
		AggregateDigests: aggregateDigests, ShareDigests: shareDigests, ReceiverKeyDigest: receiverKeyDigest,
	})
}
