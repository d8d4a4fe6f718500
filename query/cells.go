package query

import "fmt"

// CellLabels returns the group-by labels of cell (as Layout numbers cells:
// the first group-by varies slowest), each "column=label".
func (s *Spec) CellLabels(cell int) ([]string, error) {
	l := s.Layout()
	if cell < 0 || cell >= l.Cells {
		return nil, fmt.Errorf("cell %d of %d", cell, l.Cells)
	}
	out := make([]string, len(s.GroupBy))
	stride := l.Cells
	for i, g := range s.GroupBy {
		stride /= l.Dims[i]
		out[i] = g.Column + "=" + groupLabels(g)[cell/stride]
		cell %= stride
	}
	return out, nil
}
