package wire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

func TestSendAssembleRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		data := bytes.Repeat([]byte{0xA5, 0x5A, 0x01}, size/3+1)[:size]
		a := NewAssembler(4 * ChunkSize)
		var chunks int
		err := Send(func(c *pb.Chunk) error {
			chunks++
			if len(c.Data) > ChunkSize {
				t.Fatalf("chunk of %d bytes exceeds ChunkSize", len(c.Data))
			}
			return a.Add(c)
		}, "b1", data)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if want := max(1, (size+ChunkSize-1)/ChunkSize); chunks != want {
			t.Errorf("size %d: %d chunks, want %d", size, chunks, want)
		}
		got, err := a.Take("b1")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: round trip failed: %v", size, err)
		}
		if a.Buffered() != 0 {
			t.Errorf("size %d: %d bytes still buffered", size, a.Buffered())
		}
	}
}

func TestAssemblerErrors(t *testing.T) {
	a := NewAssembler(200)
	if err := a.Add(&pb.Chunk{BlobId: "x", Data: make([]byte, 200)}); !errors.Is(err, ErrBudget) {
		t.Errorf("over budget: got %v", err)
	}
	if err := a.Add(&pb.Chunk{Data: []byte{1}}); err == nil {
		t.Error("chunk without id accepted")
	}
	if err := a.Add(&pb.Chunk{BlobId: "p", Data: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Take("p"); !errors.Is(err, ErrMissingBlob) {
		t.Errorf("partial blob taken: %v", err)
	}
	if err := a.Add(&pb.Chunk{BlobId: "p", Data: []byte{2}, Final: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(&pb.Chunk{BlobId: "p", Final: true}); !errors.Is(err, ErrDuplicateBlob) {
		t.Errorf("duplicate blob: %v", err)
	}
	if _, err := a.TakeAll([]string{"p", "missing"}); !errors.Is(err, ErrMissingBlob) {
		t.Errorf("TakeAll with a missing blob: %v", err)
	}
	a.Drop("p")
	if a.Buffered() != 0 {
		t.Errorf("Drop left %d bytes", a.Buffered())
	}
}

func TestAssemblerChargesEmptyChunks(t *testing.T) {
	a := NewAssembler(64 << 10)
	var err error
	for i := 0; err == nil && i < 10000; i++ {
		err = a.Add(&pb.Chunk{BlobId: fmt.Sprintf("%0200d", i), Final: true})
	}
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("a flood of empty blobs with long ids was never refused: %v", err)
	}
	if err := a.Add(&pb.Chunk{BlobId: string(make([]byte, MaxBlobIDLen+1))}); err == nil {
		t.Error("an oversized blob id was accepted")
	}
}
