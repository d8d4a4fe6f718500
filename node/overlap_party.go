package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
	"github.com/fedscore/fedscore/query/overlap"
)

// overlapPart is what a run of an overlap query leaves at this node.
type overlapPart struct {
	decision policy.Decision
	result   *psi.Result
	sealed   []byte // the comparer's release, sealed to the querier
}

// runOverlap takes part in a run and answers the coordinator: a signed
// statement of the release digest, or a refusal.
func (n *Node) runOverlap(s *session, r *overlapRun) {
	part, err := n.overlapParty(r, s)
	if err == nil {
		err = n.overlapDone(s, r, part)
	}
	if err == nil {
		return
	}
	rf := &pb.Refusal{Error: err.Error()}
	var pr *refusal
	if errors.As(err, &pr) {
		rf = pr.r
	}
	rf.TaskId, rf.Run = r.queryID(), r.run
	n.log.Warn("overlap query refused", "query", r.queryID(), "run", r.run, "reason", refusalText(rf))
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: rf}})
}

// overlapParty admits the run, builds the node's set from its consented
// records and runs the protocol.
func (n *Node) overlapParty(r *overlapRun, s *session) (*overlapPart, error) {
	ctx := r.ctx
	table, err := n.overlapTable()
	if err != nil {
		return nil, err
	}
	decision, err := n.admitOverlap(ctx, r, table)
	if err != nil {
		return nil, err
	}
	part := &overlapPart{decision: decision}
	src, stats, err := n.overlapSource(ctx, r, table, decision.Cohort)
	if err != nil {
		return nil, err
	}
	if err := n.spendOverlap(r, decision); err != nil {
		return nil, err
	}
	opts := psi.Options{
		TempDir: filepath.Join(n.cfg.StateDir, "overlap"),
		Admit:   func(rep psi.Report) error { return n.overlapSetGate(ctx, r, decision, stats, rep) },
	}
	if r.self == r.cfg.Parties-1 {
		opts.Release = func(res *psi.Result) ([]byte, error) {
			sealed, err := n.overlapRelease(ctx, r, decision, res)
			part.sealed = sealed
			return protocol.Digest(sealed), err
		}
	}
	if err := os.MkdirAll(opts.TempDir, 0o700); err != nil {
		return nil, err
	}
	party, err := psi.NewParty(r.cfg, r.self, opts)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.hellos[n.name] = protocol.Digest(party.Hello())
	r.mu.Unlock()
	res, err := party.Run(ctx, src, r.in, n.overlapEmit(s, r))
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindOverlap, DecisionID: decision.ID, Result: audit.ResultError,
			Detail: map[string]string{"error": err.Error()}})
		return nil, err
	}
	part.result = res
	n.auditOverlapRun(ctx, r, part)
	return part, nil
}

// overlapTable returns the records overlap queries read: identifiers are
// matched in memory, never pushed down to a database.
func (n *Node) overlapTable() (*dataset.Table, error) {
	if n.cfg.Data != nil {
		return n.cfg.Data, nil
	}
	if m, ok := n.cfg.Source.(*source.Memory); ok && m.Table != nil {
		return m.Table, nil
	}
	return nil, fmt.Errorf("overlap queries read the identifiers from in-memory records; this node's source %s is not (run it with --data or --in-memory)", n.cfg.Source.Name())
}

