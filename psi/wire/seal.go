package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrOpen reports a sealed payload that does not authenticate: tampered,
// replayed into another position, or sealed under another key.
var ErrOpen = errors.New("PSI frame does not authenticate")

// Ephemeral is a party's X25519 key for one session.
type Ephemeral struct {
	priv *ecdh.PrivateKey
}

// NewEphemeral draws a fresh key from crypto/rand.
func NewEphemeral() (*Ephemeral, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("psi ephemeral key: %w", err)
	}
	return &Ephemeral{priv: k}, nil
}

// Public returns the public key a hello carries.
func (e *Ephemeral) Public() []byte { return e.priv.PublicKey().Bytes() }

// Channel seals and opens the payloads between two parties of a session.
type Channel struct {
	self, peer uint8
	send, recv cipher.AEAD
}

// Channel derives the channel between self and peer from peer's hello key.
func (e *Ephemeral) Channel(session SessionID, self, peer uint8, peerPublic []byte) (*Channel, error) {
	pub, err := ecdh.X25519().NewPublicKey(peerPublic)
	if err != nil {
		return nil, fmt.Errorf("%w: peer key: %v", ErrMalformed, err)
	}
	shared, err := e.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: peer key: %v", ErrMalformed, err)
	}
	mine := e.Public()
	derive := func(from, to uint8, fromPub, toPub []byte) (cipher.AEAD, error) {
		info := append([]byte("fedscore psi v1 seal"), from, to)
		info = append(append(info, fromPub...), toPub...)
		key, err := hkdf.Key(sha256.New, shared, session[:], string(info), 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	}
	c := &Channel{self: self, peer: peer}
	if c.send, err = derive(self, peer, mine, peerPublic); err != nil {
		return nil, err
	}
	if c.recv, err = derive(peer, self, peerPublic, mine); err != nil {
		return nil, err
	}
	return c, nil
}

// nonce is unique per direction: a list passes from one party to another
// at one hop only, and batches of a list are numbered.
func nonce(f *Frame) []byte {
	n := make([]byte, 12)
	n[0] = byte(f.Type)
	binary.BigEndian.PutUint16(n[1:], f.List)
	n[3] = f.Hop
	binary.BigEndian.PutUint32(n[4:], f.Seq)
	return n
}

// Seal sets f's addresses to this channel's direction and its payload to
// the sealed plaintext, appending to f.Payload[:0] so a caller can reuse
// the buffer.
func (c *Channel) Seal(f *Frame, plaintext []byte) {
	f.From, f.To = c.self, c.peer
	h := f.header(len(plaintext) + sealOverhead)
	f.Payload = c.send.Seal(f.Payload[:0], nonce(f), plaintext, h[:])
}

// Open authenticates and decrypts f's payload, which must come from the
// channel's peer, into dst[:0].
func (c *Channel) Open(dst []byte, f *Frame) ([]byte, error) {
	if f.From != c.peer || f.To != c.self {
		return nil, fmt.Errorf("%w: frame from %d to %d on channel %d→%d", ErrOpen, f.From, f.To, c.peer, c.self)
	}
	h := f.header(len(f.Payload))
	out, err := c.recv.Open(dst[:0], nonce(f), f.Payload, h[:])
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
