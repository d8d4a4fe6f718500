package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"github.com/fedscore/fedscore/crypto"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// A verifier checks a round's sum — a phase's aggregate or the summed
// decryption shares — without the contributions themselves:
//
//  1. it keeps the sum the coordinator fixed before anyone knows the
//     verifier's seed (handleSum), and only then reveals the seed;
//  2. every contributor signs linear fingerprints of its own contribution
//     at the joint seed of every verifier's seed (handleSeeds);
//  3. the fingerprints must add up to the fingerprint of the kept sum
//     (handleFingerprints); for inputs, the verifier also samples members
//     whose whole ciphertexts it checks against their receipts and signed
//     fingerprints (handleSpotCheck) before it gives a share.
//
// The order is what makes the check sound: a sum chosen after the seed is
// known could be made to pass it (docs/security.md).

// round returns aq's verification round r of a phase and what this node
// contributes to it.
func (aq *admittedQuery) round(phase int32, r pb.Round) (*verifyRound, [][]byte, error) {
	switch {
	case r == pb.Round_ROUND_INPUTS && (phase == 1 || phase == 2):
		in := aq.inputs[phase]
		return &in.round, in.own, nil
	case r == pb.Round_ROUND_DECRYPTION_SHARES && phase == 1:
		return &aq.shares, aq.ownShares, nil
	}
	return nil, nil, fmt.Errorf("no %s round in phase %d", r, phase)
}

// handleSum keeps a round's sum and reveals this node's seed for it.
func (n *Node) handleSum(task *pb.SumTask, blobs [][]byte) (*reply, error) {
	from, to := stageRevealed, stageSumKept
	if task.Round == pb.Round_ROUND_DECRYPTION_SHARES {
		from, to = stageShared, stageSharesSumKept
	}
	aq, err := n.take(task.QueryId, task.Run, task.Phase, to, from)
	if err != nil {
		return nil, err
	}
	r, _, err := aq.round(task.Phase, task.Round)
	if err != nil {
		return nil, err
	}
	if r.seed == nil {
		return nil, fmt.Errorf("this node does not verify phase %d", task.Phase)
	}
	want := len(aq.inputs[task.Phase].own)
	if len(blobs) != want {
		return nil, fmt.Errorf("a sum of %d parts, the phase has %d ciphertexts", len(blobs), want)
	}
	// Phase 1 needs the whole aggregate to open the counts; phase 2 only
	// c1, all a key-switch share depends on. The summed decryption shares
	// are checked with their fingerprints.
	for k, b := range blobs {
		switch {
		case task.Round == pb.Round_ROUND_DECRYPTION_SHARES:
		case task.Phase == 1:
			_, err = aq.params.UnmarshalCiphertext(b)
		default:
			_, err = aq.params.UnmarshalCiphertextC1(b)
		}
		if err != nil {
			return nil, fmt.Errorf("sum %d: %w", k, err)
		}
	}
	verifiers := protocol.Verifiers(task.Phase, aq.participants, aq.active)
	if r.commitments, err = protocol.CheckCommitments(verifiers, n.name, protocol.SeedCommitment(r.seed), task.SeedCommitments); err != nil {
		return nil, err
	}
	r.sum = blobs
	msg := &pb.SeedReveal{QueryId: task.QueryId, Run: task.Run, Phase: task.Phase, Round: task.Round, Seed: r.seed}
	return &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_Seed{Seed: msg}}}, nil
}

// handleSeeds derives a round's joint seed from every verifier's seed and
// signs this node's fingerprints of its contribution at it.
func (n *Node) handleSeeds(task *pb.SeedsTask) (*reply, error) {
	to, from := stageFingerprinted, []stage{stageSumKept, stageRevealed}
	if task.Round == pb.Round_ROUND_DECRYPTION_SHARES {
		to, from = stageSharesFingerprinted, []stage{stageSharesSumKept}
	}
	aq, err := n.take(task.QueryId, task.Run, task.Phase, to, from...)
	if err != nil {
		return nil, err
	}
	r, own, err := aq.round(task.Phase, task.Round)
	if err != nil {
		return nil, err
	}
	verifiers := protocol.Verifiers(task.Phase, aq.participants, aq.active)
	switch {
	case r.seed != nil && r.sum == nil:
		return nil, errors.New("the seeds came before the sum they verify")
	case r.seed != nil:
		err = protocol.CheckSeeds(verifiers, r.commitments, task.Seeds)
	default:
		// Not a verifier of the phase: the verifiers check the seeds, and
		// a fingerprint at another joint seed fails their check.
		err = protocol.CheckSeeds(verifiers, seedCommitments(task.Seeds), task.Seeds)
	}
	if err != nil {
		return nil, err
	}
	step := aq.step(task.Phase)
	r.joint = protocol.JointSeed(step, task.Round, task.Seeds)
	if !slices.Contains(protocol.Contributors(task.Round, aq.participants, aq.active), n.name) {
		return nil, nil
	}
	st := &pb.FingerprintStatement{
		QueryId: step.QueryID, Run: step.Run, Phase: step.Phase, Round: task.Round, Node: n.name, Seed: r.joint,
	}
	if task.Round == pb.Round_ROUND_INPUTS {
		st.ReceiptDigest = protocol.Digest(aq.inputs[task.Phase].receipt)
	} else if st.AggregateDigests, err = c1Digests(aq.params, aq.aggregate); err != nil {
		return nil, err
	}
	for _, b := range own {
		fp, err := aq.params.Fingerprint(r.joint, b)
		if err != nil {
			return nil, err
		}
		enc, err := fp.MarshalBinary()
		if err != nil {
			return nil, err
		}
		st.Fingerprints = append(st.Fingerprints, enc)
	}
	msg := &pb.Fingerprints{QueryId: step.QueryID, Run: step.Run, Phase: step.Phase, Round: task.Round}
	if msg.Statement, msg.Signature, err = protocol.SignFingerprints(n.cfg.Credential.Key, st); err != nil {
		return nil, err
	}
	r.statements = map[string]*pb.SignedFingerprints{n.name: {Node: n.name, Statement: msg.Statement, Signature: msg.Signature}}
	return &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_Fingerprints{Fingerprints: msg}}}, nil
}

