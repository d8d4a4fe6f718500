package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/internal/sandbox"
)

// prometheusEnv gates the tests of the real Prometheus tools (Debian's
// prometheus package: promtool and the server): CI installs them and sets
// it to 1, and then a missing tool fails instead of skipping.
const prometheusEnv = "FEDSCORE_PROMETHEUS_TESTS"

// prometheusTool finds promtool or prometheus on PATH.
func prometheusTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv(prometheusEnv) == "1" {
		t.Fatalf("%s=1 but there is no %s on PATH: apt-get install prometheus", prometheusEnv, name)
	}
	t.Skipf("no %s on PATH (Debian's prometheus package; CI installs it and sets %s=1)", name, prometheusEnv)
	return ""
}

// vaultOnly are the metrics a node registers only under Vault custody
// (node/config), which the cluster's nodes do not use.
var vaultOnly = []string{"fedscore_node_vault_token_ttl_seconds"}

// TestMetrics runs a federation of separate processes with metrics
// listeners, answers one query and has another refused, and checks what
// the coordinator's and a node's /metrics say: the counters moved, the
// exposition passes the real promtool, a real Prometheus server scrapes
// every party, the Grafana dashboard uses only metrics that exist, and no
// log line holds a record or key material.
func TestMetrics(t *testing.T) {
	c := operatedCluster(t, 3)
	ctx := context.Background()
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, spec, nil); err != nil {
		t.Fatalf("query: %v", err)
	}
	if _, err := c.Query(ctx, refusedQuery(t), nil); err == nil {
		t.Fatal("a marketing query of credit scores was answered")
	}
	coord := scrape(t, c.Coordinator().MetricsAddr())
	node := scrape(t, c.Node("node-01").MetricsAddr())
	// The refused query may be cancelled at a node before it decides, once
	// another node's refusal reached the coordinator: refusals are counted
	// over every node.
	var each []exposition
	for _, n := range c.Nodes() {
		each = append(each, scrape(t, n.MetricsAddr()))
	}
	nodes := merge(each...)

	t.Run("counters moved", func(t *testing.T) {
		coord.check(t, "answered queries", equal(1), "fedscore_coordinator_queries_total", "outcome", "answered")
		coord.check(t, "refused queries", equal(1), "fedscore_coordinator_queries_total", "outcome", "refused")
		coord.check(t, "refusal codes", atLeast(1), "fedscore_coordinator_query_refusals_total", "code", "PURPOSE_COLUMNS")
		coord.check(t, "completed runs' total phase", equal(1), "fedscore_coordinator_query_phase_duration_seconds", "phase", "total")
		coord.check(t, "key-switch phase", equal(1), "fedscore_coordinator_query_phase_duration_seconds", "phase", "key_switch")
		coord.check(t, "ciphertexts received", atLeast(3*2*100_000), "fedscore_coordinator_message_bytes_total", "direction", "in", "kind", "chunk/ct")
		coord.check(t, "results sent", atLeast(1), "fedscore_coordinator_message_bytes_total", "direction", "out", "kind", "chunk/result")
		coord.check(t, "attached members", equal(3), "fedscore_coordinator_attached_members")
		coord.check(t, "serving", equal(1), "fedscore_coordinator_serving")
		coord.check(t, "active queries", equal(0), "fedscore_coordinator_active_queries")
		coord.check(t, "key generations", equal(1), "fedscore_coordinator_key_generations_total", "outcome", "ok")
		coord.check(t, "withheld values", atLeast(0), "fedscore_coordinator_withheld_values_total")

		node.check(t, "admissions", equal(1), "fedscore_node_decisions_total", "kind", "admission", "result", "allow")
		nodes.check(t, "denials", atLeast(1), "fedscore_node_decisions_total", "kind", "admission", "result", "deny")
		nodes.check(t, "refusal codes", atLeast(1), "fedscore_node_refusals_total", "code", "PURPOSE_COLUMNS")
		node.check(t, "key-switch shares given", atLeast(1), "fedscore_node_queries_total", "outcome", "shared")
		nodes.check(t, "admission steps", atLeast(4), "fedscore_node_step_duration_seconds", "step", "query_task")
		node.check(t, "spot checks", atLeast(2), "fedscore_node_spot_checks_total", "outcome", "match")
		node.check(t, "no false fingerprints", equal(0), "fedscore_node_spot_checks_total", "outcome", "mismatch")
		node.check(t, "ciphertexts sent", atLeast(2*100_000), "fedscore_node_message_bytes_total", "direction", "out", "kind", "chunk/ct")
		node.check(t, "share ledger", atLeast(2), "fedscore_node_share_ledger_entries")
		node.check(t, "audit log", atLeast(1000), "fedscore_node_audit_log_bytes")
		node.check(t, "audit checkpoint", atLeast(float64(time.Now().Add(-time.Hour).Unix())), "fedscore_node_audit_last_checkpoint_timestamp_seconds")
		node.check(t, "bundle expiry", atLeast(float64(time.Now().Unix())), "fedscore_node_policy_bundle_expiry_timestamp_seconds")
		node.check(t, "budget limit", equal(10), "fedscore_node_privacy_epsilon_daily_limit", "purpose", "risk_analytics")
		node.check(t, "budget left", equal(9), "fedscore_node_privacy_epsilon_remaining", "purpose", "risk_analytics")
		node.check(t, "ready", equal(1), "fedscore_node_ready")
		node.check(t, "Go runtime", atLeast(1), "go_goroutines")
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := prometheusTool(t, "promtool")
		for name, e := range map[string]exposition{"coordinator": coord, "node": node} {
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(e.text)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics of the %s: %v\n%s", name, err, out)
			}
		}
	})

	t.Run("the dashboard's metrics exist", func(t *testing.T) {
		checkDashboard(t, coord, nodes)
	})

	t.Run("a Prometheus server scrapes every party", func(t *testing.T) {
		targets := map[string][]string{"fedscore-coordinator": {c.Coordinator().MetricsAddr()}}
		for _, n := range c.Nodes() {
			targets["fedscore-node"] = append(targets["fedscore-node"], n.MetricsAddr())
		}
		api := startPrometheus(t, targets)
		promQuery(t, api, `sum(up{job=~"fedscore-.*"})`, 4)
		promQuery(t, api, `fedscore_coordinator_queries_total{outcome="answered"}`, 1)
		promQuery(t, api, `sum(fedscore_node_decisions_total{kind="admission",result="allow"})`, 3)
	})

	t.Run("logs hold no records or keys", func(t *testing.T) { checkLogSecrecy(t, c) })
}

