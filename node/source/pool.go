package source

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A bufferPool is an Arrow allocator that recycles the buffers the record
// readers of one aggregation release, so that streaming a file allocates
// about one batch's buffers instead of new ones for every batch. Buffers
// are zeroed when handed out, as Go's allocator hands them out.
type bufferPool struct {
	mu   sync.Mutex
	free [64][][]byte // by floor(log2(cap))
}

var _ memory.Allocator = (*bufferPool)(nil)

// Allocate returns a zeroed, 64-byte aligned buffer of size bytes.
func (p *bufferPool) Allocate(size int) []byte {
	class := bits.Len(uint(max(size, 1) - 1)) // smallest k with 2^k >= size
	var buf []byte
	p.mu.Lock()
	if list := p.free[class]; len(list) > 0 {
		buf = list[len(list)-1]
		p.free[class] = list[:len(list)-1]
	}
	p.mu.Unlock()
	if buf != nil {
		buf = buf[:size]
		clear(buf)
		return buf
	}
	raw := make([]byte, 1<<class+64)
	shift := int(-uintptr(unsafe.Pointer(unsafe.SliceData(raw))) & 63)
	return raw[shift : shift+size]
}

// Reallocate grows b to size bytes, in place when it has the room.
func (p *bufferPool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free takes b back for later batches.
func (p *bufferPool) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	class := bits.Len(uint(cap(b))) - 1 // largest k with 2^k <= cap
	p.mu.Lock()
	p.free[class] = append(p.free[class], b[:0])
	p.mu.Unlock()
}
