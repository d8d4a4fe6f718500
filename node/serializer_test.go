package node

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSerializerKeepsOrderPerKey(t *testing.T) {
	z := &serializer{queues: map[string][]func(){}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string][]int{}
	for i := range 50 {
		for _, key := range []string{"a", "b"} {
			z.do(&wg, key, func() {
				if i%7 == 0 {
					time.Sleep(time.Millisecond) // let later tasks pile up
				}
				mu.Lock()
				got[key] = append(got[key], i)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, key := range []string{"a", "b"} {
		if !slices.IsSorted(got[key]) || len(got[key]) != 50 {
			t.Errorf("key %s ran out of order or lost tasks: %v", key, got[key])
		}
	}
	if len(z.queues) != 0 {
		t.Errorf("workers left behind: %v", z.queues)
	}
}
