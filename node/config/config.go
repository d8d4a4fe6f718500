// Package config opens a partner node from what a deployment gives it:
// identity files, key custody (the encrypted file keystore or Vault), the
// partner's records (CSV, Parquet, a PostgreSQL or MySQL-protocol table),
// the signed policy bundle and signed scoring models. Options says where each is;
// Open checks and opens them in order, key custody first, and returns a
// node ready to run. `fedscore node` is a layer of flags over Options.
//
// The package sits above node so that node itself does not depend on
// Vault or on the database driver: embedders that build a node.Config
// themselves (the sandbox, tests) need neither.
package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/keystore/vault"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/scoring"
)

// Options describe a node's deployment.
type Options struct {
	// CertFile holds the node's certificate chain (PEM), KeyFile its
	// private key and CAFile the federation's CA certificates. KeyFile is
	// not read when Keys.Vault.SigningKey is set.
	CertFile, KeyFile, CAFile string
	// Coordinator is the coordinator's address (host:port); CoordinatorID
	// the SPIFFE ID its certificate must carry (empty: the coordinator of
	// the node's own trust domain).
	Coordinator, CoordinatorID string
	// StateDir holds the epoch, the ledgers, the audit log and the file
	// keystore.
	StateDir string
	Keys     Custody
	Records  Records
	Policy   Policy
	// ModelFiles are signed scoring model files queries may name; they
	// must be signed by the bundle's key.
	ModelFiles []string
	// SpotChecks is how many other members' inputs the node checks in
	// full against their signed fingerprints (node.Config.SpotChecks).
	SpotChecks int
	Logger     *slog.Logger
	// Metrics is the registry the node's metrics go on (node.Config.Metrics),
	// with the Vault token's TTL under Vault custody; nil keeps them
	// unregistered.
	Metrics prometheus.Registerer
}

// Custody says where the node keeps its secret-key share: in the file
// keystore under StateDir, encrypted with the passphrase in
// PassphraseFile, or, when Vault is set, in Vault.
type Custody struct {
	PassphraseFile string
	Vault          *Vault
}

// Vault is key custody in Vault or OpenBao.
type Vault struct {
	// Config logs in and locates the share; Node and Logger are filled in.
	vault.Config
	// SigningKey, when set, names the transit key (ecdsa-p256) the node
	// signs and does TLS with; CertFile must certify it.
	SigningKey string
}

// Records says where the partner's records are, in one of three ways: a
// source URL (postgres://, mysql:// or file:, see source.Open) whose
// password, if any, is in PasswordFile; a File, CSV or Parquet (ending in
// .parquet); or, with PostgresDSN, the table PostgresTable ("schema.table"
// or "table"). Database sources push every aggregation down; a Parquet
// file is streamed unless InMemory is set or the node has scoring models,
// which score records in memory (training rounds need InMemory too).
// Mapping is an optional column mapping YAML file. Encoding is a CSV
// file's character encoding (see dataset.CSVOptions.Encoding); Parquet and
// database text is UTF-8.
type Records struct {
	Source, PasswordFile       string
	File                       string
	PostgresDSN, PostgresTable string
	InMemory                   bool
	Mapping                    string
	Encoding                   string
}

// Policy locates the signed policy bundle and says which key must have
// signed it, under which key ID, and how often the bundle file is checked
// for a new signed version. Scoring models must be signed by the same key.
//
// The node keeps the newest bundle it has run in StateDir and never goes
// back (see policy.SequenceStore). AllowRollback, when non-zero, is an
// operator's override: start on the bundle with that sequence although
// the node ran a newer one. The override is appended to the node's audit
// log, with the sequences and digests of both bundles, before it takes
// effect.
type Policy struct {
	BundleFile    string
	Key           *ecdsa.PublicKey
	KeyID         string
	Watch         time.Duration
	AllowRollback uint64
}

// A Deployment is an opened node and what it holds open.
type Deployment struct {
	Node    *node.Node
	Engine  *policy.Engine
	watcher *policy.Watcher
	closers []func() error
}

