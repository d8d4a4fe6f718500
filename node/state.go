package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// epochState is the federation epoch a node holds. The secret-key share
// lives in the keystore; this file holds only public material.
type epochState struct {
	ID              string   `json:"id"`
	Params          string   `json:"params"`
	CRS             []byte   `json:"crs"`
	Members         []string `json:"members"`
	PublicKey       []byte   `json:"public_key"`
	PublicKeyDigest []byte   `json:"public_key_digest"`
}

const stateFile = "epoch.json"

func loadState(dir string) (*epochState, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read node state: %w", err)
	}
	st := &epochState{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, nil
}

func saveState(dir string, st *epochState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, stateFile), b, 0o600)
}

// secretName is the keystore entry of an epoch's secret-key share.
func secretName(epoch string) string { return "sk-" + epoch }
