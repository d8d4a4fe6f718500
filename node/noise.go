package node

import (
	"io"

	"github.com/fedscore/fedscore/privacy"
	"github.com/fedscore/fedscore/query"
)

// addNoise adds this node's share of discrete Laplace noise to every slot
// of vec: the shares of all parties sum to noise of exactly the scale the
// query's ε calls for, split evenly across the vector's blocks.
func addNoise(vec []int64, spec *query.Spec, parties int, seed io.Reader) error {
	blocks := spec.NoiseBlocks()
	eps := privacy.SplitEpsilon(spec.Epsilon, len(blocks))
	for _, b := range blocks {
		s, err := privacy.NewShareSampler(seed, parties, privacy.Calibration{Epsilon: eps, Sensitivity: b.Sensitivity})
		if err != nil {
			return err
		}
		s.AddTo(vec[b.Offset : b.Offset+b.Len])
	}
	return nil
}
