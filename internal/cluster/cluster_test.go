package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/internal/mysqltest"
	"github.com/fedscore/fedscore/internal/pgtest"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/query"
)

func defaultQuery(t *testing.T) *query.Spec {
	t.Helper()
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// queryExact runs spec and compares the answer with the plaintext
// computation.
func queryExact(t *testing.T, c *cluster.Cluster, spec *query.Spec) {
	t.Helper()
	ctx := context.Background()
	ans, err := c.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if err := c.Verify(ctx, spec, ans.Result); err != nil {
		t.Fatal(err)
	}
	if len(ans.Partners) != len(c.Nodes()) {
		t.Fatalf("answer from partners %v, want all %d", ans.Partners, len(c.Nodes()))
	}
}

func TestJointQueryExact(t *testing.T) {
	c := cluster.Launch(t, cluster.Config{Nodes: cluster.SyntheticNodes(3, 400)})
	spec := defaultQuery(t)
	queryExact(t, c, spec)

	// The same query through the real command-line client.
	specFile := filepath.Join(t.TempDir(), "query.json")
	b, err := spec.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := c.QueryCLI(context.Background(), specFile)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rows     []map[string]any `json:"rows"`
		Partners []string         `json:"partners"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("fedscore query --json: %v\n%s", err, out)
	}
	want, err := c.Expected(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != len(want.Rows) || len(got.Partners) != 3 {
		t.Fatalf("fedscore query: %d rows from %v, want %d rows from 3 partners", len(got.Rows), got.Partners, len(want.Rows))
	}
	count := slices.Index(want.Columns, "count")
	for i, row := range want.Rows {
		if n, ok := row.Values[count].(int64); ok && got.Rows[i]["count"] != float64(n) {
			t.Fatalf("row %d: fedscore query counts %v, plaintext %d", i, got.Rows[i]["count"], n)
		}
	}
}

// TestGivenCSVAndPolicyData runs the README's public-data example across
// processes: UCI Bank Marketing split into three partners' CSV files by the
// example's own script, the example's policy data signed into the bundle.
func TestGivenCSVAndPolicyData(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../../examples/bank-marketing/split.sh", shareddata.Path(t, "bank-full.csv"), "3", dir).CombinedOutput(); err != nil {
		t.Fatalf("split.sh: %v\n%s", err, out)
	}
	var policyData map[string]any
	b, err := os.ReadFile("../../examples/bank-marketing/policy-data.json")
	if err == nil {
		err = json.Unmarshal(b, &policyData)
	}
	if err != nil {
		t.Fatal(err)
	}
	var nodes []cluster.NodeConfig
	for i, name := range []string{"a", "b", "c"} {
		nodes = append(nodes, cluster.NodeConfig{Name: name, CSV: filepath.Join(dir, fmt.Sprintf("part%d.csv", i+1))})
	}
	c := cluster.Launch(t, cluster.Config{Nodes: nodes, PolicyData: policyData})
	text, err := os.ReadFile("../../examples/bank-marketing/query.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := query.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	queryExact(t, c, spec)
}

func TestKillAndRestart(t *testing.T) {
	c := cluster.Launch(t, cluster.Config{Nodes: cluster.SyntheticNodes(3, 300), QueryTimeout: 20 * time.Second})
	spec := defaultQuery(t)
	ctx := context.Background()
	victim := c.Nodes()[1]

	// Watch sees the lines of every process as they are written.
	attached := make(chan string, 16)
	stop := c.Watch(func(p *cluster.Process, line string) {
		if p == victim && strings.Contains(line, "attached to coordinator") {
			attached <- line
		}
	})
	defer stop()

	t.Run("kill -9 mid-query, restart", func(t *testing.T) {
		pid := victim.PID()
		_, err := c.Query(ctx, spec, cluster.OnPhase("input_1", c.Nodes()[0].Name(), func() {
			if err := victim.Kill(); err != nil {
				t.Error(err)
			}
		}))
		if err == nil {
			t.Fatal("a query survived the kill -9 of a member of an N-of-N federation")
		}
		t.Logf("query with %s killed: %v", victim.Name(), err)
		if victim.Running() || syscall.Kill(pid, 0) != syscall.ESRCH {
			t.Fatalf("%s (pid %d) still runs after Kill", victim.Name(), pid)
		}
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if victim.PID() == pid {
			t.Fatal("the restarted node has its old pid")
		}
		select {
		case line := <-attached:
			t.Logf("watched: %s", line)
		case <-time.After(10 * time.Second):
			t.Fatal("Watch did not see the restarted node attach")
		}
		queryExact(t, c, spec)
	})

	t.Run("coordinator restarted from its state dir", func(t *testing.T) {
		before, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Coordinator().Kill(); err != nil {
			t.Fatal(err)
		}
		if err := c.Coordinator().Start(); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Epoch != before.Epoch {
			t.Fatalf("the restarted coordinator is at epoch %q, was %q", after.Epoch, before.Epoch)
		}
		queryExact(t, c, spec)
	})

	t.Run("logs", func(t *testing.T) {
		if !strings.Contains(victim.Log(), "=== cluster: run 2 of "+victim.Name()) {
			t.Fatalf("the log of %s does not show its second run", victim.Name())
		}
		line, err := victim.WaitLine(ctx, regexp.MustCompile(`attached to coordinator`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", victim.Name(), line)
		b, err := os.ReadFile(victim.LogPath())
		if err != nil || !strings.Contains(string(b), "attached to coordinator") {
			t.Fatalf("log file %s: %v", victim.LogPath(), err)
		}
	})
}

func TestStateFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a tmpfs state directory needs root") // CI runs as root
	}
	nodes := cluster.SyntheticNodes(2, 200)
	nodes[0].StateTmpfs = "16m"
	c := cluster.Launch(t, cluster.Config{Nodes: nodes})
	n := c.Node(nodes[0].Name)
	var st syscall.Statfs_t
	if err := syscall.Statfs(n.StateDir(), &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		t.Fatalf("state dir %s is not on a tmpfs (type %#x, %v)", n.StateDir(), st.Type, err)
	}
	free, err := n.FillDisk()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Statfs(n.StateDir(), &st); err != nil || st.Bavail != 0 {
		t.Fatalf("after FillDisk %d blocks are free (%v)", st.Bavail, err)
	}
	if err := free(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(n.StateDir(), "epoch.json")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Corrupt("epoch.json", -2); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if len(after) != len(before) || after[len(after)-2] != ^before[len(before)-2] {
		t.Fatal("Corrupt did not flip the byte")
	}
	if err := n.Truncate("epoch.json", -10); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(before)-10) {
		t.Fatalf("Truncate left %d bytes, want %d", fi.Size(), len(before)-10)
	}
	if err := n.Truncate("../escape", 0); err == nil {
		t.Fatal("Truncate accepted a path outside the state directory")
	}
}

func TestPostgresNode(t *testing.T) {
	pgtest.DSN(t)
	nodes := cluster.SyntheticNodes(3, 300)
	nodes[2].Postgres = true
	c := cluster.Launch(t, cluster.Config{Nodes: nodes})
	if !strings.Contains(strings.Join(c.Node(nodes[2].Name).Args(), " "), "--pg-dsn") {
		t.Fatal("the Postgres node does not run on --pg-dsn")
	}
	queryExact(t, c, defaultQuery(t))
}

// TestMySQLNode runs a member on a MariaDB table through --source
// mysql://... with its password in a file, beside two CSV members.
func TestMySQLNode(t *testing.T) {
	u, err := url.Parse(mysqltest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	nodes := cluster.SyntheticNodes(3, 300)
	nodes[1].MySQL = true
	c := cluster.Launch(t, cluster.Config{Nodes: nodes})
	args := strings.Join(c.Node(nodes[1].Name).Args(), " ")
	if !strings.Contains(args, "--source mysql://") || !strings.Contains(args, "--source-password-file") {
		t.Fatalf("the MySQL node runs with %s", args)
	}
	if strings.Contains(args, password) {
		t.Fatal("the MySQL node's password is on its command line")
	}
	queryExact(t, c, defaultQuery(t))
}

// TestTeardown checks that Close leaves no process, namespace or
// directory behind, on loopback and in namespaces.
func TestTeardown(t *testing.T) {
	cases := []struct {
		name string
		net  *cluster.Network
	}{{"loopback", nil}, {"namespaces", &cluster.Network{}}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.net != nil {
				cluster.RequireNetNS(t)
			}
			c, err := cluster.Start(context.Background(), cluster.Config{Nodes: cluster.SyntheticNodes(3, 100), Network: tc.net})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var pids []int
			var spaces []string
			for _, p := range append(c.Nodes(), c.Coordinator()) {
				pids = append(pids, p.PID())
				if ns := p.Namespace(); ns != "" {
					spaces = append(spaces, ns)
				}
			}
			if tc.net != nil {
				queryExact(t, c, defaultQuery(t))
			}
			dir := c.Dir()
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for _, pid := range pids {
				if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
					t.Errorf("pid %d is still there after Close (%v)", pid, err)
				}
			}
			for _, ns := range spaces {
				if _, err := os.Stat(filepath.Join("/run/netns", ns)); !os.IsNotExist(err) {
					t.Errorf("namespace %s is still there after Close (%v)", ns, err)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("directory %s is still there after Close", dir)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}
