package coordinator

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// queryRun is one run of a query: its participants, fixed before any share
// is produced, and what the coordinator keeps of it — the members' signed
// receipts and the running sums, never the members' inputs.
type queryRun struct {
	s        *Server
	q        *runningQuery
	run      uint32
	progress func(phase, node string)
	timings  map[string]float64
	drops    []func()

	// participants are the attached members holding the epoch's key, in
	// member order, and active the first quorum of them: they alone give
	// shares.
	participants, active []string
	conns                []*nodeConn // in participant order
	byName               map[string]*nodeConn
	waits                map[string]<-chan nodeEvent

	// receipts are every participant's verified receipt, per phase; mask
	// is the release mask of phase 2, which every receipt names.
	receipts [3]map[string]*memberReceipt
	mask     []byte
}

// memberReceipt is a participant's verified receipt of a phase.
type memberReceipt struct {
	signed  *pb.SignedReceipt
	receipt *pb.Receipt
}

// newRun fixes a run's participants and active set and listens for their
// answers.
func (s *Server) newRun(q *runningQuery, run uint32, progress func(phase, node string)) (*queryRun, error) {
	r := &queryRun{s: s, q: q, run: run, progress: progress, timings: map[string]float64{},
		byName: map[string]*nodeConn{}, waits: map[string]<-chan nodeEvent{}}
	s.mu.Lock()
	for _, m := range s.participantsLocked() {
		r.participants = append(r.participants, m)
		r.conns = append(r.conns, s.nodes[m])
	}
	s.mu.Unlock()
	need := max(q.epoch.Quorum(), q.spec.MinPartners, 2)
	if len(r.conns) < need {
		return nil, status.Errorf(codes.Unavailable, "%d members attached with the epoch's key; the query needs %d", len(r.conns), need)
	}
	r.active = r.participants[:q.epoch.Quorum()]
	for _, c := range r.conns {
		ch, drop := c.wait(runTask(q.id, run))
		r.drops = append(r.drops, drop)
		r.byName[c.name], r.waits[c.name] = c, ch
	}
	return r, nil
}

func (r *queryRun) close() {
	for _, drop := range r.drops {
		drop()
	}
}

func (r *queryRun) mark(phase string, since time.Time) {
	d := time.Since(since)
	r.timings[phase] = float64(d.Microseconds()) / 1000
	r.s.phaseDone(r, phase, d)
}

// step names a phase of the run in signed statements.
func (r *queryRun) step(phase int32) protocol.Step {
	return protocol.Step{QueryID: r.q.id, QueryDigest: r.q.vq.Digest, Epoch: r.q.epoch.ID, Run: r.run, Phase: phase}
}

// cert returns a participant's verified certificate, from its connection.
func (r *queryRun) cert(c *nodeConn) (*x509.Certificate, error) {
	id, cert, err := r.s.certs.Verify(c.chain, pki.RoleNode, time.Now())
	if err != nil {
		return nil, fmt.Errorf("node %s certificate: %w", c.name, err)
	}
	if id.Name != c.name {
		return nil, fmt.Errorf("node %s presents %s's certificate", c.name, id.Name)
	}
	return cert, nil
}

// conns returns the connections of the named participants.
func (r *queryRun) connsOf(names []string) []*nodeConn {
	out := make([]*nodeConn, len(names))
	for i, n := range names {
		out[i] = r.byName[n]
	}
	return out
}

// collect waits for one answer from each of the named participants and
// hands it to handle; the first failure, or refusal, ends the wait for the
// others.
func (r *queryRun) collect(ctx context.Context, names []string, phase string, handle func(c *nodeConn, ev nodeEvent) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range r.connsOf(names) {
		g.Go(func() error {
			ev, err := c.next(gctx, r.waits[c.name])
			if err != nil {
				return err
			}
			if rf := ev.msg.GetRefusal(); rf != nil {
				return refusalError(c.name, rf)
			}
			if err := handle(c, ev); err != nil {
				return err
			}
			r.progress(phase, c.name)
			return nil
		})
	}
	return g.Wait()
}

// ask sends each named participant its task and handles its answer, at
// most window participants at a time, so that no more than window
// answers carrying ciphertexts are in the coordinator's memory at once.
func (r *queryRun) ask(ctx context.Context, names []string, window int, phase string, task func(c *nodeConn) error, handle func(c *nodeConn, ev nodeEvent) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(window)
	for _, c := range r.connsOf(names) {
		g.Go(func() error {
			if err := task(c); err != nil {
				return fmt.Errorf("node %s: %w: %v", c.name, errNodeGone, err)
			}
			ev, err := c.next(gctx, r.waits[c.name])
			if err != nil {
				return err
			}
			if rf := ev.msg.GetRefusal(); rf != nil {
				return refusalError(c.name, rf)
			}
			if err := handle(c, ev); err != nil {
				return err
			}
			r.progress(phase, c.name)
			return nil
		})
	}
	return g.Wait()
}

// broadcast runs send for each named participant in parallel.
func (r *queryRun) broadcast(ctx context.Context, names []string, send func(*nodeConn) error) error {
	return r.s.broadcast(ctx, r.connsOf(names), send)
}

// startQuery sends every participant the query task.
func (r *queryRun) startQuery(ctx context.Context) error {
	rkBlob := fmt.Sprintf("rk/%s/%d", r.q.id, r.run)
	task := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_QueryTask{QueryTask: &pb.QueryTask{
		Query: r.q.signed, ReceiverKeyBlob: rkBlob, Participants: r.participants, Active: r.active, Run: r.run,
	}}}
	return r.broadcast(ctx, r.participants, func(c *nodeConn) error {
		if err := c.sendBlob(rkBlob, r.q.receiverKey); err != nil {
			return err
		}
		return c.send(task)
	})
}

// complete tells the participants outside the active set, which keep their
// inputs for re-sends, that the run is over.
func (r *queryRun) complete() {
	m := &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Cancel{Cancel: &pb.Cancel{
		QueryId: r.q.id, Run: r.run, Reason: "the run is complete", Complete: true,
	}}}
	for _, c := range r.conns {
		if !slices.Contains(r.active, c.name) {
			c.send(m)
		}
	}
}