// admitOverlap checks the node's segment against its columns and asks
// the policy; an allowed run is recorded durably, so that a replay is
// refused.
func (n *Node) admitOverlap(ctx context.Context, r *overlapRun, table *dataset.Table) (policy.Decision, error) {
	spec, env := r.spec, r.vq.Envelope
	segSpec := spec.Segment(r.self)
	fields, err := (&source.Memory{Table: table}).Schema(ctx)
	if err != nil {
		return policy.Decision{}, err
	}
	schema, err := schemaTable(fields)
	if err != nil {
		return policy.Decision{}, err
	}
	if err := aggregate.CheckColumns(segSpec, n.name, schema); err != nil {
		rf, codes := schemaRefusal(err)
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: codes})
		return policy.Decision{}, rf
	}
	if err := identifierColumn(table, spec.Identifier.Column); err != nil {
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, Result: audit.ResultDeny, Reasons: []string{"IDENTIFIER_COLUMN_MISSING"}})
		return policy.Decision{}, err
	}
	var columns []string
	for _, f := range fields {
		columns = append(columns, f.Name)
	}
	now := time.Now()
	d, err := n.cfg.Policy.AdmitOverlap(ctx, policy.AdmissionInput{
		Query:        n.overlapQueryInfo(r),
		EpsilonSpent: n.privacy.Spent(spec.Purpose, spec.Family(), now),
		NodeName:     n.name, NodeColumns: columns, NodeRoles: n.cfg.Roles, Time: now,
	}, policy.OverlapInfo{
		IdentifierKind: spec.Identifier.Kind, IdentifierColumn: spec.Identifier.Column,
		Parties: len(spec.Partners), Delta: spec.Delta, MinSetSize: spec.MinSetSize, GroupBy: r.self == spec.GroupByParty(),
	})
	detail := map[string]string{"overlap": "true", "party": strconv.Itoa(r.self), "parties": strconv.Itoa(len(spec.Partners)),
		"identifier_kind": spec.Identifier.Kind, "run": strconv.Itoa(int(r.run))}
	if err != nil {
		detail["error"] = err.Error()
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, DecisionID: d.ID, Result: audit.ResultError, Detail: detail})
		return d, fmt.Errorf("policy evaluation failed: %w", err)
	}
	if !d.Allow {
		rf, codes := policyRefusal(d.ID, d.BundleRevision, d.Reasons)
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, DecisionID: d.ID, Result: audit.ResultDeny, Reasons: codes, Detail: detail})
		return d, rf
	}
	if err := n.admissions.admit("overlap/"+env.QueryId, r.run, time.Unix(0, env.ExpiresUnixNanos), now); err != nil {
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, DecisionID: d.ID, Result: audit.ResultDeny, Reasons: []string{"ALREADY_ADMITTED"}, Detail: detail})
		return d, err
	}
	n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindAdmission, DecisionID: d.ID, Result: audit.ResultAllow, Detail: detail})
	archived, err := segSpec.Canonical()
	if err == nil {
		// The node's segment, archived like a joint query's spec, answers a
		// data subject's question whether the record was in the set.
		err = n.archive.append(QueryRecord{
			QueryID: env.QueryId, QueryDigest: hex.EncodeToString(r.queryDigest()), Time: d.Time, Querier: r.vq.Querier.String(),
			DecisionID: d.ID, BundleRevision: d.BundleRevision, Spec: archived, Cohort: d.Cohort,
		})
	}
	if err != nil {
		return d, fmt.Errorf("archive query: %w", err)
	}
	return d, nil
}

// overlapQueryInfo describes the node's part of the query to the policy:
// the columns of its own segment.
func (n *Node) overlapQueryInfo(r *overlapRun) policy.QueryInfo {
	spec := r.spec
	return policy.QueryInfo{
		ID: r.queryID(), Digest: hex.EncodeToString(r.queryDigest()), Purpose: spec.Purpose,
		Columns: spec.Segment(r.self).Columns(), Metrics: []string{"count"}, MinPartners: len(spec.Partners),
		Querier: r.vq.Querier.String(), PipiaID: spec.PipiaID, Destination: spec.Destination, Recipient: spec.Recipient,
		Epsilon: spec.Epsilon,
	}
}

// identifierColumn checks that the identifier column exists and holds
// text or whole numbers.
func identifierColumn(t *dataset.Table, name string) error {
	c, ok := t.Column(name)
	switch {
	case !ok:
		return fmt.Errorf("this node has no identifier column %q", name)
	case c.Kind != dataset.KindCategory && c.Kind != dataset.KindNumber:
		return fmt.Errorf("identifier column %q is %s; map it as a category (text) column", name, c.Kind)
	}
	return nil
}

