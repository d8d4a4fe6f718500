package cluster

import (
	"context"
	"os"
)

// T is the part of testing.TB the test helpers use; it keeps the package
// free of the testing package, so that commands can launch clusters too.
type T interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	TempDir() string
}

// NetNSEnv gates the tests that need network namespaces: CI sets it to 1,
// and then a machine without namespaces fails those tests instead of
// skipping them.
const NetNSEnv = "FEDSCORE_NETNS_TESTS"

// Launch starts a cluster for a test in t.TempDir() (unless cfg.Dir is
// set) and closes it when the test ends, printing the last lines of every
// process's log first if the test failed.
func Launch(t T, cfg Config) *Cluster {
	t.Helper()
	if cfg.Network != nil {
		RequireNetNS(t)
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("launch cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range append([]*Process{c.coord}, c.nodes...) {
				t.Logf("--- %s (pid %d, %s), last lines:\n%s", p.name, p.PID(), p.logPath, p.Tail(40))
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("cluster close: %v", err)
		}
	})
	return c
}

// RequireNetNS skips the test unless FEDSCORE_NETNS_TESTS=1; then it
// fails it when this machine cannot make network namespaces, saying why.
func RequireNetNS(t T) {
	t.Helper()
	if os.Getenv(NetNSEnv) != "1" {
		t.Skipf("%s is not 1; the network-namespace tests need root, iproute2 and /dev/net/tun (CI runs them)", NetNSEnv)
	}
	if err := checkNetNS(); err != nil {
		t.Fatalf("%s=1 but %v", NetNSEnv, err)
	}
}
