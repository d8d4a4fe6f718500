// Package spool sorts fixed-size records that may not fit in memory: a
// Sorter keeps records in a buffer of bounded size, writes each full buffer
// as a sorted run to a temporary file, and merges the runs when read back.
// The PSI protocol uses it to deduplicate, to shuffle (sorting by a random
// key) and to compare lists of millions of elements with flat memory.
package spool

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// DefaultMemory is the buffer of a Sorter when Config.Memory is 0.
const DefaultMemory = 32 << 20

// readBuffer is the read buffer per run during a merge.
const readBuffer = 64 << 10

// Config configures a Sorter.
type Config struct {
	// Dir holds the temporary run files; "" means os.TempDir().
	Dir string
	// RecordSize is the length of every record, 1 to 4096 bytes.
	RecordSize int
	// Memory bounds the in-memory buffer in bytes (DefaultMemory if 0).
	Memory int
}

// Sorter sorts records by their bytes. Add records, then call Sort once
// and read the records back in order; Close removes the temporary files.
// A Sorter is not safe for concurrent use.
type Sorter struct {
	cfg    Config
	buf    []byte
	runs   []*os.File
	n      uint64
	sorted bool
}

// NewSorter returns an empty Sorter.
func NewSorter(cfg Config) (*Sorter, error) {
	if cfg.RecordSize < 1 || cfg.RecordSize > 4096 {
		return nil, fmt.Errorf("spool: record size %d", cfg.RecordSize)
	}
	if cfg.Memory == 0 {
		cfg.Memory = DefaultMemory
	}
	if cfg.Memory < cfg.RecordSize {
		return nil, fmt.Errorf("spool: memory %d below one record", cfg.Memory)
	}
	capacity := cfg.Memory / cfg.RecordSize * cfg.RecordSize
	// Grow the buffer as records arrive, so small sets stay small.
	return &Sorter{cfg: cfg, buf: make([]byte, 0, min(capacity, 1<<16))}, nil
}

// Len returns the number of records added.
func (s *Sorter) Len() uint64 { return s.n }

// Spilled reports whether any records went to disk.
func (s *Sorter) Spilled() bool { return len(s.runs) > 0 }

// Add copies one record into the Sorter.
func (s *Sorter) Add(rec []byte) error {
	if s.sorted {
		return errors.New("spool: Add after Sort")
	}
	if len(rec) != s.cfg.RecordSize {
		return fmt.Errorf("spool: record of %d bytes, want %d", len(rec), s.cfg.RecordSize)
	}
	if len(s.buf)+len(rec) > s.cfg.Memory/s.cfg.RecordSize*s.cfg.RecordSize {
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.buf = append(s.buf, rec...)
	s.n++
	return nil
}

// spill writes the buffer as a sorted run.
func (s *Sorter) spill() error {
	sortRecords(s.buf, s.cfg.RecordSize)
	f, err := os.CreateTemp(s.cfg.Dir, "fedscore-psi-run-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.runs = append(s.runs, f)
	if _, err := f.Write(s.buf); err != nil {
		return fmt.Errorf("spool: write run: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.buf = s.buf[:0]
	return nil
}

// Sort ends adding and returns an iterator over the records in ascending
// byte order.
func (s *Sorter) Sort() (*Iterator, error) {
	if s.sorted {
		return nil, errors.New("spool: Sort called twice")
	}
	s.sorted = true
	size := s.cfg.RecordSize
	if len(s.runs) == 0 {
		sortRecords(s.buf, size)
		return &Iterator{mem: s.buf, size: size}, nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	s.buf = nil
	it := &Iterator{size: size}
	for _, f := range s.runs {
		c := &cursor{r: bufio.NewReaderSize(f, readBuffer), rec: make([]byte, size)}
		ok, err := c.advance()
		if err != nil {
			return nil, err
		}
		if ok {
			it.heap = append(it.heap, c)
		}
	}
	heap.Init(&it.heap)
	return it, nil
}

// Close removes the temporary files.
func (s *Sorter) Close() error {
	var errs []error
	for _, f := range s.runs {
		errs = append(errs, f.Close(), os.Remove(f.Name()))
	}
	s.runs, s.buf = nil, nil
	return errors.Join(errs...)
}

// Iterator reads sorted records.
type Iterator struct {
	size int
	mem  []byte // in-memory case
	heap cursors
	cur  []byte
	err  error
}

// Next returns the next record, valid until the following call, or false
// at the end or on an error (see Err).
func (it *Iterator) Next() ([]byte, bool) {
	if it.err != nil {
		return nil, false
	}
	if it.heap == nil {
		if len(it.mem) == 0 {
			return nil, false
		}
		rec := it.mem[:it.size]
		it.mem = it.mem[it.size:]
		return rec, true
	}
	if len(it.heap) == 0 {
		return nil, false
	}
	top := it.heap[0]
	it.cur = append(it.cur[:0], top.rec...)
	ok, err := top.advance()
	switch {
	case err != nil:
		it.err = err
		return nil, false
	case ok:
		heap.Fix(&it.heap, 0)
	default:
		heap.Pop(&it.heap)
	}
	return it.cur, true
}

// Err returns the first read error.
func (it *Iterator) Err() error { return it.err }

type cursor struct {
	r   *bufio.Reader
	rec []byte
}

func (c *cursor) advance() (bool, error) {
	_, err := io.ReadFull(c.r, c.rec)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, io.EOF):
		return false, nil
	default:
		return false, fmt.Errorf("spool: read run: %w", err)
	}
}

type cursors []*cursor

func (h cursors) Len() int           { return len(h) }
func (h cursors) Less(i, j int) bool { return bytes.Compare(h[i].rec, h[j].rec) < 0 }
func (h cursors) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursors) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// records sorts a buffer of fixed-size records in place.
type records struct {
	b    []byte
	size int
	tmp  []byte
}

func (r records) Len() int { return len(r.b) / r.size }
func (r records) Less(i, j int) bool {
	return bytes.Compare(r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]) < 0
}
func (r records) Swap(i, j int) {
	a, b := r.b[i*r.size:(i+1)*r.size], r.b[j*r.size:(j+1)*r.size]
	copy(r.tmp, a)
	copy(a, b)
	copy(b, r.tmp)
}

func sortRecords(b []byte, size int) {
	sort.Sort(records{b: b, size: size, tmp: make([]byte, size)})
}
