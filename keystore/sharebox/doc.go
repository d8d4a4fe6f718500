// Package sharebox delivers secret shares between federation members
// through an untrusted relay, such as the coordinator.
//
// A sender seals a share for one recipient with HPKE (RFC 9180, base mode:
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) under the
// recipient's box public key. The HPKE info binds the ciphertext to its
// Context (epoch, sender and recipient), and the sender signs the sealed
// box, together with the Context and the recipient's box public key, with
// its certified signing key (purpose ShareSignaturePurpose). The relay
// therefore can neither read a share nor forge one, and cannot move a box
// to another recipient, epoch or claimed sender: Open verifies the
// signature first and then decrypts.
//
// The sender must learn the recipient's box public key over an
// authenticated path, or a relay could substitute its own key and read the
// share. Members publish their key signed with SignPublicKey, and senders
// check it with VerifyPublicKey before sealing.
//
// What the package does not do: it does not verify certificate chains
// (use pki.VerifyPeerCertificate, and check that the certificate's identity
// is the Context's sender), and it does not detect replays; a recipient
// must accept at most one share per sender and epoch.
package sharebox
