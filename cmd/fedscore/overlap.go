package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
	"github.com/fedscore/fedscore/query/overlap"
)

func runOverlap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("overlap", "-f OVERLAP.yaml --coordinator ADDR --cert F --key F --ca F [--json] [--bundle F --bundle-key PUB.pem --schema F]", stderr)
	tf := addTLSFlags(fs)
	file := fs.String("f", "", "the overlap spec `file` (YAML or JSON)")
	cf := addCoordinatorFlags(fs)
	asJSON := fs.Bool("json", false, "print the release as JSON")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the answer")
	cat := addCatalogFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("-f is required")
	}
	// Checked before anything is signed or sent, like a joint query.
	spec, err := overlap.ReadFile(*file)
	if err != nil {
		var ve *query.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				fmt.Fprintf(stderr, "%s: %s\n", p.Field, p.Msg)
			}
		}
		return err
	}
	if cat.given() {
		c, err := cat.load()
		if err != nil {
			return fmt.Errorf("catalogue: %w", err)
		}
		if err := checkOverlap(stderr, c, spec, *file); err != nil {
			return err
		}
	}
	c, err := dialQuerier(tf, *cf.addr, *cf.id, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	ans, err := c.Overlap(ctx, spec)
	if err != nil {
		return err
	}
	return printOverlap(stdout, ans, *asJSON)
}

// checkOverlap checks every partner's segment against the catalogue, as
// `fedscore query` checks a joint query; the partner count is the
// overlap's own rule, not the joint queries' minimum.
func checkOverlap(w io.Writer, c *catalog.Catalog, spec *overlap.Spec, name string) error {
	var probs []*query.FieldError
	for i := range spec.Partners {
		var ve *query.ValidationError
		if err := c.Check(spec.Segment(i)); errors.As(err, &ve) {
			for _, p := range ve.Problems {
				switch {
				case p.Field == "min_partners":
				case strings.HasPrefix(p.Field, "filter") || strings.HasPrefix(p.Field, "group_by"):
					probs = append(probs, &query.FieldError{Field: fmt.Sprintf("partners[%d].%s", i, p.Field), Msg: p.Msg, Err: p.Err})
				case i == 0:
					probs = append(probs, p)
				}
			}
		} else if err != nil {
			return err
		}
	}
	for _, p := range probs {
		fmt.Fprintf(w, "%s: %s\n", p.Field, p.Msg)
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s: %d problems against the catalogue of policy revision %s", name, len(probs), c.Revision)
	}
	return nil
}

// printOverlap writes an opened release as a table or as JSON.
func printOverlap(w io.Writer, ans *querier.OverlapAnswer, asJSON bool) error {
	figures := slices.Clone(ans.Figures)
	slices.SortStableFunc(figures, overlap.Less)
	if asJSON {
		doc := map[string]any{
			"query_id": ans.QueryID, "figures": figures, "min_cell_size": ans.MinCellSize, "comparer": ans.Comparer,
			"partners": ans.Partners, "relay_bytes": ans.RelayBytes, "timings_ms": ans.TimingsMs,
			"noise": map[string]any{"dp": ans.Noisy, "epsilon": ans.Epsilon, "delta": ans.Delta, "scale": ans.NoiseScale, "cell_variance": ans.CellVariance},
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tpartners\tsegment\tvalue\tnoise sd")
	withheld := 0
	for _, f := range figures {
		seg := "all"
		if f.Segment >= 0 {
			seg = ans.SegmentLabel(f.Segment)
		}
		value, sd := fmt.Sprint(f.Value), "-"
		if f.Withheld {
			value = "-"
			withheld++
		} else if ans.Noisy {
			sd = fmt.Sprintf("%.1f", f.StdDev(ans.CellVariance))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Kind, strings.Join(f.Partners, " ∩ "), seg, value, sd)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if withheld > 0 {
		fmt.Fprintf(w, "(- : %d figures withheld by the comparer's release gate: below the minimum cell size of %d, or revealing one that is)\n", withheld, ans.MinCellSize)
	}
	if ans.Noisy {
		fmt.Fprintf(w, "noise: every cell carries discrete Laplace noise of scale %.3g (ε = %g, δ = %g; variance %.3g per cell)\n", ans.NoiseScale, ans.Epsilon, ans.Delta, ans.CellVariance)
	} else {
		fmt.Fprintln(w, "noise: none (the query set no epsilon)")
	}
	fmt.Fprintf(w, "\noverlap %s of %d partners, counted by %s:\n", ans.QueryID, len(ans.Partners), ans.Comparer)
	for _, r := range ans.Partners {
		fmt.Fprintf(w, "  %-20s decision %s, policy revision %s\n", r.Node, r.DecisionId, r.BundleRevision)
	}
	fmt.Fprintf(w, "relayed: %d bytes\n", ans.RelayBytes)
	printTimings(w, ans.TimingsMs)
	return nil
}
