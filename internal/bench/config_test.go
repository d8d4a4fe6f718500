package bench

import (
	"errors"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{DefaultConfig(), QuickConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for name, mutate := range map[string]func(*Config){
		"two nodes":     func(c *Config) { c.Nodes = []int{2} },
		"too many":      func(c *Config) { c.Nodes = []int{65} },
		"no cells":      func(c *Config) { c.Cells = nil },
		"huge cells":    func(c *Config) { c.Cells = []int{40000} },
		"no records":    func(c *Config) { c.Records = []int{0} },
		"no queries":    func(c *Config) { c.Queries = 0 },
		"odd paillier":  func(c *Config) { c.PaillierBits = 2047 },
		"empty subset":  func(c *Config) { c.PaillierSubset = 0 },
		"no timeout":    func(c *Config) { c.QueryTimeout = 0 },
		"no baselines":  func(c *Config) { c.BaselineRuns = 0 },
		"no row budget": func(c *Config) { c.MaxDistinctRows = 0 },
	} {
		c := QuickConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate = %v, want ErrConfig", name, err)
		}
	}
	c := QuickConfig()
	c.PaillierBits, c.PaillierSubset = 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("Paillier off: %v", err)
	}
}

func TestTraffic(t *testing.T) {
	for id, want := range map[string]string{
		"ct/q-1/1/0": blobInput1, "ct/q-1/2/3": blobInput2, "ct/q-1/0/1/0": blobInput1, "ct/q-1/0/2/1": blobInput2,
		"resend/q-1/1/2/0": blobResend, "ct/q-1": blobOther, "dec/q-1/0": blobDecShare, "dec/q-1/0/0": blobDecShare,
		"ks/q-1/0": blobKSShare, "rk/q-1": blobReceiverKey, "sum/q-1/1/1/1/0": blobSum, "spot/q-1/1/2/bank/0": blobSpot, "": blobOther,
	} {
		if got := blobKind(id); got != want {
			t.Errorf("blobKind(%q) = %q, want %q", id, got, want)
		}
	}
	tt := trafficTotals{
		messages: 20,
		perNode:  map[string]int64{"a": 1000, "b": 3000},
		received: map[string]int64{"a": 500, "b": 700},
		querier:  100,
		blobs:    map[string]int64{blobInput1: 200, blobDecShare: 100, blobInput2: 400, blobKSShare: 400},
	}
	b := tt.perQuery(2, 2)
	if b.CoordinatorReceived != 2000 || b.PerNodeSent != 1000 || b.Messages != 10 || b.Blobs[blobInput2] != 200 {
		t.Errorf("per query: %+v", b)
	}
	if b.CoordinatorSent != (1200+100)/2 || b.PerNodeReceived != 300 {
		t.Errorf("coordinator sent %v and %v per node, want 650 and 300", b.CoordinatorSent, b.PerNodeReceived)
	}
}
