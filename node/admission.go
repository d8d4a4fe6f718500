package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// handleQuery admits a run of a query and commits to its phase 1 input —
// the encrypted record counts — by their signed receipt alone.
func (n *Node) handleQuery(ctx context.Context, task *pb.QueryTask, rk []byte) (*reply, error) {
	aq, err := n.checkTask(task, rk)
	if err != nil {
		return nil, err
	}
	src, err := n.decideAdmission(ctx, aq)
	if err != nil {
		return nil, err
	}
	if err := n.computeInput(ctx, aq, src); err != nil {
		return nil, err
	}
	var counts []int64
	for _, i := range release.CountSlots(aq.layout) {
		counts = append(counts, aq.vec[i])
	}
	r, err := n.commit(aq, 1, counts, nil)
	if err != nil {
		return nil, err
	}
	qid, run := aq.queryID(), aq.run
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.queries[qid]; old != nil {
		// A later run supersedes an earlier one, which never resumes.
		old.timer.Stop()
	}
	aq.phase, aq.stage = 1, stageCommitted
	n.queries[qid] = aq
	// A query that never completes is forgotten at its expiry.
	aq.timer = time.AfterFunc(time.Until(time.Unix(0, aq.vq.Envelope.ExpiresUnixNanos)), func() {
		if n.forget(qid, run) {
			n.metrics.ended.WithLabelValues(endExpired).Inc()
		}
	})
	return r, nil
}

// checkTask verifies a query task: the querier's signature, the epoch, the
// receiver key, the spec and the run's participants.
func (n *Node) checkTask(task *pb.QueryTask, rk []byte) (*admittedQuery, error) {
	vq, err := protocol.VerifyQuery(task.Query, n.cfg.Roots, time.Now())
	if err != nil {
		return nil, err
	}
	env := vq.Envelope
	n.mu.Lock()
	epoch := n.epoch
	n.mu.Unlock()
	switch {
	case epoch == nil:
		return nil, errors.New("this node holds no collective key yet")
	case env.Epoch != epoch.ID || env.Params != epoch.Params:
		return nil, fmt.Errorf("query is for epoch %s (%s); this node holds %s (%s)", env.Epoch, env.Params, epoch.ID, epoch.Params)
	case !bytes.Equal(protocol.Digest(rk), env.ReceiverKeyDigest):
		return nil, errors.New("the receiver key does not match the signed query")
	case task.Run == 0 || task.Run > protocol.MaxRuns:
		return nil, fmt.Errorf("run %d of a query; runs are numbered 1 to %d", task.Run, protocol.MaxRuns)
	}
	params, err := n.paramsFor(epoch.Params)
	if err != nil {
		return nil, err
	}
	receiverKey, err := params.UnmarshalPublicKey(rk)
	if err != nil {
		return nil, fmt.Errorf("receiver key: %w", err)
	}
	spec, err := query.Parse(env.Spec)
	if err == nil {
		err = spec.Validate(query.Limits{MaxCells: params.Slots(), MaxVectorLen: 8 * params.Slots()})
	}
	if err != nil {
		return nil, fmt.Errorf("query spec: %w", err)
	}
	if err := checkRun(epoch, n.name, task.Participants, task.Active, spec.MinPartners); err != nil {
		return nil, err
	}
	return &admittedQuery{
		vq: vq, spec: spec, layout: spec.Layout(), params: params, epoch: epoch, receiverKey: receiverKey,
		participants: task.Participants, active: task.Active, run: task.Run,
	}, nil
}

// checkRun checks the participants and active set a coordinator assigned
// to a run of a query against the epoch: the active set is exactly the
// quorum, drawn from the participants, who are distinct members including
// this node and enough for the query.
func checkRun(epoch *protocol.Epoch, self string, participants, active []string, minPartners int) error {
	if err := protocol.DistinctMembers(epoch, participants); err != nil {
		return fmt.Errorf("participant %w", err)
	}
	need := max(epoch.Quorum(), minPartners, 2)
	switch {
	case !slices.Contains(participants, self):
		return errors.New("this node is not a participant of the run")
	case len(participants) < need:
		return fmt.Errorf("%d participants; the epoch and query need at least %d", len(participants), need)
	case len(active) != epoch.Quorum():
		return fmt.Errorf("active set of %d members, the epoch needs exactly %d", len(active), epoch.Quorum())
	}
	if err := protocol.DistinctMembers(epoch, active); err != nil {
		return fmt.Errorf("active member %w", err)
	}
	for _, a := range active {
		if !slices.Contains(participants, a) {
			return fmt.Errorf("active member %q is not a participant", a)
		}
	}
	return nil
}

