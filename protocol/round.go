package protocol

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// SeedSize is the size of a verifier's secret seed.
const SeedSize = 32

// Verifiers returns who checks the sums of a phase before giving a share
// of them: every participant in phase 1, where each node opens the counts
// for its own release gate, and only the active set in phase 2, whose
// members alone give key-switch shares.
func Verifiers(phase int32, participants, active []string) []string {
	if phase == 2 {
		return active
	}
	return participants
}

// Contributors returns whose contributions a round's sum adds up: every
// participant's input, or the active members' decryption shares.
func Contributors(round pb.Round, participants, active []string) []string {
	if round == pb.Round_ROUND_DECRYPTION_SHARES {
		return active
	}
	return participants
}

// Rounds returns the verification rounds of a phase, in order.
func Rounds(phase int32) []pb.Round {
	if phase == 1 {
		return []pb.Round{pb.Round_ROUND_INPUTS, pb.Round_ROUND_DECRYPTION_SHARES}
	}
	return []pb.Round{pb.Round_ROUND_INPUTS}
}

// SeedCommitment is what a verifier commits to before it reveals seed.
func SeedCommitment(seed []byte) []byte {
	h := sha256.New()
	h.Write([]byte("fedscore/seed-commitment/v1\x00"))
	h.Write(seed)
	return h.Sum(nil)
}

// JointSeed derives the seed a round's fingerprints are taken at from every
// verifier's seed, in verifier order. It is unpredictable to anyone before
// the last honest verifier reveals its seed, and since every seed was
// committed to before any was revealed, nobody can steer it.
func JointSeed(step Step, round pb.Round, seeds []*pb.NodeValue) []byte {
	h := sha256.New()
	h.Write([]byte("fedscore/joint-seed/v1\x00"))
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	field([]byte(step.QueryID))
	field(step.QueryDigest)
	field(binary.BigEndian.AppendUint32(nil, step.Run))
	field(binary.BigEndian.AppendUint32(nil, uint32(step.Phase)))
	field(binary.BigEndian.AppendUint32(nil, uint32(round)))
	for _, s := range seeds {
		field([]byte(s.Node))
		field(s.Value)
	}
	return h.Sum(nil)
}

// CheckSeeds checks a round's revealed seeds against the commitments a
// verifier recorded with the sum: exactly one per verifier, in verifier
// order, each opening its commitment.
func CheckSeeds(verifiers []string, commitments map[string][]byte, seeds []*pb.NodeValue) error {
	if len(seeds) != len(verifiers) {
		return fmt.Errorf("%w: %d seeds for %d verifiers", ErrInvalid, len(seeds), len(verifiers))
	}
	for i, s := range seeds {
		switch {
		case s.Node != verifiers[i]:
			return fmt.Errorf("%w: seed %d is from %q, expected verifier %q", ErrInvalid, i, s.Node, verifiers[i])
		case len(s.Value) != SeedSize:
			return fmt.Errorf("%w: seed of %s has %d bytes", ErrInvalid, s.Node, len(s.Value))
		case string(SeedCommitment(s.Value)) != string(commitments[s.Node]):
			return fmt.Errorf("%w: the seed of %s does not open its commitment", ErrInvalid, s.Node)
		}
	}
	return nil
}

// CheckCommitments checks the seed commitments shown with a round's sum:
// exactly one per verifier, in verifier order, and mine among them. It
// returns them by verifier.
func CheckCommitments(verifiers []string, self string, mine []byte, commitments []*pb.NodeValue) (map[string][]byte, error) {
	if len(commitments) != len(verifiers) {
		return nil, fmt.Errorf("%w: %d seed commitments for %d verifiers", ErrInvalid, len(commitments), len(verifiers))
	}
	out := make(map[string][]byte, len(verifiers))
	for i, c := range commitments {
		if c.Node != verifiers[i] || len(c.Value) != sha256.Size {
			return nil, fmt.Errorf("%w: seed commitment %d is not verifier %q's", ErrInvalid, i, verifiers[i])
		}
		out[c.Node] = c.Value
	}
	if mine != nil && string(out[self]) != string(mine) {
		return nil, fmt.Errorf("%w: the seed commitment shown as this node's is not the one it sent", ErrInvalid)
	}
	return out, nil
}

// SignFingerprints signs a fingerprint statement.
func SignFingerprints(key crypto.Signer, st *pb.FingerprintStatement) (statement, sig []byte, err error) {
	b, err := Marshal(st)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal fingerprint statement: %w", err)
	}
	sig, err = pki.Sign(key, PurposeFingerprint, b)
	if err != nil {
		return nil, nil, fmt.Errorf("sign fingerprints: %w", err)
	}
	return b, sig, nil
}

// VerifyFingerprints checks a fingerprint statement's signature by cert,
// whose verified identity is node, and that it names node, step, round and
// the joint seed, with want fingerprints.
func VerifyFingerprints(cert *x509.Certificate, node string, statement, sig []byte, step Step, round pb.Round, seed []byte, want int) (*pb.FingerprintStatement, error) {
	if err := pki.Verify(cert, PurposeFingerprint, statement, sig); err != nil {
		return nil, fmt.Errorf("%w: fingerprints of %s: %w", ErrInvalid, node, err)
	}
	st := &pb.FingerprintStatement{}
	if err := proto.Unmarshal(statement, st); err != nil {
		return nil, fmt.Errorf("%w: fingerprints of %s: %w", ErrInvalid, node, err)
	}
	switch {
	case st.Node != node:
		return nil, fmt.Errorf("%w: fingerprints of %s claim node %q", ErrInvalid, node, st.Node)
	case st.QueryId != step.QueryID || st.Run != step.Run || st.Phase != step.Phase || st.Round != round:
		return nil, fmt.Errorf("%w: fingerprints of %s are for query %q run %d phase %d %s, not query %q run %d phase %d %s",
			ErrInvalid, node, st.QueryId, st.Run, st.Phase, st.Round, step.QueryID, step.Run, step.Phase, round)
	case string(st.Seed) != string(seed):
		return nil, fmt.Errorf("%w: fingerprints of %s are taken at another seed", ErrInvalid, node)
	case len(st.Fingerprints) != want:
		return nil, fmt.Errorf("%w: %s sent %d fingerprints, expected %d", ErrInvalid, node, len(st.Fingerprints), want)
	}
	return st, nil
}

// DistinctMembers checks that names are distinct members of the epoch.
func DistinctMembers(e *Epoch, names []string) error {
	seen := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(e.Members, n) || seen[n] {
			return fmt.Errorf("%q is not a member or is listed twice", n)
		}
		seen[n] = true
	}
	return nil
}
