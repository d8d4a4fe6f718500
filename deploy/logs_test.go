package deploy_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/keystore"
)

// checkLogSecrecy reads every line every party of c logged and checks
// that it is structured (one JSON object) and holds no customer id of any
// member's records, nothing of any secret in the nodes' keystores (their
// secret-key shares), of the sealed keystore files, or of any private key.
func checkLogSecrecy(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	var forbidden []string // substrings no log line may contain
	for _, n := range c.Nodes() {
		col, ok := c.Data(n.Name()).Column("customer_id")
		if !ok || len(col.Dict) == 0 {
			t.Fatalf("%s: no customer ids in its records", n.Name())
		}
		forbidden = append(forbidden, col.Dict...)
		pass, err := os.ReadFile(filepath.Join(c.Dir(), "nodes", n.Name(), "passphrase"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(n.StateDir(), "keystore")
		ks, err := keystore.OpenFileStore(dir, []byte(strings.TrimSpace(string(pass))))
		if err != nil {
			t.Fatal(err)
		}
		names, err := ks.Names(context.Background())
		if err != nil || len(names) == 0 {
			t.Fatalf("%s: keystore holds %v (%v)", n.Name(), names, err)
		}
		for _, name := range names {
			secret, err := ks.Get(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			forbidden = append(forbidden, encodings(secret)...)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && len(b) >= 32 {
				forbidden = append(forbidden, encodings(b)...)
			}
		}
	}
	keys, _ := filepath.Glob(filepath.Join(c.PKIDir(), "*-key.pem"))
	for _, k := range keys {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		if block, _ := pem.Decode(b); block != nil {
			forbidden = append(forbidden, encodings(block.Bytes)...)
		}
	}

	lines := 0
	for _, p := range append([]*cluster.Process{c.Coordinator()}, c.Nodes()...) {
		for _, line := range strings.Split(p.Log(), "\n") {
			if line == "" || strings.HasPrefix(line, "=== cluster:") {
				continue
			}
			lines++
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil {
				t.Errorf("%s logged a line that is not a JSON record: %q", p.Name(), line)
			}
			for _, f := range forbidden {
				if strings.Contains(line, f) {
					t.Fatalf("%s logged %q, which holds %q from a record or a secret", p.Name(), line, f)
				}
			}
		}
	}
	// The logs are there to be read: the phases of every query, by query
	// and member.
	for p, want := range map[*cluster.Process]string{c.Coordinator(): `"msg":"query phase done"`, c.Node("node-01"): `"msg":"query decision"`} {
		if !strings.Contains(p.Log(), want) || !strings.Contains(p.Log(), `"query":"q-`) {
			t.Errorf("%s logged no %s line with a query id", p.Name(), want)
		}
	}
	t.Logf("%d log lines checked against %d forbidden strings", lines, len(forbidden))
}

// encodings returns forms a secret's bytes could take in a log line:
// windows of it in hex, in base64 at every alignment, and raw.
func encodings(secret []byte) []string {
	const w = 24
	var out []string
	for _, at := range []int{0, len(secret) / 2, max(0, len(secret)-w-2)} {
		end := min(at+w, len(secret))
		win := secret[at:end]
		if len(win) < 16 {
			continue
		}
		out = append(out, hex.EncodeToString(win), string(win))
		for shift := range 3 {
			if shift < len(win) {
				enc := base64.StdEncoding.EncodeToString(win[shift:])
				// Drop the padding and the last characters, which depend on
				// what follows the window.
				out = append(out, strings.TrimRight(enc, "=")[:len(enc)-4])
			}
		}
	}
	return out
}
