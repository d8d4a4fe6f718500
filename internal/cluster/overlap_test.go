package cluster_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/cluster"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/query/overlap"
)

// TestOverlapAcrossProcesses runs overlap queries through a federation of
// separate processes, each node reading its customers' mobile numbers,
// written in several spellings, from a CSV file: exact cardinalities of two
// and three partners through the query client, and the same query through
// the real `fedscore overlap` command.
func TestOverlapAcrossProcesses(t *testing.T) {
	table := func(cs []synth.Customer) *cluster.NodeConfig {
		tab, err := synth.AudienceTable(cs)
		if err != nil {
			t.Fatal(err)
		}
		return &cluster.NodeConfig{Table: tab}
	}
	a := table(append(synth.Audience(0, 200, "1"), synth.Audience(200, 300, "2")...))
	b := table(synth.Audience(100, 400, "1"))
	c := table(synth.Audience(250, 600, "3"))
	a.Name, b.Name, c.Name = "bank-a", "shop-b", "pay-c"
	cl := cluster.Launch(t, cluster.Config{Nodes: []cluster.NodeConfig{*a, *b, *c}, PolicyData: map[string]any{
		"dp":           map[string]any{"required": false},
		"overlap":      map[string]any{"min_set_size": 1},
		"release_gate": map[string]any{"min_cell_size": 11},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := &overlap.Spec{Purpose: "marketing_analytics", Identifier: overlap.Identifier{Kind: "mobile", Column: "phone_number"},
		Partners: []overlap.Partner{{Name: "bank-a"}, {Name: "shop-b"}, {Name: "pay-c"}}}
	ans, err := cl.Overlap(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		kind     string
		partners []string
		value    int64
	}{
		{overlap.KindIntersection, []string{"bank-a", "shop-b", "pay-c"}, 50}, // 250..299
		{overlap.KindIntersection, []string{"bank-a", "shop-b"}, 200},         // 100..299
		{overlap.KindIntersection, []string{"shop-b", "pay-c"}, 150},          // 250..399
		{overlap.KindUnion, []string{"bank-a", "shop-b", "pay-c"}, 600},
		{overlap.KindSize, []string{"pay-c"}, 350},
	} {
		f, ok := ans.Figure(want.kind, -1, want.partners...)
		if !ok || f.Withheld || f.Value != want.value {
			t.Errorf("%s of %v: %+v, want %d", want.kind, want.partners, f, want.value)
		}
	}

	two := &overlap.Spec{Purpose: spec.Purpose, Identifier: spec.Identifier, Partners: spec.Partners[:2]}
	two.Partners[0].GroupBy = nil
	b2, err := two.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "overlap.json")
	if err := os.WriteFile(file, b2, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cl.OverlapCLI(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Figures []overlap.Figure `json:"figures"`
		Noise   struct {
			DP bool `json:"dp"`
		} `json:"noise"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, f := range doc.Figures {
		if f.Kind == overlap.KindIntersection && f.Segment == -1 {
			found = true
			if f.Value != 200 || f.Withheld {
				t.Errorf("fedscore overlap: intersection %+v, want 200", f)
			}
		}
	}
	if !found || doc.Noise.DP {
		t.Errorf("fedscore overlap printed %s", out)
	}
}
