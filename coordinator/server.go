package coordinator

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/telemetry"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// Version is the protocol version the coordinator speaks.
const Version = "fedscore/2"

// Config configures a coordinator.
type Config struct {
	// Credential is the coordinator's TLS identity (role coordinator).
	Credential *pki.Credential
	// Roots verifies node and querier certificates.
	Roots *x509.CertPool
	// Members names the federation's nodes. Every member takes part in key
	// generation and in every query (the collective key is N-of-N).
	Members []string
	// Params names the crypto parameter set; empty means crypto.ParamsBGV13.
	Params string
	// Threshold makes epochs t-of-N: any Threshold attached members can
	// answer a query. Zero means N-of-N: every member, every query.
	Threshold int
	// StateDir persists the current epoch; empty keeps it in memory only.
	StateDir string
	// QueryTimeout bounds a query when the querier asks for no deadline of
	// its own; zero means 30 seconds.
	QueryTimeout time.Duration
	// SetupTimeout bounds the key generation of an epoch; zero means 30 seconds.
	SetupTimeout time.Duration
	// UploadWindow bounds how many members upload ciphertexts to the
	// coordinator at once in a run (their inputs, and re-sends for spot
	// checks); zero means 16. The coordinator adds each input into a
	// running sum and drops it, so its memory per query is this many
	// inputs plus the sums, whatever the number of members.
	UploadWindow int
	Logger       *slog.Logger
	// Metrics is the registry the coordinator registers its metrics on
	// (metrics.go); nil keeps them unregistered. Give each coordinator a
	// registry of its own.
	Metrics prometheus.Registerer
	// Reflection registers the gRPC server reflection service, for
	// operators' grpcurl list/describe; it is off by default.
	Reflection bool
	// Observe, when set, is called with every message a node sends, before
	// the coordinator acts on it. It must not keep or modify the message.
	Observe func(node string, msg *pb.NodeMessage)
}

// Server is a coordinator. Create it with New and serve it with Serve.
type Server struct {
	pb.UnimplementedCoordinatorServer

	cfg     Config
	params  crypto.Params
	certs   *protocol.CertCache
	log     *slog.Logger
	health  *telemetry.Health
	metrics *metrics
	history queryHistory

	mu    sync.Mutex
	nodes map[string]*nodeConn
	// gone holds each member's last stream after it ended, for Status.
	gone     map[string]*nodeConn
	epoch    *Epoch
	setup    bool // a key generation is running
	rotate   bool // an operator asked for a new epoch
	setups   int  // key generations finished, successfully or not
	queries  map[string]bool
	overlaps overlapSessions
	changed  chan struct{} // closed and replaced whenever nodes or epoch change
	setupErr error
}

