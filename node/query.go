package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/protocol"
	"github.com/fedscore/fedscore/internal/query"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// admittedQuery is a query this node contributed an input to.
type admittedQuery struct {
	vq          *protocol.VerifiedQuery
	spec        *query.Spec
	decision    policy.Decision
	params      crypto.Params
	epoch       string
	receiverKey *crypto.PublicKey
	members     []string
	ownDigests  [][]byte
	timer       *time.Timer
}

// handleQuery answers a query task with an encrypted aggregate and a signed
// receipt, or with a refusal.
func (n *Node) handleQuery(ctx context.Context, s *session, task *pb.QueryTask, rk []byte, blobErr error) {
	qid := unverifiedQueryID(task.GetQuery())
	aq, input, cts, refusal := n.prepare(ctx, task, rk, blobErr)
	if refusal != nil {
		refusal.TaskId = qid
		n.log.Warn("query refused", "query", qid, "reason", refusalText(refusal))
		s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: refusal}})
		return
	}
	n.mu.Lock()
	if _, dup := n.queries[input.QueryId]; dup {
		n.mu.Unlock()
		s.refuse(input.QueryId, errors.New("this query id was already answered"))
		return
	}
	n.queries[input.QueryId] = aq
	// A query that never reaches its key switch is forgotten at its expiry.
	aq.timer = time.AfterFunc(time.Until(time.Unix(0, aq.vq.Envelope.ExpiresUnixNanos)), func() { n.forget(input.QueryId) })
	n.mu.Unlock()
	for i, ct := range cts {
		if err := s.sendBlob(input.CiphertextBlobs[i], ct); err != nil {
			return
		}
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Input{Input: input}})
}

// prepare runs every check and the local computation of a query.
func (n *Node) prepare(ctx context.Context, task *pb.QueryTask, rk []byte, blobErr error) (*admittedQuery, *pb.QueryInput, [][]byte, *pb.Refusal) {
	fail := func(format string, args ...any) (*admittedQuery, *pb.QueryInput, [][]byte, *pb.Refusal) {
		return nil, nil, nil, &pb.Refusal{Error: fmt.Sprintf(format, args...)}
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
	case !slices.Equal(task.Members, epoch.Members):
		return fail("the task's member list differs from the epoch's")
	case !bytes.Equal(protocol.Digest(rk), env.ReceiverKeyDigest):
		return fail("the receiver key does not match the signed query")
	}
	params, err := crypto.NewParams(epoch.Params)
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

	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	var columns []string
	for _, c := range n.cfg.Data.Columns() {
		columns = append(columns, c.Name)
	}
	decision, err := n.cfg.Policy.Admit(ctx, policy.AdmissionInput{
		Query: policy.QueryInfo{
			ID: env.QueryId, Digest: hex.EncodeToString(vq.Digest), Purpose: spec.Purpose,
			Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners, Querier: vq.Querier.String(),
		},
		NodeName:    n.name,
		NodeColumns: columns,
		Time:        time.Now(),
	})
	if err != nil {
		return fail("policy evaluation failed: %v", err)
	}
	if !decision.Allow {
		r := &pb.Refusal{DecisionId: decision.ID, BundleRevision: decision.BundleRevision}
		for _, x := range decision.Reasons {
			r.Reasons = append(r.Reasons, &pb.Reason{Code: x.Code, Article: x.Article, Message: x.Message})
		}
		return nil, nil, nil, r
	}
	if err := spec.CheckColumns(n.cfg.Data); err != nil {
		return fail("%v", err)
	}
	cohort, err := Cohort(n.cfg.Data, decision.Cohort)
	if err != nil {
		return fail("cohort: %v", err)
	}
	vec, _, err := query.Aggregate(ctx, spec, n.cfg.Data, cohort)
	if err != nil {
		return fail("aggregate: %v", err)
	}
	// The sum over all members must not wrap around the plaintext modulus.
	bound := params.MaxAbsValue() / int64(len(epoch.Members))
	for i, v := range vec {
		if v > bound || v < -bound {
			return fail("local aggregate at slot %d (%d) exceeds %d, the most %d partners can sum exactly; narrow the clip bounds or lower decimals", i, v, bound, len(epoch.Members))
		}
	}
	pk, err := params.UnmarshalPublicKey(epoch.PublicKey)
	if err != nil {
		return fail("collective key: %v", err)
	}
	enc, err := params.NewEncryptor(pk)
	if err != nil {
		return fail("%v", err)
	}
	encrypted, err := enc.Encrypt(vec)
	if err != nil {
		return fail("encrypt: %v", err)
	}
	cts := make([][]byte, len(encrypted))
	receipt := &pb.Receipt{
		QueryId: env.QueryId, QueryDigest: vq.Digest, Node: n.name, Epoch: epoch.ID,
		DecisionId: decision.ID, BundleRevision: decision.BundleRevision, UnixNanos: time.Now().UnixNano(),
	}
	input := &pb.QueryInput{QueryId: env.QueryId}
	for i, ct := range encrypted {
		if cts[i], err = ct.MarshalBinary(); err != nil {
			return fail("%v", err)
		}
		receipt.CiphertextDigests = append(receipt.CiphertextDigests, protocol.Digest(cts[i]))
		input.CiphertextBlobs = append(input.CiphertextBlobs, fmt.Sprintf("ct/%s/%d", env.QueryId, i))
	}
	if input.Receipt, input.Signature, err = protocol.SignReceipt(n.cfg.Credential.Key, receipt); err != nil {
		return fail("%v", err)
	}
	aq := &admittedQuery{
		vq: vq, spec: spec, decision: decision, params: params, epoch: epoch.ID,
		receiverKey: receiverKey, members: epoch.Members, ownDigests: receipt.CiphertextDigests,
	}
	return aq, input, cts, nil
}

