package node

import (
	"path/filepath"

	"github.com/fedscore/fedscore/protocol"
)

const stateFile = "epoch.json"

func loadState(dir string) (*protocol.Epoch, error) {
	return protocol.LoadEpoch(filepath.Join(dir, stateFile))
}

func saveState(dir string, st *protocol.Epoch) error {
	return protocol.SaveEpoch(filepath.Join(dir, stateFile), st)
}

// secretName is the keystore entry of an epoch's secret-key share.
func secretName(epoch string) string { return "sk-" + epoch }
