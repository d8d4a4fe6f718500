package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// stage is how far a query has come at this node. Each task is accepted
// only in the stage before it, so no step runs twice.
type stage int

const (
	stageCounted  stage = iota + 1 // phase 1 input sent
	stageOpened                    // decryption shares of the counts sent
	stageReleased                  // phase 2 input sent
)

// admittedQuery is a query this node takes part in.
type admittedQuery struct {
	vq          *protocol.VerifiedQuery
	spec        *query.Spec
	layout      query.Layout
	decision    policy.Decision
	params      crypto.Params
	epoch       *protocol.Epoch
	receiverKey *crypto.PublicKey
	timer       *time.Timer
	// participants of this run of the query, and among them the active set
	// that produces decryption and key-switch shares.
	participants, active []string

	stage stage
	// run numbers the coordinator's runs of one query; the node keeps only
	// the latest.
	run uint32
	// vec is this node's plaintext vector; it never leaves the node.
	vec []int64
	// own holds this node's ciphertext digests per phase.
	own [3][][]byte
	// counts are the phase 1 aggregates this node opened.
	counts       []*crypto.Ciphertext
	countDigests [][]byte
	mask         *release.Mask
}

func (aq *admittedQuery) queryDigest() string { return hex.EncodeToString(aq.vq.Digest) }

// isActive reports whether node is in the query's active set.
func (aq *admittedQuery) isActive(node string) bool { return slices.Contains(aq.active, node) }

// checkRun checks the participants and active set a coordinator assigned
// to a run of a query against the epoch: the active set is exactly the
// quorum, drawn from the participants, who are distinct members including
// this node and enough for the query.
func checkRun(epoch *protocol.Epoch, self string, participants, active []string, minPartners int) error {
	seen := map[string]bool{}
	for _, p := range participants {
		if !slices.Contains(epoch.Members, p) || seen[p] {
			return fmt.Errorf("participant %q is not a member or is listed twice", p)
		}
		seen[p] = true
	}
	need := max(epoch.Quorum(), minPartners, 2)
	switch {
	case !seen[self]:
		return errors.New("this node is not a participant of the run")
	case len(participants) < need:
		return fmt.Errorf("%d participants; the epoch and query need at least %d", len(participants), need)
	case len(active) != epoch.Quorum():
		return fmt.Errorf("active set of %d members, the epoch needs exactly %d", len(active), epoch.Quorum())
	}
	inActive := map[string]bool{}
	for _, a := range active {
		if !seen[a] || inActive[a] {
			return fmt.Errorf("active member %q is not a participant or is listed twice", a)
		}
		inActive[a] = true
	}
	return nil
}

// handleQuery answers a query task with the phase 1 input — the encrypted
// record counts — and a signed receipt, or with a refusal.
func (n *Node) handleQuery(ctx context.Context, s *session, task *pb.QueryTask, rk []byte, blobErr error) {
	qid, run := unverifiedQueryID(task.GetQuery()), task.Run
	aq, refusal := n.admit(ctx, task, rk, blobErr)
	if refusal != nil {
		refusal.TaskId, refusal.Run = qid, run
		n.log.Warn("query refused", "query", qid, "reason", refusalText(refusal))
		s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: refusal}})
		return
	}
	aq.run = run
	counts := make([]int64, 0)
	for _, i := range release.CountSlots(aq.layout) {
		counts = append(counts, aq.vec[i])
	}
	input, cts, err := n.encryptInput(aq, 1, counts, nil)
	if err != nil {
		s.refuse(qid, run, err)
		return
	}
	n.mu.Lock()
	if old := n.queries[qid]; old != nil {
		if old.run >= run {
			n.mu.Unlock()
			s.refuse(qid, run, errors.New("this run of the query was already answered"))
			return
		}
		// A later run supersedes an earlier one, which never resumes.
		old.timer.Stop()
	}
	aq.stage = stageCounted
	n.queries[qid] = aq
	// A query that never completes is forgotten at its expiry.
	aq.timer = time.AfterFunc(time.Until(time.Unix(0, aq.vq.Envelope.ExpiresUnixNanos)), func() { n.forget(qid, run) })
	n.mu.Unlock()
	sendInput(s, input, cts)
}

