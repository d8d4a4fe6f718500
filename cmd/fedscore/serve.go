package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/node/config"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

// tlsFlags are the identity flags every networked command takes.
type tlsFlags struct{ cert, key, ca *string }

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		cert: fs.String("cert", "", "this party's certificate `file` (PEM)"),
		key:  fs.String("key", "", "this party's private key `file` (PEM)"),
		ca:   fs.String("ca", "", "the federation's CA certificate `file` (PEM)"),
	}
}

// coordinatorFlags locate the coordinator a node, querier or operator
// dials.
type coordinatorFlags struct{ addr, id *string }

func addCoordinatorFlags(fs *flag.FlagSet) coordinatorFlags {
	return coordinatorFlags{
		addr: fs.String("coordinator", "127.0.0.1:7443", "coordinator `address`"),
		id:   fs.String("coordinator-id", "", "the coordinator's SPIFFE `id` (default: spiffe://<this party's trust domain>/coordinator/coordinator)"),
	}
}

func (t tlsFlags) load() (*pki.Credential, *x509.CertPool, error) {
	if *t.cert == "" || *t.key == "" || *t.ca == "" {
		return nil, nil, errors.New("--cert, --key and --ca are required")
	}
	cred, err := pki.LoadCredential(*t.cert, *t.key)
	if err != nil {
		return nil, nil, err
	}
	roots, err := pki.LoadCertPool(*t.ca)
	if err != nil {
		return nil, nil, err
	}
	return cred, roots, nil
}

func runCoordinator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("coordinator", "--listen ADDR --members a,b,c --cert F --key F --ca F [--state-dir DIR]", stderr)
	tf := addTLSFlags(fs)
	listen := fs.String("listen", "127.0.0.1:7443", "listen `address`")
	members := fs.String("members", "", "comma-separated node `names` of the federation")
	stateDir := fs.String("state-dir", "fedscore-coordinator", "`directory` for the persisted epoch")
	params := fs.String("params", "", "crypto parameter set (bgv13, bgv14); default bgv13")
	threshold := fs.Int("threshold", 0, "make epochs `t`-of-N: any t attached members can answer (0: every member, every query)")
	timeout := fs.Duration("query-timeout", 30*time.Second, "per-query `deadline`")
	reflect := fs.Bool("reflection", false, "serve gRPC server reflection on the listen address, for grpcurl list/describe (mutual TLS still applies)")
	ops := addOpsFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := ops.logger(stderr)
	if err != nil {
		return err
	}
	cred, roots, err := tf.load()
	if err != nil {
		return err
	}
	reg := ops.registry()
	cfg := coordinator.Config{
		Credential: cred, Roots: roots, Members: splitList(*members), Params: *params, Threshold: *threshold,
		StateDir: *stateDir, QueryTimeout: *timeout, Logger: logger, Reflection: *reflect,
	}
	if reg != nil {
		cfg.Metrics = reg
	}
	srv, err := coordinator.New(cfg)
	if err != nil {
		return err
	}
	metrics, err := ops.serveMetrics(reg, srv.Health(), logger)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger.Info("coordinator listening", "addr", lis.Addr().String(), "reflection", *reflect)
	return serveAll(ctx, func(ctx context.Context) error { return srv.Serve(ctx, lis) }, metrics)
}

