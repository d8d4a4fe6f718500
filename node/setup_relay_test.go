package node_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// relayTamper rewrites what the coordinator sends on one node's stream.
// seen holds the data of every chunk sent earlier on that stream, by blob id.
type relayTamper func(m *pb.CoordinatorMessage, seen map[string][][]byte) *pb.CoordinatorMessage

// tamperingCoordinator is the real coordinator service with every Attach
// stream's Send passed through a relayTamper.
type tamperingCoordinator struct {
	pb.CoordinatorServer
	tamper relayTamper
}

func (c *tamperingCoordinator) Attach(stream pb.Coordinator_AttachServer) error {
	return c.CoordinatorServer.Attach(&tamperingStream{Coordinator_AttachServer: stream, tamper: c.tamper, seen: map[string][][]byte{}})
}

// tamperingStream is used by one coordinator connection, whose sends are
// serialised, so it needs no lock of its own.
type tamperingStream struct {
	pb.Coordinator_AttachServer
	tamper relayTamper
	seen   map[string][][]byte
}

func (s *tamperingStream) Send(m *pb.CoordinatorMessage) error {
	out := s.tamper(m, s.seen)
	if c := m.GetChunk(); c != nil {
		s.seen[c.BlobId] = append(s.seen[c.BlobId], slices.Clone(c.Data))
	}
	return s.Coordinator_AttachServer.Send(out)
}

// alterChunks replaces the data of the chunks of one blob. The coordinator
// sends the same bytes to every node, so the data is copied, never changed
// in place.
func alterChunks(blobID string, alter func(i int, data []byte, seen map[string][][]byte) []byte) relayTamper {
	return func(m *pb.CoordinatorMessage, seen map[string][][]byte) *pb.CoordinatorMessage {
		c := m.GetChunk()
		if c == nil || c.BlobId != blobID {
			return m
		}
		c = proto.Clone(c).(*pb.Chunk)
		c.Data = alter(len(seen[blobID]), slices.Clone(c.Data), seen)
		return &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Chunk{Chunk: c}}
	}
}

// alterResult rewrites a copy of the SetupResult.
func alterResult(alter func(*pb.SetupResult)) relayTamper {
	return func(m *pb.CoordinatorMessage, _ map[string][][]byte) *pb.CoordinatorMessage {
		if m.GetSetupResult() == nil {
			return m
		}
		m = proto.Clone(m).(*pb.CoordinatorMessage)
		alter(m.GetSetupResult())
		return m
	}
}

// setupObserver records what the nodes send during key generation and
// calls allRefused once every node has refused a collective key.
type setupObserver struct {
	mu         sync.Mutex
	nodes      int
	refusals   map[string]string // node -> error
	acks       []string          // nodes that acknowledged an epoch
	allRefused func()
}

func (o *setupObserver) observe(node string, m *pb.NodeMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r := m.GetRefusal(); r != nil && strings.HasPrefix(r.TaskId, "setup/") {
		o.refusals[node] = r.Error
		if len(o.refusals) == o.nodes {
			o.allRefused()
		}
	}
	if h := m.GetHello(); h != nil && h.Epoch != "" {
		o.acks = append(o.acks, node)
	}
}

// TestNodesRejectTamperedSetupRelay has the coordinator alter what it
// relays of the key generation. Every node must recombine the key only from
// shares signed by the members in the agreed order, refuse otherwise, and
// persist no epoch.
func TestNodesRejectTamperedSetupRelay(t *testing.T) {
	names := sandbox.DefaultPartnerNames()
	partners, err := sandbox.GeneratePartners(names, 60, 3)
	if err != nil {
		t.Fatal(err)
	}
	victim, other := names[1], names[0]
	tests := []struct {
		name   string
		tamper relayTamper
		// want is in every node's refusal; empty means the relay is
		// faithful and the federation must become ready.
		want []string
	}{
		{
			name:   "faithful relay",
			tamper: func(m *pb.CoordinatorMessage, _ map[string][][]byte) *pb.CoordinatorMessage { return m },
		},
		{
			name: "share bytes altered",
			tamper: alterChunks("setup/"+victim, func(_ int, data []byte, _ map[string][][]byte) []byte {
				data[len(data)/2] ^= 1
				return data
			}),
			want: []string{"share of " + victim, pki.ErrBadSignature.Error()},
		},
		{
			name: "another member's share in its place",
			tamper: alterChunks("setup/"+victim, func(i int, _ []byte, seen map[string][][]byte) []byte {
				return slices.Clone(seen["setup/"+other][i])
			}),
			want: []string{"share of " + victim, pki.ErrBadSignature.Error()},
		},
		{
			name: "another member's signature",
			tamper: alterResult(func(r *pb.SetupResult) {
				r.Shares[1].Signature = r.Shares[0].Signature
			}),
			want: []string{"share of " + victim, pki.ErrBadSignature.Error()},
		},
		{
			name: "another member's certificate",
			tamper: alterResult(func(r *pb.SetupResult) {
				r.Shares[1].CertChain = r.Shares[0].CertChain
			}),
			want: []string{"share labelled " + victim + " is signed by " + other},
		},
		{
			name: "shares reordered",
			tamper: alterResult(func(r *pb.SetupResult) {
				r.Shares[0], r.Shares[1] = r.Shares[1], r.Shares[0]
			}),
			want: []string{`share 0 is from "` + victim + `", expected member "` + other + `"`},
		},
		{
			name: "a share withheld",
			tamper: alterResult(func(r *pb.SetupResult) {
				r.Shares = r.Shares[:len(r.Shares)-1]
			}),
			want: []string{"got 2 shares for 3 members"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			obs := &setupObserver{nodes: len(names), refusals: map[string]string{}, allRefused: cancel}
			dir := t.TempDir()
			f, err := sandbox.Start(ctx, sandbox.Config{
				Partners: partners, Dir: dir, Observe: obs.observe,
				WrapCoordinator: func(s pb.CoordinatorServer) pb.CoordinatorServer {
					return &tamperingCoordinator{CoordinatorServer: s, tamper: tc.tamper}
				},
			})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("faithful relay: %v", err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatal("the federation became ready with a tampered key generation")
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("not every node refused in time: %v", err)
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			for _, n := range names {
				msg, ok := obs.refusals[n]
				if !ok {
					t.Errorf("%s did not refuse", n)
					continue
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s refused with %q, want it to mention %q", n, msg, w)
					}
				}
			}
			if len(obs.acks) > 0 {
				t.Errorf("%v acknowledged a collective key", obs.acks)
			}
			for _, n := range names {
				path := filepath.Join(dir, "nodes", n, "state", "epoch.json")
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s persisted an epoch (%s: %v)", n, path, err)
				}
			}
		})
	}
}