// checkDashboard checks that every metric a query of the Grafana
// dashboard names is in the coordinator's or the node's exposition.
func checkDashboard(t *testing.T, exps ...exposition) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "fedscore-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	known := map[string]bool{}
	for _, e := range exps {
		for name, f := range e.families {
			known[name] = true
			if f.GetType().String() == "HISTOGRAM" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					known[name+s] = true
				}
			}
		}
	}
	names := regexp.MustCompile(`\bfedscore_[a-z0-9_]+`)
	used := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range names.FindAllString(tg.Expr, -1) {
				used++
				if !known[name] && !slices.Contains(vaultOnly, name) {
					t.Errorf("panel %q uses %s, which no registry exposes", p.Title, name)
				}
			}
		}
	}
	if used < 20 {
		t.Errorf("the dashboard's queries name only %d metrics", used)
	}
}

// startPrometheus runs a throw-away Prometheus server on loopback that
// scrapes targets (job -> addresses) every second, and returns its API
// address; it is stopped when the test ends.
func startPrometheus(t *testing.T, targets map[string][]string) string {
	t.Helper()
	bin := prometheusTool(t, "prometheus")
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
	for job, addrs := range targets {
		quoted := make([]string, len(addrs))
		for i, a := range addrs {
			quoted[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs:\n      - targets: [%s]\n", job, strings.Join(quoted, ", "))
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("prometheus log:\n%s", b)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus exited (%v):\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus did not become ready in 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promQuery waits until the instant query expr, through Prometheus's HTTP
// API, returns one series with value want.
func promQuery(t *testing.T, addr, expr string, want float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(expr))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
			t.Fatalf("query %s: %v %s", expr, err, body)
		}
		last = string(body)
		if len(r.Data.Result) == 1 && len(r.Data.Result[0].Value) == 2 {
			if s, ok := r.Data.Result[0].Value[1].(string); ok {
				if v, err := strconv.ParseFloat(s, 64); err == nil && v == want {
					t.Logf("prometheus: %s = %v", expr, v)
					return
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("prometheus: %s did not become %v; last answer %s", expr, want, last)
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// clusterBinary is the fedscore binary the cluster runs.
func clusterBinary(t *testing.T) string {
	t.Helper()
	bin, err := cluster.Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
