package pki

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// startHealthServer serves the gRPC health service over TLS on loopback and
// reports the PeerIdentity of every call it receives.
func startHealthServer(t *testing.T, cfg *tls.Config) (addr string, peers <-chan Identity) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan Identity, 8)
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(cfg)),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			id, err := PeerIdentity(ctx)
			if err != nil {
				return nil, status.Error(codes.Unauthenticated, err.Error())
			}
			seen <- id
			return handler(ctx, req)
		}),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), seen
}

func checkHealth(t *testing.T, addr string, cfg *tls.Config) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestGRPCMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	otherCA := newTestCA(t)
	coordinator := issue(t, ca, RoleCoordinator, "coord")
	coordinatorID := mustIdentity(t, coordinator)
	node := issue(t, ca, RoleNode, "bank-a")
	querier := issue(t, ca, RoleQuerier, "analyst")
	foreignNode := issue(t, otherCA, RoleNode, "bank-a")

	noCert := ClientTLSConfig(node, ca.Pool(), coordinatorID)
	noCert.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &tls.Certificate{}, nil
	}
	tls12 := ClientTLSConfig(node, ca.Pool(), coordinatorID)
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12

	tests := []struct {
		name   string
		client *tls.Config
		wantID *Identity // nil: the call must be refused
		// wantErr is a substring of the client's error when the client
		// refuses; a server's refusal reaches the client in racy forms.
		wantErr string
	}{
		{
			name:   "node accepted",
			client: ClientTLSConfig(node, ca.Pool(), coordinatorID),
			wantID: &Identity{TrustDomain: testDomain, Role: RoleNode, Name: "bank-a"},
		},
		{
			name:   "no client certificate",
			client: noCert,
		},
		{
			name:   "client certificate from another CA",
			client: ClientTLSConfig(foreignNode, ca.Pool(), coordinatorID),
		},
		{
			name:   "client with wrong role",
			client: ClientTLSConfig(querier, ca.Pool(), coordinatorID),
		},
		{
			name:    "client expects another server",
			client:  ClientTLSConfig(node, ca.Pool(), Identity{TrustDomain: testDomain, Role: RoleCoordinator, Name: "other"}),
			wantErr: ErrWrongIdentity.Error(),
		},
		{
			name:    "client trusts another CA",
			client:  ClientTLSConfig(node, otherCA.Pool(), coordinatorID),
			wantErr: ErrUntrusted.Error(),
		},
		{
			name:   "TLS 1.2 client",
			client: tls12,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, peers := startHealthServer(t, ServerTLSConfig(coordinator, ca.Pool(), RoleNode))
			err := checkHealth(t, addr, tt.client)
			if tt.wantID == nil {
				if err == nil {
					t.Fatal("call succeeded, want refused")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				select {
				case id := <-peers:
					t.Errorf("server handled a call from %s", id)
				default:
				}
				return
			}
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := <-peers; got != *tt.wantID {
				t.Errorf("PeerIdentity = %s, want %s", got, *tt.wantID)
			}
		})
	}
}

// TestHandshakeErrors checks, at the TLS level, which side refuses a peer
// and with which error.
func TestHandshakeErrors(t *testing.T) {
	ca := newTestCA(t)
	coordinator := issue(t, ca, RoleCoordinator, "coord")
	node := issue(t, ca, RoleNode, "bank-a")
	querier := issue(t, ca, RoleQuerier, "analyst")
	coordinatorID := mustIdentity(t, coordinator)

	tests := []struct {
		name      string
		server    *tls.Config
		client    *tls.Config
		refusedBy string // "", "server" or "client"
		wantErr   error  // the refusing side's error; errAny for any
	}{
		{
			name:   "allowed",
			server: ServerTLSConfig(coordinator, ca.Pool(), RoleNode, RoleQuerier),
			client: ClientTLSConfig(querier, ca.Pool(), coordinatorID),
		},
		{
			name:      "role not allowed",
			server:    ServerTLSConfig(coordinator, ca.Pool(), RoleNode),
			client:    ClientTLSConfig(querier, ca.Pool(), coordinatorID),
			refusedBy: "server",
			wantErr:   ErrWrongRole,
		},
		{
			name:      "no roles allowed",
			server:    ServerTLSConfig(coordinator, ca.Pool()),
			client:    ClientTLSConfig(node, ca.Pool(), coordinatorID),
			refusedBy: "server",
			wantErr:   ErrWrongRole,
		},
		{
			name:      "server without roots",
			server:    ServerTLSConfig(coordinator, nil, RoleNode),
			client:    ClientTLSConfig(node, ca.Pool(), coordinatorID),
			refusedBy: "server",
			wantErr:   errAny,
		},
		{
			name:      "client without roots",
			server:    ServerTLSConfig(coordinator, ca.Pool(), RoleNode),
			client:    ClientTLSConfig(node, nil, coordinatorID),
			refusedBy: "client",
			wantErr:   ErrUntrusted,
		},
		{
			name:      "server has another name",
			server:    ServerTLSConfig(coordinator, ca.Pool(), RoleNode),
			client:    ClientTLSConfig(node, ca.Pool(), Identity{TrustDomain: testDomain, Role: RoleCoordinator, Name: "coord2"}),
			refusedBy: "client",
			wantErr:   ErrWrongIdentity,
		},
		{
			name:      "server has another role",
			server:    ServerTLSConfig(node, ca.Pool(), RoleNode),
			client:    ClientTLSConfig(node, ca.Pool(), coordinatorID),
			refusedBy: "client",
			wantErr:   ErrWrongIdentity,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverErr, clientErr := handshake(t, tt.server, tt.client)
			refuser, other := serverErr, clientErr
			if tt.refusedBy == "client" {
				refuser, other = clientErr, serverErr
			}
			switch {
			case tt.refusedBy == "":
				if serverErr != nil || clientErr != nil {
					t.Fatalf("server error %v, client error %v; want none", serverErr, clientErr)
				}
			case refuser == nil || other == nil:
				t.Fatalf("server error %v, client error %v; want both to fail", serverErr, clientErr)
			case tt.wantErr != errAny && !errors.Is(refuser, tt.wantErr):
				t.Errorf("%s error %v, want %v", tt.refusedBy, refuser, tt.wantErr)
			}
		})
	}
}

// errAny stands for any non-nil error.
var errAny = errors.New("any error")

// handshake runs a TLS handshake between the two configs over loopback TCP
// and returns each side's error. The client then reads, so that a refusal
// the server sends after the client finished its TLS 1.3 handshake is seen.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	done := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte{1})
		done <- err
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(c, client)
	if clientErr = tc.Handshake(); clientErr == nil {
		_, clientErr = tc.Read(make([]byte, 1))
	} else {
		c.Close()
	}
	return <-done, clientErr
}
