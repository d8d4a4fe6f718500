package coordinator_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/querier"
)

// testCA is a CA made with crypto/x509 directly, so that a test can
// issue certificates with any validity (pki.CA issues only current ones).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue makes a credential for role/name valid from notBefore to notAfter.
func (ca *testCA) issue(t *testing.T, role, name string, notBefore, notAfter time.Time) *pki.Credential {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	id := pki.Identity{TrustDomain: trustDomain, Role: role, Name: name}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{id.URI()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Credential{Certificate: cert, Key: key}
}

// authCoordinator serves a coordinator of ca's federation on loopback and
// returns its address and log.
func authCoordinator(t *testing.T, ca *testCA) (string, *logRecorder) {
	t.Helper()
	now := time.Now()
	logs := newLogRecorder()
	srv, err := coordinator.New(coordinator.Config{
		Credential: ca.issue(t, pki.RoleCoordinator, "coordinator", now.Add(-time.Hour), now.Add(time.Hour)),
		Roots:      ca.pool(), Members: []string{"bank-east", "consumer-finance"}, StateDir: t.TempDir(),
		Logger: slog.New(logs.handler()),
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		<-served
		if t.Failed() {
			logs.dump(t)
		}
	})
	return lis.Addr().String(), logs
}

var coordinatorID = pki.Identity{TrustDomain: trustDomain, Role: pki.RoleCoordinator, Name: "coordinator"}

// TestClientWithoutCertificate checks that a client presenting no
// certificate is refused at every call of every service, the health
// service too, with a status that says why, and that the coordinator logs
// it; the client completes the TLS handshake only to hear this.
func TestClientWithoutCertificate(t *testing.T) {
	ca := newTestCA(t, "federation CA")
	addr, logs := authCoordinator(t, ca)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.pool(), ServerName: "ignored", InsecureSkipVerify: true}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api := pb.NewCoordinatorClient(conn)
	calls := map[string]func() error{
		"Status": func() error { _, err := api.Status(ctx, &pb.StatusRequest{}); return err },
		"Rotate": func() error { _, err := api.Rotate(ctx, &pb.RotateRequest{}); return err },
		"Health": func() error {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		},
		"Attach": func() error {
			s, err := api.Attach(ctx)
			if err == nil {
				_, err = s.Recv()
			}
			return err
		},
		"Query": func() error {
			s, err := api.Query(ctx)
			if err == nil {
				_, err = s.Recv()
			}
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if grpcCode(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "presented none") {
			t.Errorf("%s without a certificate: %v; want Unauthenticated saying no certificate was presented", name, err)
		}
	}
	if n := logs.count("call refused: the client presented no certificate"); n != len(calls) {
		t.Errorf("the coordinator logged %d refused calls, want %d", n, len(calls))
	}
}

// TestRefusedCertificates checks what a client whose certificate is
// expired or from another CA hears (the querier, as fedscore query,
// fedscore status and the console use it, and a node), and that the
// coordinator logs why.
func TestRefusedCertificates(t *testing.T) {
	ca := newTestCA(t, "federation CA")
	other := newTestCA(t, "another CA")
	addr, logs := authCoordinator(t, ca)
	now := time.Now()
	cases := []struct {
		name    string
		ca      *testCA
		from    time.Time
		until   time.Time
		says    string // what the client's error must say
		reason  string // the coordinator's log
		claimed string
	}{
		{"another CA", other, now.Add(-time.Hour), now.Add(time.Hour), "does not trust the issuer", "unknown_authority", "querier/stranger"},
		{"expired", ca, now.Add(-48 * time.Hour), now.Add(-time.Hour), "expired", "expired", "querier/late"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.TrimPrefix(tc.claimed, "querier/")
			cred := tc.ca.issue(t, pki.RoleQuerier, name, tc.from, tc.until)
			c, err := querier.Dial(querier.Config{Credential: cred, Roots: ca.pool(), Coordinator: addr, CoordinatorIdentity: coordinatorID})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err = c.Status(ctx)
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !errors.Is(err, pki.ErrRefused) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.claimed) {
				t.Fatalf("Status: %v; want pki.ErrRefused saying %q and naming %s", err, tc.says, tc.claimed)
			}
			if ctx.Err() != nil {
				t.Fatal("the refusal came only at the deadline")
			}
			if _, err := logs.wait(ctx, 1, "TLS handshake refused", "reason", tc.reason, "presented", "spiffe://"+trustDomain+"/"+tc.claimed); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("a node", func(t *testing.T) {
		engine, err := sharedEngine()
		if err != nil {
			t.Fatal(err)
		}
		data, err := sharedData()
		if err != nil {
			t.Fatal(err)
		}
		nodeLogs := newLogRecorder()
		n, err := node.New(node.Config{
			Credential: ca.issue(t, pki.RoleNode, "bank-east", now.Add(-48*time.Hour), now.Add(-time.Minute)),
			Roots:      ca.pool(), Coordinator: addr, CoordinatorIdentity: coordinatorID,
			Data: data["bank-east"], Policy: engine, Keys: newMemStore(), StateDir: t.TempDir(),
			RetryDelay: 50 * time.Millisecond, Logger: slog.New(nodeLogs.handler()),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { defer close(done); n.Run(ctx) }()
		rec, err := nodeLogs.wait(ctx, 1, "coordinator stream ended; reconnecting")
		cancel()
		<-done
		if err != nil {
			t.Fatal(err)
		}
		if msg := rec.attrs["err"]; !strings.Contains(msg, "certificate refused") || !strings.Contains(msg, "expired") {
			t.Errorf("the node logged %q; want the refusal of its expired certificate", msg)
		}
		if err := n.Health().Ready(); err == nil {
			t.Error("a node whose certificate is refused reports itself ready")
		}
	})
}