// New validates cfg and loads any persisted epoch.
func New(cfg Config) (*Server, error) {
	if cfg.Credential == nil || cfg.Roots == nil {
		return nil, errors.New("coordinator: a credential and trust roots are required")
	}
	if len(cfg.Members) < 2 {
		return nil, fmt.Errorf("coordinator: a federation needs at least 2 members, got %d", len(cfg.Members))
	}
	seen := map[string]bool{}
	for _, m := range cfg.Members {
		if _, err := pki.ParseIdentity("spiffe://x/node/" + m); err != nil {
			return nil, fmt.Errorf("coordinator: member %q: %w", m, err)
		}
		if seen[m] {
			return nil, fmt.Errorf("coordinator: member %q listed twice", m)
		}
		seen[m] = true
	}
	if cfg.Params == "" {
		cfg.Params = crypto.ParamsBGV13
	}
	if cfg.Threshold != 0 && (cfg.Threshold < 2 || cfg.Threshold >= len(cfg.Members)) {
		return nil, fmt.Errorf("coordinator: threshold %d must be between 2 and %d (members - 1), or 0 for N-of-N", cfg.Threshold, len(cfg.Members)-1)
	}
	params, err := crypto.NewParams(cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 30 * time.Second
	}
	if cfg.SetupTimeout <= 0 {
		cfg.SetupTimeout = 30 * time.Second
	}
	if cfg.UploadWindow <= 0 {
		cfg.UploadWindow = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	epoch, err := loadEpoch(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if epoch != nil && (epoch.Params != cfg.Params || !slices.Equal(epoch.Members, cfg.Members) || epoch.Threshold != cfg.Threshold) {
		cfg.Logger.Info("persisted epoch does not match the configuration; a new epoch will be generated", "epoch", epoch.ID)
		epoch = nil
	}
	s := &Server{
		cfg:     cfg,
		params:  params,
		certs:   protocol.NewCertCache(cfg.Roots),
		log:     cfg.Logger,
		health:  telemetry.NewHealth(pb.Coordinator_ServiceDesc.ServiceName, cfg.Logger.With("health", "coordinator")),
		nodes:   map[string]*nodeConn{},
		gone:    map[string]*nodeConn{},
		epoch:   epoch,
		queries: map[string]bool{},
		changed: make(chan struct{}),
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if s.metrics, err = newMetrics(reg, s); err != nil {
		return nil, fmt.Errorf("coordinator: metrics: %w", err)
	}
	s.health.Set(s.servingLocked())
	return s, nil
}

// Health is the coordinator's health service, SERVING when it admits
// queries (see servingLocked); the telemetry listener serves it too.
func (s *Server) Health() *telemetry.Health { return s.health }

// GRPCServer returns a gRPC server with svc registered (normally s itself)
// and the standard health service (and, with Config.Reflection, server
// reflection), mutual TLS 1.3 for nodes, queriers, operators and
// regulators (auth.go), and a modest receive limit.
func (s *Server) GRPCServer(svc pb.CoordinatorServer) *grpc.Server {
	opts := append(s.authInterceptors(),
		grpc.Creds(s.serverCredentials()),
		grpc.StatsHandler(s.metrics.bytes.Handler()),
		grpc.MaxRecvMsgSize(wire.MaxMessageSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	gs := grpc.NewServer(opts...)
	pb.RegisterCoordinatorServer(gs, svc)
	healthpb.RegisterHealthServer(gs, s.health.Service())
	if s.cfg.Reflection {
		reflection.Register(gs)
	}
	return gs
}

// Serve serves on lis until ctx is done.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	gs := s.GRPCServer(s)
	stop := context.AfterFunc(ctx, gs.Stop)
	defer stop()
	err := gs.Serve(lis)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Epoch returns the current epoch, or nil before the first key generation.
func (s *Server) Epoch() *Epoch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// WaitReady blocks until every member is attached and holds the current
// epoch's key, or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ready, changed, setupErr := s.readyLocked(), s.changed, s.setupErr
		s.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			if setupErr != nil {
				return fmt.Errorf("federation not ready: %w (last key generation: %v)", ctx.Err(), setupErr)
			}
			return fmt.Errorf("federation not ready: %w", ctx.Err())
		case <-changed:
		}
	}
}

// participantsLocked returns the members attached with the current
// epoch's key, in member order.
func (s *Server) participantsLocked() []string {
	if s.epoch == nil {
		return nil
	}
	var out []string
	for _, m := range s.epoch.Members {
		if c := s.nodes[m]; c != nil && c.holds(s.epoch) {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) readyLocked() bool {
	if s.epoch == nil || s.setup {
		return false
	}
	for _, m := range s.cfg.Members {
		c := s.nodes[m]
		if c == nil || !c.holds(s.epoch) {
			return false
		}
	}
	return true
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
	s.health.Set(s.servingLocked())
}

func requireRole(ctx context.Context, roles ...string) (pki.Identity, error) {
	id, err := pki.PeerIdentity(ctx)
	if err != nil {
		return id, status.Errorf(codes.Unauthenticated, "no verified peer identity: %v", err)
	}
	if !slices.Contains(roles, id.Role) {
		return id, status.Errorf(codes.PermissionDenied, "%s may not call this method", id)
	}
	return id, nil
}

// peerChain returns the DER chain the peer presented, leaf first.
func peerChain(ctx context.Context) [][]byte {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil
	}
	var out [][]byte
	for _, c := range info.State.PeerCertificates {
		out = append(out, c.Raw)
	}
	return out
}

func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + strings.ToLower(time.Now().UTC().Format("20060102T150405Z")) + "-" + hex.EncodeToString(b)
}
