package sandbox

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/query"
)

// shareCounter records how many decryption and key-switch shares each node
// produced per aggregate ciphertext.
type shareCounter struct {
	mu     sync.Mutex
	counts map[string]int // node/digest -> shares
	hook   func(node string, m *pb.NodeMessage)
}

func (c *shareCounter) observe(node string, m *pb.NodeMessage) {
	c.mu.Lock()
	var digests [][]byte
	if d := m.GetDecryptionShare(); d != nil {
		digests = d.AggregateDigests
	}
	if k := m.GetKeySwitchShare(); k != nil {
		digests = k.AggregateDigests
	}
	for _, d := range digests {
		c.counts[node+"/"+hex.EncodeToString(d)]++
	}
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(node, m)
	}
}

func (c *shareCounter) setHook(h func(node string, m *pb.NodeMessage)) {
	c.mu.Lock()
	c.hook = h
	c.mu.Unlock()
}

func (c *shareCounter) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) == 0 {
		t.Fatal("no shares observed")
	}
	for k, n := range c.counts {
		if n != 1 {
			t.Errorf("%s: %d shares of one ciphertext, want 1", k, n)
		}
	}
}

func countSpec(t *testing.T, minPartners int) *query.Spec {
	t.Helper()
	s, err := query.Parse(fmt.Appendf(nil, `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 30, 45, 60, 100]}
  - {column: region, values: [east, south, north]}
metrics: [{kind: count}]
min_partners: %d
`, minPartners))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestThresholdFederation runs t-of-N federations whose members die
// mid-query: the query is re-run from fresh encryptions by the members
// still online, every node produces at most one share per ciphertext, and
// a restarted node restores its threshold share from its keystore.
func TestThresholdFederation(t *testing.T) {
	for _, tt := range []struct {
		n, threshold, kill int
	}{
		{3, 2, 1},
		{5, 3, 2},
	} {
		t.Run(fmt.Sprintf("%d-of-%d", tt.threshold, tt.n), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			names := make([]string, tt.n)
			for i := range names {
				names[i] = fmt.Sprintf("member-%d", i)
			}
			partners, err := GeneratePartners(names, 3000, 11)
			if err != nil {
				t.Fatal(err)
			}
			counter := &shareCounter{counts: map[string]int{}}
			fed, err := Start(ctx, Config{
				Partners: partners, Threshold: tt.threshold, Observe: counter.observe,
				PolicyData:   exactResults(map[string]any{"min_partners": 2}),
				QueryTimeout: 40 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer fed.Close()
			epoch := fed.Coordinator().Epoch()
			if epoch.Threshold != tt.threshold {
				t.Fatalf("epoch threshold %d, want %d", epoch.Threshold, tt.threshold)
			}
			spec := countSpec(t, 2)

			// All members online.
			ans, err := fed.Query(ctx, spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ans.Partners) != tt.n {
				t.Errorf("partners %v, want all %d", ans.Partners, tt.n)
			}

			// Members die while a query runs: the first of them right after
			// sending its counts, the others before the query starts.
			victims := names[:tt.kill]
			for _, v := range victims[1:] {
				if err := fed.StopNode(v); err != nil {
					t.Fatal(err)
				}
			}
			var once sync.Once
			counter.setHook(func(node string, m *pb.NodeMessage) {
				if node != victims[0] || m.GetReveal() == nil {
					return
				}
				once.Do(func() { go fed.StopNode(victims[0]) })
			})
			ans, err = fed.Query(ctx, spec, nil)
			if err != nil {
				t.Fatalf("query with %d of %d members lost mid-run: %v", tt.kill, tt.n, err)
			}
			if len(ans.Partners) != tt.n-tt.kill {
				t.Errorf("partners %v, want the %d survivors", ans.Partners, tt.n-tt.kill)
			}
			for _, p := range ans.Partners {
				for _, v := range victims {
					if p == v {
						t.Errorf("dead member %s listed as a partner", v)
					}
				}
			}
			counter.setHook(nil)

			// The victims come back with their threshold shares from their
			// keystores, in the same epoch.
			for _, v := range victims {
				if err := fed.StartNode(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := fed.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			if got := fed.Coordinator().Epoch().ID; got != epoch.ID {
				t.Errorf("restart changed the epoch from %s to %s", epoch.ID, got)
			}
			ans, err = fed.Query(ctx, spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ans.Partners) != tt.n {
				t.Errorf("after restart: partners %v, want all %d", ans.Partners, tt.n)
			}
			counter.check(t)
		})
	}
}
