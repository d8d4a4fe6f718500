package coordinator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"

	"github.com/fedscore/fedscore/pki"
)

// Status reports the federation: the epoch, every member's state and the
// recent queries. Operators and regulators see every query, a querier its
// own, a node none.
func (s *Server) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	id, err := requireRole(ctx, pki.RoleQuerier, pki.RoleNode, pki.RoleOperator, pki.RoleRegulator)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	resp := &pb.StatusResponse{
		Params: s.cfg.Params, Members: slices.Clone(s.cfg.Members), Ready: s.readyLocked(),
		Serving: s.servingLocked() == nil, KeyGenerationRunning: s.setup,
	}
	if s.setupErr != nil {
		resp.LastKeyGenerationError = s.setupErr.Error()
	}
	if e := s.epoch; e != nil {
		resp.Epoch, resp.PublicKeyDigest = e.ID, e.PublicKeyDigest
		resp.EpochStatus = &pb.EpochStatus{
			Id: e.ID, Params: e.Params, Members: slices.Clone(e.Members), Threshold: int32(e.Threshold),
			Quorum: int32(e.Quorum()), CreatedUnixNanos: unixNanos(e.Created), PublicKeyDigest: e.PublicKeyDigest,
		}
	}
	for _, m := range s.cfg.Members {
		c := s.nodes[m]
		if c != nil {
			resp.Attached = append(resp.Attached, m)
		} else {
			c = s.gone[m]
		}
		ms := &pb.MemberStatus{Name: m, Attached: s.nodes[m] != nil}
		if c != nil {
			c.describe(ms, s.epoch)
		}
		resp.MemberStatus = append(resp.MemberStatus, ms)
	}
	s.mu.Unlock()
	all := id.Role == pki.RoleOperator || id.Role == pki.RoleRegulator
	resp.RecentQueries = s.history.list(func(q *pb.QueryStatus) bool {
		return all || (id.Role == pki.RoleQuerier && q.Querier == id.String())
	})
	return resp, nil
}

// describe fills in what c knows of its member: attached or, after its
// stream ended, how it ended.
func (c *nodeConn) describe(ms *pb.MemberStatus, e *Epoch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms.AttachedSinceUnixNanos = unixNanos(c.since)
	ms.LastSeenUnixNanos = c.lastSeen.Load()
	if c.hello != nil {
		ms.Epoch = c.hello.Epoch
	}
	if st := c.status; st != nil {
		ms.BundleRevision, ms.BundleExpiresUnixNanos, ms.SharePresent = st.BundleRevision, st.BundleExpiresUnixNanos, st.SharePresent
	}
	select {
	case <-c.done:
		if c.err != nil {
			ms.LastError = c.err.Error()
		}
		return
	default:
	}
	ms.HoldsEpochKey = e != nil && c.holdsLocked(e)
}

// servingLocked says why the coordinator cannot admit a query now, or
// returns nil: it can when an epoch exists, no key generation runs and at
// least the epoch's quorum of members is attached holding its key.
func (s *Server) servingLocked() error {
	switch {
	case s.epoch == nil:
		return fmt.Errorf("no collective key yet: %d of %d members attached", len(s.nodes), len(s.cfg.Members))
	case s.setup:
		return fmt.Errorf("a key generation is running (epoch %s is being replaced)", s.epoch.ID)
	}
	p := s.participantsLocked()
	if len(p) < s.epoch.Quorum() {
		return fmt.Errorf("%d of %d members attached with epoch %s's key (%s); the epoch needs %d",
			len(p), len(s.epoch.Members), s.epoch.ID, strings.Join(p, ", "), s.epoch.Quorum())
	}
	return nil
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// historySize bounds the queries Status reports.
const historySize = 64

// queryHistory is a ring of the most recent queries' records.
type queryHistory struct {
	mu   sync.Mutex
	ring []*pb.QueryStatus
	next int
}

func (h *queryHistory) add(q *pb.QueryStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ring) < historySize {
		h.ring = append(h.ring, q)
		return
	}
	h.ring[h.next] = q
	h.next = (h.next + 1) % historySize
}

// list returns the records keep accepts, newest first. Records are never
// modified once added, so they are shared, not copied.
func (h *queryHistory) list(keep func(*pb.QueryStatus) bool) []*pb.QueryStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*pb.QueryStatus
	for i := range len(h.ring) {
		// The newest is just before next (or last, while the ring fills).
		q := h.ring[(h.next-1-i+2*len(h.ring))%len(h.ring)]
		if keep(q) {
			out = append(out, q)
		}
	}
	return out
}
