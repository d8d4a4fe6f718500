package coordinator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/pki"
)

// The coordinator's port speaks mutual TLS 1.3 only, and a client whose
// certificate is refused is told why. A certificate that does not verify
// (another CA, expired, a foreign trust domain or role) fails the
// handshake: the client reads the TLS alert (pki.ExplainRefusal turns it
// into words) and the coordinator logs the reason. A client that presents
// no certificate at all completes the handshake instead and every call it
// makes is refused with codes.Unauthenticated, saying so: standard clients
// such as grpcurl report an alert after the handshake only as a timeout,
// but show a status. Either way no handler runs without a verified
// identity.

// errNoClientCertificate is what a client without a certificate hears.
var errNoClientCertificate = status.Error(codes.Unauthenticated,
	"this coordinator admits only clients with a certificate of the federation's CA (mutual TLS); this client presented none")

// serverCredentials returns the transport credentials of the coordinator's
// port.
func (s *Server) serverCredentials() credentials.TransportCredentials {
	cfg := pki.ServerTLSConfig(s.cfg.Credential, s.cfg.Roots, pki.RoleNode, pki.RoleQuerier, pki.RoleOperator, pki.RoleRegulator)
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil // refused at every call by requireCertificate
		}
		return verify(cs)
	}
	return &refusalLogger{TransportCredentials: credentials.NewTLS(cfg), s: s}
}

// authInterceptors refuse every call, of every service, from a client
// without a verified certificate.
func (s *Server) authInterceptors() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := s.requireCertificate(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := s.requireCertificate(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

func (s *Server) requireCertificate(ctx context.Context, method string) error {
	if _, err := pki.PeerIdentity(ctx); err == nil {
		return nil
	}
	var remote string
	if p, ok := peer.FromContext(ctx); ok {
		remote = p.Addr.String()
	}
	s.metrics.refusedClients.WithLabelValues("no_certificate").Inc()
	s.log.Warn("call refused: the client presented no certificate", "remote", remote, "method", method)
	return errNoClientCertificate
}

// refusalLogger logs and counts the handshakes the coordinator refuses.
type refusalLogger struct {
	credentials.TransportCredentials
	s *Server
}

func (r *refusalLogger) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	lc := &lingerConn{Conn: raw}
	conn, info, err := r.TransportCredentials.ServerHandshake(lc)
	lc.handshaken.Store(true)
	if err != nil {
		reason, presented := handshakeRefusal(err)
		if reason != "" {
			r.s.metrics.refusedClients.WithLabelValues(reason).Inc()
			r.s.log.Warn("TLS handshake refused", "remote", raw.RemoteAddr().String(), "reason", reason,
				"presented", presented, "err", err)
		}
	}
	return conn, info, err
}

func (r *refusalLogger) Clone() credentials.TransportCredentials {
	return &refusalLogger{TransportCredentials: r.TransportCredentials.Clone(), s: r.s}
}

// lingerConn makes the close of a refused handshake graceful. The client
// has sent its first data by the time the server refuses its certificate
// (TLS 1.3), and closing a socket with unread data resets the connection,
// which can destroy the alert before the client reads it: the client would
// hear only "broken pipe". So the alert is followed by a FIN and what the
// client still sends is read and dropped, briefly, before the close.
type lingerConn struct {
	net.Conn
	handshaken atomic.Bool
}

// lingerLimit bounds the wait and the bytes drained after a refusal.
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

func (c *lingerConn) Close() error {
	if !c.handshaken.Load() {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, io.LimitReader(c.Conn, lingerBytes))
	}
	return c.Conn.Close()
}

// handshakeRefusal classifies a failed server handshake: a short reason
// for the metric label ("" for a connection closed without a handshake,
// such as a TCP probe), and the identity the client's certificate claims
// (unverified).
func handshakeRefusal(err error) (reason, presented string) {
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) && len(ve.UnverifiedCertificates) > 0 {
		presented = claimedIdentity(ve.UnverifiedCertificates[0])
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset"):
		return "", ""
	case errors.As(err, &unknown):
		return "unknown_authority", presented
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "expired", presented
	case errors.As(err, &invalid):
		return "invalid_certificate", presented
	case errors.Is(err, pki.ErrWrongRole):
		return "wrong_role", presented
	case errors.Is(err, pki.ErrUntrusted), errors.Is(err, pki.ErrInvalidIdentity):
		return "untrusted", presented
	case errors.As(err, &header):
		return "not_tls", ""
	}
	return "handshake", presented
}

func claimedIdentity(c *x509.Certificate) string {
	if id, err := pki.IdentityFromCert(c); err == nil {
		return id.String()
	}
	return fmt.Sprintf("subject %q", c.Subject.String())
}
