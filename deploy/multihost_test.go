package deploy_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/internal/pgtest"
	"github.com/fedscore/fedscore/internal/sandbox"
)

// linkDelay is the one-way delay of every link in the multi-host runs.
const linkDelay = 20 * time.Millisecond

// multiHost is the federation of the multi-host runs: three partners, one
// of them with its records in PostgreSQL, each party in a network
// namespace of its own behind a link of the given delay.
func multiHost(t testing.TB, delay time.Duration) *cluster.Cluster {
	pgtest.DSN(t)
	return cluster.Launch(t, cluster.Config{
		Nodes: []cluster.NodeConfig{
			{Name: "bank-east", Rows: 3000, Seed: 11},
			{Name: "consumer-finance", Rows: 3000, Seed: 12},
			{Name: "pay-platform", Rows: 3000, Seed: 13, Postgres: true},
		},
		Network:      &cluster.Network{Delay: delay},
		QueryTimeout: time.Minute,
	})
}

// TestMultiHost runs coordinator and three nodes as separate processes on
// separate (namespaced) hosts over real TCP with mutual TLS and 20 ms per
// link: the joint query is exact, a node killed with SIGKILL mid-query
// fails that query, and after its restart from its state directory the
// next query is exact again. Every node's audit chain verifies at the end.
func TestMultiHost(t *testing.T) {
	c := multiHost(t, linkDelay)
	ctx := context.Background()
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}

	spaces := []string{c.Coordinator().Namespace()}
	for _, n := range c.Nodes() {
		spaces = append(spaces, n.Namespace())
	}
	slices.Sort(spaces)
	if len(slices.Compact(spaces)) != 4 || spaces[0] == "" {
		t.Fatalf("parties share namespaces: %v", spaces)
	}
	pg := c.Node("pay-platform")
	if i := slices.Index(pg.Args(), "--pg-dsn"); i < 0 || !strings.Contains(pg.Args()[i+1], "host='/") {
		t.Fatalf("pay-platform does not read PostgreSQL through its socket: %v", pg.Args())
	}

	// A round trip to the coordinator crosses the querier's link twice;
	// the figure is reported, not asserted (BenchmarkMultiHost measures
	// the queries).
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Status round trip across %v links: %v", linkDelay, time.Since(start))

	exact := func(label string) time.Duration {
		t.Helper()
		ans, err := c.Query(ctx, spec, nil)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		if err := c.Verify(ctx, spec, ans.Result); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		d := time.Duration(ans.TimingsMs["end_to_end"] * float64(time.Millisecond))
		t.Logf("%s: exact from %v in %v", label, ans.Partners, d.Round(time.Millisecond))
		return d
	}
	exact("first query")

	victim := c.Node("consumer-finance")
	_, err = c.Query(ctx, spec, cluster.OnPhase("input_1", "", func() {
		if err := victim.Kill(); err != nil {
			t.Error(err)
		}
	}))
	if err == nil {
		t.Fatal("a query survived the kill -9 of a member")
	}
	t.Logf("query during kill -9 of %s: %v", victim.Name(), err)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	exact("after restart")

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Close keeps Dir (a test's temporary directory): the audit logs are
	// still there to verify with the real command.
	bin, err := cluster.Binary()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		out, err := exec.Command(bin, "audit", "verify", filepath.Join(n.StateDir(), "audit.log"),
			"--ca", filepath.Join(c.PKIDir(), "ca.pem")).CombinedOutput()
		if err != nil {
			t.Fatalf("audit verify %s: %v\n%s", n.Name(), err, out)
		}
	}
}

// BenchmarkMultiHostQuery measures the joint query's end-to-end latency in
// the multi-host federation with and without link delay, side by side:
//
//	FEDSCORE_NETNS_TESTS=1 go test ./deploy -run '^$' -bench MultiHost -benchtime 10x -count 3
func BenchmarkMultiHostQuery(b *testing.B) {
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		b.Fatal(err)
	}
	for _, delay := range []time.Duration{0, linkDelay} {
		b.Run(fmt.Sprintf("delay=%v", delay), func(b *testing.B) {
			c := multiHost(b, delay)
			ctx := context.Background()
			if _, err := c.Query(ctx, spec, nil); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Query(ctx, spec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
