package coordinator

import (
	"path/filepath"

	"github.com/fedscore/fedscore/protocol"
)

// Epoch is the federation epoch the coordinator runs.
type Epoch = protocol.Epoch

const epochFile = "epoch.json"

func loadEpoch(dir string) (*Epoch, error) {
	if dir == "" {
		return nil, nil
	}
	return protocol.LoadEpoch(filepath.Join(dir, epochFile))
}

func saveEpoch(dir string, e *Epoch) error {
	if dir == "" {
		return nil
	}
	return protocol.SaveEpoch(filepath.Join(dir, epochFile), e)
}
