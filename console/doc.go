// Package console serves fedscore's web console: one page for the three
// people who use a federation without a terminal.
//
//   - The analyst builds a joint query from the federation's catalogue,
//     sees the spec's problems field by field and the YAML it will sign,
//     runs it and follows its progress per phase and partner, and reads the
//     result as a table, a heat map, bar charts and histograms, with
//     withheld cells and the differential-privacy noise explained.
//   - The regulator opens policy bundles (the federation's, the one built
//     into fedscore, or an upload), checks their signatures, reads every
//     rule with its code and article, diffs two revisions, runs the
//     bundle's tests, verifies node audit logs and answers a data subject's
//     "which queries used my data?".
//   - The operator sees the federation's members and epoch from the
//     coordinator's Status RPC.
//
// The console runs on the analyst's side. It signs queries with the
// querier's key and decrypts results in this process through
// internal/querier, exactly like `fedscore query`; the browser only ever
// sees the decrypted table, never a key.
//
// # Security
//
// It listens on loopback unless it is given a TLS credential, in which case
// every client must present a certificate of the federation with the role
// querier, regulator or operator, and each role reaches only its own part
// of the API. Every response carries a strict Content-Security-Policy (no
// inline script or style, default-src 'self', frame-ancestors 'none'), and
// every state-changing request must be same-origin (net/http's
// CrossOriginProtection), carry the console's request header (which a
// cross-site form cannot set) and name a loopback Host when serving on
// loopback (which defeats DNS rebinding). Request bodies are size-limited.
//
// The page is plain HTML, CSS and JavaScript modules embedded in the binary;
// charts are drawn by Apache ECharts, vendored at a pinned version by
// scripts/console-assets.sh.
package console