func sendInput(s *session, input *pb.QueryInput, cts [][]byte) {
	for i, ct := range cts {
		if err := s.sendBlob(input.CiphertextBlobs[i], ct); err != nil {
			return
		}
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Input{Input: input}})
}

// admit runs every check of a new query and the local computation.
func (n *Node) admit(ctx context.Context, task *pb.QueryTask, rk []byte, blobErr error) (*admittedQuery, *pb.Refusal) {
	fail := func(format string, args ...any) (*admittedQuery, *pb.Refusal) {
		return nil, &pb.Refusal{Error: fmt.Sprintf(format, args...)}
	}
	if blobErr != nil {
		return fail("receiver key: %v", blobErr)
	}
	vq, err := protocol.VerifyQuery(task.Query, n.cfg.Roots, time.Now())
	if err != nil {
		return fail("%v", err)
	}
	env := vq.Envelope
	n.mu.Lock()
	epoch := n.epoch
	n.mu.Unlock()
	switch {
	case epoch == nil:
		return fail("this node holds no collective key yet")
	case env.Epoch != epoch.ID || env.Params != epoch.Params:
		return fail("query is for epoch %s (%s); this node holds %s (%s)", env.Epoch, env.Params, epoch.ID, epoch.Params)
	case !bytes.Equal(protocol.Digest(rk), env.ReceiverKeyDigest):
		return fail("the receiver key does not match the signed query")
	}
	params, err := n.paramsFor(epoch.Params)
	if err != nil {
		return fail("%v", err)
	}
	receiverKey, err := params.UnmarshalPublicKey(rk)
	if err != nil {
		return fail("receiver key: %v", err)
	}
	spec, err := query.Parse(env.Spec)
	if err == nil {
		err = spec.Validate(query.Limits{MaxCells: params.Slots(), MaxVectorLen: 8 * params.Slots()})
	}
	if err != nil {
		return fail("query spec: %v", err)
	}
	if err := checkRun(epoch, n.name, task.Participants, task.Active, spec.MinPartners); err != nil {
		return fail("%v", err)
	}
	aq := &admittedQuery{
		vq: vq, spec: spec, layout: spec.Layout(), params: params, epoch: epoch, receiverKey: receiverKey,
		participants: task.Participants, active: task.Active,
	}

	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	data, scored, err := n.dataFor(spec)
	if err != nil {
		return fail("%v", err)
	}
	var model *policy.ModelInfo
	if scored != nil {
		model = scored.Info
	}
	if spec.Train != nil {
		// A model in training is an automated-decision model too.
		m, err := aggregate.TrainModel(spec)
		if err != nil {
			return fail("training round: %v", err)
		}
		digest, err := m.Digest()
		if err != nil {
			return fail("training round: %v", err)
		}
		model = &policy.ModelInfo{Name: m.Name, Version: m.Version, Digest: digest, ProtectedInputs: m.ProtectedInputs}
	}
	fields, err := data.Schema(ctx)
	if err != nil {
		return fail("data source %s: %v", data.Name(), err)
	}
	// A column the data lacks is a schema error, reported before the
	// policy judges columns it could not read anyway.
	schema, err := schemaTable(fields)
	if err != nil {
		return fail("data source %s: %v", data.Name(), err)
	}
	if err := aggregate.CheckColumns(spec, n.name, schema); err != nil {
		r, codes := schemaRefusal(err)
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: codes})
		return nil, r
	}
	var columns []string
	for _, f := range fields {
		columns = append(columns, f.Name)
	}
	decision, err := n.cfg.Policy.Admit(ctx, policy.AdmissionInput{
		Model: model,
		Query: policy.QueryInfo{
			ID: env.QueryId, Digest: aq.queryDigest(), Purpose: spec.Purpose,
			Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners, Querier: vq.Querier.String(),
			PipiaID: spec.PipiaID, Destination: spec.Destination, Recipient: spec.Recipient, Epsilon: spec.Epsilon,
		},
		EpsilonSpent: n.privacy.Spent(spec.Purpose, spec.SegmentFamily(), time.Now()),
		NodeName:     n.name,
		NodeColumns:  columns,
		NodeRoles:    n.cfg.Roles,
		Time:         time.Now(),
	})
	if err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return fail("policy evaluation failed: %v", err)
	}
	aq.decision = decision
	if !decision.Allow {
		r := &pb.Refusal{DecisionId: decision.ID, BundleRevision: decision.BundleRevision}
		var codes []string
		for _, x := range decision.Reasons {
			r.Reasons = append(r.Reasons, &pb.Reason{Code: x.Code, Article: x.Article, Message: x.Message})
			codes = append(codes, x.Code)
		}
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: codes})
		return nil, r
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultAllow})
	if err := n.archive.append(QueryRecord{
		QueryID: env.QueryId, QueryDigest: aq.queryDigest(), Time: decision.Time, Querier: vq.Querier.String(),
		DecisionID: decision.ID, BundleRevision: decision.BundleRevision, Spec: env.Spec, Cohort: decision.Cohort,
	}); err != nil {
		// A query the node could not archive could not be explained to a
		// data subject later: refuse it.
		return fail("archive query: %v", err)
	}
	// The source applies the policy's record-level conditions itself: in
	// memory, or compiled into the database's query.
	vec, stats, err := data.Aggregate(ctx, spec, decision.Cohort)
	if err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindCohort, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return fail("data source %s: %v", data.Name(), err)
	}
	detail := map[string]string{"records": fmt.Sprint(stats.Rows), "selected": fmt.Sprint(stats.Selected), "epsilon": fmt.Sprint(spec.Epsilon)}
	if spec.Train != nil {
		gs, err := n.trainRound(spec, decision.Cohort, vec)
		if err != nil {
			return fail("training round: %v", err)
		}
		detail["train_examples"] = fmt.Sprint(gs.Examples)
		detail["train_invalid_rows"] = fmt.Sprint(gs.Invalid)
		detail["train_clipped"] = fmt.Sprint(gs.Clipped)
	}
	if scored != nil {
		detail["model"] = scored.Info.Name + "@" + scored.Info.Version
		detail["model_digest"] = scored.Info.Digest
		detail["unscorable_records"] = fmt.Sprint(scored.invalid)
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindCohort, Result: audit.ResultAllow, Detail: detail})
	if spec.Epsilon > 0 {
		// The budget is spent before any noisy value leaves the node, so a
		// crash cannot release a query the ledger does not count.
		// The policy has judged the budget; the ledger only records.
		if err := n.privacy.Spend(spec.Purpose, spec.SegmentFamily(), spec.Epsilon, math.MaxFloat64, time.Now()); err != nil {
			return fail("privacy budget: %v", err)
		}
		if err := addNoise(vec, spec, len(aq.participants), n.cfg.NoiseSource); err != nil {
			return fail("noise: %v", err)
		}
	}
	// The sum over all members must not wrap around the plaintext modulus.
	if err := spec.CheckExact(vec, query.Capacity{ExactLimit: params.MaxAbsValue(), Partners: len(aq.participants)}); err != nil {
		return fail("%v", err)
	}
	aq.vec = vec
	return aq, nil
}

