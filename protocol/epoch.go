package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// Epoch is one federation key epoch: its parameters, its members and the
// collective public key they generated. Coordinator and nodes persist the
// same public record; secret-key shares live only in each node's keystore.
type Epoch struct {
	ID      string   `json:"id"`
	Params  string   `json:"params"`
	CRS     []byte   `json:"crs"`
	Members []string `json:"members"`
	// Threshold is t of a t-of-N epoch; 0 means N-of-N.
	Threshold int    `json:"threshold,omitempty"`
	PublicKey []byte `json:"public_key"`
	// PublicKeyDigest is the SHA-256 of PublicKey.
	PublicKeyDigest []byte `json:"public_key_digest"`
	// MemberChains are the members' DER certificate chains, leaf first, as
	// verified at the key generation; statements of the epoch are checked
	// against them, so they need not travel with every statement.
	MemberChains map[string][][]byte `json:"member_chains,omitempty"`
	// Created is when the coordinator completed the key generation; zero
	// in a node's record and in files of older coordinators.
	Created time.Time `json:"created,omitzero"`
}

// LoadEpoch reads an epoch file; it returns nil and no error if there is none.
func LoadEpoch(path string) (*Epoch, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read epoch: %w", err)
	}
	e := &Epoch{}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return e, nil
}

// SaveEpoch replaces the epoch file atomically.
func SaveEpoch(path string, e *Epoch) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// ShamirPoints returns the members' public Shamir points: member i has
// point i+1.
func (e *Epoch) ShamirPoints() []uint64 {
	out := make([]uint64, len(e.Members))
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// Quorum is how many members must take part in opening a ciphertext.
func (e *Epoch) Quorum() int {
	if e.Threshold > 0 {
		return e.Threshold
	}
	return len(e.Members)
}
