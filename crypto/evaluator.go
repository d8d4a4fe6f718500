package crypto

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Evaluator adds ciphertexts. It needs no keys. One Evaluator serves one
// goroutine; use ShallowCopy for another.
type Evaluator struct {
	params Params
	eval   *heint.Evaluator
}

// NewEvaluator returns an Evaluator for p.
func (p Params) NewEvaluator() *Evaluator {
	return &Evaluator{params: p, eval: heint.NewEvaluator(p.bgv, nil)}
}

// ShallowCopy returns an Evaluator that can be used concurrently with e.
func (e *Evaluator) ShallowCopy() *Evaluator {
	return &Evaluator{params: e.params, eval: e.eval.ShallowCopy()}
}

// Sum returns a new ciphertext holding the slot-wise sum of cts, which are
// left unchanged. The flooding noise is sized for sums of at most
// MaxParties fresh ciphertexts, so longer inputs are refused.
func (e *Evaluator) Sum(cts []*Ciphertext) (*Ciphertext, error) {
	if len(cts) == 0 {
		return nil, fmt.Errorf("crypto: sum: %w", errEmpty)
	}
	if len(cts) > MaxParties {
		return nil, fmt.Errorf("%w: sum of %d ciphertexts exceeds MaxParties (%d)", errOutOfRange, len(cts), MaxParties)
	}
	for i, c := range cts {
		if err := e.params.checkCiphertext(c); err != nil {
			return nil, fmt.Errorf("crypto: sum: input %d: %w", i, err)
		}
	}
	out := e.params.newCiphertext()
	out.ct.Copy(cts[0].ct)
	for _, c := range cts[1:] {
		if err := e.eval.Add(out.ct, c.ct, out.ct); err != nil {
			return nil, fmt.Errorf("crypto: sum: %w", err)
		}
	}
	return out, nil
}
