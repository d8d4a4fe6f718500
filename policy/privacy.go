package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
)

// privacyQuery is the document a bundle's privacy settings are read from.
const privacyQuery = "data.fedscore.privacy.settings"

// PrivacySettings are the privacy rules a bundle applies to one purpose.
// A purpose's own settings override the bundle-wide defaults; the policy
// computes the result (data.fedscore.privacy.settings), so that what is
// shown is what is enforced.
type PrivacySettings struct {
	// DPRequired says that every query must add differential-privacy
	// noise (set an epsilon).
	DPRequired bool `json:"dp_required"`
	// MaxEpsilonPerQuery is the most one query may spend; 0 means unset,
	// and the purpose then admits no query.
	MaxEpsilonPerQuery float64 `json:"max_epsilon_per_query"`
	// DailyEpsilon is the most a node spends per UTC day on the purpose and
	// one segmentation; 0 means unset, as above.
	DailyEpsilon float64 `json:"daily_epsilon"`
	// MinCellSize is the count below which the release gate suppresses a
	// cell.
	MinCellSize int64 `json:"min_cell_size"`
}

// PurposePrivacy is one purpose's privacy settings.
type PurposePrivacy struct {
	Purpose string
	PrivacySettings
}

// PrivacySettings returns the active bundle's privacy settings for every
// purpose it configures, sorted by purpose.
func (e *Engine) PrivacySettings(ctx context.Context) ([]PurposePrivacy, error) {
	return e.active.Load().privacySettings(ctx)
}

// BundlePrivacy compiles the bundle at the root of fsys, without verifying
// its signature and without activating it, and returns its privacy
// settings per purpose, for review (`fedscore policy inspect`).
func BundlePrivacy(ctx context.Context, fsys fs.FS) ([]PurposePrivacy, error) {
	l, err := load(fromFS(fsys), sigIgnore, nil)
	if err != nil {
		return nil, err
	}
	ab, err := compile(ctx, l, nil)
	if err != nil {
		return nil, err
	}
	return ab.privacySettings(ctx)
}

func (ab *activeBundle) privacySettings(ctx context.Context) ([]PurposePrivacy, error) {
	rs, err := ab.privacy.Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: evaluating %s: %w", privacyQuery, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: bundle revision %s defines no %s", ErrBundle, ab.revision, privacyQuery)
	}
	if len(rs) > 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%w: %s has %d results", ErrMalformedDecision, privacyQuery, len(rs))
	}
	return decodePrivacySettings(rs[0].Expressions[0].Value)
}

// decodePrivacySettings decodes the settings document, an object from
// purpose to settings.
func decodePrivacySettings(v any) ([]PurposePrivacy, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc map[string]*privacyDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedDecision, privacyQuery, err)
	}
	out := make([]PurposePrivacy, 0, len(doc))
	for purpose, d := range doc {
		s, err := d.settings()
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%q]: %w", ErrMalformedDecision, privacyQuery, purpose, err)
		}
		out = append(out, PurposePrivacy{Purpose: purpose, PrivacySettings: s})
	}
	slices.SortFunc(out, func(a, b PurposePrivacy) int { return strings.Compare(a.Purpose, b.Purpose) })
	return out, nil
}

// privacyDocument is one purpose's settings as the policy states them.
// Pointers tell a missing member from a zero one: missing is malformed.
type privacyDocument struct {
	DPRequired         *bool    `json:"dp_required"`
	MaxEpsilonPerQuery *float64 `json:"max_epsilon_per_query"`
	DailyEpsilon       *float64 `json:"daily_epsilon"`
	MinCellSize        *int64   `json:"min_cell_size"`
}

func (d *privacyDocument) settings() (PrivacySettings, error) {
	switch {
	case d == nil:
		return PrivacySettings{}, errors.New("privacy settings are null")
	case d.DPRequired == nil || d.MaxEpsilonPerQuery == nil || d.DailyEpsilon == nil || d.MinCellSize == nil:
		return PrivacySettings{}, errors.New("dp_required, max_epsilon_per_query, daily_epsilon and min_cell_size are required")
	case !finiteNonNegative(*d.MaxEpsilonPerQuery) || !finiteNonNegative(*d.DailyEpsilon):
		return PrivacySettings{}, fmt.Errorf("epsilon limits %v and %v are not finite and non-negative", *d.MaxEpsilonPerQuery, *d.DailyEpsilon)
	case *d.MinCellSize < MinCellSizeFloor:
		return PrivacySettings{}, fmt.Errorf("min_cell_size %d is below the floor of %d", *d.MinCellSize, MinCellSizeFloor)
	}
	return PrivacySettings{
		DPRequired:         *d.DPRequired,
		MaxEpsilonPerQuery: *d.MaxEpsilonPerQuery,
		DailyEpsilon:       *d.DailyEpsilon,
		MinCellSize:        *d.MinCellSize,
	}, nil
}

// admits reports an error unless settings let an allowed query spend its
// budget: a positive per-query limit and daily ceiling.
func (s PrivacySettings) admits() error {
	if !(s.MaxEpsilonPerQuery > 0) || !(s.DailyEpsilon > 0) {
		return fmt.Errorf("allowed with epsilon limits %v per query and %v per day; both must be positive", s.MaxEpsilonPerQuery, s.DailyEpsilon)
	}
	return nil
}

func finiteNonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 0) }
