package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

// runConsole serves the web console against a federation's coordinator.
func runConsole(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("console", "[--listen ADDR] --coordinator ADDR --cert F --key F --ca F [flags]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "`address` to serve on; anything but loopback needs --tls-cert and --tls-key")
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	bundle := fs.String("bundle", "", "the federation's signed policy bundle `file` (what the nodes run)")
	bundleKey := fs.String("bundle-key", "", "the regulator's public key `PEM` the bundle verifies under")
	keyID := fs.String("key-id", defaultPolicyKeyID, "`ID` the bundle key signs under")
	schema := fs.String("schema", "", "the consortium's published column schema `file`")
	queryFile := fs.String("query", "", "the spec `file` the query builder starts from")
	tlsCert := fs.String("tls-cert", "", "HTTPS server certificate `file`, issued by the federation CA (clients need certificates of the same CA)")
	tlsKey := fs.String("tls-key", "", "HTTPS server key `file`")
	timeout := fs.Duration("timeout", 60*time.Second, "how long a query may take")
	if err := parse(fs, args); err != nil {
		return err
	}
	cred, roots, err := tf.load()
	if err != nil {
		return err
	}
	id, err := cred.Identity()
	if err != nil {
		return err
	}
	client, err := dialQuerier(tf, *cf.addr, *cf.id, *timeout)
	if err != nil {
		return err
	}
	defer client.Close()
	cfg := console.Config{Listen: *listen, Status: client.Status, BundlePath: *bundle, AuditRoots: roots}
	if id.Role == pki.RoleQuerier {
		cfg.Querier = client
	}
	if *bundleKey != "" {
		pub, err := readPublicKey(*bundleKey)
		if err != nil {
			return err
		}
		cfg.BundleKeys = []policy.VerificationKey{{ID: *keyID, Key: pub}}
	}
	if *schema != "" {
		if cfg.Schema, err = catalog.LoadSchema(*schema); err != nil {
			return err
		}
	}
	if *queryFile != "" {
		if cfg.DefaultSpec, err = os.ReadFile(*queryFile); err != nil {
			return err
		}
	}
	if *tlsCert != "" || *tlsKey != "" {
		server, err := pki.LoadCredential(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.TLS = &console.TLSConfig{Credential: server, ClientRoots: roots}
	}
	fmt.Fprintf(stdout, "fedscore console as %s, coordinator %s\n", id, *cf.addr)
	return serveConsole(ctx, cfg, stdout)
}

// serveConsole serves until ctx ends, after printing the URL.
func serveConsole(ctx context.Context, cfg console.Config, stdout io.Writer) error {
	srv, err := console.New(cfg)
	if err != nil {
		return err
	}
	lis, url, err := srv.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "console: open %s   (Ctrl-C stops)\n", url)
	return srv.Serve(ctx, lis)
}

// sandboxConsole serves the console against a running sandbox federation.
func sandboxConsole(ctx context.Context, fed *sandbox.Federation, listen string, spec *query.Spec, stdout io.Writer) error {
	return serveConsole(ctx, fed.ConsoleConfig(listen, spec), stdout)
}
