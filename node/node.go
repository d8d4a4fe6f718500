package node

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/telemetry"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/scoring"
)

// Version is the protocol version the node speaks.
const Version = "fedscore/2"

// coordinatorBlobBudget bounds what the coordinator may have buffered at a
// node: the sums of a few queries, and per spot-checked member an input of
// the largest query (8 bgv14 ciphertexts, twice over).
func (n *Node) coordinatorBlobBudget() int { return 32<<20 + n.cfg.SpotChecks*8<<20 }

// DefaultSpotChecks is how many members' inputs a node checks in full
// against their signed fingerprints before it gives a share of a sum.
const DefaultSpotChecks = 2

// Config configures a node.
type Config struct {
	// Credential is the node's TLS and signing identity (role node); its
	// name is the node's name in the federation.
	Credential *pki.Credential
	// Roots verifies the coordinator, queriers and other nodes.
	Roots *x509.CertPool
	// Coordinator is the coordinator's address (host:port) and Identity
	// the identity its certificate must carry.
	Coordinator         string
	CoordinatorIdentity pki.Identity
	// Data is the partner's records in memory; Source, when set instead,
	// is where they live (a SQL database the aggregation is pushed down
	// to, say). Exactly one is set.
	Data   *dataset.Table
	Source source.Source
	// Roles maps the policy's record roles ("age", "birth_date") to the
	// columns that hold them, as the data's column mapping declares.
	Roles map[string]string
	// Models are the verified scoring models queries may name; each node
	// scores its own records with them.
	Models []*scoring.Model
	// NoiseSource seeds the differential-privacy noise; nil means
	// crypto/rand. A fixed source makes the noise predictable: tests only.
	NoiseSource io.Reader
	// Policy decides admission and the cohort of every query.
	Policy *policy.Engine
	// Keys holds the node's secret-key shares.
	Keys keystore.Store
	// StateDir holds the epoch's public material, the share ledger and the
	// admission record.
	StateDir string
	// SpotChecks is how many other members' inputs the node checks in full
	// against their signed fingerprints before it gives a share of a sum,
	// chosen at random once it holds every fingerprint; zero means
	// DefaultSpotChecks. Each check costs the node one input's download.
	SpotChecks int
	// SpotCheckSource chooses the members to spot-check; nil means
	// crypto/rand. A fixed source makes the choice predictable: tests only.
	SpotCheckSource io.Reader
	// RetryDelay is the pause before reconnecting; zero means one second.
	RetryDelay time.Duration
	Logger     *slog.Logger
	// Metrics is the registry the node registers its metrics on
	// (metrics.go); nil keeps them unregistered. Give each node a registry
	// of its own.
	Metrics prometheus.Registerer
}

// Node is a partner node. Create it with New and run it with Run.
type Node struct {
	cfg        Config
	name       string
	log        *slog.Logger
	certs      *protocol.CertCache
	admissions *admissions
	ledger     *Ledger
	budget     *budgetLedger
	privacy    *privacy.Ledger
	auditLog   *audit.Log
	archive    *queryArchive
	overlaps   overlapRuns
	health     *telemetry.Health
	metrics    *metrics

	mu    sync.Mutex
	epoch *protocol.Epoch
	// current is the open session, notice the coordinator's epoch as it
	// last told it, and sharePresent and reported what the node last
	// reported of itself (health.go).
	current      *session
	notice       *pb.EpochNotice
	sharePresent bool
	reported     *pb.NodeStatus
	pending      *pendingSetup
	queries      map[string]*admittedQuery
	scored       map[string]*ScoredData // by model name
	params       map[string]crypto.Params
}

