package coordinator_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

const trustDomain = "test.fedscore.local"

// The policy engine and the partner data are immutable and shared by every
// federation in the package's tests.
var (
	sharedEngine = sync.OnceValues(func() (*policy.Engine, error) {
		return policy.NewEngine(context.Background(), policy.Options{})
	})
	sharedData = sync.OnceValues(func() (map[string]*dataset.Table, error) {
		partners, err := sandbox.GeneratePartners([]string{"bank-east", "consumer-finance", "rogue-bank"}, 300, 11)
		if err != nil {
			return nil, err
		}
		out := map[string]*dataset.Table{}
		for _, p := range partners {
			out[p.Name] = p.Data
		}
		return out, nil
	})
)

// fedConfig describes a test federation: honest members run node.Node, the
// remaining members are attached by the test itself.
type fedConfig struct {
	honest []string
	others []string
	// queryTimeout and setupTimeout configure the coordinator; zero keeps
	// its defaults.
	queryTimeout time.Duration
	setupTimeout time.Duration
}

// federation is a coordinator on loopback with its PKI, some real nodes and
// a querier.
type federation struct {
	t       *testing.T
	ctx     context.Context // ends when the test ends
	ca      *pki.CA
	roots   *x509.CertPool
	coordID pki.Identity
	members []string
	honest  []string
	srv     *coordinator.Server
	addr    string
	logs    *logRecorder
	obs     *observer
	client  *querier.Client
}

func newFederation(t *testing.T, cfg fedConfig) *federation {
	t.Helper()
	ca, err := pki.NewCA(trustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &federation{
		t: t, ca: ca, roots: ca.Pool(),
		coordID: pki.Identity{TrustDomain: trustDomain, Role: pki.RoleCoordinator, Name: "coordinator"},
		members: slices.Concat(cfg.honest, cfg.others),
		honest:  cfg.honest,
		logs:    newLogRecorder(),
		obs:     newObserver(),
	}
	coordCred := f.issue(pki.RoleCoordinator, "coordinator")
	f.srv, err = coordinator.New(coordinator.Config{
		Credential: coordCred, Roots: f.roots, Members: f.members, StateDir: t.TempDir(),
		QueryTimeout: cfg.queryTimeout, SetupTimeout: cfg.setupTimeout,
		Logger: slog.New(f.logs.handler()), Observe: f.obs.observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	f.ctx = ctx
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("coordinator Serve: %v", err)
		}
		if t.Failed() {
			f.logs.dump(t)
		}
	})
	f.client, err = querier.Dial(querier.Config{
		Credential: f.issue(pki.RoleQuerier, "analyst"), Roots: f.roots,
		Coordinator: f.addr, CoordinatorIdentity: f.coordID, Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.client.Close() })
	for _, name := range cfg.honest {
		f.startNode(name)
	}
	return f
}

// issue makes a credential of the federation's CA.
func (f *federation) issue(role, name string) *pki.Credential {
	f.t.Helper()
	cred, err := f.ca.Issue(pki.Identity{TrustDomain: trustDomain, Role: role, Name: name}, nil, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cred
}

// startNode runs a real node until the test ends.
func (f *federation) startNode(name string) {
	f.t.Helper()
	engine, err := sharedEngine()
	if err != nil {
		f.t.Fatal(err)
	}
	data, err := sharedData()
	if err != nil {
		f.t.Fatal(err)
	}
	if data[name] == nil {
		f.t.Fatalf("no test data for node %s", name)
	}
	n, err := node.New(node.Config{
		Credential: f.issue(pki.RoleNode, name), Roots: f.roots,
		Coordinator: f.addr, CoordinatorIdentity: f.coordID,
		Data: data[name], Policy: engine, Keys: newMemStore(), StateDir: f.t.TempDir(),
		RetryDelay: 50 * time.Millisecond, Logger: slog.New(f.logs.handler()),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
		n.Close()
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
	})
}

// dial returns a client of the coordinator that presents cred.
func (f *federation) dial(cred *pki.Credential) pb.CoordinatorClient {
	f.t.Helper()
	conn, err := f.conn(cred)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	return pb.NewCoordinatorClient(conn)
}

// conn opens a connection to the coordinator that presents cred.
func (f *federation) conn(cred *pki.Credential) (*grpc.ClientConn, error) {
	return grpc.NewClient(f.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLSConfig(cred, f.roots, f.coordID))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessageSize)),
	)
}