// seedCommitments commits to seeds, for a node that saw no commitments.
func seedCommitments(seeds []*pb.NodeValue) map[string][]byte {
	out := map[string][]byte{}
	for _, s := range seeds {
		out[s.Node] = protocol.SeedCommitment(s.Value)
	}
	return out
}

// handleFingerprints checks that every contributor's signed fingerprints
// add up to the fingerprint of the sum this node kept. For a phase's
// inputs it then samples the members it spot-checks; for the decryption
// shares of phase 1 it opens the counts and runs the release gate.
func (n *Node) handleFingerprints(ctx context.Context, task *pb.FingerprintsTask) (*reply, error) {
	to, from := stageSpotChecking, stageFingerprinted
	if task.Round == pb.Round_ROUND_DECRYPTION_SHARES {
		to, from = stageUnchanged, stageSharesFingerprinted
	}
	aq, err := n.take(task.QueryId, task.Run, task.Phase, to, from)
	if err != nil {
		return nil, err
	}
	r, _, err := aq.round(task.Phase, task.Round)
	if err != nil {
		return nil, err
	}
	if r.sum == nil {
		return nil, fmt.Errorf("this node does not verify phase %d", task.Phase)
	}
	if err := n.checkFingerprints(aq, task.Phase, task.Round, r, task.Statements); err != nil {
		return nil, err
	}
	if task.Round == pb.Round_ROUND_DECRYPTION_SHARES {
		return n.releaseGate(ctx, aq)
	}
	if r.spot, err = sample(n.cfg.SpotCheckSource, aq.participants, n.name, n.cfg.SpotChecks); err != nil {
		return nil, err
	}
	msg := &pb.SpotCheckRequest{QueryId: task.QueryId, Run: task.Run, Phase: task.Phase, Members: r.spot}
	return &reply{msg: &pb.NodeMessage{Body: &pb.NodeMessage_SpotCheckRequest{SpotCheckRequest: msg}}}, nil
}

// checkFingerprints verifies one signed statement per contributor — for
// this run, phase, round and joint seed, bound to the contributor's
// committed input or to the aggregate this node verified, this node's own
// the one it signed — and that they add up to the fingerprint of r.sum.
func (n *Node) checkFingerprints(aq *admittedQuery, phase int32, round pb.Round, r *verifyRound, statements []*pb.SignedFingerprints) error {
	contributors := protocol.Contributors(round, aq.participants, aq.active)
	if len(statements) != len(contributors) {
		return fmt.Errorf("fingerprints of %d contributors, the round has %d", len(statements), len(contributors))
	}
	step := aq.step(phase)
	aggDigests, err := c1Digests(aq.params, aq.aggregate)
	if round == pb.Round_ROUND_INPUTS {
		aggDigests, err = nil, nil
	}
	if err != nil {
		return err
	}
	own := r.statements[n.name]
	r.fingerprints, r.statements = map[string][]crypto.Fingerprint{}, map[string]*pb.SignedFingerprints{}
	for _, sf := range statements {
		if !slices.Contains(contributors, sf.Node) || r.statements[sf.Node] != nil {
			return fmt.Errorf("fingerprints from %q, which is not a contributor of the round or sent two statements", sf.Node)
		}
		// Contributors are participants, with a receipt in the phase's set.
		m := aq.inputs[phase].members[sf.Node]
		st, err := protocol.VerifyFingerprints(m.cert, sf.Node, sf.Statement, sf.Signature, step, round, r.joint, len(r.sum))
		if err != nil {
			return err
		}
		switch {
		case round == pb.Round_ROUND_INPUTS && !bytes.Equal(st.ReceiptDigest, protocol.Digest(m.signed)):
			return fmt.Errorf("the fingerprints of %s are not of the input its receipt committed to", sf.Node)
		case round == pb.Round_ROUND_DECRYPTION_SHARES && !slices.EqualFunc(st.AggregateDigests, aggDigests, bytes.Equal):
			return fmt.Errorf("the decryption shares of %s are of another aggregate", sf.Node)
		case sf.Node == n.name && (own == nil || !bytes.Equal(sf.Statement, own.Statement)):
			return errors.New("the fingerprints relayed as this node's are not the ones it signed")
		}
		fps := make([]crypto.Fingerprint, len(st.Fingerprints))
		for k, b := range st.Fingerprints {
			if fps[k], err = aq.params.UnmarshalFingerprint(b); err != nil {
				return fmt.Errorf("fingerprint %d of %s: %w", k, sf.Node, err)
			}
		}
		r.fingerprints[sf.Node], r.statements[sf.Node] = fps, sf
	}
	for k, part := range r.sum {
		col := make([]crypto.Fingerprint, 0, len(contributors))
		for _, c := range contributors {
			col = append(col, r.fingerprints[c][k])
		}
		want, err := aq.params.SumFingerprints(col)
		if err != nil {
			return fmt.Errorf("fingerprints of part %d: %w", k, err)
		}
		got, err := aq.params.Fingerprint(r.joint, part)
		if err != nil {
			return fmt.Errorf("sum %d: %w", k, err)
		}
		if !got.Matches(want) {
			if round == pb.Round_ROUND_DECRYPTION_SHARES {
				return fmt.Errorf("the summed decryption share %d is not the sum of the signed shares", k)
			}
			return fmt.Errorf("aggregate %d is not the sum of the signed inputs", k)
		}
	}
	return nil
}

