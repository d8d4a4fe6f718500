package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/pki"
	"github.com/fedscore/fedscore/internal/protocol"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// deviantCoordinator is the real coordinator with a hook on everything it
// sends down each node's task stream.
type deviantCoordinator struct {
	pb.CoordinatorServer
	send func(s *deviantStream, m *pb.CoordinatorMessage) error
}

func (d deviantCoordinator) Attach(stream pb.Coordinator_AttachServer) error {
	id, err := pki.PeerIdentity(stream.Context())
	if err != nil {
		// The real service refuses the stream.
		return d.CoordinatorServer.Attach(stream)
	}
	return d.CoordinatorServer.Attach(&deviantStream{
		Coordinator_AttachServer: stream, node: id.Name, chunks: map[string][]*pb.Chunk{}, send: d.send,
	})
}

// deviantStream is one node's task stream as the deviant coordinator sees
// it. The coordinator serialises sends per stream, so it needs no lock.
type deviantStream struct {
	pb.Coordinator_AttachServer
	node   string
	chunks map[string][]*pb.Chunk // every blob sent, by id
	send   func(s *deviantStream, m *pb.CoordinatorMessage) error
}

func (s *deviantStream) Send(m *pb.CoordinatorMessage) error {
	if c := m.GetChunk(); c != nil {
		s.chunks[c.BlobId] = append(s.chunks[c.BlobId], c)
	}
	return s.send(s, m)
}

// forward sends m to the node unchanged.
func (s *deviantStream) forward(m *pb.CoordinatorMessage) error {
	return s.Coordinator_AttachServer.Send(m)
}

// resend sends a blob's chunks again.
func (s *deviantStream) resend(id string) error {
	if len(s.chunks[id]) == 0 {
		return fmt.Errorf("no blob %q was sent", id)
	}
	for _, c := range s.chunks[id] {
		if err := s.forward(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Chunk{Chunk: c}}); err != nil {
			return err
		}
	}
	return nil
}

// blob returns a blob that was sent.
func (s *deviantStream) blob(id string) []byte {
	var b []byte
	for _, c := range s.chunks[id] {
		b = append(b, c.Data...)
	}
	return b
}

func wrapWith(send func(s *deviantStream, m *pb.CoordinatorMessage) error) func(pb.CoordinatorServer) pb.CoordinatorServer {
	return func(real pb.CoordinatorServer) pb.CoordinatorServer {
		return deviantCoordinator{CoordinatorServer: real, send: send}
	}
}

// TestReplayedKeySwitchTaskIsRefused plays a coordinator that sends every
// key-switch task twice, with its blobs: each node must refuse the second
// request and never produce a second share.
func TestReplayedKeySwitchTaskIsRefused(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	var mu sync.Mutex
	replayed := map[string]int{} // query id -> streams replayed on
	rec := newRecorder()
	fed := startFederation(t, Config{
		Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second,
		WrapCoordinator: wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
			if err := s.forward(m); err != nil {
				return err
			}
			ks := m.GetKeySwitchTask()
			if ks == nil {
				return nil
			}
			for _, in := range ks.Inputs {
				for _, id := range in.CiphertextBlobs {
					if err := s.resend(id); err != nil {
						return err
					}
					delete(s.chunks, id)
				}
			}
			mu.Lock()
			replayed[ks.QueryId]++
			mu.Unlock()
			return s.forward(m)
		}),
	})
	spec := defaultSpec(t)
	for i := range 3 {
		t.Run(fmt.Sprint("query ", i), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			mark := rec.mark()
			ans, err := fed.Query(ctx, spec, nil)
			if err == nil {
				if err := fed.Verify(ctx, spec, ans.Result); err != nil {
					t.Error(err)
				}
			} else if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "refused") {
				// A node's refusal of the replay may reach the coordinator
				// before its share of the original; nothing else may fail.
				t.Fatalf("the query failed other than by a refusal: %v", err)
			}

			var qid string
			for _, o := range rec.since(mark) {
				if in := o.msg.GetInput(); in != nil {
					qid = in.QueryId
				}
			}
			mu.Lock()
			n := replayed[qid]
			mu.Unlock()
			if qid == "" || n != len(partners) {
				t.Fatalf("query %q: key-switch task replayed on %d streams, want %d", qid, n, len(partners))
			}
			// Two answers per node: one share, one refusal.
			err = rec.waitFor(ctx, mark, "two answers from every node", func(msgs []observed) bool {
				shares, refusals := answersPerNode(msgs, qid)
				for _, p := range partners {
					if shares[p.Name]+refusals[p.Name] < 2 {
						return false
					}
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			shares, refusals := answersPerNode(rec.since(mark), qid)
			for _, p := range partners {
				if shares[p.Name] != 1 || refusals[p.Name] != 1 {
					t.Errorf("%s: %d key-switch shares and %d refusals, want 1 and 1", p.Name, shares[p.Name], refusals[p.Name])
				}
			}
			for _, o := range rec.since(mark) {
				if r := o.msg.GetRefusal(); r != nil && !strings.Contains(r.Error, "already") && !strings.Contains(r.Error, "no open contribution") {
					t.Errorf("%s refused for another reason: %s", o.node, r.Error)
				}
			}
		})
	}
}

// singleInputTask rewrites key-switch tasks so that they ask to open fewer
// partners' inputs than the query requires.
type singleInputTask int

const (
	// firstPartnerOnly sends every node the first partner's input alone.
	firstPartnerOnly singleInputTask = iota
	// ownInputOnly sends every node its own input alone.
	ownInputOnly
	// ownAndNext sends every node the correct sum of its own input and the
	// next partner's: two distinct partners, below min_partners 3.
	ownAndNext
)

