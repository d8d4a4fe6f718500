package querier

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query/overlap"
)

// OverlapAnswer is an opened overlap release.
type OverlapAnswer struct {
	QueryID string
	Spec    *overlap.Spec
	// Figures are the released numbers, withheld ones marked.
	Figures []overlap.Figure
	// Noisy says whether the figures carry DP noise: discrete Laplace of
	// scale NoiseScale per cell, CellVariance its variance per cell.
	Noisy                    bool
	Epsilon, Delta           float64
	NoiseScale, CellVariance float64
	MinCellSize              int64
	// Comparer is the partner that counted and sealed the release.
	Comparer string
	// Partners are the partners' decision ids and bundle revisions, from
	// their signed statements.
	Partners []*pb.PartnerReceipt
	// RelayBytes is what the coordinator relayed.
	RelayBytes int64
	TimingsMs  map[string]float64
}

// Overlap validates and signs spec, runs it and opens the release with a
// key made for this query: only this client can read it. Every partner's
// signed statement must name the release it opens.
func (c *Client) Overlap(ctx context.Context, spec *overlap.Spec) (*OverlapAnswer, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("coordinator status: %w", err)
	}
	if st.Epoch == "" {
		return nil, errors.New("the federation has no epoch yet")
	}
	specJSON, err := spec.Canonical()
	if err != nil {
		return nil, err
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pub := key.PublicKey().Bytes()
	now := time.Now()
	env := &pb.QueryEnvelope{
		QueryId: newQueryID(), Spec: specJSON, Params: st.Params, Epoch: st.Epoch, ReceiverKeyDigest: protocol.Digest(pub),
		CreatedUnixNanos: now.UnixNano(), ExpiresUnixNanos: now.Add(c.cfg.Timeout).UnixNano(),
	}
	signed, err := protocol.SignOverlapQuery(c.cfg.Credential, env)
	if err != nil {
		return nil, err
	}
	signMs := msSince(now)
	stream, err := c.api.Query(ctx)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	remaining := time.Until(deadline)
	coordTimeout := remaining - max(500*time.Millisecond, remaining/10)
	err = stream.Send(&pb.QueryClientMessage{Body: &pb.QueryClientMessage_Overlap{Overlap: &pb.OverlapRequest{
		Query: signed, ReceiverKey: pub, TimeoutMs: max(coordTimeout.Milliseconds(), 1)}}})
	if errors.Is(err, io.EOF) {
		_, err = stream.Recv()
	}
	if err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil, errors.New("the coordinator closed the stream without a result")
		}
		if err != nil {
			return nil, err
		}
		if res := m.GetOverlapResult(); res != nil {
			ans, err := c.openOverlap(spec, env.QueryId, protocol.Digest(signed.Envelope), key, res)
			if err != nil {
				return nil, err
			}
			ans.TimingsMs["sign"] = signMs
			ans.TimingsMs["end_to_end"] = msSince(start)
			return ans, nil
		}
	}
}

// openOverlap checks every partner's signed statement against its
// certificate and the release digest, and opens the release.
func (c *Client) openOverlap(spec *overlap.Spec, qid string, digest []byte, key *ecdh.PrivateKey, res *pb.OverlapResult) (*OverlapAnswer, error) {
	run := protocol.OverlapRun{QueryID: qid, QueryDigest: digest, Run: 1}
	sealedDigest := protocol.Digest(res.SealedRelease)
	ans := &OverlapAnswer{QueryID: qid, Spec: spec, RelayBytes: res.RelayBytes, TimingsMs: map[string]float64{}}
	for k, v := range res.TimingsMs {
		ans.TimingsMs[k] = v
	}
	for _, name := range spec.Names() {
		i := slices.IndexFunc(res.Statements, func(s *pb.SignedOverlapDone) bool { return s.Node == name })
		if i < 0 {
			return nil, fmt.Errorf("no signed statement of partner %s", name)
		}
		s := res.Statements[i]
		id, cert, err := pki.VerifyPeerCertificate(s.CertChain, c.cfg.Roots, pki.RoleNode, time.Now())
		if err != nil {
			return nil, fmt.Errorf("partner %s: %w", name, err)
		}
		if id.Name != name {
			return nil, fmt.Errorf("the statement of partner %s is signed by %s", name, id.Name)
		}
		st, err := protocol.VerifyOverlapDone(cert, run, name, s.Statement, s.Signature)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(st.ReleaseDigest, sealedDigest) {
			return nil, fmt.Errorf("partner %s signed another release than the one delivered", name)
		}
		ans.Partners = append(ans.Partners, &pb.PartnerReceipt{Node: name, DecisionId: st.DecisionId, BundleRevision: st.BundleRevision})
	}
	rel, err := protocol.OpenRelease(key, digest, res.SealedRelease)
	if err != nil {
		return nil, err
	}
	if rel.QueryId != qid || rel.Comparer != spec.Partners[len(spec.Partners)-1].Name {
		return nil, errors.New("the release is not the comparer's release of this query")
	}
	ans.Comparer, ans.MinCellSize = rel.Comparer, rel.MinCellSize
	ans.Noisy, ans.Epsilon, ans.Delta, ans.NoiseScale, ans.CellVariance = rel.Noisy, rel.Epsilon, rel.Delta, rel.NoiseScale, rel.CellVariance
	for _, f := range rel.Figures {
		ans.Figures = append(ans.Figures, overlap.Figure{Kind: f.Kind, Partners: f.Partners, Segment: int(f.Segment), Value: f.Value, Withheld: f.Withheld, Cells: int(f.Cells)})
	}
	return ans, nil
}

// Figure returns the figure of kind about exactly partners in segment, or
// false.
func (a *OverlapAnswer) Figure(kind string, segment int, partners ...string) (overlap.Figure, bool) {
	for _, f := range a.Figures {
		if f.Kind == kind && f.Segment == segment && slices.Equal(f.Partners, partners) {
			return f, true
		}
	}
	return overlap.Figure{}, false
}

// SegmentLabel names a segment of the grouping partner by its group-by
// values, such as "city_tier=1".
func (a *OverlapAnswer) SegmentLabel(segment int) string {
	g := a.Spec.GroupByParty()
	if g < 0 {
		return fmt.Sprint(segment)
	}
	seg := a.Spec.Segment(g)
	labels, err := seg.CellLabels(segment)
	if err != nil {
		return fmt.Sprint(segment)
	}
	return strings.Join(labels, ", ")
}