// handleKeySwitch answers a key-switch task with shares or a refusal.
func (n *Node) handleKeySwitch(ctx context.Context, s *session, task *pb.KeySwitchTask, blobs [][]byte, blobErr error) {
	shares, err := n.keySwitch(ctx, task, blobs, blobErr)
	n.forget(task.QueryId)
	if err != nil {
		n.log.Warn("key switch refused", "query", task.QueryId, "err", err)
		s.refuse(task.QueryId, err)
		return
	}
	msg := &pb.KeySwitchShare{QueryId: task.QueryId, AggregateDigests: task.AggregateDigests}
	for i, sh := range shares {
		id := fmt.Sprintf("ks/%s/%d", task.QueryId, i)
		if err := s.sendBlob(id, sh); err != nil {
			return
		}
		msg.ShareBlobs = append(msg.ShareBlobs, id)
	}
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_KeySwitchShare{KeySwitchShare: msg}})
}

// keySwitch verifies that the aggregate is the sum of signed inputs from
// enough distinct members, including this node's own, and returns this
// node's key-switch shares for it — at most once per aggregate.
func (n *Node) keySwitch(ctx context.Context, task *pb.KeySwitchTask, blobs [][]byte, blobErr error) ([][]byte, error) {
	n.mu.Lock()
	aq := n.queries[task.QueryId]
	n.mu.Unlock()
	if aq == nil {
		return nil, fmt.Errorf("this node has no open contribution to query %q", task.QueryId)
	}
	if blobErr != nil {
		return nil, fmt.Errorf("inputs: %w", blobErr)
	}
	nct := len(aq.ownDigests)
	sums := make([][]*crypto.Ciphertext, nct)
	seen := map[string]bool{}
	off := 0
	for _, in := range task.Inputs {
		r, id, err := protocol.VerifyReceipt(in, n.cfg.Roots, task.QueryId, aq.vq.Digest, time.Now())
		if err != nil {
			return nil, err
		}
		switch {
		case !slices.Contains(aq.members, id.Name):
			return nil, fmt.Errorf("input from %s, which is not a member of the epoch", id.Name)
		case seen[id.Name]:
			return nil, fmt.Errorf("two inputs from %s", id.Name)
		case r.Epoch != aq.epoch:
			return nil, fmt.Errorf("input from %s is for epoch %s", id.Name, r.Epoch)
		case len(in.CiphertextBlobs) != nct || off+nct > len(blobs):
			return nil, fmt.Errorf("input from %s has %d ciphertexts, expected %d", id.Name, len(in.CiphertextBlobs), nct)
		}
		seen[id.Name] = true
		if id.Name == n.name && !slices.EqualFunc(r.CiphertextDigests, aq.ownDigests, bytes.Equal) {
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
			sums[k] = append(sums[k], ct)
		}
		off += nct
	}
	need := max(2, aq.spec.MinPartners)
	switch {
	case !seen[n.name]:
		return nil, errors.New("the aggregate does not include this node's own input")
	case len(seen) < need:
		return nil, fmt.Errorf("the aggregate has inputs from %d partners; the query requires at least %d", len(seen), need)
	case len(task.AggregateDigests) != nct:
		return nil, fmt.Errorf("the task names %d aggregates, expected %d", len(task.AggregateDigests), nct)
	}
	eval := aq.params.NewEvaluator()
	aggregates := make([]*crypto.Ciphertext, nct)
	for k := range nct {
		sum, err := eval.Sum(sums[k])
		if err != nil {
			return nil, err
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(protocol.Digest(b), task.AggregateDigests[k]) {
			return nil, fmt.Errorf("aggregate %d is not the sum of the signed inputs", k)
		}
		aggregates[k] = sum
	}
	if err := n.ledger.Claim(task.AggregateDigests...); err != nil {
		return nil, err
	}
	skBytes, err := n.cfg.Keys.Get(ctx, secretName(aq.epoch))
	if err != nil {
		return nil, fmt.Errorf("secret-key share: %w", err)
	}
	sk, err := aq.params.UnmarshalSecretShare(skBytes)
	if err != nil {
		return nil, fmt.Errorf("secret-key share: %w", err)
	}
	ks, err := aq.params.NewKeySwitcher(sk)
	if err != nil {
		return nil, err
	}
	shares := make([][]byte, nct)
	for k, agg := range aggregates {
		if shares[k], err = ks.Share(aq.receiverKey, agg); err != nil {
			return nil, err
		}
	}
	return shares, nil
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

func (n *Node) forget(qid string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if aq := n.queries[qid]; aq != nil {
		aq.timer.Stop()
		delete(n.queries, qid)
	}
}

func (n *Node) cancelQuery(qid, reason string) {
	n.forget(qid)
	n.log.Info("query cancelled by the coordinator", "query", qid, "reason", reason)
}