// encryptInput encrypts values under the collective key and signs the
// receipt of a phase.
func (n *Node) encryptInput(aq *admittedQuery, phase int32, values []int64, mask *release.Mask) (*pb.QueryInput, [][]byte, error) {
	pk, err := aq.params.UnmarshalPublicKey(aq.epoch.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("collective key: %w", err)
	}
	enc, err := aq.params.NewEncryptor(pk)
	if err != nil {
		return nil, nil, err
	}
	encrypted, err := enc.Encrypt(values)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt: %w", err)
	}
	qid := aq.vq.Envelope.QueryId
	receipt := &pb.Receipt{
		QueryId: qid, QueryDigest: aq.vq.Digest, Node: n.name, Epoch: aq.epoch.ID,
		DecisionId: aq.decision.ID, BundleRevision: aq.decision.BundleRevision,
		UnixNanos: time.Now().UnixNano(), Phase: phase,
	}
	input := &pb.QueryInput{QueryId: qid, Run: aq.run}
	if mask != nil {
		input.ReleaseMask = mask.Bitmap()
		receipt.MaskDigest = mask.Digest()
	}
	cts := make([][]byte, len(encrypted))
	for i, ct := range encrypted {
		if cts[i], err = ct.MarshalBinary(); err != nil {
			return nil, nil, err
		}
		receipt.CiphertextDigests = append(receipt.CiphertextDigests, protocol.Digest(cts[i]))
		input.CiphertextBlobs = append(input.CiphertextBlobs, fmt.Sprintf("ct/%s/%d/%d/%d", qid, aq.run, phase, i))
	}
	if input.Receipt, input.Signature, err = protocol.SignReceipt(n.cfg.Credential.Key, receipt); err != nil {
		return nil, nil, err
	}
	aq.own[phase] = receipt.CiphertextDigests
	return input, cts, nil
}

