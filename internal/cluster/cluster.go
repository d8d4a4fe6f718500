package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/dataset"
)

// Config describes a cluster.
type Config struct {
	// Nodes are the federation's members, at least two.
	Nodes []NodeConfig
	// Dir holds the PKI, data, state directories and logs; empty means a
	// fresh temporary directory that Close removes.
	Dir string
	// Binary is the fedscore binary; empty means Binary().
	Binary string
	// Params is the crypto parameter set; empty means the default.
	Params string
	// Threshold makes epochs t-of-N; zero means N-of-N.
	Threshold int
	// QueryTimeout is the coordinator's and the querier's per-query
	// deadline; zero means 60 seconds.
	QueryTimeout time.Duration
	// PolicyData is merged over the default bundle's data before the
	// bundle is signed with the development regulator key, e.g.
	// {"assume_consent_when_absent": true} for data without consent columns.
	PolicyData map[string]any
	// Network, when set, gives every party a network namespace of its own
	// (see Network); nil runs them all on loopback.
	Network *Network
	// CoordinatorArgs are extra flags for `fedscore coordinator`.
	CoordinatorArgs []string
	// ReadyTimeout bounds Start's wait for the collective key; zero means
	// two minutes.
	ReadyTimeout time.Duration
	// Metrics gives every party a metrics and health listener on a
	// loopback port of its own (--metrics-listen, Process.MetricsAddr);
	// loopback clusters only.
	Metrics bool
}

// NodeConfig describes one member.
type NodeConfig struct {
	// Name is the member's name, as in its certificate.
	Name string
	// CSV is a file of the member's records; empty means Rows synthetic
	// records (internal/synth) generated from Seed and Name.
	CSV  string
	Rows int
	Seed uint64
	// Table, when set, is the member's records, written as data.csv with a
	// mapping that keeps their column kinds.
	Table *dataset.Table
	// Postgres loads the records into a table of the PostgreSQL server at
	// FEDSCORE_PG_DSN and runs the node on it (--pg-dsn); in a Network the
	// node reaches the server through its Unix socket.
	Postgres bool
	// MySQL loads the records into a table of the MariaDB server at
	// FEDSCORE_MYSQL_DSN and runs the node on it with --source mysql://...
	// and the password in --source-password-file; on loopback only.
	MySQL bool
	// StateTmpfs, e.g. "4m", puts the state directory on a tmpfs of that
	// size (needs root), for disk-full tests.
	StateTmpfs string
	// Args are extra flags for `fedscore node`.
	Args []string
}

// SyntheticNodes describes n members named node-01, node-02, ... with rows
// synthetic records each.
func SyntheticNodes(n, rows int) []NodeConfig {
	out := make([]NodeConfig, n)
	for i := range out {
		out[i] = NodeConfig{Name: fmt.Sprintf("node-%02d", i+1), Rows: rows, Seed: 1}
	}
	return out
}

// defaultRows is the size of a synthetic member without Rows.
const defaultRows = 500

// TrustDomain is the development PKI's trust domain (fedscore pki's default).
const TrustDomain = "fedscore.local"

// Cluster is a running federation of separate processes.
type Cluster struct {
	cfg     Config
	dir     string
	tempDir bool
	bin     string
	net     *network
	addr    string // the coordinator's address as the in-process querier dials it

	coord  *Process
	nodes  []*Process
	byName map[string]*Process
	data   map[string]*dataset.Table
	pg     *pgTables
	my     *myTables
	tmpfs  []string

	q *querierSide

	watchMu  sync.Mutex
	watchers map[int]func(*Process, string)
	nextW    int
}

