package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
)

// deployment writes what a node deployment hands the node: a dev PKI,
// a keystore passphrase, a CSV of records and a signed policy bundle.
func deployment(t *testing.T) Options {
	t.Helper()
	o, _ := deploymentWithKey(t)
	return o
}

// deploymentWithKey is deployment and the bundle signing key.
func deploymentWithKey(t *testing.T) (Options, *ecdsa.PrivateKey) {
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
	writeBundle(t, p("bundle.tar.gz"), key, "r1", 1)
	return Options{
		CertFile: p("node.pem"), KeyFile: p("node-key.pem"), CAFile: p("ca.pem"),
		Coordinator: "127.0.0.1:1", StateDir: p("state"),
		Keys:    Custody{PassphraseFile: p("pass")},
		Records: Records{File: p("records.csv")},
		Policy:  Policy{BundleFile: p("bundle.tar.gz"), Key: &key.PublicKey, KeyID: "regulator", Watch: time.Second},
	}, key
}

// writeBundle writes the default bundle signed by key as revision rev
// with sequence seq, and returns its digest.
func writeBundle(t *testing.T, path string, key *ecdsa.PrivateKey, rev string, seq uint64) string {
	t.Helper()
	tarball, err := policy.BuildBundle(policy.DefaultBundle(), policy.BuildOptions{Revision: rev, Sequence: seq})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := policy.SignBundle(tarball, key, "regulator")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := policy.VerifyBundle(signed, policy.VerificationKey{ID: "regulator", Key: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return info.Digest
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

// TestBundleRollback: a node refuses to start on a bundle older than one it
// ran, unless its operator overrides that for exactly that bundle; the
// override is in the node's audit log with both bundles' sequences and
// digests.
func TestBundleRollback(t *testing.T) {
	ctx := context.Background()
	o, key := deploymentWithKey(t)
	open := func(o Options) error {
		d, err := Open(ctx, o)
		if err != nil {
			return err
		}
		return d.Close()
	}
	digest7 := writeBundle(t, o.Policy.BundleFile, key, "r7", 7)
	if err := open(o); err != nil {
		t.Fatal(err)
	}
	digest6 := writeBundle(t, o.Policy.BundleFile, key, "r6", 6)
	err := open(o)
	if !errors.Is(err, policy.ErrRollback) || !strings.Contains(err.Error(), "below 7") {
		t.Fatalf("start on an older bundle = %v, want ErrRollback", err)
	}
	t.Log(err)

	o.Policy.AllowRollback = 6
	d, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine.Revision() != "r6" {
		t.Errorf("revision %s after the override", d.Engine.Revision())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Open(filepath.Join(o.StateDir, node.AuditLogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	if _, err := audit.Verify(logFile, audit.VerifyOptions{RequireFinalCheckpoint: true}); err != nil {
		t.Fatalf("the audit log does not verify: %v", err)
	}
	if _, err := logFile.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	entries, err := audit.Filter(logFile, audit.FilterOptions{Kinds: []audit.Kind{audit.KindBundle}})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d bundle entries in the audit log, want 1", len(entries))
	}
	e := entries[0]
	want := map[string]string{"from_sequence": "7", "from_digest": digest7, "from_revision": "r7", "to_sequence": "6", "to_digest": digest6}
	if !reflect.DeepEqual(e.Detail, want) || e.BundleRevision != "r6" || e.Node != "bank-a" || !slices.Equal(e.Reasons, []string{"BUNDLE_ROLLBACK_OVERRIDE"}) {
		t.Errorf("audit entry %+v", e)
	}

	// Done: the node now runs 6 without the override, and an override
	// left in place lets no other bundle through.
	o.Policy.AllowRollback = 0
	if err := open(o); err != nil {
		t.Errorf("restart on the bundle the override chose: %v", err)
	}
	writeBundle(t, o.Policy.BundleFile, key, "r8", 8)
	o.Policy.AllowRollback = 6
	if err := open(o); err == nil {
		t.Error("an override for 6 let bundle 8 start")
	}

	// A damaged high-water mark stops the node and names the file.
	mark := filepath.Join(o.StateDir, policy.HighWaterFile)
	if err := os.WriteFile(mark, []byte(`{"version": 1, "sequ`), 0o600); err != nil {
		t.Fatal(err)
	}
	o.Policy.AllowRollback = 0
	if err := open(o); err == nil || !strings.Contains(err.Error(), mark) {
		t.Errorf("start with a truncated mark = %v, want an error naming %s", err, mark)
	}
}