// errWrongStep reports a task for a query that is not at the step the task
// needs — a replay, or a task out of order. The query itself is left alone.
var errWrongStep = errors.New("not at the step this task needs")

// take moves run of a query from stage from to stage to, or explains why
// not.
func (n *Node) take(qid string, run uint32, from, to stage) (*admittedQuery, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	aq := n.queries[qid]
	switch {
	case aq == nil:
		return nil, fmt.Errorf("this node has no open contribution to query %q", qid)
	case aq.run != run || aq.stage != from:
		return nil, fmt.Errorf("query %q is %w", qid, errWrongStep)
	}
	aq.stage = to
	return aq, nil
}

// handleRelease answers a release task with signed decryption shares of the
// phase 1 aggregate — the counts every node's release gate checks.
func (n *Node) handleRelease(ctx context.Context, s *session, task *pb.ReleaseTask, blobs [][]byte, blobErr error) {
	msg, shares, err := n.openCounts(ctx, task, blobs, blobErr)
	if err != nil {
		if !errors.Is(err, errWrongStep) {
			n.forget(task.QueryId, task.Run)
		}
		n.log.Warn("release refused", "query", task.QueryId, "err", err)
		s.refuse(task.QueryId, task.Run, err)
		return
	}
	if msg == nil {
		return
	}
	for i, sh := range shares {
		if err := s.sendBlob(msg.ShareBlobs[i], sh); err != nil {
			return
		}
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_DecryptionShare{DecryptionShare: msg}})
}

func (n *Node) openCounts(ctx context.Context, task *pb.ReleaseTask, blobs [][]byte, blobErr error) (*pb.DecryptionShare, [][]byte, error) {
	aq, err := n.take(task.QueryId, task.Run, stageCounted, stageOpened)
	if err != nil {
		return nil, nil, err
	}
	if blobErr != nil {
		return nil, nil, fmt.Errorf("inputs: %w", blobErr)
	}
	sums, err := n.verifyAggregate(aq, 1, task.Inputs, blobs, task.AggregateDigests)
	if err != nil {
		return nil, nil, err
	}
	if !aq.isActive(n.name) {
		// Outside the active set: keep the aggregate to open the counts
		// from the active members' shares, and share nothing.
		aq.counts, aq.countDigests = sums, task.AggregateDigests
		return nil, nil, nil
	}
	sk, err := n.secretShare(ctx, aq)
	if err != nil {
		return nil, nil, err
	}
	dec, err := aq.params.NewDecrypter(sk)
	if err != nil {
		return nil, nil, err
	}
	if err := n.ledger.Claim(task.AggregateDigests...); err != nil {
		return nil, nil, err
	}
	msg := &pb.DecryptionShare{QueryId: task.QueryId, Run: task.Run, AggregateDigests: task.AggregateDigests}
	shares := make([][]byte, len(sums))
	var shareDigests [][]byte
	for k, sum := range sums {
		if shares[k], err = dec.Share(sum); err != nil {
			return nil, nil, err
		}
		shareDigests = append(shareDigests, protocol.Digest(shares[k]))
		msg.ShareBlobs = append(msg.ShareBlobs, fmt.Sprintf("dec/%s/%d/%d", task.QueryId, task.Run, k))
	}
	stmt, err := protocol.DecryptionStatementBytes(task.QueryId, n.name, task.AggregateDigests, shareDigests)
	if err != nil {
		return nil, nil, err
	}
	if msg.Signature, err = pki.Sign(n.cfg.Credential.Key, protocol.PurposeDecryptionShare, stmt); err != nil {
		return nil, nil, err
	}
	aq.counts, aq.countDigests = sums, task.AggregateDigests
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultAllow,
		InputDigests: hexAll(task.AggregateDigests), CiphertextDigests: hexAll(shareDigests),
		Detail: map[string]string{"phase": "1", "protocol": "collective decryption of cell counts"}})
	return msg, shares, nil
}