// New checks cfg and loads the node's persisted state.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Credential == nil || cfg.Roots == nil:
		return nil, errors.New("node: a credential and trust roots are required")
	case (cfg.Data == nil) == (cfg.Source == nil):
		return nil, errors.New("node: give either in-memory data or a data source")
	case cfg.Policy == nil:
		return nil, errors.New("node: no policy engine")
	case cfg.Keys == nil:
		return nil, errors.New("node: no keystore")
	case cfg.StateDir == "":
		return nil, errors.New("node: no state directory")
	case cfg.Coordinator == "":
		return nil, errors.New("node: no coordinator address")
	}
	id, err := cfg.Credential.Identity()
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if id.Role != pki.RoleNode {
		return nil, fmt.Errorf("node: credential is for %s, not a node", id)
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	switch {
	case cfg.SpotChecks == 0:
		cfg.SpotChecks = DefaultSpotChecks
	case cfg.SpotChecks < 0:
		return nil, fmt.Errorf("node: %d spot checks", cfg.SpotChecks)
	}
	if cfg.SpotCheckSource == nil {
		cfg.SpotCheckSource = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: state directory: %w", err)
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	budget, err := openBudget(filepath.Join(cfg.StateDir, "release-budget.json"))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	epsilonLedger, err := privacy.OpenLedger(filepath.Join(cfg.StateDir, "privacy-ledger.json"))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	ledger, err := OpenLedger(filepath.Join(cfg.StateDir, "share-ledger"))
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	admitted, err := openAdmissions(filepath.Join(cfg.StateDir, AdmissionsFile), time.Now())
	if err != nil {
		ledger.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	archive, err := openQueryArchive(filepath.Join(cfg.StateDir, QueryArchiveFile))
	if err != nil {
		ledger.Close()
		admitted.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	auditLog, err := audit.Open(audit.Options{
		Path:        filepath.Join(cfg.StateDir, AuditLogFile),
		Signer:      cfg.Credential.Key,
		SignerCerts: append([]*x509.Certificate{cfg.Credential.Certificate}, cfg.Credential.Chain...),
	})
	if err != nil {
		ledger.Close()
		admitted.Close()
		archive.Close()
		return nil, fmt.Errorf("node: %w", err)
	}
	n := &Node{
		cfg:        cfg,
		name:       id.Name,
		log:        cfg.Logger.With("node", id.Name),
		health:     telemetry.NewHealth("fedscore.v1.Node", cfg.Logger.With("node", id.Name, "health", "node")),
		certs:      protocol.NewCertCache(cfg.Roots),
		admissions: admitted,
		ledger:     ledger,
		budget:     budget,
		privacy:    epsilonLedger,
		auditLog:   auditLog,
		archive:    archive,
		epoch:      st,
		queries:    map[string]*admittedQuery{},
		scored:     map[string]*ScoredData{},
		params:     map[string]crypto.Params{},
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if n.metrics, err = newMetrics(reg, n); err != nil {
		n.Close()
		return nil, fmt.Errorf("node: metrics: %w", err)
	}
	n.updateHealth()
	return n, nil
}

// AuditLogFile is the name of the node's audit log in its state directory.
const AuditLogFile = "audit.log"

// Name is the node's name in the federation.
func (n *Node) Name() string { return n.name }

// Close releases the node's files; the audit log ends with a signed
// checkpoint.
func (n *Node) Close() error {
	return errors.Join(n.auditLog.Close(), n.ledger.Close(), n.admissions.Close(), n.archive.Close())
}

// Run keeps the node attached to the coordinator, reconnecting after
// failures, until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go n.watchHealth(hctx)
	for {
		err := n.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		n.log.Warn("coordinator stream ended; reconnecting", "err", err, "in", n.cfg.RetryDelay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(n.cfg.RetryDelay):
		}
	}
}

// session is one connection to the coordinator.
func (n *Node) session(ctx context.Context) error {
	tlsCfg := pki.ClientTLSConfig(n.cfg.Credential, n.cfg.Roots, n.cfg.CoordinatorIdentity)
	conn, err := grpc.NewClient(n.cfg.Coordinator,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessageSize)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithStatsHandler(n.metrics.bytes.Handler()),
	)
	if err != nil {
		return fmt.Errorf("dial coordinator: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewCoordinatorClient(conn).Attach(ctx)
	if err != nil {
		return fmt.Errorf("attach: %w", pki.ExplainRefusal(err, n.cfg.Credential.Certificate))
	}
	s := &session{node: n, stream: stream, blobs: wire.NewAssembler(n.coordinatorBlobBudget())}
	if err := s.send(n.hello(ctx)); err != nil {
		return fmt.Errorf("hello: %w", pki.ExplainRefusal(err, n.cfg.Credential.Certificate))
	}
	n.attached(s)
	defer n.attached(nil)
	n.log.Info("attached to coordinator", "addr", n.cfg.Coordinator)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	tasks := &serializer{queues: map[string][]func(){}}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return errors.New("coordinator closed the stream")
		}
		if err != nil {
			return pki.ExplainRefusal(err, n.cfg.Credential.Certificate)
		}
		switch b := m.Body.(type) {
		case *pb.CoordinatorMessage_Chunk:
			if err := s.blobs.Add(b.Chunk); err != nil {
				return fmt.Errorf("coordinator stream: %w", err)
			}
		case *pb.CoordinatorMessage_SetupRequest:
			n.handleSetupRequest(ctx, s, b.SetupRequest)
		case *pb.CoordinatorMessage_SetupResult:
			n.handleSetupResult(ctx, s, b.SetupResult)
		case *pb.CoordinatorMessage_ShamirDelivery:
			n.handleShamirDelivery(ctx, s, b.ShamirDelivery)
		case *pb.CoordinatorMessage_Cancel:
			n.handleCancel(b.Cancel)
		case *pb.CoordinatorMessage_OverlapTask:
			n.startOverlap(ctx, s, &wg, b.OverlapTask)
		case *pb.CoordinatorMessage_OverlapHello:
			n.overlapHello(ctx, b.OverlapHello)
		case *pb.CoordinatorMessage_OverlapFrame:
			n.overlapFrame(b.OverlapFrame)
		case *pb.CoordinatorMessage_EpochNotice:
			n.noticed(b.EpochNotice)
		default:
			// Tasks of one query run in the order they arrived, one at a
			// time; different queries run concurrently.
			t, ok := n.route(m)
			if !ok {
				n.log.Warn("unknown message from the coordinator", "type", fmt.Sprintf("%T", m.Body))
				continue
			}
			n.dispatch(ctx, s, &wg, tasks, t)
		}
	}
}

// hello says which epoch the node holds, with what it reports of itself.
func (n *Node) hello(ctx context.Context) *pb.NodeMessage {
	st := n.selfStatus(ctx)
	n.mu.Lock()
	defer n.mu.Unlock()
	h := &pb.Hello{Version: Version, Status: st}
	if n.epoch != nil {
		h.Epoch, h.PublicKeyDigest = n.epoch.ID, n.epoch.PublicKeyDigest
	}
	return &pb.NodeMessage{Body: &pb.NodeMessage_Hello{Hello: h}}
}

// session is one attached stream; sends are serialised.
type session struct {
	node   *Node
	mu     sync.Mutex
	stream pb.Coordinator_AttachClient
	blobs  *wire.Assembler
}

func (s *session) send(m *pb.NodeMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stream.Send(m)
}

func (s *session) sendBlob(id string, data []byte) error {
	return wire.Send(func(c *pb.Chunk) error {
		return s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Chunk{Chunk: c}})
	}, id, data)
}

