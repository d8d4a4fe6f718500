package coordinator

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/fedscore/fedscore/crypto"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// roundSum is the verified sum of a phase's inputs.
type roundSum struct {
	// full is the aggregate, whole; sent is what the verifiers received:
	// the whole aggregate in phase 1, its c1 parts in phase 2.
	full, sent [][]byte
	// shareCommitments are the verifiers' seed commitments for the
	// decryption shares of phase 1.
	shareCommitments map[string][]byte
}

// sums adds serialized objects into running sums, one per ciphertext of a
// phase, as they arrive from concurrent uploads.
type sums struct {
	mu  sync.Mutex
	acc []*crypto.Accumulator
}

func newSums(n int, newAcc func() *crypto.Accumulator) *sums {
	s := &sums{acc: make([]*crypto.Accumulator, n)}
	for k := range s.acc {
		s.acc[k] = newAcc()
	}
	return s
}

// add adds one contribution, a blob per sum.
func (s *sums) add(blobs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range blobs {
		if err := s.acc[k].Add(b); err != nil {
			return fmt.Errorf("%d: %w", k, err)
		}
	}
	return nil
}

func (s *sums) bytes() ([][]byte, error) {
	out := make([][]byte, len(s.acc))
	for k, a := range s.acc {
		b, err := a.Bytes()
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}

// inputRound runs a phase's inputs from the fixed receipt set to the
// verified sum: every participant gets the receipt set and reveals its
// ciphertexts (a window of them at a time), which are checked against its
// receipt, added into the running sums and dropped; the verifiers check
// the sums by fingerprints and spot checks.
func (r *queryRun) inputRound(ctx context.Context, phase int32) (*roundSum, error) {
	receipts := r.receipts[phase]
	nct := len(receipts[r.participants[0]].receipt.CiphertextDigests)
	verifiers := protocol.Verifiers(phase, r.participants, r.active)
	rounds := protocol.Rounds(phase)
	commitments := make([]map[string][]byte, len(rounds))
	for i := range commitments {
		commitments[i] = map[string][]byte{}
	}
	acc := newSums(nct, r.s.params.NewCiphertextAccumulator)
	var mu sync.Mutex
	set := r.receiptSet(phase)
	err := r.ask(ctx, r.participants, r.s.cfg.UploadWindow, fmt.Sprintf("input_%d", phase),
		func(c *nodeConn) error { return c.send(set) },
		func(c *nodeConn, ev nodeEvent) error {
			rv := ev.msg.GetReveal()
			if rv == nil || rv.Phase != phase || rv.Resend {
				return fmt.Errorf("node %s answered with an unexpected message", c.name)
			}
			if err := checkInput(c, receipts[c.name].receipt, ev.blobs); err != nil {
				return err
			}
			if err := acc.add(ev.blobs); err != nil {
				return fmt.Errorf("node %s: ciphertext %w", c.name, err)
			}
			want := 0
			if slices.Contains(verifiers, c.name) {
				want = len(rounds)
			}
			if len(rv.SeedCommitments) != want {
				return fmt.Errorf("node %s sent %d seed commitments, expected %d", c.name, len(rv.SeedCommitments), want)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, sc := range rv.SeedCommitments {
				commitments[i][c.name] = sc
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	res := &roundSum{}
	if res.full, err = acc.bytes(); err != nil {
		return nil, err
	}
	res.sent = res.full
	if phase == 2 {
		// A key-switch share depends only on c1.
		res.sent = make([][]byte, nct)
		for k, b := range res.full {
			if res.sent[k], err = r.s.params.CiphertextC1(b); err != nil {
				return nil, err
			}
		}
	}
	if err := r.verifySum(ctx, phase, pb.Round_ROUND_INPUTS, res.sent, commitments[0]); err != nil {
		return nil, err
	}
	if err := r.spotChecks(ctx, phase, verifiers, nct); err != nil {
		return nil, err
	}
	if len(commitments) > 1 {
		res.shareCommitments = commitments[1]
	}
	return res, nil
}

// verifySum runs a round's verification with its sum fixed: the sum to
// every verifier, which then reveals its seed; all seeds to every
// participant, of which the contributors sign fingerprints of their
// contributions at the joint seed; the fingerprints to every verifier. The
// coordinator checks the fingerprints' sum itself too, so that a run that
// cannot verify fails at once.
func (r *queryRun) verifySum(ctx context.Context, phase int32, round pb.Round, sum [][]byte, commitments map[string][]byte) error {
	verifiers := protocol.Verifiers(phase, r.participants, r.active)
	contributors := protocol.Contributors(round, r.participants, r.active)
	step := r.step(phase)
	task := &pb.SumTask{QueryId: r.q.id, Run: r.run, Phase: phase, Round: round}
	for k := range sum {
		task.SumBlobs = append(task.SumBlobs, fmt.Sprintf("sum/%s/%d/%d/%d/%d", r.q.id, r.run, phase, round, k))
	}
	for _, v := range verifiers {
		task.SeedCommitments = append(task.SeedCommitments, &pb.NodeValue{Node: v, Value: commitments[v]})
	}
	sumMsg := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_SumTask{SumTask: task}}
	seeds := map[string][]byte{}
	var mu sync.Mutex
	err := r.ask(ctx, verifiers, len(verifiers), fmt.Sprintf("seed_%d", phase),
		func(c *nodeConn) error {
			for k, id := range task.SumBlobs {
				if err := c.sendBlob(id, sum[k]); err != nil {
					return err
				}
			}
			return c.send(sumMsg)
		},
		func(c *nodeConn, ev nodeEvent) error {
			sr := ev.msg.GetSeed()
			switch {
			case sr == nil || sr.Phase != phase || sr.Round != round:
				return fmt.Errorf("node %s answered with an unexpected message", c.name)
			case !bytes.Equal(protocol.SeedCommitment(sr.Seed), commitments[c.name]):
				return fmt.Errorf("node %s revealed a seed that does not open its commitment", c.name)
			}
			mu.Lock()
			defer mu.Unlock()
			seeds[c.name] = sr.Seed
			return nil
		})
	if err != nil {
		return err
	}
	seedsTask := &pb.SeedsTask{QueryId: r.q.id, Run: r.run, Phase: phase, Round: round}
	for _, v := range verifiers {
		seedsTask.Seeds = append(seedsTask.Seeds, &pb.NodeValue{Node: v, Value: seeds[v]})
	}
	joint := protocol.JointSeed(step, round, seedsTask.Seeds)
	seedsMsg := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_SeedsTask{SeedsTask: seedsTask}}
	if err := r.broadcast(ctx, r.participants, func(c *nodeConn) error { return c.send(seedsMsg) }); err != nil {
		return err
	}
	statements := map[string]*pb.SignedFingerprints{}
	fps := map[string][]crypto.Fingerprint{}
	err = r.collect(ctx, contributors, fmt.Sprintf("fingerprints_%d", phase), func(c *nodeConn, ev nodeEvent) error {
		f := ev.msg.GetFingerprints()
		if f == nil || f.Phase != phase || f.Round != round {
			return fmt.Errorf("node %s answered with an unexpected message", c.name)
		}
		cert, err := r.cert(c)
		if err != nil {
			return err
		}
		st, err := protocol.VerifyFingerprints(cert, c.name, f.Statement, f.Signature, step, round, joint, len(sum))
		if err != nil {
			return fmt.Errorf("node %s: %w", c.name, err)
		}
		if round == pb.Round_ROUND_INPUTS && !bytes.Equal(st.ReceiptDigest, protocol.Digest(r.receipts[phase][c.name].signed.Receipt)) {
			return fmt.Errorf("node %s signed fingerprints of another input than its receipt's", c.name)
		}
		parsed := make([]crypto.Fingerprint, len(st.Fingerprints))
		for k, b := range st.Fingerprints {
			if parsed[k], err = r.s.params.UnmarshalFingerprint(b); err != nil {
				return fmt.Errorf("node %s: fingerprint %d: %w", c.name, k, err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		statements[c.name] = &pb.SignedFingerprints{Node: c.name, Statement: f.Statement, Signature: f.Signature}
		fps[c.name] = parsed
		return nil
	})
	if err != nil {
		return err
	}
	for k, part := range sum {
		col := make([]crypto.Fingerprint, 0, len(contributors))
		for _, c := range contributors {
			col = append(col, fps[c][k])
		}
		want, err := r.s.params.SumFingerprints(col)
		if err != nil {
			return err
		}
		got, err := r.s.params.Fingerprint(joint, part)
		if err != nil {
			return err
		}
		if !got.Matches(want) {
			return fmt.Errorf("the signed fingerprints of %s do not add up to their sum %d: a member signed fingerprints of something else", round, k)
		}
	}
	fpTask := &pb.FingerprintsTask{QueryId: r.q.id, Run: r.run, Phase: phase, Round: round}
	for _, c := range contributors {
		fpTask.Statements = append(fpTask.Statements, statements[c])
	}
	fpMsg := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_FingerprintsTask{FingerprintsTask: fpTask}}
	return r.broadcast(ctx, verifiers, func(c *nodeConn) error { return c.send(fpMsg) })
}

// spotChecks serves the verifiers' spot checks: it collects whom each
// verifier samples, has each sampled member upload its input again (the
// coordinator keeps no inputs), checks it against the member's receipt,
// forwards it to the verifiers that sampled it and drops it.
func (r *queryRun) spotChecks(ctx context.Context, phase int32, verifiers []string, nct int) error {
	requests := map[string][]string{}
	var mu sync.Mutex
	err := r.collect(ctx, verifiers, fmt.Sprintf("spot_check_%d", phase), func(c *nodeConn, ev nodeEvent) error {
		req := ev.msg.GetSpotCheckRequest()
		if req == nil || req.Phase != phase {
			return fmt.Errorf("node %s answered with an unexpected message", c.name)
		}
		seen := map[string]bool{}
		for _, m := range req.Members {
			if m == c.name || seen[m] || !slices.Contains(r.participants, m) {
				return fmt.Errorf("node %s asked to spot-check %q, which is not another participant or is named twice", c.name, m)
			}
			seen[m] = true
		}
		mu.Lock()
		defer mu.Unlock()
		requests[c.name] = req.Members
		return nil
	})
	if err != nil {
		return err
	}
	var sampled []string
	for _, p := range r.participants {
		for _, members := range requests {
			if slices.Contains(members, p) {
				sampled = append(sampled, p)
				break
			}
		}
	}
	blobID := func(member string, k int) string {
		return fmt.Sprintf("spot/%s/%d/%d/%s/%d", r.q.id, r.run, phase, member, k)
	}
	resend := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_ResendTask{ResendTask: &pb.ResendTask{QueryId: r.q.id, Run: r.run, Phase: phase}}}
	err = r.ask(ctx, sampled, r.s.cfg.UploadWindow, fmt.Sprintf("resend_%d", phase),
		func(c *nodeConn) error { return c.send(resend) },
		func(c *nodeConn, ev nodeEvent) error {
			rv := ev.msg.GetReveal()
			if rv == nil || rv.Phase != phase || !rv.Resend {
				return fmt.Errorf("node %s answered the re-send with an unexpected message", c.name)
			}
			if err := checkInput(c, r.receipts[phase][c.name].receipt, ev.blobs); err != nil {
				return err
			}
			var to []string
			for _, v := range verifiers {
				if slices.Contains(requests[v], c.name) {
					to = append(to, v)
				}
			}
			return r.broadcast(ctx, to, func(v *nodeConn) error {
				for k, b := range ev.blobs {
					if err := v.sendBlob(blobID(c.name, k), b); err != nil {
						return err
					}
				}
				return nil
			})
		})
	if err != nil {
		return err
	}
	return r.broadcast(ctx, verifiers, func(c *nodeConn) error {
		task := &pb.SpotCheckTask{QueryId: r.q.id, Run: r.run, Phase: phase}
		for _, m := range requests[c.name] {
			in := &pb.SpotCheckInput{Node: m}
			for k := range nct {
				in.CiphertextBlobs = append(in.CiphertextBlobs, blobID(m, k))
			}
			task.Inputs = append(task.Inputs, in)
		}
		return c.send(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_SpotCheckTask{SpotCheckTask: task}})
	})
}
