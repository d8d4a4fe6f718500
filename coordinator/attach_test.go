package coordinator_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

var idleMembers = []string{"node-a", "node-b"}

func helloMsg() *pb.NodeMessage {
	return &pb.NodeMessage{Body: &pb.NodeMessage_Hello{Hello: &pb.Hello{Version: coordinator.Version}}}
}

// foreignCredential is a credential for id from a CA the coordinator does
// not trust, in the same trust domain.
func foreignCredential(t *testing.T, role, name string) *pki.Credential {
	t.Helper()
	ca, err := pki.NewCA(trustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ca.Issue(pki.Identity{TrustDomain: trustDomain, Role: role, Name: name}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// attachAndRecv opens a task stream with cred, sends first and returns the
// error that ends the stream.
func attachAndRecv(ctx context.Context, f *federation, cred *pki.Credential, first *pb.NodeMessage) error {
	stream, err := f.dial(cred).Attach(ctx)
	if err != nil {
		return err
	}
	// The coordinator may refuse before reading; a failed send shows in Recv.
	stream.Send(first)
	for {
		if _, err := stream.Recv(); err != nil {
			return err
		}
	}
}

func TestAttachRefusesPeersThatAreNotMembers(t *testing.T) {
	f := newFederation(t, fedConfig{others: idleMembers})
	tests := []struct {
		name string
		cred *pki.Credential
		code codes.Code
		want string
	}{
		{"node that is not a member", f.issue(pki.RoleNode, "mallory"), codes.PermissionDenied, "is not a member of this federation"},
		{"querier", f.issue(pki.RoleQuerier, "node-a"), codes.PermissionDenied, "may not call this method"},
		{"regulator", f.issue(pki.RoleRegulator, "node-a"), codes.PermissionDenied, "may not call this method"},
		// The TLS layer refuses this before any handler runs.
		{"member name from an untrusted CA", foreignCredential(t, pki.RoleNode, "node-a"), codes.Unavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := attachAndRecv(ctx, f, tc.cred, helloMsg())
			if got := grpcCode(err); got != tc.code {
				t.Fatalf("Attach ended with %v, want code %v", err, tc.code)
			}
			if tc.want != "" {
				errorContains(t, err, tc.want)
			}
		})
	}
	if n := f.logs.count("node attached"); n != 0 {
		t.Errorf("%d nodes were attached", n)
	}
}

func TestAttachRefusesAnotherProtocolVersion(t *testing.T) {
	f := newFederation(t, fedConfig{others: idleMembers})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hello := &pb.NodeMessage{Body: &pb.NodeMessage_Hello{Hello: &pb.Hello{Version: "fedscore/1"}}}
	err := attachAndRecv(ctx, f, f.issue(pki.RoleNode, "node-a"), hello)
	if got := grpcCode(err); got != codes.FailedPrecondition {
		t.Fatalf("Attach ended with %v, want code %v", err, codes.FailedPrecondition)
	}
	errorContains(t, err, `speaks protocol "fedscore/1"`, coordinator.Version)
	if n := f.logs.count("node attached"); n != 0 {
		t.Errorf("%d nodes were attached", n)
	}
}

func TestAttachFirstMessageMustBeHello(t *testing.T) {
	f := newFederation(t, fedConfig{others: idleMembers})
	cred := f.issue(pki.RoleNode, "node-a")
	tests := []struct {
		name  string
		first *pb.NodeMessage
	}{
		{"empty message", &pb.NodeMessage{}},
		{"chunk", &pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: &pb.Chunk{BlobId: "b", Data: []byte("x"), Final: true}}}},
		{"setup share", &pb.NodeMessage{Body: &pb.NodeMessage_SetupShare{SetupShare: &pb.SetupShare{Epoch: "e"}}}},
		{"query receipt", &pb.NodeMessage{Body: &pb.NodeMessage_Receipt{Receipt: &pb.InputReceipt{QueryId: "q"}}}},
		{"refusal", &pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{TaskId: "q"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := attachAndRecv(ctx, f, cred, tc.first)
			if got := grpcCode(err); got != codes.InvalidArgument {
				t.Fatalf("Attach ended with %v, want code %v", err, codes.InvalidArgument)
			}
			errorContains(t, err, "must be hello")
		})
	}
	if n := f.logs.count("node attached"); n != 0 {
		t.Errorf("%d nodes were attached", n)
	}
}

