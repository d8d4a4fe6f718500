package cluster

import (
	"os"

	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/node/dataset"
)

// memberData returns a member's records: its CSV file as a node reads it,
// or synthetic records, which it writes as CSV to path for the node.
func memberData(n NodeConfig, path string) (*dataset.Table, error) {
	if n.CSV != "" {
		return dataset.LoadCSVFile(n.CSV, dataset.CSVOptions{})
	}
	rows := n.Rows
	if rows <= 0 {
		rows = defaultRows
	}
	t, err := synth.Generate(synth.Config{Partner: n.Name, Rows: rows, Seed: n.Seed})
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	err = dataset.WriteCSV(f, t)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return t, err
}
