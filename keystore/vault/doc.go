// Package vault keeps a node's long-term secrets in HashiCorp Vault or
// OpenBao, which speaks the same API.
//
// A Store implements keystore.Store by envelope encryption: each secret
// (such as the node's share of the collective homomorphic secret key) is
// sealed locally with AES-256-GCM under a fresh data key from the transit
// secrets engine, and the wrapped data key, the nonce and the ciphertext are
// written to a KV version 2 entry with check-and-set. Vault never sees the
// secret, and the data key is only ever stored wrapped by a transit key that
// never leaves Vault.
//
// A Signer is a crypto.Signer whose ECDSA P-256 private key is a transit key:
// Vault signs, the key never leaves it. IssueCertificate has Vault's PKI
// engine certify a TLS key that stays with the node.
//
// Open logs in with AppRole, unwrapping a response-wrapped secret_id, and
// keeps the token alive with a lifetime watcher, logging in again when the
// token reaches its maximum lifetime. A sealed, unreachable or refusing Vault
// is reported with ErrSealed, ErrUnreachable, ErrAuth or ErrDenied, and no
// operation leaves a partial entry behind.
package vault
