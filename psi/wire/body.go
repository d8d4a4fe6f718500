package wire

import (
	"encoding/binary"
)

// MaxCells bounds the cells of a release.
const MaxCells = 1 << 16

// EncodeStart returns the sealed plaintext of a list start: a flag and the
// dummy base, if the list still carries one.
func EncodeStart(base *[ElementSize]byte) []byte {
	b := make([]byte, 1+ElementSize)
	if base != nil {
		b[0] = 1
		copy(b[1:], base[:])
	}
	return b
}

// DecodeStart parses the plaintext of a list start.
func DecodeStart(b []byte) (base *[ElementSize]byte, err error) {
	if len(b) != 1+ElementSize {
		return nil, malformed("list start of %d bytes", len(b))
	}
	switch b[0] {
	case 0:
		for _, x := range b[1:] {
			if x != 0 {
				return nil, malformed("list start without base has trailing bytes")
			}
		}
		return nil, nil
	case 1:
		base = new([ElementSize]byte)
		copy(base[:], b[1:])
		return base, nil
	}
	return nil, malformed("list start flag %d", b[0])
}

// Cell is one released count: the parties whose sets an element lies in
// exactly (a bit mask of party indices) and, when the group-by party is
// among them, its segment.
type Cell struct {
	Parties uint16
	Segment uint32
	Value   int64
}

const cellSize = 2 + 4 + 8

// EncodeRelease returns the plaintext of a result frame.
func EncodeRelease(cells []Cell) []byte {
	b := make([]byte, 0, 5+len(cells)*cellSize)
	b = append(b, Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(cells)))
	for _, c := range cells {
		b = binary.BigEndian.AppendUint16(b, c.Parties)
		b = binary.BigEndian.AppendUint32(b, c.Segment)
		b = binary.BigEndian.AppendUint64(b, uint64(c.Value))
	}
	return b
}

// DecodeRelease parses the plaintext of a result frame. Cells must be
// strictly ordered by (parties, segment) and name at least two parties.
func DecodeRelease(b []byte) ([]Cell, error) {
	if len(b) < 5 || b[0] != Version {
		return nil, malformed("release header")
	}
	n := binary.BigEndian.Uint32(b[1:])
	if n > MaxCells || uint64(len(b)-5) != uint64(n)*cellSize {
		return nil, malformed("release of %d bytes for %d cells", len(b), n)
	}
	cells := make([]Cell, n)
	p := b[5:]
	for i := range cells {
		c := Cell{
			Parties: binary.BigEndian.Uint16(p),
			Segment: binary.BigEndian.Uint32(p[2:]),
			Value:   int64(binary.BigEndian.Uint64(p[6:])),
		}
		p = p[cellSize:]
		if c.Parties&(c.Parties-1) == 0 {
			return nil, malformed("cell of fewer than two parties")
		}
		if i > 0 && !cellLess(cells[i-1], c) {
			return nil, malformed("cells out of order")
		}
		cells[i] = c
	}
	return cells, nil
}

func cellLess(a, b Cell) bool {
	if a.Parties != b.Parties {
		return a.Parties < b.Parties
	}
	return a.Segment < b.Segment
}
