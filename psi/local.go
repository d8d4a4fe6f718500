package psi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fedscore/fedscore/psi/ident"
	"golang.org/x/sync/errgroup"
)

// Local connects the parties of one session and a relay in one process,
// with every frame really encoded, sealed and routed: for tests,
// benchmarks and demonstrations of the protocol without a network.
type Local struct {
	Parties []*Party
	Relay   *Relay
	// Observe, if set, sees every frame the relay delivers, before the
	// recipient does (a test may change it there to play a hostile relay).
	Observe func(from, to int, frame []byte)
	// Buffer is the capacity of every party's inbox in frames (16 if 0).
	Buffer int
}

// NewLocal creates the parties of cfg, each with opts, and a relay.
func NewLocal(cfg Config, opts Options) (*Local, error) {
	relay, err := NewRelay(cfg)
	if err != nil {
		return nil, err
	}
	l := &Local{Relay: relay}
	for i := 0; i < cfg.Parties; i++ {
		p, err := NewParty(cfg, i, opts)
		if err != nil {
			return nil, err
		}
		l.Parties = append(l.Parties, p)
	}
	return l, nil
}

// abortGrace is how long the other parties get to receive a failed
// party's abort before the run is cancelled.
const abortGrace = 10 * time.Second

type envelope struct {
	from  int
	frame []byte
}

// Run runs the session with party i reading sources[i] and returns every
// party's result.
func (l *Local) Run(ctx context.Context, sources []ident.Source) ([]*Result, error) {
	k := len(l.Parties)
	if len(sources) != k {
		return nil, fmt.Errorf("local: %d sources for %d parties", len(sources), k)
	}
	buffer := l.Buffer
	if buffer <= 0 {
		buffer = 16
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inbox := make([]chan []byte, k)
	for i := range inbox {
		inbox[i] = make(chan []byte, buffer)
	}
	toRelay := make(chan envelope, buffer)
	results := make([]*Result, k)
	var parties sync.WaitGroup
	var relay errgroup.Group
	errs := make([]error, k)
	done := make([]chan struct{}, k)
	for i, p := range l.Parties {
		done[i] = make(chan struct{})
		parties.Go(func() {
			defer close(done[i])
			emit := func(b []byte) error {
				select {
				case toRelay <- envelope{i, b}:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			r, err := p.Run(ctx, sources[i], inbox[i], emit)
			if err != nil {
				// The party's abort frame tells the others; stop them
				// anyway if it cannot.
				time.AfterFunc(abortGrace, cancel)
				errs[i] = fmt.Errorf("party %d: %w", i, err)
				return
			}
			results[i] = r
		})
	}
	relay.Go(func() error {
		for {
			var env envelope
			select {
			case env = <-toRelay:
			case <-ctx.Done():
				return nil
			}
			to, err := l.Relay.Route(env.frame)
			if err != nil {
				cancel()
				return fmt.Errorf("relay: frame from party %d: %w", env.from, err)
			}
			for _, t := range to {
				if l.Observe != nil {
					l.Observe(env.from, t, env.frame)
				}
				select {
				case inbox[t] <- env.frame:
				case <-done[t]: // finished parties take no more frames
				case <-ctx.Done():
					return nil
				}
			}
		}
	})
	parties.Wait()
	cancel()
	errs = append(errs, relay.Wait())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return results, nil
}
