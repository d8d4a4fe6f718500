package spool

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestSorter(t *testing.T) {
	for _, tt := range []struct {
		name       string
		n, memRecs int
	}{
		{"empty", 0, 10}, {"in memory", 1000, 2000}, {"one run plus buffer", 1500, 1000}, {"many runs", 10_000, 333},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			const size = 12
			s, err := NewSorter(Config{Dir: dir, RecordSize: size, Memory: tt.memRecs * size})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, uint64(tt.n)))
			want := make([][]byte, tt.n)
			for i := range want {
				rec := make([]byte, size)
				binary.BigEndian.PutUint64(rec, rng.Uint64()%uint64(tt.n/2+1)) // duplicates too
				binary.BigEndian.PutUint32(rec[8:], uint32(i))
				want[i] = rec
				if err := s.Add(rec); err != nil {
					t.Fatal(err)
				}
			}
			it, err := s.Sort()
			if err != nil {
				t.Fatal(err)
			}
			var prev []byte
			got := 0
			for rec, ok := it.Next(); ok; rec, ok = it.Next() {
				if prev != nil && bytes.Compare(prev, rec) > 0 {
					t.Fatalf("out of order at %d", got)
				}
				prev = append(prev[:0], rec...)
				got++
			}
			if it.Err() != nil || got != tt.n || s.Len() != uint64(tt.n) {
				t.Fatalf("read %d of %d, %v", got, tt.n, it.Err())
			}
			if wantSpill := tt.n > tt.memRecs; s.Spilled() != wantSpill {
				t.Errorf("spilled %v", s.Spilled())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
				t.Errorf("files left: %v", left)
			}
		})
	}
}

func TestSorterMisuse(t *testing.T) {
	if _, err := NewSorter(Config{RecordSize: 0}); err == nil {
		t.Error("record size 0 accepted")
	}
	if _, err := NewSorter(Config{RecordSize: 8, Memory: 4}); err == nil {
		t.Error("memory below a record accepted")
	}
	s, _ := NewSorter(Config{RecordSize: 4})
	if err := s.Add([]byte{1, 2, 3}); err == nil {
		t.Error("short record accepted")
	}
	s.Sort()
	if err := s.Add([]byte{1, 2, 3, 4}); err == nil {
		t.Error("Add after Sort accepted")
	}
	if _, err := s.Sort(); err == nil {
		t.Error("second Sort accepted")
	}
}

func TestSorterTruncatedRun(t *testing.T) {
	s, _ := NewSorter(Config{Dir: t.TempDir(), RecordSize: 8, Memory: 16})
	for i := 0; i < 5; i++ {
		s.Add(make([]byte, 8))
	}
	defer s.Close()
	// Damage a run behind the Sorter's back: the merge must report it.
	if err := os.Truncate(s.runs[0].Name(), 12); err != nil {
		t.Fatal(err)
	}
	it, err := s.Sort()
	if err == nil {
		for _, ok := it.Next(); ok; _, ok = it.Next() {
		}
		err = it.Err()
	}
	if err == nil {
		t.Error("truncated run not reported")
	}
}