func TestAttachRefusesSecondStreamOfAttachedNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newFederation(t, fedConfig{others: idleMembers})
	cred := f.issue(pki.RoleNode, "node-a")

	firstCtx, closeFirst := context.WithCancel(ctx)
	defer closeFirst()
	first, err := f.dial(cred).Attach(firstCtx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Send(helloMsg()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.logs.wait(ctx, 1, "node attached", "node", "node-a"); err != nil {
		t.Fatal(err)
	}

	// Even with a fresh certificate, the same member cannot attach twice.
	err = attachAndRecv(ctx, f, f.issue(pki.RoleNode, "node-a"), helloMsg())
	if got := grpcCode(err); got != codes.AlreadyExists {
		t.Fatalf("second stream ended with %v, want code %v", err, codes.AlreadyExists)
	}
	errorContains(t, err, "node-a", "already attached")

	// The first stream is still the node's.
	st, err := f.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Attached, []string{"node-a"}) {
		t.Errorf("attached %v, want [node-a]", st.Attached)
	}
	if err := first.Send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{TaskId: "probe"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.obs.wait(ctx, func(n string, m *pb.NodeMessage) bool {
		return n == "node-a" && m.GetRefusal().GetTaskId() == "probe"
	}); err != nil {
		t.Fatalf("first stream no longer served: %v", err)
	}

	// Once the first stream is gone, the node may attach again.
	closeFirst()
	if _, err := f.logs.wait(ctx, 1, "node detached", "node", "node-a"); err != nil {
		t.Fatal(err)
	}
	again, err := f.dial(cred).Attach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Send(helloMsg()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.logs.wait(ctx, 2, "node attached", "node", "node-a"); err != nil {
		t.Fatal(err)
	}
}

// TestAttachDisconnectsChunkFlood has an attached member send more blob
// data than the coordinator buffers per node, without ever naming it in a
// control message. The coordinator must end its stream with
// ResourceExhausted instead of buffering it.
func TestAttachDisconnectsChunkFlood(t *testing.T) {
	const budget = 64 << 20 // coordinator's per-node blob budget
	payload := make([]byte, wire.ChunkSize)
	bigID := strings.Repeat("x", wire.ChunkSize)
	tests := []struct {
		name  string
		chunk func(i int) *pb.Chunk
	}{
		{"many complete blobs", func(i int) *pb.Chunk {
			return &pb.Chunk{BlobId: fmt.Sprintf("flood/%d", i), Data: payload, Final: true}
		}},
		// Blob ids are held as long as the data, so they count too.
		{"empty blobs with long ids", func(i int) *pb.Chunk {
			return &pb.Chunk{BlobId: fmt.Sprintf("%d/%s", i, bigID), Final: true}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			f := newFederation(t, fedConfig{others: idleMembers})
			stream, err := f.dial(f.issue(pki.RoleNode, "node-a")).Attach(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(helloMsg()); err != nil {
				t.Fatal(err)
			}
			ended := make(chan error, 1)
			go func() {
				for {
					if _, err := stream.Recv(); err != nil {
						ended <- err
						return
					}
				}
			}()
			// Send a little more than the budget, then a probe: if the
			// coordinator observes the probe, it kept the stream open.
			for i := 0; i < budget/wire.ChunkSize+4; i++ {
				if err := stream.Send(&pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: tc.chunk(i)}}); err != nil {
					break // the coordinator ended the stream; Recv reports why
				}
			}
			stream.Send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{TaskId: "probe"}}})
			probed := make(chan error, 1)
			go func() {
				_, err := f.obs.wait(ctx, func(_ string, m *pb.NodeMessage) bool { return m.GetRefusal().GetTaskId() == "probe" })
				probed <- err
			}()
			select {
			case err := <-ended:
				if got := grpcCode(err); got != codes.ResourceExhausted {
					t.Fatalf("stream ended with %v, want code %v", err, codes.ResourceExhausted)
				}
				// Either the budget or the blob-id limit stops the flood.
				errorContains(t, err, "node-a", "wire: ")
			case err := <-probed:
				if err == nil {
					err = errors.New("the coordinator read the probe after the flood")
				}
				t.Fatalf("flood of more than %d MiB did not end the stream: %v", budget>>20, err)
			}
			if _, err := f.logs.wait(ctx, 1, "node detached", "node", "node-a"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatusRequiresAFederationIdentity(t *testing.T) {
	f := newFederation(t, fedConfig{others: idleMembers})
	tests := []struct {
		name string
		cred *pki.Credential
		code codes.Code
	}{
		{"querier", f.issue(pki.RoleQuerier, "analyst-2"), codes.OK},
		{"member node", f.issue(pki.RoleNode, "node-b"), codes.OK},
		{"regulator", f.issue(pki.RoleRegulator, "auditor"), codes.OK},
		{"operator", f.issue(pki.RoleOperator, "ops"), codes.OK},
		{"coordinator", f.issue(pki.RoleCoordinator, "coordinator"), codes.Unavailable},
		{"querier of an untrusted CA", foreignCredential(t, pki.RoleQuerier, "analyst"), codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st, err := f.dial(tc.cred).Status(ctx, &pb.StatusRequest{})
			if got := grpcCode(err); got != tc.code {
				t.Fatalf("Status: %v, want code %v", err, tc.code)
			}
			if err == nil && !slices.Equal(st.Members, idleMembers) {
				t.Errorf("members %v, want %v", st.Members, idleMembers)
			}
		})
	}

	// Called without the TLS layer, the handler itself checks the peer.
	coordinatorCert := f.issue(pki.RoleCoordinator, "coordinator-2")
	tlsPeer := func(c *x509.Certificate) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{
			State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}},
		}})
	}
	direct := []struct {
		name string
		ctx  context.Context
		code codes.Code
	}{
		{"no peer", context.Background(), codes.Unauthenticated},
		{"peer without verified certificate", tlsPeer(nil), codes.Unauthenticated},
		{"coordinator", tlsPeer(coordinatorCert.Certificate), codes.PermissionDenied},
		{"querier", tlsPeer(f.issue(pki.RoleQuerier, "analyst-3").Certificate), codes.OK},
	}
	for _, tc := range direct {
		t.Run("direct/"+tc.name, func(t *testing.T) {
			_, err := f.srv.Status(tc.ctx, &pb.StatusRequest{})
			if got := grpcCode(err); got != tc.code {
				t.Fatalf("Status: %v, want code %v", err, tc.code)
			}
		})
	}
}

func TestQueryRequiresQuerier(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := newFederation(t, fedConfig{others: idleMembers})
	stream, err := f.dial(f.issue(pki.RoleNode, "node-a")).Query(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if got := grpcCode(err); got != codes.PermissionDenied {
		t.Fatalf("Query by a node: %v, want code %v", err, codes.PermissionDenied)
	}
}
