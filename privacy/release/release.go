// Package release decides which cells of a joint query's result may be
// released, from the noisy counts the federation opened in the first phase
// of the release protocol.
//
// Every node computes the mask itself and contributes to the second phase
// only if the coordinator proposes exactly the same mask, so the rules here
// are the federation's: a cell (or histogram bin) with fewer than the
// policy's minimum cell size records is suppressed (primary suppression),
// and further cells are suppressed until no suppressed cell can be derived
// by subtraction from released cells and a margin (complementary
// suppression). Sums and means are released only for released cells.
package release

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/query"
)

// ErrCounts reports opened counts that do not fit the query's layout.
var ErrCounts = errors.New("release: counts do not fit the layout")

// CountSlots returns the positions, in the query's full vector, of every
// slot that counts records: the count block and the histogram bins. These
// are the slots the first phase opens.
func CountSlots(l query.Layout) []int {
	var out []int
	for _, b := range l.Blocks {
		if b.Kind == query.KindCount || b.Kind == query.KindHistogram {
			for i := range b.Len {
				out = append(out, b.Offset+i)
			}
		}
	}
	return out
}

// Mask is the release decision over a query's full vector.
type Mask struct {
	// Released holds, per slot of the full vector, whether it may be
	// released.
	Released []bool
	// SuppressedCells counts cells withheld; Primary of them fell below the
	// minimum cell size, the rest were withheld to protect those.
	SuppressedCells, Primary int
}

// Compute derives the mask from the opened counts, aligned with
// CountSlots(l), and the minimum cell size.
func Compute(l query.Layout, counts []int64, minCell int64) (*Mask, error) {
	slots := CountSlots(l)
	if len(counts) != len(slots) {
		return nil, fmt.Errorf("%w: %d counts for %d count slots", ErrCounts, len(counts), len(slots))
	}
	value := make(map[int]int64, len(slots))
	for i, s := range slots {
		value[s] = counts[i]
	}
	countBlock := l.Blocks[0]
	cellCount := func(c int) int64 { return value[countBlock.Offset+c] }

	// Cells: primary, then complementary along every line of the table.
	suppressed := make([]bool, l.Cells)
	m := &Mask{Released: make([]bool, l.VectorLen)}
	for c := range l.Cells {
		if cellCount(c) < minCell {
			suppressed[c] = true
			m.Primary++
		}
	}
	protect(suppressed, lines(l.Dims), cellCount)

	for _, b := range l.Blocks {
		switch b.Kind {
		case query.KindHistogram:
			for c := range l.Cells {
				if suppressed[c] {
					continue
				}
				bins := make([]bool, b.Bins)
				bin := func(i int) int64 { return value[b.Offset+c*b.Bins+i] }
				for i := range bins {
					bins[i] = bin(i) < minCell
				}
				all := make([]int, b.Bins)
				for i := range all {
					all[i] = i
				}
				protect(bins, [][]int{all}, bin)
				for i, s := range bins {
					m.Released[b.Offset+c*b.Bins+i] = !s
				}
			}
		default:
			for c := range l.Cells {
				for i := range b.Bins {
					m.Released[b.Offset+c*b.Bins+i] = !suppressed[c]
				}
			}
		}
	}
	for _, s := range suppressed {
		if s {
			m.SuppressedCells++
		}
	}
	return m, nil
}

// protect adds complementary suppressions until no line (a set of cells
// whose total is a margin someone may know) has exactly one suppressed
// cell: such a cell equals the margin minus the released cells. The
// released cell with the smallest value in the line is withheld with it.
func protect(suppressed []bool, lines [][]int, value func(int) int64) {
	for changed := true; changed; {
		changed = false
		for _, line := range lines {
			if len(line) < 2 {
				continue
			}
			n, pick := 0, -1
			for _, c := range line {
				if suppressed[c] {
					n++
				} else if pick < 0 || value(c) < value(pick) {
					pick = c
				}
			}
			if n == 1 && pick >= 0 {
				suppressed[pick] = true
				changed = true
			}
		}
	}
}

// lines returns, for a table of the given dimensions (first varying
// slowest), every one-dimensional line of cells: for each dimension, the
// cells that differ only in that coordinate.
func lines(dims []int) [][]int {
	cells := 1
	for _, d := range dims {
		cells *= d
	}
	var out [][]int
	stride := cells
	for _, d := range dims {
		stride /= d
		seen := make([]bool, cells)
		for c := range cells {
			if seen[c] {
				continue
			}
			// c is the line's first cell only if its coordinate on this
			// dimension is 0.
			if (c/stride)%d != 0 {
				continue
			}
			line := make([]int, d)
			for i := range d {
				line[i] = c + i*stride
				seen[line[i]] = true
			}
			out = append(out, line)
		}
	}
	return out
}

// Bitmap packs the mask into bytes, bit i of the vector at byte i/8, bit
// i%8.
func (m *Mask) Bitmap() []byte {
	b := make([]byte, (len(m.Released)+7)/8)
	for i, r := range m.Released {
		if r {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return b
}

// FromBitmap unpacks a bitmap of n slots.
func FromBitmap(b []byte, n int) ([]bool, error) {
	if len(b) != (n+7)/8 {
		return nil, fmt.Errorf("release: bitmap of %d bytes for %d slots", len(b), n)
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = b[i/8]&(1<<(i%8)) != 0
	}
	if n%8 != 0 && b[len(b)-1]>>(n%8) != 0 {
		return nil, errors.New("release: bitmap has bits beyond its slots")
	}
	return out, nil
}

// Digest identifies a mask, for comparing the coordinator's with a node's own.
func (m *Mask) Digest() []byte {
	d := sha256.Sum256(m.Bitmap())
	return d[:]
}

// Apply zeroes every slot the mask withholds, in place.
func Apply(vec []int64, released []bool) {
	for i := range vec {
		if i >= len(released) || !released[i] {
			vec[i] = 0
		}
	}
}
