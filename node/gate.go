package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
)

// releaseGate opens the cell counts from the verified phase 1 aggregate and
// the verified sum of the active members' decryption shares, runs the
// release policy, computes the release mask and commits to the phase 2
// input: this node's whole vector with every withheld slot zeroed.
func (n *Node) releaseGate(ctx context.Context, aq *admittedQuery) (*reply, error) {
	counts, err := openCounts(aq)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	d, err := n.cfg.Policy.Release(ctx, policy.ReleaseInput{
		Query: policy.QueryInfo{
			ID: aq.queryID(), Digest: aq.queryDigest(), Purpose: aq.spec.Purpose, MinPartners: aq.spec.MinPartners, Querier: aq.vq.Querier.String(),
			PipiaID: aq.spec.PipiaID, Destination: aq.spec.Destination, Recipient: aq.spec.Recipient,
		},
		NodeName:      n.name,
		Cells:         aq.layout.Cells,
		ReleasesToday: n.budget.used(aq.spec.Purpose, now),
		Time:          now,
	})
	if err != nil {
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, Result: audit.ResultError, Detail: map[string]string{"error": err.Error()}})
		return nil, fmt.Errorf("release policy: %w", err)
	}
	if !d.Allow {
		r, codes := policyRefusal(d.ID, d.BundleRevision, d.Reasons)
		n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, DecisionID: d.ID, Result: audit.ResultDeny, Reasons: codes})
		return nil, r
	}
	mask, err := release.Compute(aq.layout, counts, d.MinCellSize)
	if err != nil {
		return nil, err
	}
	if err := n.budget.spend(aq.spec.Purpose, now); err != nil {
		return nil, err
	}
	aq.mask = mask
	n.metrics.withheld.WithLabelValues("primary").Add(float64(mask.Primary))
	n.metrics.withheld.WithLabelValues("complementary").Add(float64(mask.SuppressedCells - mask.Primary))
	masked := slices.Clone(aq.vec)
	release.Apply(masked, mask.Released)
	r, err := n.commit(aq, 2, masked, mask)
	if err != nil {
		return nil, err
	}
	aggDigests, err := c1Digests(aq.params, aq.aggregate)
	if err != nil {
		return nil, err
	}
	n.audit(ctx, aq, audit.Entry{Kind: audit.KindRelease, DecisionID: d.ID, Result: audit.ResultAllow,
		InputDigests: hexAll(aggDigests), CiphertextDigests: hexAll(digestAll(aq.inputs[2].own)),
		Detail: map[string]string{
			"min_cell_size": fmt.Sprint(d.MinCellSize), "cells": fmt.Sprint(aq.layout.Cells),
			"suppressed_cells": fmt.Sprint(mask.SuppressedCells), "primary_suppressions": fmt.Sprint(mask.Primary),
			"mask_digest": hex.EncodeToString(mask.Digest()),
		}})
	n.advance(aq, 2, stageCommitted)
	return r, nil
}

// openCounts decrypts the verified phase 1 aggregate with the verified sum
// of the active members' decryption shares.
func openCounts(aq *admittedQuery) ([]int64, error) {
	var opened []int64
	for k, b := range aq.aggregate {
		ct, err := aq.params.UnmarshalCiphertext(b)
		if err != nil {
			return nil, err
		}
		v, err := aq.params.CombineDecrypt(ct, [][]byte{aq.shares.sum[k]})
		if err != nil {
			return nil, fmt.Errorf("open the counts: %w", err)
		}
		opened = append(opened, v...)
	}
	want := len(release.CountSlots(aq.layout))
	if len(opened) < want {
		return nil, fmt.Errorf("opened %d counts, the query has %d", len(opened), want)
	}
	return opened[:want], nil
}
