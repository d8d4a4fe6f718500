package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// decodeFitConfig parses a fit configuration file (JSON), as strictly as
// a model file is decoded.
func decodeFitConfig(data []byte) (*fit.Config, error) {
	var cfg fit.Config
	if err := scoring.DecodeStrict(data, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// parseFeatureSpecs parses a comma-separated list of feature specs, each
// COLUMN[:ENCODING[:ARG]][:missing][:unknown], where ENCODING is
// standardized (the default), woe_bins or categorical, and ARG, for
// woe_bins, is a number of quantile bins or cut points joined by '/'.
// For example: "LIMIT_BAL,PAY_0:woe_bins:-1/0/1/2,EDUCATION:categorical".
func parseFeatureSpecs(s string) ([]fit.FeatureSpec, error) {
	var out []fit.FeatureSpec
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		spec := fit.FeatureSpec{Column: parts[0], Encoding: scoring.Standardized}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("scoring: feature spec %q: %s: %w", item, fmt.Sprintf(format, args...), scoring.ErrInvalidArgument)
		}
		if spec.Column == "" {
			return nil, bad("empty column")
		}
		for k, p := range parts[1:] {
			switch {
			case k == 0 && (p == string(scoring.Standardized) || p == string(scoring.WOEBins) || p == string(scoring.Categorical)):
				spec.Encoding = scoring.Encoding(p)
			case p == "missing":
				spec.Missing = true
			case p == "unknown":
				spec.Unknown = true
			case k == 1 && spec.Encoding == scoring.WOEBins:
				if n, err := strconv.Atoi(p); err == nil {
					spec.Bins = n
					continue
				}
				for c := range strings.SplitSeq(p, "/") {
					v, err := strconv.ParseFloat(c, 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, bad("cut point %q is not a finite number", c)
					}
					spec.Cuts = append(spec.Cuts, v)
				}
			default:
				return nil, bad("unexpected %q", p)
			}
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scoring: no feature specs in %q: %w", s, scoring.ErrInvalidArgument)
	}
	return out, nil
}

// writeFitReport writes a fit report for the operator.
func writeFitReport(w io.Writer, r *fit.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rows %d, used %d (%d events, %d non-events), left out %d\n", r.Rows, r.Used, r.Events, r.NonEvents, r.Excluded())
	if r.InvalidTarget > 0 {
		fmt.Fprintf(&b, "  invalid target: %d rows\n", r.InvalidTarget)
	}
	if r.InvalidWeight > 0 {
		fmt.Fprintf(&b, "  invalid sample weight: %d rows\n", r.InvalidWeight)
	}
	for _, c := range r.InvalidFeatures {
		if c.Total() > 0 {
			fmt.Fprintf(&b, "  invalid %s\n", c.String())
		}
	}
	conv := "converged"
	if !r.Converged {
		conv = "did not converge"
	}
	fmt.Fprintf(&b, "newton: %d iterations, %s; log loss %.5f, objective %.5f\n", r.Iterations, conv, r.LogLoss, r.Objective)
	fmt.Fprintf(&b, "train AUC %.4f, KS %.4f\n", r.TrainAUC, r.TrainKS)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeModelSummary writes a reviewer's summary of m: identity, digest,
// protected inputs, features with weights, scale and grades.
func writeModelSummary(w io.Writer, m *scoring.Model) error {
	digest, err := m.Digest()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model %s %s\nsha256 %s\n", m.Name, m.Version, digest)
	if m.Description != "" {
		fmt.Fprintf(&b, "%s\n", m.Description)
	}
	if m.Target != "" {
		fmt.Fprintf(&b, "target %s\n", m.Target)
	}
	if p := scoring.ProtectedInputs(m, nil); len(p) > 0 {
		fmt.Fprintf(&b, "PROTECTED INPUTS: %s (allowed only for a purpose the policy permits, such as a fairness audit)\n", strings.Join(p, ", "))
	}
	fmt.Fprintf(&b, "intercept %.6g\n\n", m.Intercept)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tcolumn\tencoding\tweight\tdetail")
	for i, f := range m.Features {
		var detail string
		switch f.Encoding {
		case scoring.Standardized:
			detail = fmt.Sprintf("mean %.6g, std %.6g", f.Mean, f.Std)
		case scoring.WOEBins:
			detail = fmt.Sprintf("%d bins, cuts %v", len(f.WOE), f.Bins)
		case scoring.Categorical:
			detail = fmt.Sprintf("%d categories", len(f.Categories))
		}
		if f.Missing != nil {
			detail += fmt.Sprintf("; missing → %.4g", *f.Missing)
		}
		if f.Unknown != nil {
			detail += fmt.Sprintf("; unknown → %.4g", *f.Unknown)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.6g\t%s\n", i, f.Column, f.Encoding, f.Weight, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := m.Score
	fmt.Fprintf(&b, "\nscore: %g at odds %g:1, %g points to double the odds, range [%g, %g], event %s\ngrades:", s.BaseScore, s.BaseOdds, s.PDO, s.Min, s.Max, s.Event)
	for _, g := range m.Grades {
		fmt.Fprintf(&b, " %s≥%g", g.Grade, g.MinScore)
	}
	b.WriteString("\n")
	_, err = io.WriteString(w, b.String())
	return err
}
