package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/policy"
)

// runPolicyCmd runs `fedscore policy args...` in process.
func runPolicyCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runPolicy(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustRunPolicy(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runPolicyCmd(t, args...)
	if err != nil {
		t.Fatalf("fedscore policy %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// tamperTarball flips one byte of the named file inside a bundle tarball.
func tamperTarball(t *testing.T, src, dst, name string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	found := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(hdr.Name, "/") == name {
			body[len(body)/2] ^= 0x01
			found = true
		}
		hdr.Size = int64(len(body))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("%s has no %s", src, name)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyCLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	out := mustRunPolicy(t, "keygen", "-o", p("regulator-key.pem"), "--pub", p("regulator.pub.pem"))
	if !strings.Contains(out, "SHA256:") {
		t.Errorf("keygen output lacks the key fingerprint:\n%s", out)
	}
	fi, err := os.Stat(p("regulator-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	keyPEM, err := os.ReadFile(p("regulator-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("private key is not PKCS#8 PEM:\n%s", keyPEM)
	}
	if _, _, err := runPolicyCmd(t, "keygen", "-o", p("regulator-key.pem"), "--pub", p("other.pub.pem")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("keygen over an existing key = %v, want ErrExist", err)
	}
	mustRunPolicy(t, "keygen", "-o", p("other-key.pem"), "--pub", p("other.pub.pem"))

	out = mustRunPolicy(t, "build", "--revision", "rev-cli-1", "--sequence", "11", "-o", p("bundle.tar.gz"))
	if !strings.Contains(out, "revision rev-cli-1, sequence 11, valid until ") {
		t.Errorf("build output:\n%s", out)
	}
	// Flags may follow the positional argument.
	out = mustRunPolicy(t, "sign", p("bundle.tar.gz"), "--key", p("regulator-key.pem"), "--key-id", "regulator", "-o", p("signed.tar.gz"))
	if !strings.Contains(out, "key id regulator") {
		t.Errorf("sign output:\n%s", out)
	}

	out = mustRunPolicy(t, "verify", "--pub", p("regulator.pub.pem"), "--key-id", "regulator", p("signed.tar.gz"))
	admission, err := fs.ReadFile(policy.DefaultBundle(), "fedscore/admission.rego")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(admission)
	for _, want := range []string{"signature OK", "rev-cli-1", "sequence:      11", "not after:     ", "(in 90 days)", "signer key id: regulator", "fedscore/admission.rego", "fedscore/admission_test.rego", hex.EncodeToString(sum[:])} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}

	out = mustRunPolicy(t, "inspect", p("signed.tar.gz"))
	for _, want := range []string{
		"revision:  rev-cli-1", "sequence:  11", "roots:     fedscore", `signature: present, key id "regulator"`, `"rego_version": 1`, hex.EncodeToString(sum[:]) + " ",
		// The effective privacy settings, per purpose.
		"DP noise  epsilon/query  epsilon/day  min cell size  complementary suppression",
		"credit_scoring       required  2              5            50             always",
		"marketing_analytics  required  2              10           50             always",
		"risk_analytics       required  2              10           50             always",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	out = mustRunPolicy(t, "inspect", p("bundle.tar.gz"))
	if !strings.Contains(out, "signature: none") {
		t.Errorf("inspect of an unsigned bundle:\n%s", out)
	}
	// A relaxed bundle says so.
	relaxed := filepath.Join(dir, "relaxed")
	copyDir(t, "../../policy/bundle", relaxed)
	data, err := os.ReadFile(filepath.Join(relaxed, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"required": true`), []byte(`"required": false`), 1)
	if err := os.WriteFile(filepath.Join(relaxed, "data.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out = mustRunPolicy(t, "inspect", relaxed); !strings.Contains(out, "marketing_analytics  OPTIONAL") {
		t.Errorf("inspect of a bundle relaxing DP:\n%s", out)
	}

	out = mustRunPolicy(t, "test", p("signed.tar.gz"))
	if !strings.Contains(out, "PASS  data.fedscore.") || !strings.Contains(out, " 0 failed") {
		t.Errorf("test output:\n%s", out)
	}
	mustRunPolicy(t, "test") // the embedded bundle

	// The node's view: the CLI-signed bundle activates with the regulator key.
	pub, err := os.ReadFile(p("regulator.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := policy.ParsePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	keys := []policy.VerificationKey{{ID: "regulator", Key: pk}}
	e, err := nodeEngine(t, p("signed.tar.gz"), keys, filepath.Join(dir, "first-node"))
	if err != nil || e.Revision() != "rev-cli-1" {
		t.Fatalf("NewEngine(signed) = %v; revision %v", err, e)
	}

	tamperTarball(t, p("signed.tar.gz"), p("tampered.tar.gz"), "fedscore/admission.rego")
	mustRunPolicy(t, "sign", "--key", p("other-key.pem"), "--key-id", "regulator", "-o", p("other-signed.tar.gz"), p("bundle.tar.gz"))
	// The next bundle of the series: its sequence must be above the last.
	mustRunPolicy(t, "build", "--revision", "rev-cli-2", "--sequence", "11", "-o", p("same-seq.tar.gz"))
	mustRunPolicy(t, "build", "--revision", "rev-cli-2", "--sequence", "12", "--not-after", "2099-01-02T03:04:05Z", "-o", p("next.tar.gz"))
	out = mustRunPolicy(t, "sign", "--key", p("regulator-key.pem"), "--previous", p("signed.tar.gz"), "-o", p("next-signed.tar.gz"), p("next.tar.gz"))
	if !strings.Contains(out, "sequence 12, valid until 2099-01-02T03:04:05Z") {
		t.Errorf("sign output:\n%s", out)
	}
	// A node that ran the next bundle refuses the first; verify says so.
	state := filepath.Join(dir, "node-state")
	nodeEngine(t, p("next-signed.tar.gz"), keys, state)
	if _, err := nodeEngine(t, p("signed.tar.gz"), keys, state); !errors.Is(err, policy.ErrRollback) {
		t.Errorf("a node that ran sequence 12 started on 11: %v", err)
	}
	out = mustRunPolicy(t, "verify", "--pub", p("regulator.pub.pem"), "--state-dir", state, p("next-signed.tar.gz"))
	if !strings.Contains(out, "newest bundle run is sequence 12 (revision rev-cli-2)") {
		t.Errorf("verify --state-dir output:\n%s", out)
	}
	expired := signExpired(t, p("regulator-key.pem"), p("expired.tar.gz"))
	failures := []struct {
		name string
		args []string
		want error
	}{
		{"tampered", []string{"verify", "--pub", p("regulator.pub.pem"), p("tampered.tar.gz")}, policy.ErrBadSignature},
		{"unsigned", []string{"verify", "--pub", p("regulator.pub.pem"), p("bundle.tar.gz")}, policy.ErrUnsigned},
		{"wrong key id", []string{"verify", "--pub", p("regulator.pub.pem"), "--key-id", "consortium", p("signed.tar.gz")}, policy.ErrBadSignature},
		{"other signer", []string{"verify", "--pub", p("regulator.pub.pem"), p("other-signed.tar.gz")}, policy.ErrBadSignature},
		{"private key as pub", []string{"verify", "--pub", p("regulator-key.pem"), p("signed.tar.gz")}, nil},
		{"sign a sequence not above the previous", []string{"sign", "--key", p("regulator-key.pem"), "--previous", p("signed.tar.gz"), "-o", p("x.tar.gz"), p("same-seq.tar.gz")}, policy.ErrRollback},
		{"verify against a node that ran a newer bundle", []string{"verify", "--pub", p("regulator.pub.pem"), "--state-dir", state, p("signed.tar.gz")}, policy.ErrRollback},
		{"verify an expired bundle", []string{"verify", "--pub", p("regulator.pub.pem"), expired}, policy.ErrExpired},
		{"sign an expired bundle", []string{"sign", "--key", p("regulator-key.pem"), "-o", p("x.tar.gz"), expired}, policy.ErrExpired},
		{"build without a sequence", []string{"build", "--revision", "r", "-o", p("x.tar.gz")}, policy.ErrBundle},
		{"build already expired", []string{"build", "--revision", "r", "--sequence", "1", "--not-after", "2020-01-01T00:00:00Z", "-o", p("x.tar.gz")}, nil},
		{"build valid for no day", []string{"build", "--revision", "r", "--sequence", "1", "--valid-days", "0", "-o", p("x.tar.gz")}, nil},
		{"build of a bad bundle", []string{"build", "--dir", "../../policy/testdata/syntaxerror", "--revision", "r", "--sequence", "1", "-o", p("bad.tar.gz")}, policy.ErrBundle},
		{"failing Rego tests", []string{"test", "../../policy/testdata/failingtests"}, nil},
		{"missing file", []string{"inspect", p("nope.tar.gz")}, fs.ErrNotExist},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runPolicyCmd(t, tt.args...)
			if err == nil || errors.Is(err, errUsage) {
				t.Fatalf("fedscore policy %v = %v, want a failure\n%s", tt.args, err, out)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			t.Log(err)
		})
	}
	if out, _, _ := runPolicyCmd(t, "test", "../../policy/testdata/failingtests"); !strings.Contains(out, "FAIL  ") || !strings.Contains(out, "PASS  ") {
		t.Errorf("test output does not list pass and fail per test:\n%s", out)
	}
}

// nodeEngine starts a policy engine on the signed bundle at path as a node
// with the state directory state does.
func nodeEngine(t *testing.T, path string, keys []policy.VerificationKey, state string) (*policy.Engine, error) {
	t.Helper()
	fsys, err := policy.LoadSignedBundle(path, keys...)
	if err != nil {
		t.Fatal(err)
	}
	marks, err := policy.OpenSequenceStore(filepath.Join(state, policy.HighWaterFile))
	if err != nil {
		t.Fatal(err)
	}
	return policy.NewEngine(context.Background(), policy.Options{Bundle: fsys, VerificationKeys: keys, HighWater: marks})
}

// signExpired writes to out the default bundle signed with the key in
// keyFile, already expired: the CLI refuses to build one.
func signExpired(t *testing.T, keyFile, out string) string {
	t.Helper()
	key, err := readPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := policy.BuildBundle(nil, policy.BuildOptions{Revision: "old", Sequence: 3, NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := policy.SignBundle(tarball, key, defaultPolicyKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// copyDir copies the directory tree src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPolicyCLIUsage(t *testing.T) {
	tests := []struct {
		args []string
		want error
	}{
		{nil, errUsage},
		{[]string{"frobnicate"}, errUsage},
		{[]string{"-h"}, flag.ErrHelp},
		{[]string{"build", "-h"}, flag.ErrHelp},
		{[]string{"build", "-o", "x.tar.gz"}, errUsage},           // no --revision
		{[]string{"build", "--revision", "r"}, errUsage},          // no -o
		{[]string{"sign", "--key", "k.pem", "-o", "s"}, errUsage}, // no bundle
		{[]string{"verify", "a.tar.gz"}, errUsage},                // no --pub
		{[]string{"verify", "--pub", "p", "a", "b"}, errUsage},    // two bundles
		{[]string{"inspect"}, errUsage},
		{[]string{"keygen", "-o", "k.pem"}, errUsage},
		{[]string{"build", "--nope"}, errUsage},
	}
	for _, tt := range tests {
		_, stderr, err := runPolicyCmd(t, tt.args...)
		if !errors.Is(err, tt.want) {
			t.Errorf("fedscore policy %v = %v, want %v", tt.args, err, tt.want)
		}
		if stderr == "" {
			t.Errorf("fedscore policy %v printed no usage", tt.args)
		}
	}
}