// setStats counts the records of the node's set as its source reads them.
type setStats struct {
	segmentation aggregate.Stats
	records      int // in the consented segment
	missing      int // without an identifier
	malformed    int
}

// overlapSource returns the node's set: the records the policy's cohort
// rule admits (consent for the purpose, no withdrawal, no minors, ...)
// and the segment's filter selects, their identifiers normalised, in the
// group-by's segments. Records outside never enter it; malformed and
// missing identifiers are counted and left out.
func (n *Node) overlapSource(ctx context.Context, r *overlapRun, t *dataset.Table, rule policy.CohortRule) (ident.Source, *setStats, error) {
	cohort, err := source.Cohort(t, rule)
	if err != nil {
		return nil, nil, fmt.Errorf("cohort: %w", err)
	}
	cells, st, err := aggregate.Segments(ctx, r.spec.Segment(r.self), t, cohort)
	if err != nil {
		return nil, nil, err
	}
	kind, _ := ident.ParseKind(r.spec.Identifier.Kind) // validated
	col, _ := t.Column(r.spec.Identifier.Column)
	stats := &setStats{segmentation: st}
	return &tableSource{col: col, cells: cells, kind: kind, stats: stats}, stats, nil
}

// tableSource yields the identifiers of a table's selected rows.
type tableSource struct {
	col   *dataset.Column
	cells []int32
	kind  ident.Kind
	row   int
	stats *setStats
}

func (s *tableSource) Next() (ident.Record, error) {
	for ; s.row < len(s.cells); s.row++ {
		cell := s.cells[s.row]
		if cell < 0 {
			continue
		}
		s.stats.records++
		raw, ok := rawIdentifier(s.col, s.row)
		if !ok {
			s.stats.missing++
			continue
		}
		id, err := ident.Normalize(s.kind, raw)
		if err != nil {
			s.stats.malformed++
			continue
		}
		s.row++
		return ident.Record{ID: id, Segment: uint32(cell)}, nil
	}
	return ident.Record{}, io.EOF
}

// rawIdentifier returns a row's identifier as text.
func rawIdentifier(c *dataset.Column, row int) (string, bool) {
	if c.Kind == dataset.KindNumber {
		v := c.Numbers[row]
		if math.IsNaN(v) || v != math.Trunc(v) || v < 0 || v > 1<<53 {
			return "", !math.IsNaN(v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	code := c.Codes[row]
	if code < 0 {
		return "", false
	}
	return c.Dict[code], true
}

// spendOverlap spends the query's ε on its purpose and identifier family
// in the ledger joint queries spend on, before any noisy value leaves.
func (n *Node) spendOverlap(r *overlapRun, d policy.Decision) error {
	if r.spec.Epsilon <= 0 {
		return nil
	}
	if err := n.privacy.Spend(r.spec.Purpose, r.spec.Family(), r.spec.Epsilon, d.Privacy.DailyEpsilon, time.Now()); err != nil {
		return fmt.Errorf("privacy budget: %w", err)
	}
	return nil
}

// overlapSetGate runs the policy's set gate on the node's blinded,
// deduplicated set before any of it leaves the node.
func (n *Node) overlapSetGate(ctx context.Context, r *overlapRun, d policy.Decision, st *setStats, rep psi.Report) error {
	size := 0
	for _, e := range rep.Elements {
		size += int(e)
	}
	gd, err := n.cfg.Policy.OverlapSet(ctx, policy.OverlapSetInput{
		Query: n.overlapQueryInfo(r), NodeName: n.name, MinSetSize: r.spec.MinSetSize,
		Size: size, Records: st.records, Malformed: st.malformed, Duplicates: rep.Duplicates, Time: time.Now(),
	})
	detail := map[string]string{
		"records": strconv.Itoa(st.segmentation.Rows), "selected": strconv.Itoa(st.records), "set_size": strconv.Itoa(size),
		"malformed": strconv.Itoa(st.malformed), "missing": strconv.Itoa(st.missing), "duplicates": strconv.Itoa(rep.Duplicates),
		"segment_conflicts": strconv.Itoa(rep.Conflicts), "min_set_size": strconv.Itoa(gd.MinSetSize),
		"epsilon": strconv.FormatFloat(r.spec.Epsilon, 'g', -1, 64), "delta": strconv.FormatFloat(r.spec.Delta, 'g', -1, 64),
	}
	switch {
	case err != nil:
		detail["error"] = err.Error()
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindCohort, DecisionID: gd.ID, Result: audit.ResultError, Detail: detail})
		return fmt.Errorf("policy evaluation failed: %w", err)
	case !gd.Allow:
		rf, codes := policyRefusal(gd.ID, gd.BundleRevision, gd.Reasons)
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindCohort, DecisionID: gd.ID, Result: audit.ResultDeny, Reasons: codes, Detail: detail})
		return rf
	}
	n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindCohort, DecisionID: gd.ID, Result: audit.ResultAllow, Detail: detail})
	return nil
}

