package console

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

// DefaultMaxUpload bounds an uploaded bundle, audit log, archive or data
// file.
const DefaultMaxUpload = 32 << 20

// Config configures a console.
type Config struct {
	// Listen is the address to serve on; it must be a loopback address
	// unless TLS is set.
	Listen string
	// TLS, when set, serves HTTPS and requires client certificates.
	TLS *TLSConfig

	// Querier runs queries; nil disables running them (the builder and
	// the catalogue still work).
	Querier *querier.Client
	// Status reads the coordinator's status; nil hides the operator view.
	Status func(ctx context.Context) (*pb.StatusResponse, error)

	// BundlePath is the federation's current signed bundle and BundleKeys
	// the keys it must verify under.
	BundlePath string
	BundleKeys []policy.VerificationKey
	// Schema is the consortium's published column schema.
	Schema *catalog.Schema
	// AuditRoots verifies the checkpoint signatures of audit logs: the
	// federation CA.
	AuditRoots *x509.CertPool
	// Nodes are node state directories the console can read directly (the
	// sandbox's); a deployed console verifies uploaded logs instead.
	Nodes []Node
	// DefaultSpec is the YAML the query builder starts from.
	DefaultSpec []byte
	// Expected, when set, computes a spec's result centrally on plaintext
	// (only the sandbox can), shown next to the encrypted answer.
	Expected func(ctx context.Context, spec *query.Spec) (*query.Result, error)

	// MaxUpload bounds request bodies; zero means DefaultMaxUpload.
	MaxUpload int64
	Logger    *slog.Logger
}

// TLSConfig is the console's server credential and the roots its clients'
// certificates must chain to.
type TLSConfig struct {
	Credential  *pki.Credential
	ClientRoots *x509.CertPool
}

// Node is a node whose state directory the console reads.
type Node struct {
	Name     string
	StateDir string
	// Data is the node's records, for a data subject's answer.
	Data *dataset.Table
}

// Server is a console.
type Server struct {
	cfg     Config
	log     *slog.Logger
	catalog *catalog.Catalog
	handler http.Handler

	mu      sync.Mutex
	jobs    map[string]*job
	order   []string // job ids, oldest first
	bundles *bundleStore
}

// New checks cfg and builds the console.
func New(cfg Config) (*Server, error) {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkListen(cfg.Listen, cfg.TLS); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, jobs: map[string]*job{}}
	var err error
	if s.bundles, err = newBundleStore(cfg.BundlePath, cfg.BundleKeys); err != nil {
		return nil, err
	}
	current := s.bundles.current()
	if current.review != nil {
		s.catalog = catalog.Build(current.review, cfg.Schema)
	} else if s.catalog, err = catalog.FromBundle(policy.DefaultBundle(), cfg.Schema); err != nil {
		return nil, err
	}
	s.handler = s.secure(s.routes())
	return s, nil
}

// Handler is the console's HTTP handler, security middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen opens the configured address and returns the URL to print.
func (s *Server) Listen() (net.Listener, string, error) {
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, "", err
	}
	scheme := "http"
	if s.cfg.TLS != nil {
		scheme = "https"
	}
	return lis, fmt.Sprintf("%s://%s/", scheme, lis.Addr()), nil
}

// Serve serves on lis until ctx ends.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLS != nil {
		hs.TLSConfig = pki.ServerTLSConfig(s.cfg.TLS.Credential, s.cfg.TLS.ClientRoots, pki.RoleQuerier, pki.RoleRegulator, pki.RoleOperator)
	}
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	var err error
	if s.cfg.TLS != nil {
		err = hs.ServeTLS(lis, "", "")
	} else {
		err = hs.Serve(lis)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /", staticHandler())
	mux.HandleFunc("GET /api/session", s.handleSession)

	analyst := roles(pki.RoleQuerier)
	mux.Handle("GET /api/catalog", analyst(s.handleCatalog))
	mux.Handle("POST /api/spec/check", analyst(s.handleSpecCheck))
	mux.Handle("POST /api/queries", analyst(s.handleRunQuery))
	mux.Handle("GET /api/queries", analyst(s.handleHistory))
	mux.Handle("GET /api/queries/{id}", analyst(s.handleQuery))
	mux.Handle("GET /api/queries/{id}/result.csv", analyst(s.handleResultCSV))
	mux.Handle("GET /api/queries/{id}/result.json", analyst(s.handleResultJSON))

	regulator := roles(pki.RoleRegulator)
	mux.Handle("GET /api/bundles", regulator(s.handleBundles))
	mux.Handle("POST /api/bundles", regulator(s.handleOpenBundle))
	mux.Handle("GET /api/bundles/{id}", regulator(s.handleBundle))
	mux.Handle("POST /api/bundles/{id}/test", regulator(s.handleBundleTest))
	mux.Handle("GET /api/diff", regulator(s.handleDiff))
	mux.Handle("GET /api/audit/nodes", regulator(s.handleAuditNodes))
	mux.Handle("GET /api/audit/nodes/{name}", regulator(s.handleAuditNode))
	mux.Handle("POST /api/audit/verify", regulator(s.handleAuditUpload))
	mux.Handle("POST /api/audit/subject", regulator(s.handleSubject))

	operator := roles(pki.RoleOperator)
	mux.Handle("GET /api/status", operator(s.handleStatus))
	return mux
}

// session is what the page learns about the console on load.
type session struct {
	Identity string   `json:"identity,omitempty"`
	Roles    []string `json:"roles"`
	Analyst  bool     `json:"analyst"`  // queries can run
	Operator bool     `json:"operator"` // status is available
	Nodes    []string `json:"nodes"`    // node logs readable directly
	Sandbox  bool     `json:"sandbox"`  // results are checked against plaintext
	Revision string   `json:"revision"` // the catalogue's bundle revision
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	ses := session{
		Roles: []string{pki.RoleQuerier, pki.RoleRegulator, pki.RoleOperator}, Analyst: s.cfg.Querier != nil,
		Operator: s.cfg.Status != nil, Sandbox: s.cfg.Expected != nil, Revision: s.catalog.Revision, Nodes: []string{},
	}
	if id, ok := clientIdentity(r); ok {
		ses.Identity, ses.Roles = id.String(), []string{id.Role}
	}
	for _, n := range s.cfg.Nodes {
		ses.Nodes = append(ses.Nodes, n.Name)
	}
	writeJSON(w, http.StatusOK, ses)
}
