// Package cluster launches a fedscore federation as separate operating
// system processes: the one launcher behind every test (and, later, every
// benchmark) in which coordinator and nodes must not share a heap, a
// loopback or a fate.
//
// # What it does
//
// Start runs the real `fedscore` binary the way an operator would:
// `fedscore pki` makes the development PKI and the policy bundle signed
// with the development regulator key (re-signed with Config.PolicyData when
// set), every member's records are written as CSV with a mapping that keeps
// their column kinds (synthetic ones from internal/synth, or a given file)
// or loaded into PostgreSQL, and then the
// coordinator and all nodes start at once, each as a child process with its
// own state directory, passphrase file and log. Start returns when the
// coordinator's Status RPC reports the collective key ready.
//
// The binary is built once per test process (Binary): `go build` into a
// cache keyed by a digest of the Go version and every source and embedded
// file of ./cmd/fedscore, so an unchanged tree is never rebuilt, or taken
// from $FEDSCORE_BIN when CI has built it already.
//
// # Controlling processes
//
// Every party is a Process: Kill (SIGKILL), Stop (SIGTERM, reporting an
// unclean exit) and Start again from the same state directory, for nodes
// and the coordinator alike. Truncate and Corrupt damage a file of a state
// directory; NodeConfig.StateTmpfs puts a node's state on a small tmpfs and
// FillDisk fills it. Each process runs in a process group of its own with
// the parent-death signal set, and Close (registered with t.Cleanup by
// Launch) stops them all, removes namespaces, mounts and tables, so no
// process outlives a failed test; the coordinator's port and every PID are
// there to read.
//
// With Config.Metrics every party also serves its Prometheus metrics and
// the gRPC health service on a loopback port of its own
// (Process.MetricsAddr), kept across restarts.
//
// Output is captured per process, line by line, into Dir/logs/NAME.log,
// into memory (Log, Tail, WaitLine) and to Watch callbacks. Launch prints
// the last lines of every log when a test fails.
//
// # Acting at a protocol phase
//
// Fault tests act at a given moment in two ways: OnPhase turns the
// coordinator's progress events, which the querier receives, into a
// one-shot callback ("kill node b once node a's counts arrived"); Watch
// does the same for any log line of any process.
//
// # Querying
//
// Cluster.Query runs a query with the in-process query client
// (internal/querier) holding the development querier's credentials;
// QueryCLI runs `fedscore query` instead. Verify compares an answer with
// the central plaintext computation over all members' records
// (sandbox.Plaintext), exactly or within the noise bound.
//
// # Network namespaces
//
// With Config.Network every party runs in a Linux network namespace of its
// own, created and always removed by the launcher (namespaces left by a
// launcher that was killed are removed by the next one), joined to the
// coordinator's namespace by links that delay every packet (see Network).
// The in-process querier reaches the coordinator through a gateway that
// opens its connections inside the querier's namespace. A PostgreSQL
// member reaches the loopback-only test server through its Unix socket.
// Tests gate this mode with RequireNetNS: skipped unless
// FEDSCORE_NETNS_TESTS=1, and then a machine without namespaces fails.
package cluster