// overlapRelease is the comparer's release gate: the policy's minimum
// cell size on every figure, suppression of the figures that would reveal
// a withheld one, and the figures sealed to the querier's key, so that
// neither the coordinator nor the other partners can read them.
func (n *Node) overlapRelease(ctx context.Context, r *overlapRun, d policy.Decision, res *psi.Result) ([]byte, error) {
	now := time.Now()
	info := n.overlapQueryInfo(r)
	figures := overlap.Figures(r.spec, res, policy.MinCellSizeFloor)
	rd, err := n.cfg.Policy.Release(ctx, policy.ReleaseInput{
		Query: info, NodeName: n.name, Cells: len(figures), ReleasesToday: n.budget.used(r.spec.Purpose, now), Time: now,
	})
	if err != nil {
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindRelease, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return nil, fmt.Errorf("release policy: %w", err)
	}
	if !rd.Allow {
		rf, codes := policyRefusal(rd.ID, rd.BundleRevision, rd.Reasons)
		n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindRelease, DecisionID: rd.ID, Result: audit.ResultDeny, Reasons: codes})
		return nil, rf
	}
	figures = overlap.Figures(r.spec, res, rd.MinCellSize)
	rel := &pb.OverlapRelease{
		QueryId: r.queryID(), QueryDigest: r.queryDigest(), Run: r.run, Comparer: n.name,
		DecisionId: d.ID, BundleRevision: rd.BundleRevision, MinCellSize: rd.MinCellSize, Noisy: res.Noisy,
	}
	if res.Noisy {
		rel.Epsilon, rel.Delta, rel.NoiseScale, rel.CellVariance = res.Noise.Epsilon, res.Noise.Delta, res.Noise.Scale, res.Noise.Variance()
	}
	withheld := 0
	for _, f := range figures {
		rel.Figures = append(rel.Figures, &pb.OverlapFigure{Kind: f.Kind, Partners: f.Partners, Segment: int32(f.Segment), Value: f.Value, Withheld: f.Withheld, Cells: int32(f.Cells)})
		if f.Withheld {
			withheld++
		}
	}
	sealed, err := protocol.SealRelease(r.receiverKey, r.queryDigest(), rel)
	if err != nil {
		return nil, err
	}
	if err := n.budget.spend(r.spec.Purpose, now); err != nil {
		return nil, err
	}
	n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindRelease, DecisionID: rd.ID, Result: audit.ResultAllow,
		CiphertextDigests: []string{hex.EncodeToString(protocol.Digest(sealed))},
		Detail: map[string]string{"min_cell_size": strconv.FormatInt(rd.MinCellSize, 10), "figures": strconv.Itoa(len(figures)),
			"withheld": strconv.Itoa(withheld), "noisy": strconv.FormatBool(res.Noisy)}})
	return sealed, nil
}

