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
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
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

// openingTask returns the query id and inputs of a task that asks nodes to
// open an aggregate: the release task (phase 1) or the key-switch task.
func openingTask(m *pb.CoordinatorMessage, phase int) (string, []*pb.SignedInput, bool) {
	switch {
	case phase == 1 && m.GetReleaseTask() != nil:
		return m.GetReleaseTask().QueryId, m.GetReleaseTask().Inputs, true
	case phase == 2 && m.GetKeySwitchTask() != nil:
		return m.GetKeySwitchTask().QueryId, m.GetKeySwitchTask().Inputs, true
	}
	return "", nil, false
}

// TestReplayedKeySwitchTaskIsRefused plays a coordinator that sends every
// task opening an aggregate twice, with its blobs — the release task that
// has the counts collectively decrypted, or the key-switch task: each node
// must refuse the second request and never produce a second share.
func TestReplayedKeySwitchTaskIsRefused(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	var mu sync.Mutex
	replayPhase := 0
	replayed := map[string]int{} // query id -> streams replayed on
	rec := newRecorder()
	fed := startFederation(t, Config{
		Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second,
		WrapCoordinator: wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
			if m.GetCancel() != nil {
				// Withholding cancellations makes every node judge both
				// copies of the task itself.
				return nil
			}
			if err := s.forward(m); err != nil {
				return err
			}
			mu.Lock()
			phase := replayPhase
			mu.Unlock()
			qid, inputs, ok := openingTask(m, phase)
			if !ok {
				return nil
			}
			for _, in := range inputs {
				for _, id := range in.CiphertextBlobs {
					if err := s.resend(id); err != nil {
						return err
					}
					delete(s.chunks, id)
				}
			}
			mu.Lock()
			replayed[qid]++
			mu.Unlock()
			return s.forward(m)
		}),
	})
	spec := defaultSpec(t)
	tests := []struct {
		name  string
		phase int
		share func(*pb.NodeMessage) bool
	}{
		{"release task", 1, func(m *pb.NodeMessage) bool { return m.GetDecryptionShare() != nil }},
		{"key-switch task", 2, func(m *pb.NodeMessage) bool { return m.GetKeySwitchShare() != nil }},
	}
	for _, tt := range tests {
		for i := range 2 {
			t.Run(fmt.Sprintf("%s/%d", tt.name, i), func(t *testing.T) {
				mu.Lock()
				replayPhase = tt.phase
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				mark := rec.mark()
				ans, err := fed.Query(ctx, spec, nil)
				if err == nil {
					if err := fed.Verify(ctx, spec, ans.Result); err != nil {
						t.Error(err)
					}
				} else if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "refused") {
					// The refusal of a replay may reach the coordinator in
					// place of an answer it waits for; nothing else may
					// fail the query.
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
					t.Fatalf("query %q: task replayed on %d streams, want %d", qid, n, len(partners))
				}
				// Two answers per node: one share, one refusal.
				count := func(msgs []observed) (shares, refusals map[string]int) {
					shares, refusals = map[string]int{}, map[string]int{}
					for _, o := range msgs {
						switch {
						case taskOf(o.msg) != qid:
						case tt.share(o.msg):
							shares[o.node]++
						case o.msg.GetRefusal() != nil:
							refusals[o.node]++
						}
					}
					return shares, refusals
				}
				err = rec.waitFor(ctx, mark, "two answers from every node", func(msgs []observed) bool {
					shares, refusals := count(msgs)
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
				shares, refusals := count(rec.since(mark))
				for _, p := range partners {
					if shares[p.Name] != 1 || refusals[p.Name] != 1 {
						t.Errorf("%s: %d shares and %d refusals, want 1 and 1", p.Name, shares[p.Name], refusals[p.Name])
					}
				}
				for _, o := range rec.since(mark) {
					if r := o.msg.GetRefusal(); r != nil && !slices.ContainsFunc(
						[]string{"already", "no open contribution", "no released contribution", "not at the step"},
						func(s string) bool { return strings.Contains(r.Error, s) }) {
						t.Errorf("%s refused for another reason: %s", o.node, r.Error)
					}
				}
			})
		}
	}
}

// subsetTask rewrites the tasks that open an aggregate — the release task
// of phase 1 (collective decryption of the counts) or the key-switch task
// of phase 2 — so that they ask to open fewer partners' inputs than the
// query requires, or an aggregate that is not the inputs' sum.
type subsetTask int

const (
	// firstPartnerOnly sends every node the first partner's input alone.
	firstPartnerOnly subsetTask = iota
	// ownInputOnly sends every node its own input alone.
	ownInputOnly
	// ownAndNext sends every node the correct sum of its own input and the
	// next partner's: two distinct partners, below min_partners 3.
	ownAndNext
	// ownTwice sends every node the correct sum of its own input counted
	// twice and the next partner's: three inputs, two distinct partners.
	ownTwice
	// forgedDigest sends every node all inputs but names an aggregate that
	// is not their sum.
	forgedDigest
)

