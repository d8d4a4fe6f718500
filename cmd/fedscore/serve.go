package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/internal/keystore"
	"github.com/fedscore/fedscore/internal/keystore/vaultstore"
	"github.com/fedscore/fedscore/internal/pki"
	"github.com/fedscore/fedscore/internal/querier"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/node/dataset"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/scoring"
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
	if err := parse(fs, args); err != nil {
		return err
	}
	cred, roots, err := tf.load()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := coordinator.New(coordinator.Config{
		Credential: cred, Roots: roots, Members: splitList(*members), Params: *params, Threshold: *threshold,
		StateDir: *stateDir, QueryTimeout: *timeout, Logger: logger,
	})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	logger.Info("coordinator listening", "addr", lis.Addr().String())
	return srv.Serve(ctx, lis)
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("node", "--coordinator ADDR (--data FILE | --pg-dsn DSN --pg-table T) --bundle F --bundle-key F --cert F --key F --ca F --passphrase-file F [--state-dir DIR]", stderr)
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	data := fs.String("data", "", "the partner's records: a CSV or Parquet (.parquet) `file`")
	pgDSN := fs.String("pg-dsn", "", "instead of --data: a PostgreSQL connection `string`; every aggregation is pushed down to the database")
	pgTable := fs.String("pg-table", "", "the PostgreSQL `table` (schema.table) holding the records")
	mapping := fs.String("mapping", "", "a column `mapping` YAML file")
	stateDir := fs.String("state-dir", "fedscore-node", "`directory` for the epoch, the share ledger and the keystore")
	passFile := fs.String("passphrase-file", "", "`file` holding the file keystore's passphrase")
	custody := fs.String("keystore", "file", "key custody: `file` (encrypted local keystore) or vault (VAULT_ADDR or BAO_ADDR)")
	roleID := fs.String("vault-role-id", "", "Vault AppRole `role_id`")
	secretIDFile := fs.String("vault-secret-id-file", "", "`file` holding a response-wrapped AppRole secret_id")
	transitKey := fs.String("vault-transit-key", "", "Vault transit `key` wrapping the share (default fedscore-<node>-kek)")
	signingKey := fs.String("vault-signing-key", "", "with --keystore vault: the Vault transit `key` (ecdsa-p256) the node signs and does TLS with; --cert must certify it and --key is not read")
	bundlePath := fs.String("bundle", "", "the signed policy bundle `file` (.tar.gz); it is re-read when it changes")
	bundleKey := fs.String("bundle-key", "", "the bundle signer's public key `file` (PEM)")
	bundleKeyID := fs.String("bundle-key-id", "regulator", "the key `id` the bundle must be signed under")
	spotChecks := fs.Int("spot-checks", node.DefaultSpotChecks, "how many other members' inputs the node checks in full against their signed fingerprints before it gives a share (`k`; the number of members less one checks all; see docs/security.md)")
	watch := fs.Duration("bundle-watch", 10*time.Second, "how often to check the bundle file for a new signed version")
	var modelFiles partnerFlags
	fs.Var(&modelFiles, "model", "a signed scoring model `file` queries may name (repeatable); verified with --bundle-key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *signingKey != "" && *custody != "vault" {
		return errors.New("--vault-signing-key needs --keystore vault")
	}
	if *tf.cert == "" || *tf.ca == "" {
		return errors.New("--cert and --ca are required")
	}
	roots, err := pki.LoadCertPool(*tf.ca)
	if err != nil {
		return err
	}
	chain, err := pki.LoadCertificateChain(*tf.cert)
	if err != nil {
		return err
	}
	self, err := pki.IdentityFromCert(chain[0])
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	// Key custody comes first: without it the node neither starts nor
	// answers.
	var keys keystore.Store
	var cred *pki.Credential
	switch *custody {
	case "file":
		if *passFile == "" {
			return errors.New("--passphrase-file is required: the keystore is encrypted at rest")
		}
		pass, err := os.ReadFile(*passFile)
		if err != nil {
			return err
		}
		if keys, err = keystore.OpenFileStore(*stateDir+"/keystore", []byte(strings.TrimSpace(string(pass)))); err != nil {
			return err
		}
	case "vault":
		vs, err := vaultstore.Open(ctx, vaultstore.Config{
			Node: self.Name, TransitKey: *transitKey, Logger: logger,
			AppRole: vaultstore.AppRole{RoleID: *roleID, WrappedSecretIDFile: *secretIDFile},
		})
		if err != nil {
			return fmt.Errorf("--keystore vault: %w", err)
		}
		defer vs.Close()
		keys = vs
		if *signingKey != "" {
			signer, err := vs.Signer(ctx, *signingKey)
			if err != nil {
				return fmt.Errorf("--vault-signing-key: %w", err)
			}
			if cred, err = pki.CredentialWithSigner(*tf.cert, signer); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("--keystore %q: want file or vault", *custody)
	}
	if cred == nil {
		if *tf.key == "" {
			return errors.New("--key is required (or --vault-signing-key)")
		}
		if cred, err = pki.LoadCredential(*tf.cert, *tf.key); err != nil {
			return err
		}
	}
	cid, err := coordinatorIdentity(cred, *cf.id)
	if err != nil {
		return err
	}
	var mappingDoc *dataset.Mapping
	if *mapping != "" {
		if mappingDoc, err = dataset.LoadMapping(*mapping); err != nil {
			return err
		}
	}
	var table *dataset.Table
	var src source.Source
	switch {
	case (*data == "") == (*pgDSN == ""):
		return errors.New("give either --data or --pg-dsn")
	case *pgDSN != "":
		schema, name, ok := strings.Cut(*pgTable, ".")
		if !ok {
			schema, name = "", *pgTable
		}
		pg, err := source.OpenPostgres(ctx, source.PostgresConfig{DSN: *pgDSN, Schema: schema, Table: name, Mapping: mappingDoc})
		if err != nil {
			return err
		}
		defer pg.Close()
		src = pg
	case strings.HasSuffix(*data, ".parquet"):
		m, err := source.OpenParquet(*data, mappingDoc)
		if err != nil {
			return err
		}
		table = m.Table
	default:
		if table, err = dataset.LoadCSVFile(*data, dataset.CSVOptions{Mapping: mappingDoc}); err != nil {
			return err
		}
	}
	if *bundlePath == "" || *bundleKey == "" {
		return errors.New("--bundle and --bundle-key are required: a node runs only a signed policy bundle")
	}
	pub, err := readPublicKey(*bundleKey)
	if err != nil {
		return fmt.Errorf("--bundle-key: %w", err)
	}
	trusted := []policy.VerificationKey{{ID: *bundleKeyID, Key: pub}}
	bundle, err := policy.LoadSignedBundle(*bundlePath, trusted...)
	if err != nil {
		return err
	}
	engine, err := policy.NewEngine(ctx, policy.Options{Bundle: bundle, VerificationKeys: trusted})
	if err != nil {
		return err
	}
	var models []*scoring.Model
	for _, f := range modelFiles {
		m, err := scoring.VerifyFile(f, trusted...)
		if err != nil {
			return err
		}
		models = append(models, m)
	}
	n, err := node.New(node.Config{
		Credential: cred, Roots: roots, Coordinator: *cf.addr, CoordinatorIdentity: cid,
		Data: table, Source: src, Models: models, Policy: engine, Keys: keys, StateDir: *stateDir, SpotChecks: *spotChecks, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	watcher, err := policy.NewWatcher(engine, *bundlePath, policy.WatchOptions{Interval: *watch, Logger: logger})
	if err != nil {
		return err
	}
	go watcher.Run(ctx)
	logger.Info("node starting", "node", n.Name(), "policy_revision", engine.Revision())
	return n.Run(ctx)
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", "-f QUERY.yaml --coordinator ADDR --cert F --key F --ca F [--json]", stderr)
	tf := addTLSFlags(fs)
	file := fs.String("f", "", "the query spec `file` (YAML or JSON)")
	cf := addCoordinatorFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-f is required")
	}
	// The spec is checked before anything is signed or sent.
	spec, err := loadSpec(*file)
	if err != nil {
		return err
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
	if flagValue != "" {
		id, err := pki.ParseIdentity(flagValue)
		if err != nil {
			return id, fmt.Errorf("--coordinator-id: %w", err)
		}
		return id, nil
	}
	id, err := cred.Identity()
	if err != nil {
		return id, err
	}
	return pki.Identity{TrustDomain: id.TrustDomain, Role: pki.RoleCoordinator, Name: "coordinator"}, nil
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