// serveAll runs the servers until ctx ends or one fails; nil ones are
// skipped.
func serveAll(ctx context.Context, servers ...func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, serve := range servers {
		if serve != nil {
			g.Go(func() error { return serve(gctx) })
		}
	}
	return g.Wait()
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("node", "--coordinator ADDR (--source URL | --data FILE | --pg-dsn DSN --pg-table T) --bundle F --bundle-key F --cert F --key F --ca F --passphrase-file F [--state-dir DIR]", stderr)
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	var o config.Options
	fs.StringVar(&o.Records.Source, "source", "", "the partner's records as a `URL`: postgres://host/db?table=T, mysql://host/db?table=T (MariaDB, MySQL, TiDB, StarRocks, Doris) or file:///path.csv|.parquet")
	fs.StringVar(&o.Records.PasswordFile, "source-password-file", "", "`file` holding the password of the --source database (keep it off the command line)")
	fs.BoolVar(&o.Records.InMemory, "in-memory", false, "read a Parquet file whole instead of streaming it (training rounds need it; scoring models imply it)")
	fs.StringVar(&o.Records.File, "data", "", "instead of --source: the partner's records, a CSV or Parquet (.parquet) `file`")
	fs.StringVar(&o.Records.PostgresDSN, "pg-dsn", "", "instead of --data: a PostgreSQL connection `string`; every aggregation is pushed down to the database")
	fs.StringVar(&o.Records.PostgresTable, "pg-table", "", "the PostgreSQL `table` (schema.table) holding the records")
	fs.StringVar(&o.Records.Mapping, "mapping", "", "a column `mapping` YAML file")
	fs.StringVar(&o.Records.Encoding, "encoding", "", "the CSV file's character `encoding`: utf-8 (default), gb18030 or gbk")
	fs.StringVar(&o.StateDir, "state-dir", "fedscore-node", "`directory` for the epoch, the share ledger and the keystore")
	fs.StringVar(&o.Keys.PassphraseFile, "passphrase-file", "", "`file` holding the file keystore's passphrase")
	custody := fs.String("keystore", "file", "key custody: `file` (encrypted local keystore) or vault (VAULT_ADDR or BAO_ADDR)")
	v := addVaultFlags(fs)
	fs.StringVar(&o.Policy.BundleFile, "bundle", "", "the signed policy bundle `file` (.tar.gz); it is re-read when it changes")
	bundleKey := fs.String("bundle-key", "", "the bundle signer's public key `file` (PEM)")
	fs.StringVar(&o.Policy.KeyID, "bundle-key-id", "regulator", "the key `id` the bundle must be signed under")
	fs.DurationVar(&o.Policy.Watch, "bundle-watch", 10*time.Second, "how often to check the bundle file for a new signed version")
	fs.Uint64Var(&o.Policy.AllowRollback, "allow-bundle-rollback", 0, "operator override: start on the --bundle with this `sequence` although the node ran a newer bundle; recorded in the audit log (remove it once the node runs)")
	fs.IntVar(&o.SpotChecks, "spot-checks", node.DefaultSpotChecks, "how many other members' inputs the node checks in full against their signed fingerprints before it gives a share (`k`; the number of members less one checks all; see docs/security.md)")
	var modelFiles partnerFlags
	fs.Var(&modelFiles, "model", "a signed scoring model `file` queries may name (repeatable); verified with --bundle-key")
	ops := addOpsFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := ops.logger(stderr)
	if err != nil {
		return err
	}
	switch {
	case v.SigningKey != "" && *custody != "vault":
		return errors.New("--vault-signing-key needs --keystore vault")
	case *tf.cert == "" || *tf.ca == "":
		return errors.New("--cert and --ca are required")
	case *custody == "file" && o.Keys.PassphraseFile == "":
		return errors.New("--passphrase-file is required: the keystore is encrypted at rest")
	case *custody != "file" && *custody != "vault":
		return fmt.Errorf("--keystore %q: want file or vault", *custody)
	case v.SigningKey == "" && *tf.key == "":
		return errors.New("--key is required (or --vault-signing-key)")
	case o.Records.Validate() != nil:
		return errors.New("give one of --source, --data or --pg-dsn")
	case o.Policy.BundleFile == "" || *bundleKey == "":
		return errors.New("--bundle and --bundle-key are required: a node runs only a signed policy bundle")
	}
	if *custody == "vault" {
		o.Keys.Vault = v
	}
	if o.Policy.Key, err = readPublicKey(*bundleKey); err != nil {
		return fmt.Errorf("--bundle-key: %w", err)
	}
	o.CertFile, o.KeyFile, o.CAFile = *tf.cert, *tf.key, *tf.ca
	o.Coordinator, o.CoordinatorID = *cf.addr, *cf.id
	o.ModelFiles = modelFiles
	o.Logger = logger
	reg := ops.registry()
	if reg != nil {
		o.Metrics = reg
	}
	d, err := config.Open(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	metrics, err := ops.serveMetrics(reg, d.Node.Health(), logger)
	if err != nil {
		return err
	}
	logger.Info("node starting", "node", d.Node.Name(), "policy_revision", d.Engine.Revision())
	return serveAll(ctx, d.Run, metrics)
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", "-f QUERY.yaml --coordinator ADDR --cert F --key F --ca F [--json] [--bundle F --bundle-key PUB.pem --schema F]", stderr)
	tf := addTLSFlags(fs)
	file := fs.String("f", "", "the query spec `file` (YAML or JSON)")
	cf := addCoordinatorFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the answer")
	cat := addCatalogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-f is required")
	}
	// The spec is checked before anything is signed or sent: on its own,
	// and against the federation's catalogue when --bundle or --schema
	// names it.
	spec, err := query.ReadFile(*file)
	if err != nil {
		return err
	}
	if cat.given() {
		c, err := cat.load()
		if err != nil {
			return fmt.Errorf("catalogue: %w", err)
		}
		if err := checkSpec(stderr, c, spec, *file); err != nil {
			return err
		}
	}
	c, err := dialQuerier(tf, *cf.addr, *cf.id, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	ans, err := c.Run(ctx, spec, nil)
	if err != nil {
		return err
	}
	return printAnswer(stdout, ans, *asJSON, nil)
}

// dialQuerier prepares a querier client from the identity flags.
func dialQuerier(tf tlsFlags, coord, coordID string, timeout time.Duration) (*querier.Client, error) {
	cred, roots, err := tf.load()
	if err != nil {
		return nil, err
	}
	cid, err := coordinatorIdentity(cred, coordID)
	if err != nil {
		return nil, err
	}
	return querier.Dial(querier.Config{Credential: cred, Roots: roots, Coordinator: coord, CoordinatorIdentity: cid, Timeout: timeout})
}

// coordinatorIdentity is the identity the coordinator's certificate must
// carry: the --coordinator-id flag, or by default the coordinator of this
// party's own trust domain.
func coordinatorIdentity(cred *pki.Credential, flagValue string) (pki.Identity, error) {
	id, err := pki.CoordinatorIdentity(cred, flagValue)
	if err != nil && flagValue != "" {
		return id, fmt.Errorf("--coordinator-id: %w", err)
	}
	return id, err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func loadJSONObject(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