// handleCounts opens the cell counts from every member's signed decryption
// shares, runs the release gate, and answers with the phase 2 input masked
// by this node's own release mask.
func (n *Node) handleCounts(ctx context.Context, s *session, task *pb.CountsTask, blobs [][]byte, blobErr error) {
	input, cts, refusal, err := n.releaseGate(ctx, task, blobs, blobErr)
	if err != nil {
		refusal = &pb.Refusal{Error: err.Error()}
	}
	if refusal != nil {
		if !errors.Is(err, errWrongStep) {
			n.forget(task.QueryId, task.Run)
		}
		refusal.TaskId, refusal.Run = task.QueryId, task.Run
		n.log.Warn("release refused", "query", task.QueryId, "reason", refusalText(refusal))
		s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: refusal}})
		return
	}
	sendInput(s, input, cts)
}

// releaseGate returns the phase 2 input, a policy refusal, or an error.
func (n *Node) releaseGate(ctx context.Context, task *pb.CountsTask, blobs [][]byte, blobErr error) (*pb.QueryInput, [][]byte, *pb.Refusal, error) {
	fail := func(err error) (*pb.QueryInput, [][]byte, *pb.Refusal, error) {
		return nil, nil, nil, err
	}
	aq, err := n.take(task.QueryId, task.Run, stageOpened, stageReleased)
	if err != nil {
		return fail(err)
	}
	if blobErr != nil {
		return fail(fmt.Errorf("decryption shares: %w", blobErr))
	}
	counts, err := n.combineCounts(aq, task, blobs)
	if err != nil {
		return fail(err)
	}
	now := time.Now()
	d, err := n.cfg.Policy.Release(ctx, policy.ReleaseInput{
		Query: policy.QueryInfo{
			ID: task.QueryId, Digest: aq.queryDigest(), Purpose: aq.spec.Purpose, MinPartners: aq.spec.MinPartners, Querier: aq.vq.Querier.String(),
			PipiaID: aq.spec.PipiaID, Destination: aq.spec.Destination, Recipient: aq.spec.Recipient,
		},
		NodeName:      n.name,
		Cells:         aq.layout.Cells,
		ReleasesToday: n.budget.used(aq.spec.Purpose, now),
		Time:          now,
	})
	if err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return fail(fmt.Errorf("release policy: %w", err))
	}
	if !d.Allow {
		r := &pb.Refusal{DecisionId: d.ID, BundleRevision: d.BundleRevision}
		var codes []string
		for _, x := range d.Reasons {
			r.Reasons = append(r.Reasons, &pb.Reason{Code: x.Code, Article: x.Article, Message: x.Message})
			codes = append(codes, x.Code)
		}
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, DecisionID: d.ID, Result: audit.ResultDeny, Reasons: codes})
		return nil, nil, r, nil
	}
	mask, err := release.Compute(aq.layout, counts, d.MinCellSize)
	if err != nil {
		return fail(err)
	}
	if err := n.budget.spend(aq.spec.Purpose, now); err != nil {
		return fail(err)
	}
	aq.mask = mask
	masked := slices.Clone(aq.vec)
	release.Apply(masked, mask.Released)
	input, cts, err := n.encryptInput(aq, 2, masked, mask)
	if err != nil {
		return fail(err)
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, DecisionID: d.ID, Result: audit.ResultAllow,
		InputDigests: hexAll(aq.countDigests), CiphertextDigests: hexAll(aq.own[2]),
		Detail: map[string]string{
			"min_cell_size": fmt.Sprint(d.MinCellSize), "cells": fmt.Sprint(aq.layout.Cells),
			"suppressed_cells": fmt.Sprint(mask.SuppressedCells), "primary_suppressions": fmt.Sprint(mask.Primary),
			"mask_digest": hex.EncodeToString(mask.Digest()),
		}})
	return input, cts, nil, nil
}

