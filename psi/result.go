package psi

import (
	"math/bits"

	"github.com/fedscore/fedscore/psi/noise"
)

// Cell is one released count: the number of identifiers held by exactly
// the parties in the bit mask Parties (two or more) and, when the group-by
// party is among them, lying in its segment Segment. With DP it carries
// the noise of Result.Noise.
type Cell struct {
	Parties uint16
	Segment uint32
	Value   int64
}

// ListSize is the released size of one list: a party's set, or one
// segment of the group-by party's set (with DP, noisy).
type ListSize struct {
	Owner    int
	Segment  uint32
	Elements int64
}

// Result is what every party learns from a session.
type Result struct {
	Parties  int
	GroupBy  int // -1 if none
	Segments int
	// Noisy reports whether DP noise was added; Noise is its calibration.
	Noisy bool
	Noise noise.Calibration
	// Cells are the released counts; with PrivateRelease only the
	// comparer has them, and every party has ReleaseDigest, the digest
	// the comparer's Options.Release returned.
	Cells         []Cell
	ReleaseDigest []byte
	Sizes         []ListSize
	// Local is this party's report on its own input; it is not shared.
	Local Report
	// Hops are the list transfers this party sent or received, with the
	// digests their list ends carried, for its audit record.
	Hops []Hop
}

// Hop is one list transfer as a party saw it: list, hop (the exponents
// the list carries), sender, recipient, elements and the SHA-256 of the
// elements in order (the list end's digest).
type Hop struct {
	List     uint16
	Hop      int
	From, To int
	Elements uint64
	Digest   []byte
}

// Mask returns the bit mask of the given parties.
func Mask(parties ...int) uint16 {
	var m uint16
	for _, p := range parties {
		m |= 1 << p
	}
	return m
}

// Intersection returns the number of identifiers every party of mask
// holds (two or more parties). With segment ≥ 0, mask must include the
// group-by party and the count is restricted to that segment of its set;
// with segment −1 it covers all segments.
func (r *Result) Intersection(mask uint16, segment int) int64 {
	var n int64
	for _, c := range r.Cells {
		if c.Parties&mask != mask {
			continue
		}
		if segment >= 0 && (r.GroupBy < 0 || mask&(1<<r.GroupBy) == 0 || int(c.Segment) != segment) {
			continue
		}
		n += c.Value
	}
	return n
}

// Size returns the released size of a party's set (over all its segments).
func (r *Result) Size(party int) int64 {
	var n int64
	for _, s := range r.Sizes {
		if s.Owner == party {
			n += s.Elements
		}
	}
	return n
}

// Union returns the number of distinct identifiers across all sets: the
// sum of the set sizes less, for every cell, one less than its number of
// parties times its count (an identifier in j sets is in j sizes).
func (r *Result) Union() int64 {
	var n int64
	for _, s := range r.Sizes {
		n += s.Elements
	}
	for _, c := range r.Cells {
		n -= int64(bits.OnesCount16(c.Parties)-1) * c.Value
	}
	return n
}
