package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// Epoch is one federation key epoch: its parameters, its members and the
// collective public key they generated.
type Epoch struct {
	ID        string   `json:"id"`
	Params    string   `json:"params"`
	CRS       []byte   `json:"crs"`
	Members   []string `json:"members"`
	PublicKey []byte   `json:"public_key"`
	// PublicKeyDigest is the SHA-256 of PublicKey.
	PublicKeyDigest []byte `json:"public_key_digest"`
}

const epochFile = "epoch.json"

func loadEpoch(dir string) (*Epoch, error) {
	if dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, epochFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read epoch: %w", err)
	}
	e := &Epoch{}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, epochFile), err)
	}
	return e, nil
}

func saveEpoch(dir string, e *Epoch) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, epochFile), b, 0o600)
}
