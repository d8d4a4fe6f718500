// Package vaulttest runs the real Vault dev server that scripts/vault-dev.sh
// builds, for the tests of every package that talks to Vault: it finds the
// binary, starts a server on a free loopback port, waits until it is
// unsealed, and stops it when the test ends.
package vaulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Env gates the tests that need the server: with FEDSCORE_VAULT_TESTS=1,
// as in CI, a missing server binary fails them instead of skipping them.
const Env = "FEDSCORE_VAULT_TESTS"

// Binary returns the Vault server binary: $FEDSCORE_VAULT_BIN, else
// bin/vault in the module root.
func Binary() (string, error) {
	path := os.Getenv("FEDSCORE_VAULT_BIN")
	if path == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", errors.New("no go.mod above the test directory")
			}
			dir = parent
		}
		path = filepath.Join(dir, "bin", "vault")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s=1 but there is no Vault server binary at %s: build it with ./scripts/vault-dev.sh (or set FEDSCORE_VAULT_BIN)",
			Env, path)
	}
	return path, nil
}

// Require skips the test unless FEDSCORE_VAULT_TESTS=1.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv(Env) != "1" {
		t.Skipf("%s is not 1; the real-Vault tests need ./scripts/vault-dev.sh (CI runs them)", Env)
	}
}

// Server is a running dev server.
type Server struct {
	// Addr is its http:// URL, Root a client with the root token.
	Addr      string
	UnsealKey string
	Root      *api.Client
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start starts a dev server and stops it when t ends, printing its output
// if t failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := l.Addr().String()
	l.Close()
	b := make([]byte, 12)
	rand.Read(b)
	rootToken := "root-" + hex.EncodeToString(b)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dev", "-dev-root-token-id="+rootToken,
		"-dev-listen-address="+hostPort, "-log-level=warn")
	env := []string{"HOME=" + t.TempDir()} // the dev server stores its token in ~/.vault-token
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "BAO_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("vault server output:\n%s", out.String())
		}
	})

	s := &Server{Addr: "http://" + hostPort}
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	cfg.MaxRetries = 0
	if s.Root, err = api.NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	s.Root.SetToken(rootToken)
	unsealRE := regexp.MustCompile(`Unseal Key: (\S+)`)
	for {
		st, err := s.Root.Sys().SealStatus()
		m := unsealRE.FindStringSubmatch(out.String())
		if err == nil && st.Initialized && !st.Sealed && m != nil {
			s.UnsealKey = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("vault server exited:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("vault server not ready after 60s (last error %v):\n%s", err, out.String())
		}
	}
	t.Logf("vault dev server ready at %s in %v", s.Addr, time.Since(start).Round(time.Millisecond))
	return s
}

// Write writes data to path with the root token.
func (s *Server) Write(t testing.TB, path string, data map[string]any) *api.Secret {
	t.Helper()
	sec, err := s.Root.Logical().Write(path, data)
	if err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return sec
}

// Role creates an AppRole role with policy and token TTLs and returns its
// role_id. The AppRole auth method must be enabled.
func (s *Server) Role(t testing.TB, name, policy, ttl, maxTTL string) string {
	t.Helper()
	if err := s.Root.Sys().PutPolicy(name, policy); err != nil {
		t.Fatal(err)
	}
	s.Write(t, "auth/approle/role/"+name, map[string]any{
		"token_policies": name, "token_ttl": ttl, "token_max_ttl": maxTTL,
		"secret_id_ttl": "10m", "secret_id_num_uses": 0,
	})
	sec, err := s.Root.Logical().Read("auth/approle/role/" + name + "/role-id")
	if err != nil || sec == nil {
		t.Fatalf("read role_id of %s: %v", name, err)
	}
	id, _ := sec.Data["role_id"].(string)
	if id == "" {
		t.Fatalf("role %s has no role_id", name)
	}
	return id
}

// WrappedSecretID writes a response-wrapped secret_id of role to a file
// and returns its path.
func (s *Server) WrappedSecretID(t testing.TB, role string) string {
	t.Helper()
	c, err := s.Root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.Root.Token())
	c.SetWrappingLookupFunc(func(string, string) string { return "5m" })
	sec, err := c.Logical().Write("auth/approle/role/"+role+"/secret-id", nil)
	if err != nil || sec == nil || sec.WrapInfo == nil {
		t.Fatalf("wrapped secret_id: %v %+v", err, sec)
	}
	path := filepath.Join(t.TempDir(), "secret-id.wrapped")
	if err := os.WriteFile(path, []byte(sec.WrapInfo.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