// combineCounts checks every member's signed decryption shares of the
// aggregate this node opened and combines them into the counts.
func (n *Node) combineCounts(aq *admittedQuery, task *pb.CountsTask, blobs [][]byte) ([]int64, error) {
	members := aq.active
	if len(task.Shares) != len(members) {
		return nil, fmt.Errorf("got decryption shares of %d nodes, the active set has %d", len(task.Shares), len(members))
	}
	nct := len(aq.counts)
	perCT := make([][][]byte, nct)
	off := 0
	for i, sh := range task.Shares {
		if sh.Node != members[i] {
			return nil, fmt.Errorf("decryption share %d is from %q, expected active member %q", i, sh.Node, members[i])
		}
		id, cert, err := pki.VerifyPeerCertificate(sh.CertChain, n.cfg.Roots, pki.RoleNode, time.Now())
		if err != nil {
			return nil, fmt.Errorf("decryption share of %s: %w", sh.Node, err)
		}
		if id.Name != sh.Node {
			return nil, fmt.Errorf("decryption share labelled %s is signed by %s", sh.Node, id.Name)
		}
		if len(sh.ShareBlobs) != nct || off+nct > len(blobs) {
			return nil, fmt.Errorf("decryption share of %s has %d parts, expected %d", sh.Node, len(sh.ShareBlobs), nct)
		}
		var digests [][]byte
		for k := range nct {
			digests = append(digests, protocol.Digest(blobs[off+k]))
			perCT[k] = append(perCT[k], blobs[off+k])
		}
		off += nct
		stmt, err := protocol.DecryptionStatementBytes(task.QueryId, sh.Node, aq.countDigests, digests)
		if err != nil {
			return nil, err
		}
		if err := pki.Verify(cert, protocol.PurposeDecryptionShare, stmt, sh.Signature); err != nil {
			return nil, fmt.Errorf("decryption share of %s: %w", sh.Node, err)
		}
	}
	var opened []int64
	for k, ct := range aq.counts {
		v, err := aq.params.CombineDecrypt(ct, perCT[k])
		if err != nil {
			return nil, err
		}
		opened = append(opened, v...)
	}
	want := len(release.CountSlots(aq.layout))
	if len(opened) < want {
		return nil, fmt.Errorf("opened %d counts, the query has %d", len(opened), want)
	}
	return opened[:want], nil
}

// handleKeySwitch answers a key-switch task with shares or a refusal.
func (n *Node) handleKeySwitch(ctx context.Context, s *session, task *pb.KeySwitchTask, blobs [][]byte, blobErr error) {
	shares, err := n.keySwitch(ctx, task, blobs, blobErr)
	if !errors.Is(err, errWrongStep) {
		// Done, or failed: either way the run never takes another step.
		n.forget(task.QueryId, task.Run)
	}
	if err != nil {
		n.log.Warn("key switch refused", "query", task.QueryId, "err", err)
		s.refuse(task.QueryId, task.Run, err)
		return
	}
	if shares == nil {
		return // outside the active set: nothing to share
	}
	msg := &pb.KeySwitchShare{QueryId: task.QueryId, Run: task.Run, AggregateDigests: task.AggregateDigests}
	for i, sh := range shares {
		id := fmt.Sprintf("ks/%s/%d/%d", task.QueryId, task.Run, i)
		if err := s.sendBlob(id, sh); err != nil {
			return
		}
		msg.ShareBlobs = append(msg.ShareBlobs, id)
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_KeySwitchShare{KeySwitchShare: msg}})
}

