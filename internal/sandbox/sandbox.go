// Package sandbox runs a whole fedscore federation on loopback: a dev PKI,
// a coordinator, partner nodes with file keystores, and a querier. The
// `fedscore sandbox` command and the end-to-end tests are built on it.
package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/scoring"
)

// TrustDomain is the sandbox federation's SPIFFE trust domain.
const TrustDomain = "sandbox.fedscore.local"

// Partner is one partner institution's data.
type Partner struct {
	Name string
	Data *dataset.Table
	// Roles maps the policy's record roles ("age", "birth_date") to
	// columns of Data, as a column mapping declares them.
	Roles map[string]string
}

// data returns the table a query reads at a partner: its records, with the
// derived score columns when the query names one of the models.
func (p Partner) data(spec *query.Spec, models []*scoring.Model) (*dataset.Table, *policy.ModelInfo, error) {
	if spec.Model == "" {
		return p.Data, nil, nil
	}
	for _, m := range models {
		if m.Name == spec.Model {
			sd, err := node.ScoreRecords(p.Data, m)
			if err != nil {
				return nil, nil, err
			}
			return sd.Table, sd.Info, nil
		}
	}
	return nil, nil, fmt.Errorf("no scoring model %q", spec.Model)
}

// Config configures a sandbox federation.
type Config struct {
	Partners []Partner
	// Params names the crypto parameter set; empty means the default.
	Params string
	// Threshold makes the federation t-of-N; zero means N-of-N.
	Threshold int
	// Models are the scoring models every node holds.
	Models []*scoring.Model
	// NoiseSeed, when non-zero, makes every node's differential-privacy
	// noise deterministic (seeded from it and the partner's name), for
	// statistical tests that must not flake. Never in production.
	NoiseSeed uint64
	// Keystore, when set, opens each partner's key custody (a Vault store,
	// say) every time its node starts; nil means a file keystore in Dir.
	Keystore func(ctx context.Context, partner string) (keystore.Store, error)
	// PolicyData is merged over the default bundle's data, e.g.
	// {"assume_consent_when_absent": true} for public data sets that carry
	// no consent columns.
	PolicyData map[string]any
	// Dir holds the PKI, keystores and state; empty means a fresh
	// temporary directory removed by Close.
	Dir    string
	Logger *slog.Logger
	// Observe sees every message a node sends to the coordinator.
	Observe func(node string, msg *pb.NodeMessage)
	// QueryTimeout bounds each query; zero means 30 seconds.
	QueryTimeout time.Duration
	// WrapCoordinator, when set, wraps the coordinator's gRPC service.
	// Tests use it to play a coordinator that deviates from the protocol.
	WrapCoordinator func(pb.CoordinatorServer) pb.CoordinatorServer
}

// Federation is a running sandbox.
type Federation struct {
	cfg     Config
	dir     string
	tempDir bool
	ca      *pki.CA
	coordID pki.Identity
	addr    string
	coord   *coordinator.Server
	engine  *policy.Engine
	bundle  policy.VerificationKey // the development regulator's key
	client  *querier.Client
	stop    context.CancelFunc
	wg      sync.WaitGroup

	mu    sync.Mutex
	nodes map[string]*runningNode
}

type runningNode struct {
	node   *node.Node
	keys   keystore.Store
	cancel context.CancelFunc
	done   chan struct{}
}

