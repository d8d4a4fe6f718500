package blind

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/cloudflare/circl/group"
	"golang.org/x/sync/errgroup"
)

// minChunk is the smallest share of a batch given to one goroutine; below
// it the scheduling costs more than the parallelism gains.
const minChunk = 64

// Pool runs the group operations of a batch on several goroutines.
type Pool struct {
	workers int
}

// NewPool returns a Pool of the given number of workers; 0 means
// GOMAXPROCS.
func NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Pool{workers: workers}
}

// Workers returns the number of goroutines a batch is split over.
func (p *Pool) Workers() int { return p.workers }

// run splits n items into contiguous chunks and calls f on each from its
// own goroutine.
func (p *Pool) run(ctx context.Context, n int, f func(lo, hi int) error) error {
	chunks := min(p.workers, max(1, n/minChunk))
	if chunks <= 1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		return f(0, n)
	}
	eg, ctx := errgroup.WithContext(ctx)
	for c := 0; c < chunks; c++ {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		eg.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return f(lo, hi)
		})
	}
	return eg.Wait()
}

// HashBlind sets out[i] = H(ids[i])^k. The unblinded hashes exist only
// inside this call.
func (p *Pool) HashBlind(ctx context.Context, h *Hasher, k *Key, ids []string, out []Element) error {
	if len(out) != len(ids) {
		return errors.New("blind: output length differs from input")
	}
	return p.run(ctx, len(ids), func(lo, hi int) error {
		var buf []byte
		var e group.Element
		for i := lo; i < hi; i++ {
			e, buf = h.hash(buf, ids[i])
			e.Mul(e, k.s)
			encode(&out[i], e)
		}
		return nil
	})
}

// Exp sets out[i] = in[i]^k; in and out may be the same slice. Every
// input must be a valid non-identity element.
func (p *Pool) Exp(ctx context.Context, k *Key, in, out []Element) error {
	if len(out) != len(in) {
		return errors.New("blind: output length differs from input")
	}
	return p.run(ctx, len(in), func(lo, hi int) error {
		e := g.NewElement()
		for i := lo; i < hi; i++ {
			if err := e.UnmarshalBinary(in[i][:]); err != nil || e.IsIdentity() {
				return fmt.Errorf("element %d: %w", i, ErrInvalidElement)
			}
			e.Mul(e, k.s)
			encode(&out[i], e)
		}
		return nil
	})
}

// Powers sets out[i] = base^keys[i].
func (p *Pool) Powers(ctx context.Context, base Element, keys []*Key, out []Element) error {
	if len(out) != len(keys) {
		return errors.New("blind: output length differs from input")
	}
	b, err := Decode(base[:])
	if err != nil {
		return err
	}
	return p.run(ctx, len(keys), func(lo, hi int) error {
		e := g.NewElement()
		for i := lo; i < hi; i++ {
			e.Mul(b, keys[i].s)
			encode(&out[i], e)
		}
		return nil
	})
}
