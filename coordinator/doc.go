// Package coordinator runs fedscore's coordinator: it registers the
// partner nodes of a federation, runs the collective key generation of each
// epoch, fans joint queries out to the nodes, adds their ciphertexts and has
// the aggregate key-switched to the querier's key.
//
// The coordinator is untrusted for confidentiality: it only ever holds
// ciphertexts under the collective key, shares and signed statements. Nodes
// recombine the collective key themselves from signed shares and check every
// sum they are asked to open against the participants' signed fingerprints,
// so a coordinator that deviates from the protocol is caught, not obeyed.
//
// Its cost is linear in the number of members: it adds each input into a
// running sum as it arrives and drops it (at most Config.UploadWindow
// inputs are in memory at once), and each node receives the sums, the
// members' small signed statements and the few inputs it spot-checks, never
// every member's input. query.go runs a query; run.go holds a run's
// participants and waits; commit.go, verify.go and share.go are the
// protocol's steps.
package coordinator
