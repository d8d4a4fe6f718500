package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	"github.com/fedscore/fedscore/query"
)

// Baselines are the same query's costs without the federation, in ms
// (medians over the repetitions).
type Baselines struct {
	// CryptoOnly is the Lattigo operations alone, parties in parallel.
	CryptoOnly float64 `json:"crypto_only"`
	// CryptoSteps splits CryptoOnly (medians of each step).
	CryptoSteps CryptoSteps `json:"crypto_steps"`
	// Plaintext is the same protocol without encryption: every partner's
	// cohort and aggregation (in parallel), the summed counts, the release
	// mask, the masked vectors and their sum.
	Plaintext float64 `json:"plaintext"`
	// Paillier is the FATE approach, extrapolated (see PaillierDetail).
	Paillier float64 `json:"paillier"`
	// PaillierDetail says how Paillier was measured.
	PaillierDetail *PaillierResult `json:"paillier_detail,omitempty"`
}

// plaintextQuery runs the protocol without encryption: partners in
// parallel compute their cohort and vector; the counts are summed, the
// release mask computed from them, and the masked vectors summed.
func plaintextQuery(ctx context.Context, spec *query.Spec, tables []*dataset.Table, rule policy.CohortRule, minCell int64) (time.Duration, error) {
	start := time.Now()
	layout := spec.Layout()
	vecs := make([][]int64, len(tables))
	var g errgroup.Group
	for i, t := range tables {
		g.Go(func() error {
			var err error
			vecs[i], err = scan(ctx, spec, t, rule)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	slots := release.CountSlots(layout)
	counts := make([]int64, len(slots))
	for _, v := range vecs {
		for i, s := range slots {
			counts[i] += v[s]
		}
	}
	mask, err := release.Compute(layout, counts, minCell)
	if err != nil {
		return 0, fmt.Errorf("bench: release mask: %w", err)
	}
	total := make([]int64, layout.VectorLen)
	for _, v := range vecs {
		masked := slices.Clone(v)
		release.Apply(masked, mask.Released)
		for i, x := range masked {
			total[i] += x
		}
	}
	return time.Since(start), nil
}

// PaillierResult describes the Paillier baseline of one configuration.
type PaillierResult struct {
	// Bits is the modulus size.
	Bits int `json:"bits"`
	// Values is what each partner encrypts per query: the counts and the
	// masked vector, as in the two-phase protocol.
	Values int `json:"values_per_partner"`
	// Subset is how many values per partner were actually encrypted,
	// added and decrypted; the times are scaled by Values/Subset.
	Subset int `json:"measured_values_per_partner"`
	// EncryptMs, AddMs and DecryptMs are the measured wall times on the
	// subset: partners encrypting in parallel, the coordinator adding the
	// partners' ciphertexts, the key holder decrypting the sums.
	EncryptMs float64 `json:"measured_encrypt_ms"`
	AddMs     float64 `json:"measured_add_ms"`
	DecryptMs float64 `json:"measured_decrypt_ms"`
	// BytesPerPartner is the ciphertext upload of one partner per query.
	BytesPerPartner int64 `json:"bytes_per_partner"`
}

// Extrapolated returns the estimated wall time of a whole query in ms.
func (p *PaillierResult) Extrapolated() float64 {
	if p == nil || p.Subset == 0 {
		return 0
	}
	return (p.EncryptMs + p.AddMs + p.DecryptMs) * float64(p.Values) / float64(p.Subset)
}

// paillierSample measures n partners each encrypting subset values in
// parallel, the sum of their ciphertexts per value and its decryption.
type paillierSample struct {
	encrypt, add, decrypt time.Duration
}

func measurePaillier(k *paillierKey, n, subset int) (paillierSample, error) {
	var s paillierSample
	cts := make([][]*big.Int, n)
	t := time.Now()
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			cts[i] = make([]*big.Int, subset)
			for j := range subset {
				c, err := k.Encrypt(rand.Reader, int64(i*subset+j))
				if err != nil {
					return err
				}
				cts[i][j] = c
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return s, err
	}
	s.encrypt = time.Since(t)
	t = time.Now()
	sums := make([]*big.Int, subset)
	for j := range subset {
		sums[j] = cts[0][j]
		for i := 1; i < n; i++ {
			sums[j] = k.Add(sums[j], cts[i][j])
		}
	}
	s.add = time.Since(t)
	t = time.Now()
	for j, c := range sums {
		got, err := k.Decrypt(c)
		if err != nil {
			return s, err
		}
		want := int64(0)
		for i := range n {
			want += int64(i*subset + j)
		}
		if got != want {
			return s, fmt.Errorf("bench: paillier sum decrypted to %d, want %d", got, want)
		}
	}
	s.decrypt = time.Since(t)
	return s, nil
}

// scan is a partner's local work: the consent cohort and the aggregation.
func scan(ctx context.Context, spec *query.Spec, t *dataset.Table, rule policy.CohortRule) ([]int64, error) {
	cohort, err := source.Cohort(t, rule)
	if err != nil {
		return nil, fmt.Errorf("bench: cohort: %w", err)
	}
	vec, _, err := aggregate.Aggregate(ctx, spec, t, cohort)
	if err != nil {
		return nil, fmt.Errorf("bench: aggregate: %w", err)
	}
	return vec, nil
}