// inputSource is where an admitted query's records come from.
type inputSource struct {
	data   source.Source
	scored *ScoredData
	fields []source.Field
}

// decideAdmission asks the policy whether the query may run here and, if
// it may, records the admission durably: a replay of the run — after the
// query completed, or after a restart — is refused.
func (n *Node) decideAdmission(ctx context.Context, aq *admittedQuery) (*inputSource, error) {
	spec, env := aq.spec, aq.vq.Envelope
	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	data, scored, err := n.dataFor(spec)
	if err != nil {
		return nil, err
	}
	var model *policy.ModelInfo
	if scored != nil {
		model = scored.Info
	}
	if spec.Train != nil {
		// A model in training is an automated-decision model too.
		m, err := aggregate.TrainModel(spec)
		if err != nil {
			return nil, fmt.Errorf("training round: %w", err)
		}
		digest, err := m.Digest()
		if err != nil {
			return nil, fmt.Errorf("training round: %w", err)
		}
		model = &policy.ModelInfo{Name: m.Name, Version: m.Version, Digest: digest, ProtectedInputs: m.ProtectedInputs}
	}
	fields, err := data.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", data.Name(), err)
	}
	// A column the data lacks is a schema error, reported before the
	// policy judges columns it could not read anyway.
	schema, err := schemaTable(fields)
	if err != nil {
		return nil, fmt.Errorf("data source %s: %w", data.Name(), err)
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
			Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners, Querier: aq.vq.Querier.String(),
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
		return nil, fmt.Errorf("policy evaluation failed: %w", err)
	}
	aq.decision = decision
	if !decision.Allow {
		r, codes := policyRefusal(decision.ID, decision.BundleRevision, decision.Reasons)
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: codes})
		return nil, r
	}
	if err := n.admissions.admit(env.QueryId, aq.run, time.Unix(0, env.ExpiresUnixNanos), time.Now()); err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: []string{"ALREADY_ADMITTED"},
			Detail: map[string]string{"run": fmt.Sprint(aq.run)}})
		return nil, err
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultAllow, Detail: map[string]string{"run": fmt.Sprint(aq.run)}})
	if err := n.archive.append(QueryRecord{
		QueryID: env.QueryId, QueryDigest: aq.queryDigest(), Time: decision.Time, Querier: aq.vq.Querier.String(),
		DecisionID: decision.ID, BundleRevision: decision.BundleRevision, Spec: env.Spec, Cohort: decision.Cohort,
	}); err != nil {
		// A query the node could not archive could not be explained to a
		// data subject later: refuse it.
		return nil, fmt.Errorf("archive query: %w", err)
	}
	return &inputSource{data: data, scored: scored, fields: fields}, nil
}

// computeInput computes the node's plaintext vector for an admitted query:
// the cohort and aggregation, a training round's sums, and the node's
// share of the differential-privacy noise.
func (n *Node) computeInput(ctx context.Context, aq *admittedQuery, src *inputSource) error {
	spec, decision, data, scored := aq.spec, aq.decision, src.data, src.scored
	// The source applies the policy's record-level conditions itself: in
	// memory, or compiled into the database's query.
	vec, stats, err := data.Aggregate(ctx, spec, decision.Cohort)
	if err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindCohort, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return fmt.Errorf("data source %s: %w", data.Name(), err)
	}
	detail := map[string]string{"records": fmt.Sprint(stats.Rows), "selected": fmt.Sprint(stats.Selected), "epsilon": fmt.Sprint(spec.Epsilon)}
	if spec.Train != nil {
		gs, err := n.trainRound(spec, decision.Cohort, vec)
		if err != nil {
			return fmt.Errorf("training round: %w", err)
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
		// crash cannot release a query the ledger does not count. The
		// ledger enforces the policy's daily ceiling too: queries admitted
		// at the same time cannot spend it twice.
		if err := n.privacy.Spend(spec.Purpose, spec.SegmentFamily(), spec.Epsilon, decision.Privacy.DailyEpsilon, time.Now()); err != nil {
			return fmt.Errorf("privacy budget: %w", err)
		}
		if err := addNoise(vec, spec, len(aq.participants), n.cfg.NoiseSource); err != nil {
			return fmt.Errorf("noise: %w", err)
		}
	}
	// The sum over all members must not wrap around the plaintext modulus.
	if err := spec.CheckExact(vec, query.Capacity{ExactLimit: aq.params.MaxAbsValue(), Partners: len(aq.participants)}); err != nil {
		return err
	}
	aq.vec = vec
	return nil
}
