package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/query/overlap"
)

// The querier's side of a cluster: this package's only use of the query
// client, the query spec and the central plaintext computation.

// regulatorKeyID is the key id `fedscore pki` signs the bundle under.
const regulatorKeyID = "regulator"

type querierSide struct {
	client *querier.Client
	plain  sandbox.Plaintext
}

func (q *querierSide) close() { q.client.Close() }

// dialQuerier prepares the in-process querier (the development PKI's
// "analyst") and the plaintext computation on the bundle the nodes run.
func (c *Cluster) dialQuerier() error {
	pkiDir := c.PKIDir()
	cred, err := pki.LoadCredential(filepath.Join(pkiDir, "querier-analyst.pem"), filepath.Join(pkiDir, "querier-analyst-key.pem"))
	if err != nil {
		return err
	}
	roots, err := pki.LoadCertPool(filepath.Join(pkiDir, "ca.pem"))
	if err != nil {
		return err
	}
	if c.net != nil {
		if c.addr, err = c.net.gateway(); err != nil {
			return err
		}
	}
	client, err := querier.Dial(querier.Config{
		Credential: cred, Roots: roots, Coordinator: c.addr, Timeout: c.cfg.QueryTimeout,
		CoordinatorIdentity: pki.Identity{TrustDomain: TrustDomain, Role: pki.RoleCoordinator, Name: "coordinator"},
	})
	if err != nil {
		return err
	}
	engine, err := c.policyEngine()
	if err != nil {
		client.Close()
		return err
	}
	partners := make([]sandbox.Partner, len(c.cfg.Nodes))
	for i, n := range c.cfg.Nodes {
		partners[i] = sandbox.Partner{Name: n.Name, Data: c.data[n.Name]}
	}
	c.q = &querierSide{client: client, plain: sandbox.Plaintext{Partners: partners, Policy: engine, Resolve: client.Resolve}}
	return nil
}

// policyEngine loads the bundle the nodes run, after its signature
// verifies, as a node does.
func (c *Cluster) policyEngine() (*policy.Engine, error) {
	pubPEM, err := os.ReadFile(filepath.Join(c.PKIDir(), "regulator.pub.pem"))
	if err != nil {
		return nil, err
	}
	pub, err := policy.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		return nil, err
	}
	keys := []policy.VerificationKey{{ID: regulatorKeyID, Key: pub}}
	bundle, err := policy.LoadSignedBundle(filepath.Join(c.PKIDir(), "policy-bundle.tar.gz"), keys...)
	if err != nil {
		return nil, err
	}
	return policy.NewEngine(context.Background(), policy.Options{Bundle: bundle, VerificationKeys: keys})
}

// resignBundle rebuilds the default bundle with Config.PolicyData and
// signs it with the development regulator key in place of the default one.
func (c *Cluster) resignBundle() error {
	keyPEM, err := os.ReadFile(filepath.Join(c.PKIDir(), "regulator-key.pem"))
	if err != nil {
		return err
	}
	key, err := policy.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return err
	}
	info, err := policy.InspectBundle(policy.DefaultBundle())
	if err != nil {
		return err
	}
	// Sequence 2: above the development bundle `fedscore pki` signed.
	tarball, err := policy.BuildBundle(nil, policy.BuildOptions{Revision: info.Manifest.Revision + "+cluster", Sequence: 2, Data: c.cfg.PolicyData})
	if err != nil {
		return err
	}
	signed, err := policy.SignBundle(tarball, key, regulatorKeyID)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.PKIDir(), "policy-bundle.tar.gz"), signed, 0o644)
}

// Status asks the coordinator for the federation's state.
func (c *Cluster) Status(ctx context.Context) (*pb.StatusResponse, error) {
	if c.q == nil {
		return nil, errors.New("cluster: no querier")
	}
	return c.q.client.Status(ctx)
}

// Querier is the in-process query client, with the "analyst" querier's
// credentials.
func (c *Cluster) Querier() *querier.Client { return c.q.client }

// Query signs spec, runs it through the federation and decrypts the
// answer; progress, if set, sees the coordinator's progress events (see
// OnPhase).
func (c *Cluster) Query(ctx context.Context, spec *query.Spec, progress querier.Progress) (*querier.Answer, error) {
	return c.q.client.Run(ctx, spec, progress)
}

// Overlap signs an overlap query, runs it through the federation and
// opens its release.
func (c *Cluster) Overlap(ctx context.Context, spec *overlap.Spec) (*querier.OverlapAnswer, error) {
	return c.q.client.Overlap(ctx, spec)
}

// Verify compares an answer with the central plaintext computation over
// every member's records: exactly, or within the noise bound of a query
// with ε (see sandbox.Plaintext).
func (c *Cluster) Verify(ctx context.Context, spec *query.Spec, got *query.Result) error {
	return c.q.plain.Verify(ctx, spec, got)
}

// Expected is spec's result computed centrally in plaintext.
func (c *Cluster) Expected(ctx context.Context, spec *query.Spec) (*query.Result, error) {
	return c.q.plain.Expected(ctx, spec)
}

// QueryCLI runs `fedscore query -f specFile --json` with the analyst's
// credentials (in the querier's namespace in a Network) and returns its
// standard output; args are extra flags.
func (c *Cluster) QueryCLI(ctx context.Context, specFile string, args ...string) ([]byte, error) {
	return c.querierCLI(ctx, "query", specFile, args...)
}

// OverlapCLI runs `fedscore overlap -f specFile --json` as QueryCLI runs
// `fedscore query`.
func (c *Cluster) OverlapCLI(ctx context.Context, specFile string, args ...string) ([]byte, error) {
	return c.querierCLI(ctx, "overlap", specFile, args...)
}

func (c *Cluster) querierCLI(ctx context.Context, command, specFile string, args ...string) ([]byte, error) {
	pkiDir := c.PKIDir()
	addr := c.addr
	var prefix []string
	if c.net != nil {
		addr = c.net.coordinatorAddr(1)
		prefix = []string{"ip", "netns", "exec", c.net.namespace(querierParty)}
	}
	argv := append(prefix, c.bin, command, "-f", specFile, "--json", "--coordinator", addr,
		"--cert", filepath.Join(pkiDir, "querier-analyst.pem"), "--key", filepath.Join(pkiDir, "querier-analyst-key.pem"),
		"--ca", filepath.Join(pkiDir, "ca.pem"), "--timeout", c.cfg.QueryTimeout.String())
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("cluster: fedscore %s: %w: %s", command, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// OnPhase returns a progress callback for Query that calls do once, at
// the first progress event of phase (from node, or from any node when node
// is empty). The coordinator reports a phase for a node when that node's
// part of it has arrived, so do runs while the other nodes are still in
// that phase: the moment fault tests kill a process.
func OnPhase(phase, node string, do func()) querier.Progress {
	var once sync.Once
	return func(p, n string) {
		if p == phase && (node == "" || n == node) {
			once.Do(do)
		}
	}
}