// overlapEmit sends the party's frames: its hello signed, so that every
// peer can check it against this node's certificate, the others as they
// are.
func (n *Node) overlapEmit(s *session, r *overlapRun) func([]byte) error {
	return func(frame []byte) error {
		f, err := wire.Decode(frame)
		if err != nil {
			return err
		}
		if f.Type == wire.Hello {
			sig, err := protocol.SignOverlapHello(n.cfg.Credential.Key, r.stmt(), n.name, r.self, frame)
			if err != nil {
				return err
			}
			return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_OverlapHello{OverlapHello: &pb.OverlapHello{
				QueryId: r.queryID(), Run: r.run, Frame: frame, Signature: sig}}})
		}
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_OverlapFrame{OverlapFrame: &pb.OverlapFrame{QueryId: r.queryID(), Run: r.run, Frame: frame}}})
	}
}

// overlapDone sends the node's signed statement of the release digest and,
// from the comparer, the sealed release.
func (n *Node) overlapDone(s *session, r *overlapRun, part *overlapPart) error {
	st := &pb.OverlapDoneStatement{
		QueryId: r.queryID(), QueryDigest: r.queryDigest(), Run: r.run, Node: n.name,
		DecisionId: part.decision.ID, BundleRevision: part.decision.BundleRevision, ReleaseDigest: part.result.ReleaseDigest,
	}
	b, sig, err := protocol.SignOverlapDone(n.cfg.Credential.Key, st)
	if err != nil {
		return err
	}
	return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_OverlapDone{OverlapDone: &pb.OverlapDone{
		QueryId: r.queryID(), Run: r.run, Statement: b, Signature: sig, SealedRelease: part.sealed}}})
}

// auditOverlapRun records the run: the hellos (own and verified), every
// list transfer with its digest, the release digest and the ε spent.
func (n *Node) auditOverlapRun(ctx context.Context, r *overlapRun, part *overlapPart) {
	res := part.result
	detail := map[string]string{
		"release_digest": hex.EncodeToString(res.ReleaseDigest),
		"epsilon":        strconv.FormatFloat(r.spec.Epsilon, 'g', -1, 64),
		"delta":          strconv.FormatFloat(r.spec.Delta, 'g', -1, 64),
		"party":          strconv.Itoa(r.self),
	}
	var hellos, hops []string
	r.mu.Lock()
	for _, p := range r.spec.Partners {
		if d := r.hellos[p.Name]; d != nil {
			hellos = append(hellos, hex.EncodeToString(d))
			detail["hello_"+p.Name] = hex.EncodeToString(d)
		}
	}
	r.mu.Unlock()
	for _, h := range res.Hops {
		hops = append(hops, hex.EncodeToString(h.Digest))
		detail[fmt.Sprintf("list_%d_hop_%d", h.List, h.Hop)] = fmt.Sprintf("%s>%s %d", r.spec.Partners[h.From].Name, r.spec.Partners[h.To].Name, h.Elements)
	}
	n.overlapAudit(ctx, r, audit.Entry{Kind: audit.KindOverlap, DecisionID: part.decision.ID, Result: audit.ResultAllow,
		InputDigests: hellos, CiphertextDigests: hops, Detail: detail})
}

// overlapAudit appends a decision about an overlap run to the audit log.
func (n *Node) overlapAudit(ctx context.Context, r *overlapRun, e audit.Entry) {
	e.Node, e.QueryID, e.QueryDigest = n.name, r.queryID(), hex.EncodeToString(r.queryDigest())
	if e.BundleRevision == "" {
		e.BundleRevision = n.cfg.Policy.Revision()
	}
	// A run that ended is still recorded.
	if _, err := n.auditLog.Append(context.WithoutCancel(ctx), e); err != nil {
		n.log.Error("audit log append failed", "query", e.QueryID, "kind", e.Kind, "err", err)
	}
}