func (mode singleInputTask) rewrite(t *testing.T, params crypto.Params, s *deviantStream, ks *pb.KeySwitchTask) *pb.KeySwitchTask {
	idx := slices.IndexFunc(ks.Inputs, func(in *pb.SignedInput) bool { return in.Node == s.node })
	var picked []*pb.SignedInput
	switch mode {
	case firstPartnerOnly:
		picked = ks.Inputs[:1]
	case ownInputOnly:
		picked = []*pb.SignedInput{ks.Inputs[idx]}
	case ownAndNext:
		picked = []*pb.SignedInput{ks.Inputs[idx], ks.Inputs[(idx+1)%len(ks.Inputs)]}
	}
	out := &pb.KeySwitchTask{QueryId: ks.QueryId, Inputs: picked}
	if len(picked) == 1 {
		r := &pb.Receipt{}
		if err := proto.Unmarshal(picked[0].Receipt, r); err != nil {
			t.Errorf("receipt: %v", err)
		}
		out.AggregateDigests = r.CiphertextDigests
		return out
	}
	eval := params.NewEvaluator()
	for k := range picked[0].CiphertextBlobs {
		var cts []*crypto.Ciphertext
		for _, in := range picked {
			ct, err := params.UnmarshalCiphertext(s.blob(in.CiphertextBlobs[k]))
			if err != nil {
				t.Errorf("ciphertext of %s: %v", in.Node, err)
				return out
			}
			cts = append(cts, ct)
		}
		sum, err := eval.Sum(cts)
		if err != nil {
			t.Errorf("sum: %v", err)
			return out
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			t.Errorf("marshal: %v", err)
		}
		out.AggregateDigests = append(out.AggregateDigests, protocol.Digest(b))
	}
	return out
}

// TestCoordinatorCannotOpenOnePartnersInput plays a coordinator that asks
// the nodes to key-switch an aggregate of fewer partners than the query's
// min_partners: every node refuses and the querier gets no result.
func TestCoordinatorCannotOpenOnePartnersInput(t *testing.T) {
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		mode  singleInputTask
		check func(node, first, refusal string) bool
	}{
		{"the first partner's input to every node", firstPartnerOnly, func(node, first, r string) bool {
			if node == first {
				return strings.Contains(r, "inputs from 1 partners; the query requires at least 3")
			}
			return strings.Contains(r, "does not include this node's own input")
		}},
		{"each node its own input", ownInputOnly, func(_, _, r string) bool {
			return strings.Contains(r, "inputs from 1 partners; the query requires at least 3")
		}},
		{"each node a correct sum of two partners", ownAndNext, func(_, _, r string) bool {
			return strings.Contains(r, "inputs from 2 partners; the query requires at least 3")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			partners := synthPartners(t, 3, 1000)
			rec := newRecorder()
			fed := startFederation(t, Config{
				Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second,
				WrapCoordinator: wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
					if ks := m.GetKeySwitchTask(); ks != nil {
						m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_KeySwitchTask{KeySwitchTask: tt.mode.rewrite(t, params, s, ks)}}
					}
					return s.forward(m)
				}),
			})
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			mark := rec.mark()
			ans, err := fed.Query(ctx, defaultSpec(t), nil)
			if err == nil {
				t.Fatalf("the querier got a result: %v", ans.Result.Rows)
			}
			if code := status.Code(err); code != codes.FailedPrecondition || !strings.Contains(err.Error(), "refused") {
				t.Errorf("error %v, want a node's refusal (FailedPrecondition)", err)
			}
			var qid string
			for _, o := range rec.since(mark) {
				if in := o.msg.GetInput(); in != nil {
					qid = in.QueryId
				}
			}
			err = rec.waitFor(ctx, mark, "a refusal from every node", func(msgs []observed) bool {
				_, refusals := answersPerNode(msgs, qid)
				return len(refusals) == len(partners)
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range rec.since(mark) {
				if o.msg.GetKeySwitchShare() != nil {
					t.Errorf("%s gave a key-switch share", o.node)
				}
				if r := o.msg.GetRefusal(); r != nil && !tt.check(o.node, partners[0].Name, r.Error) {
					t.Errorf("%s refused with %q", o.node, r.Error)
				}
			}
		})
	}
}

// TestDeviantTasksLeaveNodesUsable checks that after a deviant key-switch
// task was refused, a correct run of a fresh query still works: refusing
// does not wedge a node or its share ledger.
func TestDeviantTasksLeaveNodesUsable(t *testing.T) {
	partners := synthPartners(t, 3, 1000)
	var mu sync.Mutex
	deviate := true
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	fed := startFederation(t, Config{
		Partners: partners, QueryTimeout: 20 * time.Second,
		WrapCoordinator: wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
			mu.Lock()
			d := deviate
			mu.Unlock()
			if ks := m.GetKeySwitchTask(); ks != nil && d {
				m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_KeySwitchTask{KeySwitchTask: ownInputOnly.rewrite(t, params, s, ks)}}
			}
			if c := m.GetChunk(); c != nil && c.Final {
				delete(s.chunks, c.BlobId) // no blob is needed again
			}
			return s.forward(m)
		}),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spec := defaultSpec(t)
	if _, err := fed.Query(ctx, spec, nil); err == nil {
		t.Fatal("the deviant coordinator got a result")
	}
	mu.Lock()
	deviate = false
	mu.Unlock()
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("an honest query after a refused one: %v", err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}
}
