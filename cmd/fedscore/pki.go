package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/fedscore/fedscore/internal/pki"
)

func runPKI(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pki", "--dir DIR --nodes a,b,c [--queriers analyst] [--trust-domain D]", stderr)
	dir := fs.String("dir", "", "output `directory`")
	domain := fs.String("trust-domain", "fedscore.local", "the federation's SPIFFE trust `domain`")
	nodes := fs.String("nodes", "", "comma-separated node `names`")
	queriers := fs.String("queriers", "analyst", "comma-separated querier `names`")
	validity := fs.Duration("validity", 30*24*time.Hour, "CA `validity`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *nodes == "" {
		return errors.New("--dir and --nodes are required")
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
	fmt.Fprintf(stdout, "development PKI written to %s; the CA key was not kept\n", *dir)
	return nil
}
