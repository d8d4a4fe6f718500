// Command fedscore runs fedscore, a privacy-preserving federated scoring
// network: partner nodes, the coordinator, queriers and a whole-federation
// sandbox on loopback. It is one binary whose first argument names the
// command.
//
// Usage:
//
//	fedscore <command> [flags]
//
// Commands:
//
//	sandbox      run a coordinator and partner nodes on loopback and a joint query
//	coordinator  serve the coordinator
//	node         run a partner node beside its data
//	query        submit a signed joint query and print the decrypted result
//	overlap      size the partners' shared audience by private set intersection: a signed overlap query
//	policy       build, sign, verify, inspect and test policy bundles
//	catalog      the purposes, columns and settings a query is checked against
//	console      serve the web console for analysts, regulators and operators
//	audit        verify and read a node's audit log
//	keys         key ceremony, status and rotation of the federation's epochs
//	status       print the federation's members, epoch and recent queries from the coordinator
//	model        fit, sign, verify and audit scoring models
//	train        train a scorecard across partners through the encrypted pipeline
//	pki          create a development PKI and signed policy bundle; issue certificates through Vault
//	bench        benchmark loopback federations: latency, bytes, CPU and memory against baselines
//	version      print the version
//
// Run `fedscore <command> -h` for a command's flags.
//
// # Who runs what
//
// The consortium operator runs `fedscore coordinator`; each partner runs
// `fedscore node` beside its records (a CSV or Parquet file, or a
// PostgreSQL table the aggregation is pushed down to), with its key share
// in an encrypted file keystore or in Vault and a signed policy bundle it
// re-reads when a new signed version arrives. An analyst runs `fedscore
// query` with a YAML or JSON spec, which is checked before anything is
// signed; a model owner runs `fedscore train`. Regulators use `fedscore
// policy` to build, sign and test bundles, `fedscore model` to review and
// sign scoring models, and `fedscore audit` to verify a node's hash-chained
// audit log. `fedscore keys` drives the key ceremony and epoch rotation,
// and `fedscore pki` makes a development PKI for trying a federation out.
// `fedscore sandbox` runs a whole federation in one process, and
// `fedscore bench` measures one.
//
// Each command's flags are parsed in its run function; what a command
// starts is built by the packages it names (node/config for a node,
// querier for a query), so that tests can drive every command through
// run without a process of its own.
package main
