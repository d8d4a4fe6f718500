package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/cluster"
)

// clientsEnv gates the tests of the real gRPC clients: CI builds them
// (scripts/build-tool.sh grpcurl grpc-health-probe) and sets it to 1, and
// then a missing client fails instead of skipping.
const clientsEnv = "FEDSCORE_CLIENT_TESTS"

// client returns the path of a tool built into the repository's bin/.
func client(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 != 0 {
		return path
	}
	if os.Getenv(clientsEnv) == "1" {
		t.Fatalf("%s=1 but there is no %s: build it with scripts/build-tool.sh %s", clientsEnv, path, name)
	}
	t.Skipf("no %s (scripts/build-tool.sh %s builds it; CI sets %s=1)", path, name, clientsEnv)
	return ""
}

// run runs a command and returns its output and exit code.
func run(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), errb.String(), code
}

// TestGRPCClients points the real grpcurl and grpc-health-probe at a
// running coordinator over mutual TLS, as an operator would.
func TestGRPCClients(t *testing.T) {
	grpcurl := client(t, "grpcurl")
	probe := client(t, "grpc-health-probe")
	c := cluster.Launch(t, cluster.Config{Nodes: cluster.SyntheticNodes(3, 100)})
	pki := c.PKIDir()
	ca := filepath.Join(pki, "ca.pem")
	opCert, opKey := filepath.Join(pki, "operator-operator.pem"), filepath.Join(pki, "operator-operator-key.pem")
	addr := c.CoordinatorAddr()
	proto := []string{"-import-path", filepath.Join("..", "proto"), "-proto", "fedscorev1/fedscore.proto"}

	t.Run("grpcurl Status over mTLS", func(t *testing.T) {
		// Without reflection the service is described by the .proto file.
		args := append([]string{"-cacert", ca, "-cert", opCert, "-key", opKey}, proto...)
		out, errOut, code := run(t, grpcurl, append(args, addr, "fedscore.v1.Coordinator/Status")...)
		if code != 0 {
			t.Fatalf("grpcurl exited %d: %s%s", code, out, errOut)
		}
		var st struct {
			Epoch   string   `json:"epoch"`
			Members []string `json:"members"`
			Ready   bool     `json:"ready"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("grpcurl printed %q: %v", out, err)
		}
		var names []string
		for _, n := range c.Nodes() {
			names = append(names, n.Name())
		}
		if !st.Ready || st.Epoch == "" || !slices.Equal(st.Members, names) {
			t.Fatalf("grpcurl Status = %+v, want ready with members %v", st, names)
		}
	})

	t.Run("grpcurl without a client certificate", func(t *testing.T) {
		// Refused; today the client only sees its dial time out.
		args := append([]string{"-cacert", ca, "-connect-timeout", "3"}, proto...)
		out, errOut, code := run(t, grpcurl, append(args, addr, "fedscore.v1.Coordinator/Status")...)
		if code == 0 {
			t.Fatalf("the coordinator answered a client without a certificate: %s", out)
		}
		t.Logf("grpcurl without certificate: exit %d: %s", code, strings.TrimSpace(errOut))
	})

	t.Run("grpc-health-probe over mTLS", func(t *testing.T) {
		// The TLS handshake succeeds; the health service itself is not
		// served yet, which the probe reports as an RPC failure (exit 3).
		// Once it is, this expects SERVING (exit 0).
		out, errOut, code := run(t, probe, "-addr", addr, "-tls", "-tls-ca-cert", ca,
			"-tls-client-cert", opCert, "-tls-client-key", opKey, "-tls-server-name", "localhost")
		t.Logf("grpc-health-probe: exit %d: %s%s", code, out, errOut)
		if code != 3 || !strings.Contains(out+errOut, "does not implement the grpc health protocol") {
			t.Fatalf("grpc-health-probe exit %d, want 3 (health service not implemented)", code)
		}
	})
}
