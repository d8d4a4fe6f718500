package psi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
)

// TestPrivateRelease checks that with PrivateRelease the cells reach only
// the comparer's Release, that every other party gets its digest and no
// cell, and that no frame but the released digest ends the session.
func TestPrivateRelease(t *testing.T) {
	cfg := testConfig(3)
	cfg.PrivateRelease = true
	var mu sync.Mutex
	var released *Result
	opts := Options{TempDir: t.TempDir(), Workers: 2, Release: func(r *Result) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		released = r
		d := sha256.Sum256([]byte("sealed release"))
		return d[:], nil
	}}
	l, err := NewLocal(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	var types []wire.Type
	l.Observe = func(from, to int, frame []byte) {
		f, err := wire.Decode(frame)
		if err != nil {
			t.Errorf("undecodable frame: %v", err)
			return
		}
		mu.Lock()
		types = append(types, f.Type)
		mu.Unlock()
	}
	sets := [][]ident.Record{records(span(0, 100)...), records(span(50, 150)...), records(span(90, 200)...)}
	src := make([]ident.Source, 3)
	for i, s := range sets {
		src[i] = &ident.SliceSource{Records: s}
	}
	res, err := l.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if released == nil || released.Intersection(Mask(0, 1, 2), -1) != 10 {
		t.Fatalf("the comparer's Release did not see the cells: %+v", released)
	}
	want := sha256.Sum256([]byte("sealed release"))
	for i, r := range res {
		if !bytes.Equal(r.ReleaseDigest, want[:]) {
			t.Errorf("party %d: release digest %x", i, r.ReleaseDigest)
		}
		if i != 2 && len(r.Cells) != 0 {
			t.Errorf("party %d holds %d released cells", i, len(r.Cells))
		}
		if r.Size(0) != 100 || r.Size(2) != 110 {
			t.Errorf("party %d: sizes %v", i, r.Sizes)
		}
		if len(r.Hops) == 0 {
			t.Errorf("party %d recorded no hops", i)
		}
		for _, h := range r.Hops {
			if len(h.Digest) != sha256.Size || (h.From != i && h.To != i) {
				t.Errorf("party %d: hop %+v", i, h)
			}
		}
	}
	for _, ty := range types {
		if ty == wire.Result {
			t.Error("a result frame carried the cells")
		}
	}
	if _, err := NewParty(cfg, 2, Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("comparer without Release: %v", err)
	}
}

// TestAdmitRefuses checks that a party's own refusal of its set aborts the
// session before any list leaves it, with the reason "refused".
func TestAdmitRefuses(t *testing.T) {
	cfg := testConfig(2)
	l, err := NewLocal(cfg, Options{TempDir: t.TempDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	small := errors.New("set under the minimum")
	l.Parties[0].opts.Admit = func(r Report) error {
		if r.Elements[0] != 3 {
			t.Errorf("report: %+v", r)
		}
		return small
	}
	var mu sync.Mutex
	var fromRefuser []wire.Type
	var reason string
	l.Observe = func(from, to int, frame []byte) {
		f, _ := wire.Decode(frame)
		// A party's own lists leave it at hop 1. Others' lists that reach
		// it while it is still judging its own set may be forwarded: they
		// carry nothing of its set.
		if from == 0 && (f.Hop <= 1 || f.Type == wire.Hello || f.Type == wire.Abort) {
			mu.Lock()
			fromRefuser = append(fromRefuser, f.Type)
			if f.Type == wire.Abort {
				reason = string(f.Payload)
			}
			mu.Unlock()
		}
	}
	src := []ident.Source{&ident.SliceSource{Records: records(1, 2, 3, 3)}, &ident.SliceSource{Records: records(span(0, 20)...)}}
	_, err = l.Run(context.Background(), src)
	if !errors.Is(err, ErrRefused) || !errors.Is(err, small) {
		t.Fatalf("run: %v", err)
	}
	for _, ty := range fromRefuser {
		if ty != wire.Hello && ty != wire.Abort {
			t.Errorf("the refusing party sent a %v frame", ty)
		}
	}
	if !strings.Contains(reason, "refused") {
		t.Errorf("abort reason %q", reason)
	}
}
