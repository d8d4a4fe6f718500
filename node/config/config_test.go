package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
)

// deployment writes what a node deployment hands the node: a dev PKI,
// a keystore passphrase, a CSV of records and a signed policy bundle.
func deployment(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	ca, err := pki.NewCA("fedscore.test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCertificate(p("ca.pem")); err != nil {
		t.Fatal(err)
	}
	cred, err := ca.Issue(pki.Identity{TrustDomain: "fedscore.test", Role: pki.RoleNode, Name: "bank-a"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cred.WriteFiles(p("node.pem"), p("node-key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("pass"), []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("records.csv"), []byte("age,region\n31,east\n45,south\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := policy.BuildBundle(policy.DefaultBundle(), "r1")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := policy.SignBundle(tarball, key, "regulator")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p("bundle.tar.gz"), signed, 0o600); err != nil {
		t.Fatal(err)
	}
	return Options{
		CertFile: p("node.pem"), KeyFile: p("node-key.pem"), CAFile: p("ca.pem"),
		Coordinator: "127.0.0.1:1", StateDir: p("state"),
		Keys:    Custody{PassphraseFile: p("pass")},
		Records: Records{File: p("records.csv")},
		Policy:  Policy{BundleFile: p("bundle.tar.gz"), Key: &key.PublicKey, KeyID: "regulator", Watch: time.Second},
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for name, records := range map[string]func(r *Records){
		"file":       func(r *Records) {},
		"source URL": func(r *Records) { r.Source, r.File = "file://"+r.File, "" },
	} {
		t.Run(name, func(t *testing.T) {
			o := deployment(t)
			records(&o.Records)
			d, err := Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if d.Node.Name() != "bank-a" || d.Engine.Revision() != "r1" {
				t.Errorf("node %q with policy revision %q", d.Node.Name(), d.Engine.Revision())
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"wrong passphrase file", func(o *Options) { o.Keys.PassphraseFile += ".missing" }, "keystore passphrase"},
		{"no records", func(o *Options) { o.Records.File = "" }, "give one of a source URL, a file or a PostgreSQL DSN"},
		{"two kinds of records", func(o *Options) { o.Records.Source = "file://" + o.Records.File }, "give one of"},
		{"unknown source", func(o *Options) { o.Records.File, o.Records.Source = "", "hdfs://warehouse/records" }, `scheme "hdfs"`},
		{"missing source password file", func(o *Options) {
			o.Records.File, o.Records.Source, o.Records.PasswordFile = "", "mysql://reader@127.0.0.1:1/crm?table=t", o.Records.File+".missing"
		}, "source password"},
		{"bundle under another key ID", func(o *Options) { o.Policy.KeyID = "consortium" }, "consortium"},
		{"unsigned model", func(o *Options) { o.ModelFiles = []string{o.Records.File} }, "records.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := deployment(t)
			tt.change(&o)
			d, err := Open(context.Background(), o)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	// A refused deployment leaves nothing open: the state directory can
	// be opened again at once.
	o := deployment(t)
	o.ModelFiles = []string{o.Records.File}
	if _, err := Open(context.Background(), o); err == nil {
		t.Fatal("Open with an unsigned model succeeded")
	}
	o.ModelFiles = nil
	d, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(errors.Join(errors.New("reopen after a refusal"), err))
	}
	d.Close()
}
