package node

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// stage is how far a run of a query has come at this node within its
// current phase. Each task is accepted only at the stage before it, so no
// step runs twice and none is skipped.
type stage int

const (
	stageUnchanged           stage = iota // for take: a step that changes nothing
	stageCommitted                        // the phase's signed receipt is sent
	stageRevealed                         // its ciphertexts are uploaded
	stageSumKept                          // the inputs' sum is kept and the seed revealed (verifiers)
	stageFingerprinted                    // the fingerprints of its input are signed
	stageSpotChecking                     // members are sampled for the spot check (verifiers)
	stageShared                           // the share of the verified sum is given (phase 1: or, outside the active set, the check passed)
	stageSharesSumKept                    // phase 1: the summed decryption shares are kept, the seed revealed
	stageSharesFingerprinted              // phase 1: the seeds are in and the shares' fingerprints sent
)

// admittedQuery is one run of a query this node takes part in.
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
	// run numbers the coordinator's runs of one query; the node keeps only
	// the latest.
	run uint32

	phase int32
	stage stage
	// vec is this node's plaintext vector; it never leaves the node.
	vec  []int64
	mask *release.Mask
	// inputs are this node's view of each phase's inputs (index 1 and 2).
	inputs [3]*phaseInputs
	// aggregate is the verified phase 1 aggregate, whole, from which this
	// node opens the counts; ownShares are its decryption shares of it.
	aggregate [][]byte
	ownShares [][]byte
	shares    verifyRound
}

// phaseInputs is what this node knows of one phase's inputs.
type phaseInputs struct {
	// own are this node's ciphertexts, kept for re-sends until the run
	// ends, and receipt its signed receipt of them.
	own     [][]byte
	receipt []byte
	// members is the receipt set, by participant.
	members map[string]*memberInput
	round   verifyRound
}

// memberInput is one participant's signed receipt of a phase.
type memberInput struct {
	receipt   *pb.Receipt
	signed    []byte // the receipt bytes as signed
	signature []byte
	cert      *x509.Certificate
}

// verifyRound is this node's view of one verified sum.
type verifyRound struct {
	// Verifiers only: the secret seed, the verifiers' commitments as shown
	// with the sum, and the sum, kept before the seed was revealed.
	seed        []byte
	commitments map[string][]byte
	sum         [][]byte
	// joint is the seed every contributor's fingerprints are taken at.
	joint []byte
	// fingerprints are the contributors' signed fingerprints, and
	// statements what they signed (verifiers, for evidence).
	fingerprints map[string][]crypto.Fingerprint
	statements   map[string]*pb.SignedFingerprints
	// spot are the members this node spot-checks.
	spot []string
}

func (aq *admittedQuery) queryID() string     { return aq.vq.Envelope.QueryId }
func (aq *admittedQuery) queryDigest() string { return hex.EncodeToString(aq.vq.Digest) }

// step names a phase of aq's run in signed statements.
func (aq *admittedQuery) step(phase int32) protocol.Step {
	return protocol.Step{QueryID: aq.queryID(), QueryDigest: aq.vq.Digest, Epoch: aq.epoch.ID, Run: aq.run, Phase: phase}
}

// isActive reports whether node is in the query's active set.
func (aq *admittedQuery) isActive(node string) bool { return slices.Contains(aq.active, node) }

// verifies reports whether node checks the sums of a phase.
func (aq *admittedQuery) verifies(phase int32, node string) bool {
	return slices.Contains(protocol.Verifiers(phase, aq.participants, aq.active), node)
}

// errWrongStep reports a task for a query that is not at the step the task
// needs — a replay, or a task out of order. The query itself is left alone.
var errWrongStep = errors.New("not at the step this task needs")

// take returns run of a query if it is in phase at one of the stages
// from, and moves it to stage to (unless stageUnchanged); otherwise it
// explains why not.
func (n *Node) take(qid string, run uint32, phase int32, to stage, from ...stage) (*admittedQuery, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	aq := n.queries[qid]
	switch {
	case aq == nil:
		return nil, fmt.Errorf("this node has no open contribution to query %q", qid)
	case aq.run != run || aq.phase != phase || !slices.Contains(from, aq.stage):
		return nil, fmt.Errorf("query %q is %w", qid, errWrongStep)
	}
	if to != stageUnchanged {
		aq.stage = to
	}
	return aq, nil
}

// advance moves aq to a stage of another phase.
func (n *Node) advance(aq *admittedQuery, phase int32, s stage) {
	n.mu.Lock()
	defer n.mu.Unlock()
	aq.phase, aq.stage = phase, s
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
	e.QueryID = aq.queryID()
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
	n.decided(e)
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

func digestAll(bs [][]byte) [][]byte {
	out := make([][]byte, len(bs))
	for i, b := range bs {
		out[i] = protocol.Digest(b)
	}
	return out
}

// forget drops run of a query, and any earlier run; it reports whether
// there was one.
func (n *Node) forget(qid string, run uint32) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if aq := n.queries[qid]; aq != nil && aq.run <= run {
		aq.timer.Stop()
		delete(n.queries, qid)
		return true
	}
	return false
}

func (n *Node) handleCancel(c *pb.Cancel) {
	open := n.forget(c.QueryId, c.Run)
	n.cancelOverlap(c)
	if c.Complete {
		n.metrics.ended.WithLabelValues(endComplete).Inc()
		n.log.Debug("query run complete", "query", c.QueryId, "run", c.Run)
		return
	}
	if open {
		n.metrics.ended.WithLabelValues(endCancelled).Inc()
	}
	n.log.Info("query cancelled by the coordinator", "query", c.QueryId, "run", c.Run, "reason", c.Reason)
}