// Start brings up a coordinator and one node per partner and waits until the
// collective key is generated.
func Start(ctx context.Context, cfg Config) (*Federation, error) {
	if len(cfg.Partners) < 2 {
		return nil, fmt.Errorf("sandbox: need at least 2 partners, got %d", len(cfg.Partners))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Federation{cfg: cfg, dir: cfg.Dir, nodes: map[string]*runningNode{}}
	if f.dir == "" {
		d, err := os.MkdirTemp("", "fedscore-sandbox-")
		if err != nil {
			return nil, err
		}
		f.dir, f.tempDir = d, true
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	var err error
	if f.ca, err = pki.NewCA(TrustDomain, 24*time.Hour); err != nil {
		return nil, err
	}
	if err := f.ca.WriteCertificate(filepath.Join(f.dir, "ca.pem")); err != nil {
		return nil, err
	}
	if f.engine, err = f.signedPolicy(ctx); err != nil {
		return nil, err
	}

	f.coordID = pki.Identity{TrustDomain: TrustDomain, Role: pki.RoleCoordinator, Name: "coordinator"}
	coordCred, err := f.ca.Issue(f.coordID, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	members := make([]string, len(cfg.Partners))
	for i, p := range cfg.Partners {
		members[i] = p.Name
	}
	f.coord, err = coordinator.New(coordinator.Config{
		Credential: coordCred, Roots: f.ca.Pool(), Members: members, Params: cfg.Params, Threshold: cfg.Threshold,
		StateDir: filepath.Join(f.dir, "coordinator"), Logger: cfg.Logger.With("role", "coordinator"),
		Observe: cfg.Observe, QueryTimeout: cfg.QueryTimeout,
	})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.addr = lis.Addr().String()
	runCtx, stop := context.WithCancel(context.Background())
	f.stop = stop
	var svc pb.CoordinatorServer = f.coord
	if cfg.WrapCoordinator != nil {
		svc = cfg.WrapCoordinator(svc)
	}
	gs := f.coord.GRPCServer(svc)
	f.wg.Go(func() { gs.Serve(lis) })
	context.AfterFunc(runCtx, gs.Stop)

	for _, p := range cfg.Partners {
		if err := f.StartNode(p.Name); err != nil {
			return nil, err
		}
	}
	qCred, err := f.ca.Issue(pki.Identity{TrustDomain: TrustDomain, Role: pki.RoleQuerier, Name: "analyst"}, nil, nil)
	if err != nil {
		return nil, err
	}
	timeout := cfg.QueryTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if f.client, err = querier.Dial(querier.Config{
		Credential: qCred, Roots: f.ca.Pool(), Coordinator: f.addr, CoordinatorIdentity: f.coordID, Timeout: timeout,
	}); err != nil {
		return nil, err
	}
	if err := f.WaitReady(ctx); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// RegulatorKeyID names the sandbox's development bundle-signing key.
const RegulatorKeyID = "sandbox-regulator"

// signedPolicy builds the default bundle (with the configured data
// overrides built in), signs it with a development regulator key, and
// loads it the way a node does: only after its signature verifies.
func (f *Federation) signedPolicy(ctx context.Context) (*policy.Engine, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	revision := ""
	if len(f.cfg.PolicyData) > 0 {
		info, err := policy.InspectBundle(policy.DefaultBundle())
		if err != nil {
			return nil, err
		}
		revision = info.Manifest.Revision + "+sandbox"
	}
	tarball, err := policy.BuildBundleWithData(nil, revision, f.cfg.PolicyData)
	if err != nil {
		return nil, err
	}
	signed, err := policy.SignBundle(tarball, key, RegulatorKeyID)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(f.dir, "policy-bundle.tar.gz")
	if err := os.WriteFile(path, signed, 0o644); err != nil {
		return nil, err
	}
	f.bundle = policy.VerificationKey{ID: RegulatorKeyID, Key: &key.PublicKey}
	keys := []policy.VerificationKey{f.bundle}
	bundle, err := policy.LoadSignedBundle(path, keys...)
	if err != nil {
		return nil, err
	}
	return policy.NewEngine(ctx, policy.Options{Bundle: bundle, VerificationKeys: keys})
}

// WaitReady waits until every node is attached and holds the epoch's key.
func (f *Federation) WaitReady(ctx context.Context) error {
	return f.coord.WaitReady(ctx)
}

// Addr is the coordinator's address.
func (f *Federation) Addr() string { return f.addr }

// CA is the federation's development CA.
func (f *Federation) CA() *pki.CA { return f.ca }

// CoordinatorIdentity is the identity of the coordinator's certificate.
func (f *Federation) CoordinatorIdentity() pki.Identity { return f.coordID }

// Coordinator is the running coordinator.
func (f *Federation) Coordinator() *coordinator.Server { return f.coord }

// Querier is the sandbox's querier client.
func (f *Federation) Querier() *querier.Client { return f.client }

func (f *Federation) partner(name string) (Partner, bool) {
	for _, p := range f.cfg.Partners {
		if p.Name == name {
			return p, true
		}
	}
	return Partner{}, false
}

// StartNode starts (or restarts) a partner's node with its persisted state.
func (f *Federation) StartNode(name string) error {
	p, ok := f.partner(name)
	if !ok {
		return fmt.Errorf("sandbox: no partner %q", name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nodes[name] != nil {
		return fmt.Errorf("sandbox: node %s is running", name)
	}
	dir := filepath.Join(f.dir, "nodes", name)
	cred, err := f.nodeCredential(name, dir)
	if err != nil {
		return err
	}
	keys, err := f.keystore(name, dir)
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{
		Credential: cred, Roots: f.ca.Pool(), Coordinator: f.addr, CoordinatorIdentity: f.coordID,
		Data: p.Data, Roles: p.Roles, Models: f.cfg.Models, Policy: f.engine, Keys: keys, StateDir: filepath.Join(dir, "state"),
		NoiseSource: f.noiseSource(name),
		RetryDelay:  200 * time.Millisecond, Logger: f.cfg.Logger.With("role", "node"),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{node: n, keys: keys, cancel: cancel, done: make(chan struct{})}
	f.nodes[name] = rn
	go func() {
		defer close(rn.done)
		n.Run(ctx)
		n.Close()
	}()
	return nil
}

// StopNode stops a partner's node, as if its process died.
func (f *Federation) StopNode(name string) error {
	f.mu.Lock()
	rn := f.nodes[name]
	delete(f.nodes, name)
	f.mu.Unlock()
	if rn == nil {
		return fmt.Errorf("sandbox: node %s is not running", name)
	}
	rn.cancel()
	<-rn.done
	if c, ok := rn.keys.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// noiseSource returns a partner's deterministic noise seed stream, or nil
// for crypto/rand.
func (f *Federation) noiseSource(partner string) io.Reader {
	if f.cfg.NoiseSeed == 0 {
		return nil
	}
	h := fnv.New64a()
	io.WriteString(h, partner)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], f.cfg.NoiseSeed)
	binary.LittleEndian.PutUint64(seed[8:], h.Sum64())
	return mrand.NewChaCha8(seed)
}

// keystore opens a partner's key custody.
func (f *Federation) keystore(name, dir string) (keystore.Store, error) {
	if f.cfg.Keystore != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return f.cfg.Keystore(ctx, name)
	}
	pass, err := f.passphrase(dir)
	if err != nil {
		return nil, err
	}
	return keystore.OpenFileStore(filepath.Join(dir, "keystore"), pass)
}

// nodeCredential issues a node's certificate once and reuses it across restarts.
func (f *Federation) nodeCredential(name, dir string) (*pki.Credential, error) {
	certPath, keyPath := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	if cred, err := pki.LoadCredential(certPath, keyPath); err == nil {
		return cred, nil
	}
	cred, err := f.ca.Issue(pki.Identity{TrustDomain: TrustDomain, Role: pki.RoleNode, Name: name}, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return cred, cred.WriteFiles(certPath, keyPath)
}

// passphrase returns the node's keystore passphrase, made once. A real
// deployment takes it from its operator or uses Vault instead.
func (f *Federation) passphrase(dir string) ([]byte, error) {
	path := filepath.Join(dir, "keystore.pass")
	if b, err := os.ReadFile(path); err == nil {
		return b, nil
	}
	b := make([]byte, 24)
	rand.Read(b)
	pass := []byte(hex.EncodeToString(b))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return pass, os.WriteFile(path, pass, 0o600)
}

// Query runs spec through the federation.
func (f *Federation) Query(ctx context.Context, spec *query.Spec, progress querier.Progress) (*querier.Answer, error) {
	return f.client.Run(ctx, spec, progress)
}

// Plaintext computes queries centrally on the pooled plaintext of every
// partner, with the same policy decisions, cohorts and release rules the
// nodes use, for checking encrypted answers. Only a test harness can do
// this: it holds every partner's data.
type Plaintext struct {
	Partners []Partner
	Models   []*scoring.Model
	// Policy is an engine on the bundle the nodes run.
	Policy *policy.Engine
	// Resolve fixes a spec's per-metric scales as the querier does before
	// signing (querier.Client.Resolve); the nodes compute the resolved spec.
	Resolve func(context.Context, *query.Spec) (*query.Spec, error)
}

// Plaintext is the federation's central plaintext computation.
func (f *Federation) Plaintext() Plaintext {
	return Plaintext{Partners: f.cfg.Partners, Models: f.cfg.Models, Policy: f.engine, Resolve: f.client.Resolve}
}

// Expected computes spec's result centrally in plaintext (see Plaintext).
func (f *Federation) Expected(ctx context.Context, spec *query.Spec) (*query.Result, error) {
	return f.Plaintext().Expected(ctx, spec)
}

// Verify compares an answer with the central plaintext computation (see
// Plaintext.Verify).
func (f *Federation) Verify(ctx context.Context, spec *query.Spec, got *query.Result) error {
	return f.Plaintext().Verify(ctx, spec, got)
}

// VerifyNoisy checks a differentially private answer against the exact
// plaintext computation (see Plaintext.VerifyNoisy).
func (f *Federation) VerifyNoisy(ctx context.Context, spec *query.Spec, got *query.Result, beta float64) error {
	return f.Plaintext().VerifyNoisy(ctx, spec, got, beta)
}

// Expected computes spec's result centrally in plaintext, released as the
// nodes' release gates would release it.
func (f Plaintext) Expected(ctx context.Context, spec *query.Spec) (*query.Result, error) {
	spec, err := f.Resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	total, mask, err := f.expected(ctx, spec)
	if err != nil {
		return nil, err
	}
	release.Apply(total, mask.Released)
	return query.DecodeReleased(spec, total, mask.Released)
}

// expected returns the exact summed vector of spec, as resolved for
// signing, over every partner's admitted cohort, and the release mask its
// exact counts give.
func (f Plaintext) expected(ctx context.Context, spec *query.Spec) ([]int64, *release.Mask, error) {
	var total []int64
	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	info := policy.QueryInfo{
		ID: "plaintext-check", Purpose: spec.Purpose, Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners,
		PipiaID: spec.PipiaID, Destination: spec.Destination, Recipient: spec.Recipient,
	}
	var minCell int64
	for _, p := range f.Partners {
		data, model, err := p.data(spec, f.Models)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		var cols []string
		for _, c := range data.Columns() {
			cols = append(cols, c.Name)
		}
		d, err := f.Policy.Admit(ctx, policy.AdmissionInput{Query: info, NodeName: p.Name, NodeColumns: cols, NodeRoles: p.Roles, Model: model, Time: time.Now()})
		if err != nil {
			return nil, nil, err
		}
		if err := d.Err(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		cohort, err := source.Cohort(data, d.Cohort)
		if err != nil {
			return nil, nil, err
		}
		vec, _, err := aggregate.Aggregate(ctx, spec, data, cohort)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		if total == nil {
			total = make([]int64, len(vec))
		}
		for i, v := range vec {
			total[i] += v
		}
		rd, err := f.Policy.Release(ctx, policy.ReleaseInput{Query: info, NodeName: p.Name, Cells: spec.Layout().Cells, Time: time.Now()})
		if err != nil {
			return nil, nil, err
		}
		minCell = max(minCell, rd.MinCellSize)
	}
	layout := spec.Layout()
	var counts []int64
	for _, i := range release.CountSlots(layout) {
		counts = append(counts, total[i])
	}
	mask, err := release.Compute(layout, counts, minCell)
	if err != nil {
		return nil, nil, err
	}
	return total, mask, nil
}

// Verify compares an answer with the central plaintext computation:
// exactly, or for a query with ε within the noise bound (β = 1e-9 per
// value).
func (f Plaintext) Verify(ctx context.Context, spec *query.Spec, got *query.Result) error {
	if spec.Epsilon > 0 {
		return f.VerifyNoisy(ctx, spec, got, 1e-9)
	}
	want, err := f.Expected(ctx, spec)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(want, got) {
		return errors.New("the encrypted result differs from the plaintext computation")
	}
	return nil
}

// Close stops everything and removes a temporary directory.
func (f *Federation) Close() error {
	f.mu.Lock()
	names := make([]string, 0, len(f.nodes))
	for n := range f.nodes {
		names = append(names, n)
	}
	f.mu.Unlock()
	for _, n := range names {
		f.StopNode(n)
	}
	if f.client != nil {
		f.client.Close()
	}
	if f.stop != nil {
		f.stop()
	}
	f.wg.Wait()
	if f.tempDir {
		return os.RemoveAll(f.dir)
	}
	return nil
}

// VerifyNoisy checks a differentially private answer against the exact
// plaintext computation: every released count, histogram bin and sum may
// differ from the exact value only by the noise the query's ε calls for,
// within its (1−beta) tail bound. Cells the exact counts would have
// suppressed may be released, and the other way round, near the minimum
// cell size.
func (f Plaintext) VerifyNoisy(ctx context.Context, spec *query.Spec, got *query.Result, beta float64) error {
	spec, err := f.Resolve(ctx, spec)
	if err != nil {
		return err
	}
	exact, _, err := f.expected(ctx, spec)
	if err != nil {
		return err
	}
	blocks := spec.NoiseBlocks()
	eps := privacy.SplitEpsilon(spec.Epsilon, len(blocks))
	// Re-encode the answer into slots, so that it compares slot by slot.
	want, err := query.DecodeReleased(spec, exact, nil)
	if err != nil {
		return err
	}
	for col, name := range got.Columns {
		kind, metric := "", -1
		switch {
		case name == "count":
			kind = query.KindCount
		default:
			for i, m := range spec.Metrics {
				if strings.HasPrefix(name, m.Kind+"_"+m.Column) {
					kind, metric = m.Kind, i
					break
				}
			}
		}
		var sens int64
		scale := 1.0
		switch kind {
		case query.KindCount, query.KindHistogram:
			sens = 1
		case query.KindSum:
			clip := spec.Metrics[metric].Clip
			scale = spec.MetricScale(metric)
			sens = int64(math.Ceil(max(math.Abs(clip[0]), math.Abs(clip[1])) * scale))
		default:
			continue // labels and means
		}
		bound := float64(privacy.Bound(privacy.Calibration{Epsilon: eps, Sensitivity: sens}, beta))
		for r, row := range got.Rows {
			v := row.Values[col]
			if v == nil {
				continue
			}
			var diff float64
			switch x := v.(type) {
			case int64:
				diff = math.Abs(float64(x - want.Rows[r].Values[col].(int64)))
			case float64:
				diff = math.Abs(x-want.Rows[r].Values[col].(float64)) * scale
			}
			if diff > bound {
				return fmt.Errorf("row %d, %s: %v differs from the exact %v by more than the noise bound %v", r, name, v, want.Rows[r].Values[col], bound)
			}
		}
	}
	return nil
}