// waitReady waits until every member holds the coordinator's epoch.
func (f *federation) waitReady(ctx context.Context) {
	f.t.Helper()
	if err := f.srv.WaitReady(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// spec is the query the tests run: the sandbox's default segment query.
func (f *federation) spec() *query.Spec {
	f.t.Helper()
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		f.t.Fatal(err)
	}
	return spec
}

// mustQuery runs the default query, which must be answered by every
// member.
func (f *federation) mustQuery(ctx context.Context) {
	f.t.Helper()
	ans, err := f.client.Run(ctx, f.spec(), nil)
	if err != nil {
		f.t.Fatalf("query: %v", err)
	}
	if !slices.Equal(ans.Partners, f.members) {
		f.t.Errorf("answer from partners %v, want %v", ans.Partners, f.members)
	}
	if ans.Result == nil || len(ans.Result.Rows) == 0 {
		f.t.Errorf("answer without rows")
	}
}

// memStore is an in-memory keystore.Store.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStore() *memStore { return &memStore{m: map[string][]byte{}} }

func (s *memStore) Put(_ context.Context, name string, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = slices.Clone(secret)
	return nil
}

func (s *memStore) Get(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[name]
	if !ok {
		return nil, keystore.ErrNotFound
	}
	return slices.Clone(b), nil
}

func (s *memStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

// observer records what nodes send to the coordinator (Config.Observe).
type observer struct {
	mu      sync.Mutex
	msgs    []observed
	changed chan struct{}
}

type observed struct {
	node string
	msg  *pb.NodeMessage
}

func newObserver() *observer { return &observer{changed: make(chan struct{})} }

func (o *observer) observe(node string, msg *pb.NodeMessage) {
	if msg.GetChunk() != nil {
		return // chunks are many and large; no test needs them
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, observed{node, msg})
	close(o.changed)
	o.changed = make(chan struct{})
}

// all returns the messages that match.
func (o *observer) all(match func(node string, msg *pb.NodeMessage) bool) []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []observed
	for _, m := range o.msgs {
		if match(m.node, m.msg) {
			out = append(out, m)
		}
	}
	return out
}

// wait blocks until a message that matches has been observed.
func (o *observer) wait(ctx context.Context, match func(node string, msg *pb.NodeMessage) bool) (observed, error) {
	for {
		o.mu.Lock()
		for _, m := range o.msgs {
			if match(m.node, m.msg) {
				o.mu.Unlock()
				return m, nil
			}
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-ctx.Done():
			return observed{}, ctx.Err()
		case <-changed:
		}
	}
}

// logRecorder collects the log records of the coordinator and the nodes,
// so that tests can wait for events the API does not expose.
type logRecorder struct {
	mu      sync.Mutex
	recs    []logRecord
	changed chan struct{}
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string {
	keys := make([]string, 0, len(r.attrs))
	for k := range r.attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(r.msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, r.attrs[k])
	}
	return b.String()
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (r *logRecorder) handler() slog.Handler { return &recordHandler{r: r} }

// count returns how many records have the message and attributes.
func (r *logRecorder) count(msg string, attrs ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.matches(msg, attrs) {
			n++
		}
	}
	return n
}

// wait blocks until the n-th record with the message and attributes
// (key, value pairs) has been logged, and returns it.
func (r *logRecorder) wait(ctx context.Context, n int, msg string, attrs ...string) (logRecord, error) {
	for {
		r.mu.Lock()
		seen := 0
		for _, rec := range r.recs {
			if rec.matches(msg, attrs) {
				if seen++; seen == n {
					r.mu.Unlock()
					return rec, nil
				}
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return logRecord{}, fmt.Errorf("waiting for log record %q %q: %w", msg, attrs, ctx.Err())
		case <-changed:
		}
	}
}

func (rec logRecord) matches(msg string, attrs []string) bool {
	if rec.msg != msg {
		return false
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		if rec.attrs[attrs[i]] != attrs[i+1] {
			return false
		}
	}
	return true
}

func (r *logRecorder) dump(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		t.Log(rec)
	}
}

type recordHandler struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{msg: rec.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		lr.attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		lr.attrs[a.Key] = a.Value.String()
		return true
	})
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.recs = append(h.r.recs, lr)
	close(h.r.changed)
	h.r.changed = make(chan struct{})
	return nil
}

func (h *recordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordHandler{r: h.r, attrs: slices.Concat(h.attrs, attrs)}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// errorContains fails the test unless err is non-nil and contains every
// one of want.
func errorContains(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