// Start prepares and starts a cluster: it generates the development PKI
// and the signed bundle with `fedscore pki`, writes each member's data,
// starts the coordinator and every node (at once) as child processes, and
// waits until the collective key exists and every member holds it. On
// error everything started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if len(cfg.Nodes) < 2 {
		return nil, fmt.Errorf("cluster: need at least 2 nodes, got %d", len(cfg.Nodes))
	}
	if cfg.Metrics && cfg.Network != nil {
		return nil, errors.New("cluster: metrics listeners are on loopback; a Network cluster has none")
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 60 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Minute
	}
	c := &Cluster{cfg: cfg, dir: cfg.Dir, bin: cfg.Binary, byName: map[string]*Process{},
		data: map[string]*dataset.Table{}, watchers: map[int]func(*Process, string){}}
	if c.bin == "" {
		if c.bin, err = Binary(); err != nil {
			return nil, err
		}
	}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "fedscore-cluster-"); err != nil {
			return nil, err
		}
		c.tempDir = true
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	names := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		if n.Name == "" || slices.Contains(names[:i], n.Name) {
			return nil, fmt.Errorf("cluster: node %d: empty or repeated name %q", i, n.Name)
		}
		names[i] = n.Name
	}
	for _, d := range []string{"logs", "coordinator", "nodes"} {
		if err := os.MkdirAll(c.path(d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := c.makePKI(ctx, names); err != nil {
		return nil, err
	}
	if err := c.writeData(ctx); err != nil {
		return nil, err
	}
	if cfg.Network != nil {
		if c.net, err = newNetwork(ctx, cfg.Network, names); err != nil {
			return nil, err
		}
	}
	if err := c.makeProcesses(ctx, names); err != nil {
		return nil, err
	}
	if err := c.coord.Start(); err != nil {
		return nil, err
	}
	for _, p := range c.nodes {
		if err := p.Start(); err != nil {
			return nil, err
		}
	}
	if err := c.dialQuerier(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := c.WaitReady(rctx); err != nil {
		return nil, err
	}
	return c, nil
}

// path joins elements under the cluster's directory.
func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

// Dir is the cluster's directory.
func (c *Cluster) Dir() string { return c.dir }

// PKIDir holds what `fedscore pki` wrote: ca.pem, <role>-<name>.pem and
// -key.pem for the coordinator, every node, the querier "analyst" and the
// operator "operator", regulator.pub.pem and policy-bundle.tar.gz.
func (c *Cluster) PKIDir() string { return c.path("pki") }

// Coordinator is the coordinator's process.
func (c *Cluster) Coordinator() *Process { return c.coord }

// Node is a node's process, or nil.
func (c *Cluster) Node(name string) *Process { return c.byName[name] }

// Nodes are the nodes' processes in the configured order.
func (c *Cluster) Nodes() []*Process { return c.nodes }

// Data is the records a node serves.
func (c *Cluster) Data(name string) *dataset.Table { return c.data[name] }

// CoordinatorAddr is the address the in-process querier dials: the
// coordinator's loopback address, or in a Network a loopback gateway into
// the querier's namespace.
func (c *Cluster) CoordinatorAddr() string { return c.addr }

// makePKI runs `fedscore pki` and, with PolicyData, re-signs the bundle.
func (c *Cluster) makePKI(ctx context.Context, names []string) error {
	out, err := exec.CommandContext(ctx, c.bin, "pki", "--dir", c.PKIDir(), "--nodes", strings.Join(names, ","),
		"--queriers", "analyst", "--operators", "operator").CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster: fedscore pki: %w\n%s", err, out)
	}
	if c.cfg.PolicyData != nil {
		return c.resignBundle()
	}
	return nil
}

// writeData writes every member's records, concurrently: synthetic ones
// are generated, CSV files read (to compute expected answers).
func (c *Cluster) writeData(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	for _, n := range c.cfg.Nodes {
		g.Go(func() error {
			dir := c.path("nodes", n.Name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			t, err := memberData(n, dir)
			if err != nil {
				return fmt.Errorf("cluster: data of %s: %w", n.Name, err)
			}
			mu.Lock()
			c.data[n.Name] = t
			mu.Unlock()
			if err := os.WriteFile(filepath.Join(dir, "passphrase"), []byte(randomID(24)+"\n"), 0o600); err != nil {
				return err
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := c.loadPostgres(ctx); err != nil {
		return err
	}
	return c.loadMySQL(ctx)
}

// makeProcesses lays out the coordinator's and the nodes' command lines.
func (c *Cluster) makeProcesses(ctx context.Context, names []string) error {
	pki := c.PKIDir()
	listen, dial := "", ""
	if c.net != nil {
		listen = net.JoinHostPort("0.0.0.0", strconv.Itoa(coordinatorPort))
	} else {
		port, err := freePort()
		if err != nil {
			return err
		}
		listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		dial = listen
	}
	args := []string{"coordinator", "--listen", listen, "--members", strings.Join(names, ","),
		"--cert", filepath.Join(pki, "coordinator-coordinator.pem"), "--key", filepath.Join(pki, "coordinator-coordinator-key.pem"),
		"--ca", filepath.Join(pki, "ca.pem"), "--state-dir", c.path("coordinator", "state"),
		"--query-timeout", c.cfg.QueryTimeout.String()}
	if c.cfg.Params != "" {
		args = append(args, "--params", c.cfg.Params)
	}
	if c.cfg.Threshold > 0 {
		args = append(args, "--threshold", strconv.Itoa(c.cfg.Threshold))
	}
	c.coord = newProcess(c, "coordinator", false, c.path("coordinator", "state"), append(args, c.cfg.CoordinatorArgs...))
	if err := c.coord.listenMetrics(); err != nil {
		return err
	}
	c.addr = dial
	for i, n := range c.cfg.Nodes {
		dir := c.path("nodes", n.Name)
		state := filepath.Join(dir, "state")
		if n.StateTmpfs != "" {
			if err := mountTmpfs(state, n.StateTmpfs); err != nil {
				return err
			}
			c.tmpfs = append(c.tmpfs, state)
		}
		coordAddr := dial
		if c.net != nil {
			coordAddr = c.net.coordinatorAddr(i + 2)
		}
		args := []string{"node", "--coordinator", coordAddr,
			"--bundle", filepath.Join(pki, "policy-bundle.tar.gz"), "--bundle-key", filepath.Join(pki, "regulator.pub.pem"),
			"--cert", filepath.Join(pki, "node-"+n.Name+".pem"), "--key", filepath.Join(pki, "node-"+n.Name+"-key.pem"),
			"--ca", filepath.Join(pki, "ca.pem"), "--passphrase-file", filepath.Join(dir, "passphrase"), "--state-dir", state}
		if n.Postgres {
			dsn, table := c.pg.dsn, c.pg.tables[n.Name]
			if c.net != nil {
				dsn = c.pg.socketDSN
			}
			args = append(args, "--pg-dsn", dsn, "--pg-table", table)
		} else if n.MySQL {
			args = append(args, "--source", c.my.urls[n.Name], "--source-password-file", c.my.passwordFile)
		} else if n.CSV != "" {
			args = append(args, "--data", n.CSV)
		} else {
			args = append(args, "--data", filepath.Join(dir, "data.csv"), "--mapping", filepath.Join(dir, "mapping.yaml"))
		}
		p := newProcess(c, n.Name, true, state, append(args, n.Args...))
		if err := p.listenMetrics(); err != nil {
			return err
		}
		c.nodes = append(c.nodes, p)
		c.byName[n.Name] = p
	}
	return nil
}

// WaitReady waits until the coordinator reports the federation ready:
// an epoch exists and every member is attached and holds its key. It fails
// early when a process exits meanwhile.
func (c *Cluster) WaitReady(ctx context.Context) error {
	var last error
	for {
		st, err := c.Status(ctx)
		if err == nil && st.Ready {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("not ready: epoch %q, attached %v of %v", st.Epoch, st.Attached, st.Members)
		}
		for _, p := range append([]*Process{c.coord}, c.nodes...) {
			select {
			case <-p.Exited():
				return fmt.Errorf("cluster: %s exited (%v) while waiting for the federation:\n%s", p.name, p.ExitErr(), p.Tail(20))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: federation not ready: %w (last: %v); the coordinator's last lines:\n%s", ctx.Err(), last, c.coord.Tail(10))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitDetached waits until the coordinator no longer lists node as
// attached, if the coordinator runs.
func (c *Cluster) waitDetached(ctx context.Context, node string) {
	for c.q != nil && c.coord.Running() {
		st, err := c.Status(ctx)
		if err != nil || !slices.Contains(st.Attached, node) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Watch calls fn with every line any process writes from now on, in the
// goroutine that reads that process's output (so fn must not block for
// long), until the returned function is called. Fault tests act on log
// lines this way, e.g. kill a node when the coordinator logs a phase.
func (c *Cluster) Watch(fn func(p *Process, line string)) (stop func()) {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	id := c.nextW
	c.nextW++
	c.watchers[id] = fn
	return func() {
		c.watchMu.Lock()
		defer c.watchMu.Unlock()
		delete(c.watchers, id)
	}
}

func (c *Cluster) notify(p *Process, line string) {
	c.watchMu.Lock()
	fns := make([]func(*Process, string), 0, len(c.watchers))
	for _, fn := range c.watchers {
		fns = append(fns, fn)
	}
	c.watchMu.Unlock()
	for _, fn := range fns {
		fn(p, line)
	}
}

// Close stops every process (SIGTERM, then SIGKILL after 10 s; a process
// that does not exit cleanly is reported), removes
// the namespaces, tmpfs mounts and PostgreSQL tables it made, and a
// temporary directory. It is safe to call more than once.
func (c *Cluster) Close() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range c.nodes {
		wg.Go(func() {
			if err := p.Stop(); err != nil && !errors.Is(err, ErrNotRunning) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if c.coord != nil {
		if err := c.coord.Stop(); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, err)
		}
	}
	if c.q != nil {
		c.q.close()
		c.q = nil
	}
	if c.net != nil {
		if d := c.net.drops(); d > 0 {
			errs = append(errs, fmt.Errorf("cluster: the links dropped %d packets from full queues", d))
		}
		errs = append(errs, c.net.close())
		c.net = nil
	}
	for _, d := range c.tmpfs {
		errs = append(errs, unmount(d))
	}
	c.tmpfs = nil
	if c.pg != nil {
		errs = append(errs, c.pg.close())
		c.pg = nil
	}
	if c.my != nil {
		errs = append(errs, c.my.close())
		c.my = nil
	}
	if c.tempDir {
		errs = append(errs, os.RemoveAll(c.dir))
		c.tempDir = false
	}
	return errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
