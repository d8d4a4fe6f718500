package console

import (
	"testing"

	"github.com/fedscore/fedscore/query"
)

func TestNoiseIsStatedInTheValuesUnits(t *testing.T) {
	spec, err := query.Parse([]byte("purpose: p\ngroup_by: [{column: r, values: [a]}]\nmetrics: [{kind: count}, {kind: sum, column: x, clip: [0, 100000]}]\nmin_partners: 3\nepsilon: 1\ndecimals: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := noiseOf(spec)
	if n.BlockEpsilon != 0.5 || len(n.Blocks) != 2 {
		t.Fatalf("noise = %+v", n)
	}
	count, sum := n.Blocks[0], n.Blocks[1]
	// Discrete Laplace scale t = sensitivity / ε per block.
	if count.Kind != "count" || count.Sensitivity != 1 || count.Scale != 2 || count.Bound95 < 5 || count.Bound95 > 7 {
		t.Errorf("count noise = %+v", count)
	}
	if sum.Column != "x" || sum.Sensitivity != 100000 || sum.Scale != 200000 || sum.Bound95 < 5e5 || sum.Bound95 > 7e5 {
		t.Errorf("sum noise = %+v", sum)
	}
}
