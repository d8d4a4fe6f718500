package sandbox

import (
	"bytes"
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/privacy"
)

// TestBankMarketingFivePartnersWithAndWithoutNoise splits the UCI Bank
// Marketing data across five partners. Without differential privacy the
// joint answer equals the central computation exactly; with ε = 1 it stays
// within the stated noise bound in every run, and over the runs the noise
// of the released counts has the variance discrete Laplace noise of that ε
// must have. The nodes' noise is seeded, so the test is deterministic.
func TestBankMarketingFivePartnersWithAndWithoutNoise(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "bank-full.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var partners []Partner
	for i, part := range splitCSV(t, data, 5) {
		tbl, err := dataset.ReadCSV(bytes.NewReader(part), dataset.CSVOptions{Delimiter: ';'})
		if err != nil {
			t.Fatal(err)
		}
		partners = append(partners, Partner{Name: partnerNames[i], Data: tbl})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Exact first: this federation's policy lets a query go without noise.
	fed, err := Start(ctx, Config{Partners: partners, NoiseSeed: 20261124, PolicyData: exactResults(map[string]any{
		"assume_consent_when_absent": true,
		"purposes":                   map[string]any{"marketing_analytics": map[string]any{"allowed_columns": bankColumns}},
	})})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()

	spec := mustSpec(t, bankSpec)
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Fatalf("without noise: %v", err)
	}
	exact, err := fed.Expected(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}

	spec.Epsilon = 1
	const runs = 8
	var sum2 float64
	var n int
	for range runs {
		ans, err := fed.Query(ctx, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fed.VerifyNoisy(ctx, spec, ans.Result, 1e-9); err != nil {
			t.Fatal(err)
		}
		for r, row := range ans.Result.Rows {
			got, ok1 := row.Values[2].(int64)
			want, ok2 := exact.Rows[r].Values[2].(int64)
			if ok1 && ok2 {
				d := float64(got - want)
				sum2 += d * d
				n++
			}
		}
	}
	// Discrete Laplace of scale t has variance 2p/(1−p)², p = e^(−1/t);
	// the count block gets ε / blocks with sensitivity 1.
	eps := privacy.SplitEpsilon(spec.Epsilon, len(spec.NoiseBlocks()))
	p := math.Exp(-eps)
	want := 2 * p / ((1 - p) * (1 - p))
	got := sum2 / float64(n)
	t.Logf("count noise over %d released counts: variance %.1f, discrete Laplace(ε=%.3g) %.1f", n, got, eps, want)
	if n < 50 || got < want/2 || got > want*2 {
		t.Errorf("count noise variance %.1f over %d counts; discrete Laplace at ε=%.3g has %.1f", got, n, eps, want)
	}
}