// keySwitch verifies that the aggregate is the sum of signed phase 2 inputs
// from enough distinct members, all masked with this node's own release
// mask, and returns this node's key-switch shares for it — at most once
// per aggregate.
func (n *Node) keySwitch(ctx context.Context, task *pb.KeySwitchTask, blobs [][]byte, blobErr error) ([][]byte, error) {
	n.mu.Lock()
	aq := n.queries[task.QueryId]
	n.mu.Unlock()
	switch {
	case aq == nil:
		return nil, fmt.Errorf("this node has no open contribution to query %q", task.QueryId)
	case aq.run != task.Run || aq.stage != stageReleased:
		return nil, fmt.Errorf("query %q is %w", task.QueryId, errWrongStep)
	}
	if blobErr != nil {
		return nil, fmt.Errorf("inputs: %w", blobErr)
	}
	aggregates, err := n.verifyAggregate(aq, 2, task.Inputs, blobs, task.AggregateDigests)
	if err != nil {
		return nil, err
	}
	if !aq.isActive(n.name) {
		return nil, nil
	}
	sk, err := n.secretShare(ctx, aq)
	if err != nil {
		return nil, err
	}
	ks, err := aq.params.NewKeySwitcher(sk)
	if err != nil {
		return nil, err
	}
	if err := n.ledger.Claim(task.AggregateDigests...); err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultDeny, Reasons: []string{"ALREADY_SHARED"}})
		return nil, err
	}
	shares := make([][]byte, len(aggregates))
	var shareDigests [][]byte
	for k, agg := range aggregates {
		if shares[k], err = ks.Share(aq.receiverKey, agg); err != nil {
			return nil, err
		}
		shareDigests = append(shareDigests, protocol.Digest(shares[k]))
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindKeySwitch, Result: audit.ResultAllow,
		InputDigests: hexAll(task.AggregateDigests), CiphertextDigests: hexAll(shareDigests),
		Detail: map[string]string{"phase": "2", "protocol": "public-key switch to the querier", "querier": aq.vq.Querier.String()}})
	// A signed checkpoint per completed query lets a regulator detect the
	// removal of any query's records, not only of older ones.
	if err := n.auditLog.Checkpoint(); err != nil {
		n.log.Error("audit checkpoint failed", "query", task.QueryId, "err", err)
	}
	return shares, nil
}