// sample picks k of members other than self, uniformly, with randomness
// read from src, in member order.
func sample(src io.Reader, members []string, self string, k int) ([]string, error) {
	var others []string
	for _, m := range members {
		if m != self {
			others = append(others, m)
		}
	}
	var seed [32]byte
	if _, err := io.ReadFull(src, seed[:]); err != nil {
		return nil, fmt.Errorf("spot-check randomness: %w", err)
	}
	rng := rand.New(rand.NewChaCha8(seed))
	picked := rng.Perm(len(others))[:min(k, len(others))]
	slices.Sort(picked)
	out := make([]string, len(picked))
	for i, j := range picked {
		out[i] = others[j]
	}
	return out, nil
}

// handleSpotCheck checks the sampled members' ciphertexts against their
// receipts and their signed fingerprints, and then gives this node's
// share of the verified sum. A member whose signed fingerprints do not
// match its committed input leaves non-repudiable evidence in the audit
// log: its signed receipt next to its signed fingerprints.
func (n *Node) handleSpotCheck(ctx context.Context, task *pb.SpotCheckTask, blobs [][]byte) (*reply, error) {
	aq, err := n.take(task.QueryId, task.Run, task.Phase, stageShared, stageSpotChecking)
	if err != nil {
		return nil, err
	}
	in := aq.inputs[task.Phase]
	r := &in.round
	if len(task.Inputs) != len(r.spot) {
		return nil, fmt.Errorf("spot check of %d members, this node asked for %d", len(task.Inputs), len(r.spot))
	}
	nct := len(in.own)
	for i, si := range task.Inputs {
		if si.Node != r.spot[i] || len(si.CiphertextBlobs) != nct {
			return nil, fmt.Errorf("spot check %d is of %q with %d ciphertexts; this node asked for %s with %d", i, si.Node, len(si.CiphertextBlobs), r.spot[i], nct)
		}
		m := in.members[si.Node]
		for k, b := range blobs[i*nct : (i+1)*nct] {
			if !bytes.Equal(protocol.Digest(b), m.receipt.CiphertextDigests[k]) {
				return nil, fmt.Errorf("the spot-checked ciphertext %d of %s does not match its receipt", k, si.Node)
			}
			fp, err := aq.params.Fingerprint(r.joint, b)
			if err != nil {
				return nil, fmt.Errorf("spot-checked ciphertext %d of %s: %w", k, si.Node, err)
			}
			if !fp.Equal(r.fingerprints[si.Node][k]) {
				n.metrics.spotChecks.WithLabelValues("mismatch").Inc()
				n.recordLie(ctx, aq, task.Phase, m, r.statements[si.Node], blobs[i*nct:(i+1)*nct])
				return nil, fmt.Errorf("%s signed fingerprints that do not match its committed input", si.Node)
			}
		}
		n.metrics.spotChecks.WithLabelValues("match").Inc()
	}
	if task.Phase == 1 {
		return n.decryptionShares(ctx, aq)
	}
	return n.keySwitchShares(ctx, aq)
}

// c1Digests returns the digests of the c1 parts of serialized ciphertexts:
// what the share ledger and share statements name, since a share depends
// only on c1.
func c1Digests(p crypto.Params, cts [][]byte) ([][]byte, error) {
	out := make([][]byte, len(cts))
	for k, b := range cts {
		c1, err := p.CiphertextC1(b)
		if err != nil {
			return nil, err
		}
		out[k] = protocol.Digest(c1)
	}
	return out, nil
}