// rewrite returns the inputs and aggregate digests of the rewritten task.
func (mode subsetTask) rewrite(t *testing.T, params crypto.Params, s *deviantStream, inputs []*pb.SignedInput, digests [][]byte) ([]*pb.SignedInput, [][]byte) {
	idx := slices.IndexFunc(inputs, func(in *pb.SignedInput) bool { return in.Node == s.node })
	next := inputs[(idx+1)%len(inputs)]
	var picked []*pb.SignedInput
	switch mode {
	case firstPartnerOnly:
		picked = inputs[:1]
	case ownInputOnly:
		picked = []*pb.SignedInput{inputs[idx]}
	case ownAndNext:
		picked = []*pb.SignedInput{inputs[idx], next}
	case ownTwice:
		picked = []*pb.SignedInput{inputs[idx], inputs[idx], next}
	case forgedDigest:
		var forged [][]byte
		for _, d := range digests {
			forged = append(forged, protocol.Digest(d))
		}
		return inputs, forged
	}
	if len(picked) == 1 {
		r := &pb.Receipt{}
		if err := proto.Unmarshal(picked[0].Receipt, r); err != nil {
			t.Errorf("receipt: %v", err)
		}
		return picked, r.CiphertextDigests
	}
	var sums [][]byte
	eval := params.NewEvaluator()
	for k := range picked[0].CiphertextBlobs {
		var cts []*crypto.Ciphertext
		for _, in := range picked {
			ct, err := params.UnmarshalCiphertext(s.blob(in.CiphertextBlobs[k]))
			if err != nil {
				t.Errorf("ciphertext of %s: %v", in.Node, err)
				return picked, nil
			}
			cts = append(cts, ct)
		}
		sum, err := eval.Sum(cts)
		if err != nil {
			t.Errorf("sum: %v", err)
			return picked, nil
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			t.Errorf("marshal: %v", err)
		}
		sums = append(sums, protocol.Digest(b))
	}
	return picked, sums
}

// TestCoordinatorCannotOpenOnePartnersInput plays a coordinator that asks
// the nodes to open — by collective decryption in phase 1 or by key switch
// in phase 2 — an aggregate of fewer partners than the query's
// min_partners, or one that is not the sum of the signed inputs: every node
// refuses, none gives a share, and the querier gets no result.
func TestCoordinatorCannotOpenOnePartnersInput(t *testing.T) {
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	type attack struct {
		phase int // 1: the release task, 2: the key-switch task
		mode  subsetTask
	}
	var mu sync.Mutex
	var current attack
	partners := synthPartners(t, 3, 1000)
	rec := newRecorder()
	fed := startFederation(t, Config{
		Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second,
		WrapCoordinator: wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
			mu.Lock()
			a := current
			mu.Unlock()
			switch {
			case m.GetCancel() != nil:
				// This coordinator does not give up: each node must judge
				// the task on its merits.
				return nil
			case a.phase == 1 && m.GetReleaseTask() != nil:
				// A copy: the same message goes to every node.
				rt := proto.Clone(m.GetReleaseTask()).(*pb.ReleaseTask)
				rt.Inputs, rt.AggregateDigests = a.mode.rewrite(t, params, s, rt.Inputs, rt.AggregateDigests)
				m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_ReleaseTask{ReleaseTask: rt}}
			case a.phase == 2 && m.GetKeySwitchTask() != nil:
				m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_KeySwitchTask{
					KeySwitchTask: rewriteKeySwitch(t, params, s, m.GetKeySwitchTask(), a.mode),
				}}
			}
			if c := m.GetChunk(); c != nil && c.Final && strings.HasPrefix(c.BlobId, "rk/") {
				delete(s.chunks, c.BlobId) // receiver keys are not needed again
			}
			return s.forward(m)
		}),
	})

	const tooFew = "the query requires at least 3"
	tests := []struct {
		name  string
		mode  subsetTask
		check func(node, first, refusal string) bool
	}{
		{"the first partner's input to every node", firstPartnerOnly, func(node, first, r string) bool {
			if node == first {
				return strings.Contains(r, "inputs from 1 partners; "+tooFew)
			}
			return strings.Contains(r, "does not include this node's own input")
		}},
		{"each node its own input", ownInputOnly, func(_, _, r string) bool {
			return strings.Contains(r, "inputs from 1 partners; "+tooFew)
		}},
		{"each node a correct sum of two partners", ownAndNext, func(_, _, r string) bool {
			return strings.Contains(r, "inputs from 2 partners; "+tooFew)
		}},
		{"each node its own input twice in a correct sum", ownTwice, func(node, _, r string) bool {
			return strings.Contains(r, "two inputs from "+node)
		}},
		{"an aggregate that is not the sum of the inputs", forgedDigest, func(_, _, r string) bool {
			return strings.Contains(r, "is not the sum of the signed inputs")
		}},
	}
	for _, phase := range []int{1, 2} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("phase %d/%s", phase, tt.name), func(t *testing.T) {
				mu.Lock()
				current = attack{phase: phase, mode: tt.mode}
				mu.Unlock()
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
					return len(refusalsPerNode(msgs, qid)) == len(partners)
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range rec.since(mark) {
					switch {
					case o.msg.GetKeySwitchShare() != nil:
						t.Errorf("%s gave a key-switch share", o.node)
					case phase == 1 && o.msg.GetDecryptionShare() != nil:
						t.Errorf("%s gave a decryption share", o.node)
					}
					if r := o.msg.GetRefusal(); r != nil && !tt.check(o.node, partners[0].Name, r.Error) {
						t.Errorf("%s refused with %q", o.node, r.Error)
					}
				}
			})
		}
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
				m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_KeySwitchTask{KeySwitchTask: rewriteKeySwitch(t, params, s, ks, ownInputOnly)}}
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

// rewriteKeySwitch returns a rewritten copy of a key-switch task.
func rewriteKeySwitch(t *testing.T, params crypto.Params, s *deviantStream, ks *pb.KeySwitchTask, mode subsetTask) *pb.KeySwitchTask {
	out := proto.Clone(ks).(*pb.KeySwitchTask)
	out.Inputs, out.AggregateDigests = mode.rewrite(t, params, s, ks.Inputs, ks.AggregateDigests)
	return out
}
