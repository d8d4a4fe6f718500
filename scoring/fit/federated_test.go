package fit

import (
	"math"
	"testing"
)

// TestFederatedTaiwan trains the Taiwan scorecard across three partners
// that each hold a third of the training rows. The encodings come from
// the sum of the partners' EncodingStats, and every round of gradient
// descent uses only the sum of the partners' fixed-point Gradient vectors
// and example counts, which is what the federation opens after adding
// the encrypted vectors. The result must match the central fit.
func TestFederatedTaiwan(t *testing.T) {
	tab, train, test := loadTaiwan(t)
	central, _, err := Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	centralAUC := testAUC(t, central, tab, test)

	ids, _ := tab.Column("ID")
	parts := make([][]bool, 3)
	for p := range parts {
		parts[p] = make([]bool, tab.Rows())
	}
	for i, id := range ids.Numbers {
		if train[i] {
			parts[int(id)%3][i] = true
		}
	}

	// Encodings from summed local statistics.
	var total *EncodingStats
	for _, rows := range parts {
		st, err := ComputeStats(tab, taiwanConfig(rows))
		if err != nil {
			t.Fatal(err)
		}
		if total == nil {
			total = st
		} else if err := total.Add(st); err != nil {
			t.Fatal(err)
		}
	}
	cfg := taiwanConfig(nil)
	m, err := InitModel(cfg, total)
	if err != nil {
		t.Fatal(err)
	}
	for j, f := range m.Features {
		c := central.Features[j]
		if math.Abs(f.Mean-c.Mean) > 1e-9*math.Max(1, math.Abs(c.Mean)) || math.Abs(f.Std-c.Std) > 1e-9*c.Std {
			t.Errorf("feature %s: federated mean/std %v/%v, central %v/%v", f.Column, f.Mean, f.Std, c.Mean, c.Std)
		}
		for k := range f.WOE {
			if math.Abs(f.WOE[k]-c.WOE[k]) > 1e-12 {
				t.Errorf("feature %s: federated WOE %v, central %v", f.Column, f.WOE, c.WOE)
				break
			}
		}
	}

	// Gradient descent with Nesterov momentum on the opened sums.
	const (
		rounds = 300
		lr     = 0.5
		mom    = 0.9
		clip   = 20.0
		scale  = int64(1) << 24
	)
	theta := m.Params()
	vel := make([]float64, len(theta))
	look := make([]float64, len(theta))
	clipped := 0
	for range rounds {
		clipped = 0
		for k := range theta {
			look[k] = theta[k] + mom*vel[k]
		}
		if err := m.SetParams(look); err != nil {
			t.Fatal(err)
		}
		sum := make([]int64, len(theta))
		examples := 0
		for _, rows := range parts {
			g, gs, err := Gradient(m, tab, rows, clip, scale)
			if err != nil {
				t.Fatal(err)
			}
			if gs.Invalid != 0 {
				t.Fatalf("partner gradient left out %d rows", gs.Invalid)
			}
			for k, v := range g {
				sum[k] += v
			}
			examples += gs.Examples
			clipped += gs.Clipped
		}
		grad, err := DecodeGradient(sum, scale, examples)
		if err != nil {
			t.Fatal(err)
		}
		for k := range theta {
			if k > 0 {
				grad[k] += cfg.L2 * look[k]
			}
			vel[k] = mom*vel[k] - lr*grad[k]
			theta[k] += vel[k]
		}
	}
	if err := m.SetParams(theta); err != nil {
		t.Fatal(err)
	}
	fedAUC := testAUC(t, m, tab, test)
	t.Logf("test AUC: central %.4f, federated %.4f (difference %+.4f); %d of 21000 examples clipped in the last round",
		centralAUC, fedAUC, fedAUC-centralAUC, clipped)
	if math.Abs(fedAUC-centralAUC) > 0.01 {
		t.Errorf("federated test AUC %.4f is not within 0.01 of the central %.4f", fedAUC, centralAUC)
	}
	cp, fp := central.Params(), m.Params()
	for k := range cp {
		t.Logf("param %d: central %+.4f federated %+.4f", k, cp[k], fp[k])
	}
}
