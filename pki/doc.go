// Package pki provides the identities, certificates, TLS configurations and
// signatures that fedscore parties use to authenticate one another.
//
// Every party (coordinator, partner node, querier, regulator) holds an X.509
// certificate whose single URI SAN is a SPIFFE-style identity of the form
// spiffe://<trust-domain>/<role>/<name>. Connections use mutual TLS 1.3 and
// authorise the peer by that identity and its role, never by hostname.
//
// Signatures over application messages (query specs, receipts) use ECDSA
// P-256 with SHA-256 and carry a purpose string, so that a signature made
// for one purpose is never valid for another.
//
// The CA type is a development certificate authority for the sandbox and for
// tests; real deployments bring their own CA.
package pki
