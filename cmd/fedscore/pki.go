package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
)

func runPKI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "issue" {
		return runPKIIssue(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("pki", "--dir DIR --nodes a,b,c [--queriers analyst] [--trust-domain D]\n       fedscore pki issue --vault ... (fedscore pki issue -h)", stderr)
	dir := fs.String("dir", "", "output `directory`")
	domain := fs.String("trust-domain", "fedscore.local", "the federation's SPIFFE trust `domain`")
	nodes := fs.String("nodes", "", "comma-separated node `names`")
	queriers := fs.String("queriers", "analyst", "comma-separated querier `names`")
	operators := fs.String("operators", "operator", "comma-separated operator `names` (key ceremonies and rotation)")
	validity := fs.Duration("validity", 30*24*time.Hour, "CA `validity`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *nodes == "" {
		return errors.New("--dir and --nodes are required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ca, err := pki.NewCA(*domain, *validity)
	if err != nil {
		return err
	}
	if err := ca.WriteCertificate(filepath.Join(*dir, "ca.pem")); err != nil {
		return err
	}
	issue := func(role, name string, dns []string, ips []net.IP) error {
		cred, err := ca.Issue(pki.Identity{TrustDomain: *domain, Role: role, Name: name}, dns, ips)
		if err != nil {
			return fmt.Errorf("%s %s: %w", role, name, err)
		}
		base := filepath.Join(*dir, role+"-"+name)
		if err := cred.WriteFiles(base+".pem", base+"-key.pem"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\t%s.pem\n", pki.Identity{TrustDomain: *domain, Role: role, Name: name}, base)
		return nil
	}
	if err := issue(pki.RoleCoordinator, "coordinator", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}); err != nil {
		return err
	}
	for _, n := range splitList(*nodes) {
		if err := issue(pki.RoleNode, n, nil, nil); err != nil {
			return err
		}
	}
	for _, q := range splitList(*queriers) {
		if err := issue(pki.RoleQuerier, q, nil, nil); err != nil {
			return err
		}
	}
	for _, o := range splitList(*operators) {
		if err := issue(pki.RoleOperator, o, nil, nil); err != nil {
			return err
		}
	}
	// A development regulator key and the default bundle signed with it, so
	// that nodes can start; a real federation's regulator signs its own.
	regKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	keyPEM, err := policy.MarshalPrivateKeyPEM(regKey)
	if err != nil {
		return err
	}
	pubPEM, err := policy.MarshalPublicKeyPEM(&regKey.PublicKey)
	if err != nil {
		return err
	}
	tarball, err := policy.BuildBundle(nil, "")
	if err != nil {
		return err
	}
	signed, err := policy.SignBundle(tarball, regKey, "regulator")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{"regulator-key.pem", keyPEM, 0o600},
		{"regulator.pub.pem", pubPEM, 0o644},
		{"policy-bundle.tar.gz", signed, 0o644},
	} {
		if err := atomicfile.Write(filepath.Join(*dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "regulator key\t%s\nsigned policy bundle\t%s\n", filepath.Join(*dir, "regulator.pub.pem"), filepath.Join(*dir, "policy-bundle.tar.gz"))
	fmt.Fprintf(stdout, "development PKI written to %s; the CA key was not kept\n", *dir)
	return nil
}