// Open opens everything o names and creates the node. On error it closes
// what it opened.
func Open(ctx context.Context, o Options) (_ *Deployment, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Deployment{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	roots, err := pki.LoadCertPool(o.CAFile)
	if err != nil {
		return nil, err
	}
	// Key custody comes first: without it the node neither starts nor
	// answers.
	keys, cred, err := d.openKeys(ctx, o)
	if err != nil {
		return nil, err
	}
	cid, err := pki.CoordinatorIdentity(cred, o.CoordinatorID)
	if err != nil {
		return nil, fmt.Errorf("coordinator identity: %w", err)
	}
	records := o.Records
	if len(o.ModelFiles) > 0 {
		// Scoring derives the model's columns from every record in memory.
		records.InMemory = true
	}
	table, src, roles, err := d.openRecords(ctx, records)
	if err != nil {
		return nil, err
	}
	trusted, err := d.openPolicy(ctx, o, cred)
	if err != nil {
		return nil, err
	}
	models, err := verifyModels(o.ModelFiles, trusted)
	if err != nil {
		return nil, err
	}
	n, err := node.New(node.Config{
		Credential: cred, Roots: roots, Coordinator: o.Coordinator, CoordinatorIdentity: cid,
		Data: table, Source: src, Roles: roles, Models: models, Policy: d.Engine, Keys: keys, StateDir: o.StateDir,
		SpotChecks: o.SpotChecks, Logger: o.Logger, Metrics: o.Metrics,
	})
	if err != nil {
		return nil, err
	}
	if vs, ok := keys.(*vault.Store); ok && o.Metrics != nil {
		if err := o.Metrics.Register(vaultTTL(vs)); err != nil {
			n.Close()
			return nil, err
		}
	}
	d.Node = n
	d.closers = append(d.closers, n.Close)
	return d, nil
}

// Run watches the policy bundle file and runs the node until ctx ends.
func (d *Deployment) Run(ctx context.Context) error {
	go d.watcher.Run(ctx)
	return d.Node.Run(ctx)
}

// Close closes the node and what Open opened, last opened first.
func (d *Deployment) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// openKeys opens the node's key custody and its credential, which a Vault
// transit key may hold.
func (d *Deployment) openKeys(ctx context.Context, o Options) (keystore.Store, *pki.Credential, error) {
	if o.Keys.Vault == nil {
		pass, err := os.ReadFile(o.Keys.PassphraseFile)
		if err != nil {
			return nil, nil, fmt.Errorf("keystore passphrase: %w", err)
		}
		keys, err := keystore.OpenFileStore(filepath.Join(o.StateDir, "keystore"), []byte(strings.TrimSpace(string(pass))))
		if err != nil {
			return nil, nil, err
		}
		cred, err := pki.LoadCredential(o.CertFile, o.KeyFile)
		return keys, cred, err
	}
	chain, err := pki.LoadCertificateChain(o.CertFile)
	if err != nil {
		return nil, nil, err
	}
	self, err := pki.IdentityFromCert(chain[0])
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	cfg := o.Keys.Vault.Config
	cfg.Node, cfg.Logger = self.Name, o.Logger
	vs, err := vault.Open(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("vault keystore: %w", err)
	}
	d.closers = append(d.closers, vs.Close)
	if o.Keys.Vault.SigningKey == "" {
		cred, err := pki.LoadCredential(o.CertFile, o.KeyFile)
		return vs, cred, err
	}
	signer, err := vs.Signer(ctx, o.Keys.Vault.SigningKey)
	if err != nil {
		return nil, nil, fmt.Errorf("vault signing key: %w", err)
	}
	cred, err := pki.CredentialWithSigner(o.CertFile, signer)
	return vs, cred, err
}

// openRecords opens the partner's records: a table in memory, or a
// source that streams the records or pushes aggregations down, and the
// roles its mapping gives columns.
func (d *Deployment) openRecords(ctx context.Context, r Records) (*dataset.Table, source.Source, map[string]string, error) {
	var mapping *dataset.Mapping
	if r.Mapping != "" {
		var err error
		if mapping, err = dataset.LoadMapping(r.Mapping); err != nil {
			return nil, nil, nil, err
		}
	}
	t, src, err := d.openData(ctx, r, mapping)
	if err != nil {
		return nil, nil, nil, err
	}
	columns := t
	if src != nil {
		// The roles are checked against the columns the source allows.
		fields, err := src.Schema(ctx)
		if err == nil {
			columns, err = source.SchemaTable(fields)
		}
		if err != nil {
			return nil, nil, nil, err
		}
	}
	if err := mapping.CheckRoles(columns); err != nil {
		return nil, nil, nil, err
	}
	var roles map[string]string
	if mapping != nil {
		roles = mapping.Roles
	}
	return t, src, roles, nil
}

// openData opens the records as a table in memory or as a source.
func (d *Deployment) openData(ctx context.Context, r Records, mapping *dataset.Mapping) (*dataset.Table, source.Source, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	o := source.OpenOptions{Mapping: mapping, InMemory: r.InMemory, Encoding: r.Encoding}
	var src source.Source
	var err error
	switch {
	case r.Source != "":
		if r.PasswordFile != "" {
			pw, err := os.ReadFile(r.PasswordFile)
			if err != nil {
				return nil, nil, fmt.Errorf("records: source password: %w", err)
			}
			o.Password = strings.TrimRight(string(pw), "\r\n")
		}
		src, err = source.Open(ctx, r.Source, o)
	case r.File != "":
		src, err = source.OpenFile(r.File, o)
	default:
		if r.Encoding != "" {
			return nil, nil, errors.New("records: an encoding applies to a CSV file only; database text is UTF-8")
		}
		schema, name, ok := strings.Cut(r.PostgresTable, ".")
		if !ok {
			schema, name = "", r.PostgresTable
		}
		src, err = source.OpenPostgres(ctx, source.PostgresConfig{DSN: r.PostgresDSN, Schema: schema, Table: name, Mapping: mapping})
	}
	if err != nil {
		return nil, nil, err
	}
	if m, ok := src.(*source.Memory); ok {
		return m.Table, nil, nil
	}
	d.closers = append(d.closers, src.Close)
	return nil, src, nil
}

// Validate checks that r names the records in exactly one way.
func (r Records) Validate() error {
	n := 0
	for _, given := range []bool{r.Source != "", r.File != "", r.PostgresDSN != ""} {
		if given {
			n++
		}
	}
	if n != 1 {
		return errors.New("records: give one of a source URL, a file or a PostgreSQL DSN")
	}
	return nil
}

// openPolicy loads the signed bundle into a policy engine that keeps the
// node's bundle high-water mark in its state directory, and a watcher that
// reloads the bundle when a new signed version replaces the file. It
// returns the trusted verification keys.
func (d *Deployment) openPolicy(ctx context.Context, o Options, cred *pki.Credential) ([]policy.VerificationKey, error) {
	p := o.Policy
	trusted := []policy.VerificationKey{{ID: p.KeyID, Key: p.Key}}
	bundle, err := policy.LoadSignedBundle(p.BundleFile, trusted...)
	if err != nil {
		return nil, err
	}
	marks, err := policy.OpenSequenceStore(filepath.Join(o.StateDir, policy.HighWaterFile))
	if err != nil {
		return nil, err
	}
	opts := policy.Options{Bundle: bundle, VerificationKeys: trusted, HighWater: marks}
	if p.AllowRollback > 0 {
		opts.AllowRollback = &policy.RollbackOverride{
			Sequence: p.AllowRollback,
			Record: func(ctx context.Context, from, to policy.HighWaterMark) error {
				return auditRollback(ctx, o.StateDir, cred, from, to)
			},
		}
	}
	if d.Engine, err = policy.NewEngine(ctx, opts); err != nil {
		return nil, err
	}
	if d.watcher, err = policy.NewWatcher(d.Engine, p.BundleFile, policy.WatchOptions{Interval: p.Watch, Logger: o.Logger}); err != nil {
		return nil, err
	}
	return trusted, nil
}

// auditRollback appends an operator's bundle rollback override to the
// node's audit log, which the node itself opens only later.
func auditRollback(ctx context.Context, stateDir string, cred *pki.Credential, from, to policy.HighWaterMark) error {
	self, err := cred.Identity()
	if err != nil {
		return err
	}
	log, err := audit.Open(audit.Options{
		Path:        filepath.Join(stateDir, node.AuditLogFile),
		Signer:      cred.Key,
		SignerCerts: append([]*x509.Certificate{cred.Certificate}, cred.Chain...),
	})
	if err != nil {
		return err
	}
	_, err = log.Append(ctx, audit.Entry{
		Kind: audit.KindBundle, Node: self.Name, BundleRevision: to.Revision, Result: audit.ResultAllow,
		Reasons: []string{"BUNDLE_ROLLBACK_OVERRIDE"},
		Detail: map[string]string{
			"from_sequence": strconv.FormatUint(from.Sequence, 10), "from_digest": from.Digest, "from_revision": from.Revision,
			"to_sequence": strconv.FormatUint(to.Sequence, 10), "to_digest": to.Digest,
		},
	})
	return errors.Join(err, log.Close())
}

// vaultTTL reports how long the node's Vault token lives unless renewed.
func vaultTTL(vs *vault.Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fedscore_node_vault_token_ttl_seconds",
		Help: "Seconds until the node's Vault token expires unless renewed, as of its last login or renewal (-1 for a token given directly, whose lifetime the node does not manage).",
	}, func() float64 {
		exp, ok := vs.TokenExpiry()
		if !ok {
			return -1
		}
		return time.Until(exp).Seconds()
	})
}

// verifyModels reads the signed scoring models, which the policy's keys
// must have signed.
func verifyModels(files []string, trusted []policy.VerificationKey) ([]*scoring.Model, error) {
	keys := make([]scoring.VerificationKey, len(trusted))
	for i, k := range trusted {
		keys[i] = scoring.VerificationKey(k)
	}
	var models []*scoring.Model
	for _, f := range files {
		m, err := scoring.VerifyFile(f, keys...)
		if err != nil {
			return nil, err
		}
		models = append(models, m)
	}
	return models, nil
}
