package cluster

import (
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/synth"
)

// memberData returns a member's records as its node reads them: its CSV
// file, or synthetic records, which it writes to dir as data.csv with a
// mapping.yaml that keeps every column's kind (a column a small table
// leaves empty would otherwise be read as text).
func memberData(n NodeConfig, dir string) (*dataset.Table, error) {
	if n.CSV != "" {
		return dataset.LoadCSVFile(n.CSV, dataset.CSVOptions{})
	}
	t := n.Table
	if t == nil {
		rows := n.Rows
		if rows <= 0 {
			rows = defaultRows
		}
		var err error
		if t, err = synth.Generate(synth.Config{Partner: n.Name, Rows: rows, Seed: n.Seed}); err != nil {
			return nil, err
		}
	}
	var m dataset.Mapping
	for _, c := range t.Columns() {
		m.Columns = append(m.Columns, dataset.ColumnMapping{Source: c.Name, Type: c.Kind.String()})
	}
	mb, err := yaml.Marshal(&m)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), mb, 0o600); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "data.csv")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	err = dataset.WriteCSV(f, t)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	// Read back as the node will, so that the plaintext check sees the
	// node's table, not the generator's.
	return dataset.LoadCSVFile(path, dataset.CSVOptions{Mapping: &m})
}
