package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

// countingCoordinator counts the Query streams that reach the coordinator.
type countingCoordinator struct {
	pb.CoordinatorServer
	queries *atomic.Int64
}

func (c countingCoordinator) Query(stream pb.Coordinator_QueryServer) error {
	c.queries.Add(1)
	return c.CoordinatorServer.Query(stream)
}

// TestTransportSecurity checks that only parties with the right
// certificates and roles get through, and that a querier talks only to the
// coordinator it expects.
func TestTransportSecurity(t *testing.T) {
	partners := synthPartners(t, 3, 500)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	issue := func(ca *pki.CA, role, name string) *pki.Credential {
		t.Helper()
		cred, err := ca.Issue(pki.Identity{TrustDomain: TrustDomain, Role: role, Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	dial := func(cred *pki.Credential, coordinator pki.Identity) *querier.Client {
		t.Helper()
		c, err := querier.Dial(querier.Config{
			Credential: cred, Roots: fed.CA().Pool(), Coordinator: fed.Addr(),
			CoordinatorIdentity: coordinator, Timeout: 20 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	otherCA, err := pki.NewCA(TrustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	impostor := fed.CoordinatorIdentity()
	impostor.Name = "impostor"

	tests := []struct {
		name   string
		client *querier.Client
		code   codes.Code
		// status says whether Status itself must fail; Query must always.
		status bool
		msg    string
	}{
		{"querier certificate from another CA", dial(issue(otherCA, pki.RoleQuerier, "analyst"), fed.CoordinatorIdentity()), codes.Unavailable, true, ""},
		{"node certificate calling Query", dial(issue(fed.CA(), pki.RoleNode, partners[0].Name), fed.CoordinatorIdentity()), codes.PermissionDenied, false, "may not call this method"},
		{"regulator certificate calling Query", dial(issue(fed.CA(), pki.RoleRegulator, "auditor"), fed.CoordinatorIdentity()), codes.PermissionDenied, false, "may not call this method"},
		{"querier expecting another coordinator", dial(issue(fed.CA(), pki.RoleQuerier, "analyst"), impostor), codes.Unavailable, true, "unexpected peer identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mark := rec.mark()
			_, err := tt.client.Status(ctx)
			if tt.status && err == nil {
				t.Error("Status succeeded")
			}
			if !tt.status && err != nil {
				t.Errorf("Status: %v", err)
			}
			ans, err := tt.client.Run(ctx, defaultSpec(t), nil)
			if err == nil {
				t.Fatalf("the query was answered: %v", ans.Result.Rows)
			}
			if code := status.Code(err); code != tt.code {
				t.Errorf("code %v, want %v: %v", code, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if got := rec.since(mark); len(got) != 0 {
				t.Errorf("nodes sent %d messages for a refused client", len(got))
			}
		})
	}

	// The same refusal on a raw stream, reading the status the gRPC way.
	t.Run("node certificate on a raw Query stream", func(t *testing.T) {
		cred := issue(fed.CA(), pki.RoleNode, partners[0].Name)
		conn, err := grpc.NewClient(fed.Addr(),
			grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLSConfig(cred, fed.CA().Pool(), fed.CoordinatorIdentity()))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		signed, err := protocol.SignQuery(cred, &pb.QueryEnvelope{QueryId: "q-from-a-node", ExpiresUnixNanos: time.Now().Add(time.Minute).UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		err = rawQuery(ctx, pb.NewCoordinatorClient(conn), signed, make([]byte, 300<<10))
		if code := status.Code(err); code != codes.PermissionDenied {
			t.Errorf("code %v, want PermissionDenied: %v", code, err)
		}
	})

	t.Run("TLS client without a certificate", func(t *testing.T) {
		conn, err := grpc.NewClient(fed.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			MinVersion: tls.VersionTLS13, RootCAs: fed.CA().Pool(), ServerName: "localhost",
		})))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		resp, err := pb.NewCoordinatorClient(conn).Status(ctx, &pb.StatusRequest{})
		if err == nil {
			t.Fatalf("Status answered a client without a certificate: %v", resp)
		}
		// The handshake completes; every call is refused, saying why.
		if code := status.Code(err); code != codes.Unauthenticated || !strings.Contains(err.Error(), "presented none") {
			t.Errorf("code %v, want Unauthenticated saying no certificate was presented: %v", code, err)
		}
	})

	t.Run("the sandbox querier gets through", func(t *testing.T) {
		st, err := fed.Querier().Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Attached) != len(partners) || st.Epoch == "" {
			t.Errorf("status %v", st)
		}
	})
}

// rawQuery submits a hand-made signed query on a raw Query stream and
// returns the stream's status, or nil when a result arrives.
func rawQuery(ctx context.Context, api pb.CoordinatorClient, signed *pb.SignedQuery, receiverKey []byte) error {
	stream, err := api.Query(ctx)
	if err != nil {
		return err
	}
	send := func(ch *pb.Chunk) error {
		return stream.Send(&pb.QueryClientMessage{Body: &pb.QueryClientMessage_Chunk{Chunk: ch}})
	}
	err = wire.Send(send, "rk", receiverKey)
	if err == nil {
		err = stream.Send(&pb.QueryClientMessage{Body: &pb.QueryClientMessage_Request{Request: &pb.QueryRequest{
			Query: signed, ReceiverKeyBlob: "rk",
		}}})
	}
	if err == nil {
		err = stream.CloseSend()
	}
	// io.EOF from Send means the server ended the stream; Recv has its
	// status.
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return errors.New("the stream ended without a result")
		}
		if err != nil {
			return err
		}
		if m.GetResult() != nil {
			return nil
		}
	}
}

// TestQuerierAPIRejectsBadInput checks that malformed, tampered, expired and
// mismatched queries are rejected before anything reaches a node.
func TestQuerierAPIRejectsBadInput(t *testing.T) {
	partners := synthPartners(t, 3, 500)
	rec := newRecorder()
	var queries atomic.Int64
	fed := startFederation(t, Config{
		Partners: partners, Observe: rec.observe,
		WrapCoordinator: func(s pb.CoordinatorServer) pb.CoordinatorServer {
			return countingCoordinator{CoordinatorServer: s, queries: &queries}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("invalid spec is rejected by the client", func(t *testing.T) {
		before := queries.Load()
		spec := defaultSpec(t)
		spec.MinPartners = 1
		spec.Metrics = append(spec.Metrics, query.Metric{Kind: "median", Column: "credit_score"})
		_, err := fed.Query(ctx, spec, nil)
		if !errors.Is(err, query.ErrInvalidSpec) {
			t.Fatalf("error %v, want an invalid spec", err)
		}
		for _, field := range []string{"min_partners", "metrics[4].kind"} {
			if !strings.Contains(err.Error(), field) {
				t.Errorf("error %q does not name %s", err, field)
			}
		}
		if n := queries.Load() - before; n != 0 {
			t.Errorf("%d query streams reached the coordinator", n)
		}
	})

	t.Run("more partners than members is rejected by the coordinator", func(t *testing.T) {
		spec := defaultSpec(t)
		spec.MinPartners = len(partners) + 1
		mark := rec.mark()
		_, err := fed.Query(ctx, spec, nil)
		if code := status.Code(err); code != codes.InvalidArgument || !strings.Contains(err.Error(), "min_partners") {
			t.Fatalf("error %v, want InvalidArgument naming min_partners", err)
		}
		if got := rec.since(mark); len(got) != 0 {
			t.Errorf("nodes sent %d messages for a rejected query", len(got))
		}
	})

	cred, err := fed.CA().Issue(pki.Identity{TrustDomain: TrustDomain, Role: pki.RoleQuerier, Name: "analyst"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(fed.Addr(),
		grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLSConfig(cred, fed.CA().Pool(), fed.CoordinatorIdentity()))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessageSize)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := pb.NewCoordinatorClient(conn)
	st, err := api.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	params, err := crypto.NewParams(st.Params)
	if err != nil {
		t.Fatal(err)
	}
	receiverKey := func() []byte {
		_, pk, err := params.NewReceiverKey()
		if err != nil {
			t.Fatal(err)
		}
		b, err := pk.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	specJSON, err := defaultSpec(t).Canonical()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		env    func(*pb.QueryEnvelope)
		signed func(*pb.SignedQuery)
		rk     func() []byte // the receiver key sent; nil sends the signed one
		code   codes.Code
		msg    string
	}{
		{name: "well formed", code: codes.OK},
		{name: "envelope tampered after signing", signed: func(sq *pb.SignedQuery) {
			sq.Envelope[len(sq.Envelope)-1] ^= 1
		}, code: codes.Unauthenticated, msg: "signature"},
		{name: "signature of another envelope", signed: func(sq *pb.SignedQuery) {
			sq.Signature[len(sq.Signature)/2] ^= 0x40
		}, code: codes.Unauthenticated},
		{name: "expired", env: func(e *pb.QueryEnvelope) {
			e.CreatedUnixNanos = time.Now().Add(-2 * time.Hour).UnixNano()
			e.ExpiresUnixNanos = time.Now().Add(-time.Hour).UnixNano()
		}, code: codes.Unauthenticated, msg: "expired"},
		{name: "receiver key other than the signed one", rk: receiverKey,
			code: codes.InvalidArgument, msg: "receiver key does not match"},
		{name: "receiver key blob missing", rk: func() []byte { return nil },
			code: codes.InvalidArgument, msg: "receiver key"},
		{name: "another epoch", env: func(e *pb.QueryEnvelope) { e.Epoch = "e-stale" }, code: codes.FailedPrecondition, msg: "epoch"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rk := receiverKey()
			now := time.Now()
			env := &pb.QueryEnvelope{
				QueryId: "q-hand-made-" + string(rune('a'+i)), Spec: specJSON, Params: st.Params, Epoch: st.Epoch,
				ReceiverKeyDigest: protocol.Digest(rk),
				CreatedUnixNanos:  now.UnixNano(), ExpiresUnixNanos: now.Add(time.Minute).UnixNano(),
			}
			if tt.env != nil {
				tt.env(env)
			}
			signed, err := protocol.SignQuery(cred, env)
			if err != nil {
				t.Fatal(err)
			}
			if tt.signed != nil {
				tt.signed(signed)
			}
			send := rk
			if tt.rk != nil {
				send = tt.rk()
			}
			mark := rec.mark()
			err = rawQuery(ctx, api, signed, send)
			if code := status.Code(err); code != tt.code {
				t.Fatalf("code %v, want %v: %v", code, tt.code, err)
			}
			if tt.code == codes.OK {
				return
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if got := rec.since(mark); len(got) != 0 {
				t.Errorf("nodes sent %d messages for a rejected query", len(got))
			}
		})
	}
}
