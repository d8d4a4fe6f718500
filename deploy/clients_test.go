package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/internal/sandbox"
	fpki "github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
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

// grpc-health-probe's exit codes.
const (
	probeServing    = 0
	probeConnFailed = 2
	probeRPCFailed  = 3
	probeUnhealthy  = 4
)

// prober runs the real grpc-health-probe.
type prober struct {
	bin string
	tls []string // the flags of a probe over mutual TLS
}

// probe checks service at addr; mTLS with tls set.
func (p prober) probe(t *testing.T, addr, service string, tls bool) (code int, out string) {
	t.Helper()
	args := []string{"-addr", addr, "-connect-timeout", "3s", "-rpc-timeout", "3s"}
	if service != "" {
		args = append(args, "-service", service)
	}
	if tls {
		args = append(args, p.tls...)
	}
	stdout, stderr, code := run(t, p.bin, args...)
	return code, strings.TrimSpace(stdout + stderr)
}

// expect waits until the probe of service at addr exits with want.
func (p prober) expect(t *testing.T, what, addr, service string, tls bool, want int) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		code, out := p.probe(t, addr, service, tls)
		if code == want {
			t.Logf("%s: grpc-health-probe exit %d: %s", what, code, out)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: grpc-health-probe -addr %s -service %q exits %d (%s), want %d", what, addr, service, code, out, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// operatedCluster is a federation of separate processes run as an
// operator runs one: metrics and health listeners, JSON logs at debug
// level (every query step), a coordinator with extra flags.
func operatedCluster(t *testing.T, nodes int, coordinatorArgs ...string) *cluster.Cluster {
	logs := []string{"--log-format", "json", "--log-level", "debug"}
	cfg := cluster.Config{Nodes: cluster.SyntheticNodes(nodes, 300), Metrics: true,
		CoordinatorArgs: append(slices.Clone(logs), coordinatorArgs...)}
	for i := range cfg.Nodes {
		cfg.Nodes[i].Args = logs
	}
	return cluster.Launch(t, cfg)
}

// TestOperatorTools operates a running federation with the tools an
// operator has: `fedscore status`, grpcurl and grpc-health-probe over
// mutual TLS, the health probes on the plain-text metrics ports as the
// state changes, and the metrics themselves (metrics_test.go).
func TestOperatorTools(t *testing.T) {
	grpcurl := client(t, "grpcurl")
	probeBin := client(t, "grpc-health-probe")
	c := operatedCluster(t, 3)
	ctx := context.Background()
	pki := c.PKIDir()
	ca := filepath.Join(pki, "ca.pem")
	opCert, opKey := filepath.Join(pki, "operator-operator.pem"), filepath.Join(pki, "operator-operator-key.pem")
	addr := c.CoordinatorAddr()
	protoFiles := []string{"-import-path", filepath.Join("..", "proto"), "-proto", "fedscorev1/fedscore.proto"}
	p := prober{bin: probeBin, tls: []string{"-tls", "-tls-ca-cert", ca, "-tls-client-cert", opCert, "-tls-client-key", opKey, "-tls-server-name", "localhost"}}

	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, spec, nil); err != nil {
		t.Fatalf("query: %v", err)
	}
	refused := refusedQuery(t)
	if _, err := c.Query(ctx, refused, nil); err == nil {
		t.Fatal("a marketing query of credit scores was answered")
	}

	t.Run("fedscore status", func(t *testing.T) {
		bin := clusterBinary(t)
		tlsArgs := []string{"--coordinator", addr, "--ca", ca, "--cert", opCert, "--key", opKey}
		out, errOut, code := run(t, bin, append([]string{"status"}, tlsArgs...)...)
		if code != 0 {
			t.Fatalf("fedscore status exited %d: %s", code, errOut)
		}
		t.Logf("fedscore status:\n%s", out)
		for _, want := range []string{"serving, every member ready", "node-01", "node-03", "current", "answered", "refused", "PURPOSE_COLUMNS", "risk_analytics"} {
			if !strings.Contains(out, want) {
				t.Errorf("fedscore status does not show %q", want)
			}
		}
		out, errOut, code = run(t, bin, append([]string{"status", "--json"}, tlsArgs...)...)
		var st struct {
			Serving      bool `json:"serving"`
			MemberStatus []struct {
				Name           string `json:"name"`
				Attached       bool   `json:"attached"`
				HoldsEpochKey  bool   `json:"holds_epoch_key"`
				BundleRevision string `json:"bundle_revision"`
				SharePresent   bool   `json:"share_present"`
			} `json:"member_status"`
			RecentQueries []struct {
				Outcome string `json:"outcome"`
			} `json:"recent_queries"`
		}
		if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
			t.Fatalf("fedscore status --json exited %d: %v %s\n%s", code, err, errOut, out)
		}
		if !st.Serving || len(st.MemberStatus) != 3 || len(st.RecentQueries) != 2 {
			t.Fatalf("fedscore status --json = %+v", st)
		}
		for _, m := range st.MemberStatus {
			if !m.Attached || !m.HoldsEpochKey || !m.SharePresent || m.BundleRevision == "" {
				t.Errorf("member %+v: want attached with the epoch's key and share, and a bundle revision", m)
			}
		}
	})

	t.Run("a certificate of another CA", func(t *testing.T) {
		// Another federation's development PKI: the same trust domain and
		// names, another CA.
		bin := clusterBinary(t)
		other := t.TempDir()
		if out, errOut, code := run(t, bin, "pki", "--dir", other, "--nodes", "node-01", "--queriers", "analyst", "--operators", "operator"); code != 0 {
			t.Fatalf("fedscore pki: %s%s", out, errOut)
		}
		_, errOut, code := run(t, bin, "status", "--coordinator", addr, "--ca", ca,
			"--cert", filepath.Join(other, "operator-operator.pem"), "--key", filepath.Join(other, "operator-operator-key.pem"))
		if code == 0 || !strings.Contains(errOut, "certificate refused") || !strings.Contains(errOut, "does not trust the issuer") {
			t.Errorf("fedscore status with another CA's certificate: exit %d: %s", code, errOut)
		}
		// The console, run by an analyst with such a certificate, shows it.
		cred, err := fpki.LoadCredential(filepath.Join(other, "querier-analyst.pem"), filepath.Join(other, "querier-analyst-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		roots, err := fpki.LoadCertPool(ca)
		if err != nil {
			t.Fatal(err)
		}
		id, err := fpki.CoordinatorIdentity(cred, "")
		if err != nil {
			t.Fatal(err)
		}
		q, err := querier.Dial(querier.Config{Credential: cred, Roots: roots, Coordinator: addr, CoordinatorIdentity: id})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		body := consoleStatus(t, q)
		if !strings.Contains(body, "certificate refused") || !strings.Contains(body, "does not trust the issuer") {
			t.Errorf("the console's status with another CA's certificate: %s", body)
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := c.Coordinator().WaitLine(lctx, regexpMust(`TLS handshake refused.*unknown_authority`)); err != nil {
			t.Errorf("the coordinator did not log the refusal: %v", err)
		}
	})

	t.Run("grpcurl Status over mTLS", func(t *testing.T) {
		// Without reflection the service is described by the .proto file.
		args := append([]string{"-cacert", ca, "-cert", opCert, "-key", opKey}, protoFiles...)
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

	t.Run("grpcurl without reflection", func(t *testing.T) {
		out, errOut, code := run(t, grpcurl, "-cacert", ca, "-cert", opCert, "-key", opKey, addr, "list")
		if code == 0 || !strings.Contains(out+errOut, "server does not support the reflection API") {
			t.Fatalf("grpcurl list without --reflection: exit %d: %s%s", code, out, errOut)
		}
	})

	t.Run("grpcurl without a client certificate", func(t *testing.T) {
		args := append([]string{"-cacert", ca, "-connect-timeout", "5"}, protoFiles...)
		start := time.Now()
		out, errOut, code := run(t, grpcurl, append(args, addr, "fedscore.v1.Coordinator/Status")...)
		msg := strings.TrimSpace(out + errOut)
		t.Logf("grpcurl without a certificate, after %v: exit %d: %s", time.Since(start).Round(time.Millisecond), code, msg)
		if code == 0 || !strings.Contains(msg, "Unauthenticated") || !strings.Contains(msg, "presented none") {
			t.Fatalf("grpcurl without a certificate: exit %d: %s; want Unauthenticated saying no certificate was presented", code, msg)
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := c.Coordinator().WaitLine(lctx, regexpMust(`call refused: the client presented no certificate`)); err != nil {
			t.Errorf("the coordinator did not log the refusal: %v", err)
		}
	})

	t.Run("grpc-health-probe over mTLS", func(t *testing.T) {
		for _, svc := range []string{"", "fedscore.v1.Coordinator", "liveness"} {
			if code, out := p.probe(t, addr, svc, true); code != probeServing {
				t.Errorf("grpc-health-probe -service %q over mTLS: exit %d: %s", svc, code, out)
			}
		}
		// Without a certificate the probe is refused, saying why.
		code, out := p.probe(t, addr, "", false)
		if code == probeServing {
			t.Errorf("a probe in plain text was answered: %s", out)
		}
	})

	coordMetrics := c.Coordinator().MetricsAddr()
	t.Run("health on the metrics ports", func(t *testing.T) {
		p.expect(t, "coordinator readiness", coordMetrics, "", false, probeServing)
		p.expect(t, "coordinator liveness", coordMetrics, "liveness", false, probeServing)
		for _, n := range c.Nodes() {
			p.expect(t, n.Name()+" readiness", n.MetricsAddr(), "", false, probeServing)
		}

		// A member is gone: an N-of-N federation cannot answer, but its
		// coordinator is alive.
		gone := c.Node("node-03")
		if err := gone.Kill(); err != nil {
			t.Fatal(err)
		}
		p.expect(t, "coordinator readiness without node-03", coordMetrics, "", false, probeUnhealthy)
		p.expect(t, "coordinator liveness without node-03", coordMetrics, "liveness", false, probeServing)
		p.expect(t, "coordinator over mTLS without node-03", addr, "", true, probeUnhealthy)
		p.expect(t, "node-03 killed", gone.MetricsAddr(), "", false, probeConnFailed)
		if err := gone.Start(); err != nil {
			t.Fatal(err)
		}
		waitReady(t, c)
		p.expect(t, "coordinator readiness with node-03 back", coordMetrics, "", false, probeServing)
		p.expect(t, "node-03 back", gone.MetricsAddr(), "", false, probeServing)

		// The coordinator is gone: the nodes are alive but not ready.
		if err := c.Coordinator().Stop(); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes() {
			p.expect(t, n.Name()+" readiness without the coordinator", n.MetricsAddr(), "", false, probeUnhealthy)
			p.expect(t, n.Name()+" liveness without the coordinator", n.MetricsAddr(), "liveness", false, probeServing)
		}
		if err := c.Coordinator().Start(); err != nil {
			t.Fatal(err)
		}
		waitReady(t, c)
		for _, n := range c.Nodes() {
			p.expect(t, n.Name()+" readiness with the coordinator back", n.MetricsAddr(), "", false, probeServing)
		}
	})

	t.Run("logs hold no records or keys", func(t *testing.T) { checkLogSecrecy(t, c) })
}

// TestReflection points grpcurl list and describe at a coordinator
// started with --reflection, over mutual TLS.
func TestReflection(t *testing.T) {
	grpcurl := client(t, "grpcurl")
	c := cluster.Launch(t, cluster.Config{Nodes: cluster.SyntheticNodes(2, 50), CoordinatorArgs: []string{"--reflection"}})
	pki := c.PKIDir()
	tls := []string{"-cacert", filepath.Join(pki, "ca.pem"), "-cert", filepath.Join(pki, "operator-operator.pem"),
		"-key", filepath.Join(pki, "operator-operator-key.pem")}
	out, errOut, code := run(t, grpcurl, append(tls, c.CoordinatorAddr(), "list")...)
	if code != 0 {
		t.Fatalf("grpcurl list: exit %d: %s", code, errOut)
	}
	for _, svc := range []string{"fedscore.v1.Coordinator", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(strings.Fields(out), svc) {
			t.Errorf("grpcurl list does not show %s:\n%s", svc, out)
		}
	}
	for sym, want := range map[string]string{
		"fedscore.v1.Coordinator":    "rpc Status ( .fedscore.v1.StatusRequest ) returns ( .fedscore.v1.StatusResponse )",
		"fedscore.v1.StatusResponse": "repeated .fedscore.v1.MemberStatus member_status",
	} {
		out, errOut, code := run(t, grpcurl, append(tls, c.CoordinatorAddr(), "describe", sym)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("grpcurl describe %s: exit %d: %s%s; want %q", sym, code, out, errOut, want)
		}
	}
	// A client without a certificate learns nothing, not even the services.
	out, errOut, code = run(t, grpcurl, "-cacert", filepath.Join(pki, "ca.pem"), c.CoordinatorAddr(), "list")
	if code == 0 || !strings.Contains(out+errOut, "presented none") {
		t.Errorf("grpcurl list without a certificate: exit %d: %s%s", code, out, errOut)
	}
}

// consoleStatus serves the web console with q's Status and returns what
// its status API answers.
func consoleStatus(t *testing.T, q *querier.Client) string {
	t.Helper()
	srv, err := console.New(console.Config{Listen: "127.0.0.1:0", Status: q.Status})
	if err != nil {
		t.Fatal(err)
	}
	lis, url, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	defer func() { cancel(); <-served }()
	resp, err := http.Get(strings.TrimSuffix(url, "/") + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status + " " + string(b)
}

// refusedQuery is a query every member's policy refuses: credit scores
// for marketing.
func refusedQuery(t *testing.T) *query.Spec {
	t.Helper()
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	spec.Purpose, spec.PipiaID = "marketing_analytics", ""
	return spec
}

func waitReady(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}