// refuse answers a task with an error; run is the query run, or 0 for a
// setup task.
func (s *session) refuse(task string, run uint32, err error) {
	s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{TaskId: task, Run: run, Error: err.Error()}}})
}

// serializer runs the functions queued under one key one after another, in
// order, and those of different keys concurrently.
type serializer struct {
	mu     sync.Mutex
	queues map[string][]func() // present while a worker runs the key
}

func (z *serializer) do(wg *sync.WaitGroup, key string, fn func()) {
	z.mu.Lock()
	q, running := z.queues[key]
	z.queues[key] = append(q, fn)
	z.mu.Unlock()
	if running {
		return
	}
	wg.Go(func() {
		for {
			z.mu.Lock()
			q := z.queues[key]
			if len(q) == 0 {
				delete(z.queues, key)
				z.mu.Unlock()
				return
			}
			next := q[0]
			z.queues[key] = q[1:]
			z.mu.Unlock()
			next()
		}
	})
}

// paramsFor returns the crypto parameter set name, built once: building one
// precomputes NTT tables and costs more than a query's own encryption.
func (n *Node) paramsFor(name string) (crypto.Params, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.params[name]; ok {
		return p, nil
	}
	p, err := crypto.NewParams(name)
	if err != nil {
		return p, err
	}
	n.params[name] = p
	return p, nil
}
