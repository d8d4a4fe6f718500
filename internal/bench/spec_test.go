package bench

import (
	"testing"

	"github.com/fedscore/fedscore/query"
)

func TestSpecCells(t *testing.T) {
	for _, tc := range []struct {
		cells, groups, vector, ciphertexts int
	}{
		{512, 128, 512, 1},
		{8192, 2048, 8192, 1},
		{32768, 8192, 32768, 4},
		{4, 1, 4, 1},
		{1000, 250, 1000, 1},
		{1001, 251, 1004, 1}, // rounded up to whole cells; 251 is prime
		{28, 7, 28, 1},
	} {
		s, err := Spec(tc.cells)
		if err != nil {
			t.Fatalf("Spec(%d): %v", tc.cells, err)
		}
		l := s.Layout()
		if l.Cells != tc.groups || l.VectorLen != tc.vector {
			t.Errorf("Spec(%d): %d group cells and %d values, want %d and %d", tc.cells, l.Cells, l.VectorLen, tc.groups, tc.vector)
		}
		if got := ceilDiv(l.VectorLen, MaxGroupCells); got != tc.ciphertexts {
			t.Errorf("Spec(%d): %d ciphertexts at 8192 slots, want %d", tc.cells, got, tc.ciphertexts)
		}
		if err := s.Validate(query.Limits{MaxCells: MaxGroupCells, MaxVectorLen: 8 * MaxGroupCells}); err != nil {
			t.Errorf("Spec(%d) is invalid: %v", tc.cells, err)
		}
	}
}

func TestSpecRejects(t *testing.T) {
	for _, cells := range []int{0, -1, 32769, 1 << 20} {
		if _, err := Spec(cells); err == nil {
			t.Errorf("Spec(%d) succeeded", cells)
		}
	}
}