// verifyAggregate checks the signed inputs of one phase — signatures,
// distinct members including this node, the node's own input unchanged,
// the same release mask — and returns the aggregates it recomputed, which
// must match the digests the coordinator named.
func (n *Node) verifyAggregate(aq *admittedQuery, phase int32, inputs []*pb.SignedInput, blobs [][]byte, digests [][]byte) ([]*crypto.Ciphertext, error) {
	qid := aq.vq.Envelope.QueryId
	own := aq.own[phase]
	nct := len(own)
	cols := make([][]*crypto.Ciphertext, nct)
	seen := map[string]bool{}
	off := 0
	for _, in := range inputs {
		r, id, err := protocol.VerifyReceipt(in, n.cfg.Roots, qid, aq.vq.Digest, time.Now())
		if err != nil {
			return nil, err
		}
		switch {
		case !slices.Contains(aq.participants, id.Name):
			return nil, fmt.Errorf("input from %s, which is not a participant of this run", id.Name)
		case seen[id.Name]:
			return nil, fmt.Errorf("two inputs from %s", id.Name)
		case r.Epoch != aq.epoch.ID:
			return nil, fmt.Errorf("input from %s is for epoch %s", id.Name, r.Epoch)
		case r.Phase != phase:
			return nil, fmt.Errorf("input from %s is of phase %d, expected %d", id.Name, r.Phase, phase)
		case phase == 2 && !bytes.Equal(r.MaskDigest, aq.mask.Digest()):
			return nil, fmt.Errorf("%s applied a different release mask than this node", id.Name)
		case len(in.CiphertextBlobs) != nct || off+nct > len(blobs):
			return nil, fmt.Errorf("input from %s has %d ciphertexts, expected %d", id.Name, len(in.CiphertextBlobs), nct)
		}
		seen[id.Name] = true
		if id.Name == n.name && !slices.EqualFunc(r.CiphertextDigests, own, bytes.Equal) {
			return nil, errors.New("the input relayed as this node's is not the one it sent")
		}
		for k := range nct {
			b := blobs[off+k]
			if !bytes.Equal(protocol.Digest(b), r.CiphertextDigests[k]) {
				return nil, fmt.Errorf("ciphertext %d from %s does not match its signed receipt", k, id.Name)
			}
			ct, err := aq.params.UnmarshalCiphertext(b)
			if err != nil {
				return nil, fmt.Errorf("ciphertext %d from %s: %w", k, id.Name, err)
			}
			cols[k] = append(cols[k], ct)
		}
		off += nct
	}
	need := max(2, aq.spec.MinPartners)
	switch {
	case !seen[n.name]:
		return nil, errors.New("the aggregate does not include this node's own input")
	case len(seen) < need:
		return nil, fmt.Errorf("the aggregate has inputs from %d partners; the query requires at least %d", len(seen), need)
	case len(digests) != nct:
		return nil, fmt.Errorf("the task names %d aggregates, expected %d", len(digests), nct)
	}
	eval := aq.params.NewEvaluator()
	sums := make([]*crypto.Ciphertext, nct)
	for k := range nct {
		sum, err := eval.Sum(cols[k])
		if err != nil {
			return nil, err
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(protocol.Digest(b), digests[k]) {
			return nil, fmt.Errorf("aggregate %d is not the sum of the signed inputs", k)
		}
		sums[k] = sum
	}
	return sums, nil
}

// secretShare returns the key this node decrypts with in aq's run: its
// additive share, or in a threshold epoch the share derived from its
// threshold share for exactly the run's active set.
func (n *Node) secretShare(ctx context.Context, aq *admittedQuery) (*crypto.SecretShare, error) {
	if aq.epoch.Threshold == 0 {
		return n.loadSecret(ctx, aq.params, secretName(aq.epoch.ID))
	}
	b, err := n.cfg.Keys.Get(ctx, thresholdName(aq.epoch.ID))
	if err != nil {
		return nil, fmt.Errorf("threshold share: %w", err)
	}
	tsk, err := aq.params.UnmarshalThresholdShare(b)
	if err != nil {
		return nil, fmt.Errorf("threshold share: %w", err)
	}
	all := shamirPoints(aq.epoch)
	var own crypto.ShamirPoint
	active := make([]crypto.ShamirPoint, len(aq.active))
	for i, m := range aq.epoch.Members {
		if m == n.name {
			own = all[i]
		}
		if j := slices.Index(aq.active, m); j >= 0 {
			active[j] = all[i]
		}
	}
	return aq.params.ActiveSecretShare(tsk, own, all, active, aq.epoch.Threshold)
}

// audit appends a decision about aq to the node's audit log. A decision
// that cannot be logged is logged as an error of the node, not dropped.
func (n *Node) audit(ctx context.Context, aq *admittedQuery, e audit.Entry) {
	e.Node = n.name
	e.QueryID = aq.vq.Envelope.QueryId
	e.QueryDigest = aq.queryDigest()
	if e.DecisionID == "" {
		e.DecisionID = aq.decision.ID
	}
	if e.BundleRevision == "" {
		e.BundleRevision = n.cfg.Policy.Revision()
	}
	if _, err := n.auditLog.Append(ctx, e); err != nil {
		n.log.Error("audit log append failed", "query", e.QueryID, "kind", e.Kind, "err", err)
	}
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

// unverifiedQueryID reads a query's id for error reports only.
func unverifiedQueryID(sq *pb.SignedQuery) string {
	env := &pb.QueryEnvelope{}
	if sq == nil || proto.Unmarshal(sq.Envelope, env) != nil {
		return ""
	}
	return env.QueryId
}

func refusalText(r *pb.Refusal) string {
	if r.Error != "" {
		return r.Error
	}
	var codes []string
	for _, x := range r.Reasons {
		codes = append(codes, x.Code)
	}
	return fmt.Sprint(codes)
}

// forget drops run of a query, and any earlier run.
func (n *Node) forget(qid string, run uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if aq := n.queries[qid]; aq != nil && aq.run <= run {
		aq.timer.Stop()
		delete(n.queries, qid)
	}
}

func (n *Node) cancelQuery(qid string, run uint32, reason string) {
	n.forget(qid, run)
	n.log.Info("query cancelled by the coordinator", "query", qid, "run", run, "reason", reason)
}
