// Package wire moves large binary values over fedscore's gRPC streams.
//
// Ciphertexts, keys and key-switch shares are hundreds of KiB to a few MiB,
// so they never travel inside one gRPC message: a sender splits each into
// chunks (Send) and a receiver reassembles them (Assembler) under a byte
// budget, so a misbehaving peer cannot make the receiver buffer without
// bound.
package wire

import (
	"errors"
	"fmt"
	"sync"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// ChunkSize is the payload of one chunk message. It stays well below
// MaxMessageSize so that a chunk plus its framing always fits.
const ChunkSize = 256 << 10

// MaxMessageSize is the gRPC receive limit used on every fedscore stream.
const MaxMessageSize = 1 << 20

// MaxBlobIDLen bounds a blob id, so that ids cannot carry unbudgeted memory.
const MaxBlobIDLen = 256

// entryOverhead is what the Assembler charges per chunk on top of its data,
// so that floods of empty chunks exhaust the budget too.
const entryOverhead = 64

var (
	// ErrBudget reports that a peer sent more blob bytes than allowed.
	ErrBudget = errors.New("wire: blob budget exceeded")
	// ErrMissingBlob reports a control message naming a blob that did not
	// arrive (or arrived incomplete).
	ErrMissingBlob = errors.New("wire: missing blob")
	// ErrDuplicateBlob reports a blob id that was used twice.
	ErrDuplicateBlob = errors.New("wire: duplicate blob")
)

// Send splits data into chunks of ChunkSize and passes each to send.
// An empty blob is sent as one empty final chunk.
func Send(send func(*pb.Chunk) error, blobID string, data []byte) error {
	for {
		n := min(len(data), ChunkSize)
		final := n == len(data)
		if err := send(&pb.Chunk{BlobId: blobID, Data: data[:n], Final: final}); err != nil {
			return fmt.Errorf("send blob %s: %w", blobID, err)
		}
		if final {
			return nil
		}
		data = data[n:]
	}
}

// Assembler reassembles blobs from chunks. It is safe for concurrent use:
// one goroutine usually feeds it from a stream while others take blobs.
type Assembler struct {
	mu       sync.Mutex
	budget   int // bytes that may be buffered at once
	buffered int
	partial  map[string][]byte
	complete map[string][]byte
	// charged is what each blob, partial or complete, counts against the
	// budget: its data plus per-chunk overhead.
	charged map[string]int
}

// NewAssembler returns an Assembler that buffers at most budget bytes.
func NewAssembler(budget int) *Assembler {
	return &Assembler{budget: budget, partial: map[string][]byte{}, complete: map[string][]byte{}, charged: map[string]int{}}
}

// Add appends one chunk to its blob.
func (a *Assembler) Add(c *pb.Chunk) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.GetBlobId() == "" {
		return fmt.Errorf("wire: chunk without blob id")
	}
	if len(c.BlobId) > MaxBlobIDLen {
		return fmt.Errorf("wire: blob id of %d bytes exceeds %d", len(c.BlobId), MaxBlobIDLen)
	}
	if _, done := a.complete[c.BlobId]; done {
		return fmt.Errorf("%w: %s", ErrDuplicateBlob, c.BlobId)
	}
	cost := len(c.Data) + len(c.BlobId) + entryOverhead
	if a.buffered+cost > a.budget {
		return fmt.Errorf("%w: %d bytes buffered, limit %d", ErrBudget, a.buffered+cost, a.budget)
	}
	a.buffered += cost
	a.charged[c.BlobId] += cost
	buf := append(a.partial[c.BlobId], c.Data...)
	if c.Final {
		delete(a.partial, c.BlobId)
		if buf == nil {
			buf = []byte{}
		}
		a.complete[c.BlobId] = buf
		return nil
	}
	a.partial[c.BlobId] = buf
	return nil
}

// Take removes a complete blob and returns it.
func (a *Assembler) Take(blobID string) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.complete[blobID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrMissingBlob, blobID)
	}
	a.release(blobID)
	return b, nil
}

// release removes a blob and returns its charge to the budget; a.mu is held.
func (a *Assembler) release(blobID string) {
	delete(a.complete, blobID)
	delete(a.partial, blobID)
	a.buffered -= a.charged[blobID]
	delete(a.charged, blobID)
}

// TakeAll takes every named blob, or none if one is missing.
func (a *Assembler) TakeAll(blobIDs []string) ([][]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range blobIDs {
		if _, ok := a.complete[id]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrMissingBlob, id)
		}
	}
	out := make([][]byte, 0, len(blobIDs))
	for _, id := range blobIDs {
		out = append(out, a.complete[id])
		a.release(id)
	}
	return out, nil
}

// Drop discards a blob, complete or partial, releasing its budget.
func (a *Assembler) Drop(blobID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.release(blobID)
}

// Buffered reports how many bytes are charged against the budget.
func (a *Assembler) Buffered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buffered
}
