package query

import (
	"slices"
	"testing"
)

func TestCellLabels(t *testing.T) {
	s := &Spec{GroupBy: []GroupBy{{Column: "tier", Values: []string{"1", "2"}}, {Column: "age", Bins: []float64{18, 30, 60}}}}
	for cell, want := range [][]string{
		{"tier=1", "age=[18,30)"}, {"tier=1", "age=[30,60]"}, {"tier=2", "age=[18,30)"}, {"tier=2", "age=[30,60]"},
	} {
		got, err := s.CellLabels(cell)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("cell %d: %v %v, want %v", cell, got, err, want)
		}
	}
	if _, err := s.CellLabels(4); err == nil {
		t.Error("cell 4 of 4 has labels")
	}
}
