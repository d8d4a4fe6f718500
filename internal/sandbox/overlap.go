package sandbox

import (
	"context"

	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query/overlap"
)

// Overlap runs an overlap query through the federation and opens its
// release.
func (f *Federation) Overlap(ctx context.Context, spec *overlap.Spec) (*querier.OverlapAnswer, error) {
	return f.client.Overlap(ctx, spec)
}
