package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
)

const trustDomain = "test.fedscore.local"

// memStore is an in-memory keystore.Store.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Put(_ context.Context, name string, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[name] = slices.Clone(secret)
	return nil
}

func (s *memStore) Get(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[name]
	if !ok {
		return nil, keystore.ErrNotFound
	}
	return slices.Clone(b), nil
}

func (s *memStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

// credentialWithoutIdentity is a self-signed certificate with no URI SAN.
func credentialWithoutIdentity(t *testing.T) *pki.Credential {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "node-a"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Credential{Certificate: cert, Key: key}
}

func TestNewValidatesConfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, err := pki.NewCA(trustDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(role, name string) *pki.Credential {
		t.Helper()
		cred, err := ca.Issue(pki.Identity{TrustDomain: trustDomain, Role: role, Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	engine, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 40})
	data, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	nodeCred := issue(pki.RoleNode, "node-a")
	valid := func(t *testing.T) node.Config {
		return node.Config{
			Credential: nodeCred, Roots: ca.Pool(),
			Coordinator:         "127.0.0.1:1",
			CoordinatorIdentity: pki.Identity{TrustDomain: trustDomain, Role: pki.RoleCoordinator, Name: "coordinator"},
			Data:                data, Policy: engine, Keys: &memStore{},
			StateDir: filepath.Join(t.TempDir(), "state", "node-a"),
		}
	}

	tests := []struct {
		name   string
		modify func(t *testing.T, c *node.Config)
		want   string // empty: New succeeds
	}{
		{"valid", func(*testing.T, *node.Config) {}, ""},
		{"no credential", func(_ *testing.T, c *node.Config) { c.Credential = nil }, "a credential and trust roots are required"},
		{"no trust roots", func(_ *testing.T, c *node.Config) { c.Roots = nil }, "a credential and trust roots are required"},
		{"no data", func(_ *testing.T, c *node.Config) { c.Data = nil }, "either in-memory data or a data source"},
		{"data and a source", func(_ *testing.T, c *node.Config) { c.Source = &source.Memory{Table: c.Data} }, "either in-memory data or a data source"},
		{"no policy engine", func(_ *testing.T, c *node.Config) { c.Policy = nil }, "no policy engine"},
		{"no keystore", func(_ *testing.T, c *node.Config) { c.Keys = nil }, "no keystore"},
		{"no state directory", func(_ *testing.T, c *node.Config) { c.StateDir = "" }, "no state directory"},
		{"no coordinator address", func(_ *testing.T, c *node.Config) { c.Coordinator = "" }, "no coordinator address"},
		{"querier credential", func(_ *testing.T, c *node.Config) { c.Credential = issue(pki.RoleQuerier, "node-a") }, "querier/node-a, not a node"},
		{"coordinator credential", func(_ *testing.T, c *node.Config) { c.Credential = issue(pki.RoleCoordinator, "node-a") }, "not a node"},
		{"credential without identity", func(t *testing.T, c *node.Config) { c.Credential = credentialWithoutIdentity(t) }, pki.ErrNoIdentity.Error()},
		{"state directory is a file", func(t *testing.T, c *node.Config) {
			path := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			c.StateDir = path
		}, "state directory"},
		{"corrupt persisted epoch", func(t *testing.T, c *node.Config) {
			if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(c.StateDir, "epoch.json"), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "epoch.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid(t)
			tc.modify(t, &cfg)
			n, err := node.New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				defer n.Close()
				if n.Name() != "node-a" {
					t.Errorf("Name() = %q, want node-a", n.Name())
				}
				st, err := os.Stat(cfg.StateDir)
				if err != nil {
					t.Fatal(err)
				}
				if perm := st.Mode().Perm(); perm != 0o700 {
					t.Errorf("state directory mode %v, want 0700", perm)
				}
				return
			}
			if err == nil {
				n.Close()
				t.Fatalf("New accepted the config, want an error mentioning %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "node: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want a node error mentioning %q", err, tc.want)
			}
		})
	}
}
