package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fedscore/fedscore/query"
)

// ErrRefused marks a problem for which the nodes' policy would refuse the
// query. It wraps query.ErrInvalidSpec.
var ErrRefused = fmt.Errorf("%w: the policy would refuse it", query.ErrInvalidSpec)

// scoreColumns are the columns a query's model adds at every node.
var scoreColumns = []string{"score", "propensity", "risk_grade"}

// Check validates spec as the querier would before signing it: first the
// spec's own validation, then against the catalogue. It returns nil or a
// *query.ValidationError listing every problem by field: schema problems
// (an unknown column, a column of the wrong type, a value the column does
// not have) wrap query.ErrColumnMismatch, and problems the policy would
// refuse wrap ErrRefused and name the rule's code and article.
func (c *Catalog) Check(spec *query.Spec) error {
	var probs []*query.FieldError
	if err := spec.Validate(query.Limits{}); err != nil {
		var ve *query.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		probs = append(probs, ve.Problems...)
	}
	refuse := func(field, code, format string, args ...any) {
		probs = append(probs, &query.FieldError{Field: field, Msg: fmt.Sprintf(format, args...) + " (" + c.cite(code) + ")", Err: ErrRefused})
	}
	mismatch := func(field, format string, args ...any) {
		probs = append(probs, &query.FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: query.ErrColumnMismatch})
	}

	purpose, known := c.Purpose(spec.Purpose)
	if !known {
		var names []string
		for _, p := range c.Purposes {
			names = append(names, p.Name)
		}
		refuse("purpose", "PURPOSE_UNKNOWN", "purpose %q is not a purpose of the policy (%s)", spec.Purpose, strings.Join(names, ", "))
	}
	sensitive := false
	for _, ref := range columnRefs(spec) {
		switch {
		case slices.Contains(c.Identifiers, ref.column):
			refuse(ref.field, "IDENTIFIER_COLUMN", "column %s identifies a person and may not be queried", ref.column)
			continue
		case c.schema != nil && !c.published(ref.column) && (spec.Model == "" || !slices.Contains(scoreColumns, ref.column)):
			// A column no partner has is a schema error, whatever the
			// policy says about it.
			msg := fmt.Sprintf("unknown column %q: the published schema does not describe it", ref.column)
			if close := query.CloseNames(ref.column, c.schemaColumns()); len(close) > 0 {
				msg += "; close: " + strings.Join(close, ", ")
			}
			mismatch(ref.field, "%s", msg)
			continue
		case !known:
			continue
		}
		pc, allowed := purpose.Column(ref.column)
		if !allowed {
			refuse(ref.field, "PURPOSE_COLUMNS", "column %s is not allowed for purpose %s", ref.column, spec.Purpose)
			continue
		}
		sensitive = sensitive || pc.Sensitive
		if spec.Model != "" && slices.Contains(scoreColumns, ref.column) {
			continue // the model adds it at every node
		}
		if c.schema == nil {
			continue
		}
		if !pc.Published {
			mismatch(ref.field, "unknown column %q: the published schema does not describe it", ref.column)
			continue
		}
		if msg := ref.check(pc.Column); msg != "" {
			mismatch(ref.at, "%s", msg)
		}
	}

	if spec.MinPartners < c.MinPartners {
		refuse("min_partners", "MIN_PARTNERS", "%d is below the policy's minimum of %d partners", spec.MinPartners, c.MinPartners)
	}
	switch {
	case c.Privacy.DPRequired && spec.Epsilon <= 0:
		refuse("epsilon", "DP_REQUIRED", "the policy requires differential-privacy noise; set epsilon")
	case c.Privacy.MaxEpsilonPerQuery > 0 && spec.Epsilon > c.Privacy.MaxEpsilonPerQuery:
		refuse("epsilon", "DP_EPSILON_TOO_LARGE", "%v exceeds the per-query limit %v", spec.Epsilon, c.Privacy.MaxEpsilonPerQuery)
	}
	if spec.Destination != "" && spec.Destination != query.DefaultDestination && !c.Privacy.CrossBorderAllowed {
		refuse("destination", "CROSS_BORDER_DENIED", "the result would go to %s; cross-border provision is not allowed", spec.Destination)
	}
	if known {
		if purpose.LicensedChannel {
			refuse("purpose", "CREDIT_REPORTING_LICENSE_REQUIRED", "purpose %s is only allowed through a licensed credit-reporting channel", spec.Purpose)
		}
		c.checkPIPIA(spec, purpose, sensitive, refuse)
	}
	if len(probs) == 0 {
		return nil
	}
	return &query.ValidationError{Problems: probs}
}

// published reports whether the published schema describes column.
func (c *Catalog) published(column string) bool {
	_, ok := c.schema.Column(column)
	return ok
}

// schemaColumns lists the published schema's column names.
func (c *Catalog) schemaColumns() []string {
	names := make([]string, len(c.schema.Columns))
	for i, col := range c.schema.Columns {
		names[i] = col.Name
	}
	return names
}

// checkPIPIA applies the impact-assessment rules (PIPL Art. 55-56).
func (c *Catalog) checkPIPIA(spec *query.Spec, p Purpose, sensitive bool, refuse func(field, code, format string, args ...any)) {
	var triggers []string
	if sensitive {
		triggers = append(triggers, "sensitive_personal_information")
	}
	if p.AutomatedDecision {
		triggers = append(triggers, "automated_decision")
	}
	if spec.Recipient != "" && spec.Recipient != query.RecipientSelf {
		triggers = append(triggers, "provision_to_others")
	}
	if spec.Destination != "" && spec.Destination != query.DefaultDestination {
		triggers = append(triggers, "cross_border")
	}
	if spec.PipiaID == "" {
		if len(triggers) > 0 || p.RequiresPIPIA {
			why := strings.Join(triggers, ", ")
			if why == "" {
				why = "the purpose's own requirement"
			}
			refuse("pipia_id", "PIPIA_REQUIRED", "purpose %s with %s needs an approved impact assessment", spec.Purpose, why)
		}
		return
	}
	a, ok := c.pipias[spec.PipiaID]
	if !ok || !slices.Contains(a.purposes, spec.Purpose) {
		refuse("pipia_id", "PIPIA_NOT_APPROVED", "impact assessment %s is not approved for purpose %s", spec.PipiaID, spec.Purpose)
		return
	}
	for _, t := range triggers {
		if !slices.Contains(a.Covers, t) {
			refuse("pipia_id", "PIPIA_SCOPE", "impact assessment %s does not cover %s", spec.PipiaID, t)
		}
	}
}

// columnRef is one place a spec reads a column.
type columnRef struct {
	field  string // the column's field, e.g. "group_by[0].column"
	at     string // the field a type problem is reported on
	column string
	check  func(Column) string
}

func columnRefs(s *query.Spec) []columnRef {
	var out []columnRef
	for i, g := range s.GroupBy {
		field := fmt.Sprintf("group_by[%d].column", i)
		at := field
		var check func(Column) string
		if g.Bins != nil {
			at = fmt.Sprintf("group_by[%d].bins", i)
			check = func(c Column) string { return needNumber(c, "bins") }
		} else {
			at = fmt.Sprintf("group_by[%d].values", i)
			check = func(c Column) string { return needValues(c, g.Values) }
		}
		out = append(out, columnRef{field: field, at: at, column: g.Column, check: check})
	}
	for i, f := range s.Filter {
		field := fmt.Sprintf("filter[%d].column", i)
		var check func(Column) string
		switch f.Op {
		case query.OpLt, query.OpLe, query.OpGt, query.OpGe, query.OpBetween:
			check = func(c Column) string { return needNumber(c, "op "+f.Op) }
		default:
			lits := f.Values
			if f.Value != nil {
				lits = append([]any{f.Value}, lits...)
			}
			check = func(c Column) string { return needLiterals(c, lits) }
		}
		out = append(out, columnRef{field: field, at: field, column: f.Column, check: check})
	}
	for i, m := range s.Metrics {
		if m.Kind == query.KindCount || m.Column == "" {
			continue
		}
		field := fmt.Sprintf("metrics[%d].column", i)
		out = append(out, columnRef{field: field, at: field, column: m.Column, check: func(c Column) string { return needNumber(c, m.Kind) }})
	}
	return out
}

func needNumber(c Column, what string) string {
	if c.Type == TypeNumeric || c.Type == TypeDate {
		return ""
	}
	return fmt.Sprintf("%s needs a numeric column; %s is %s", what, c.Name, c.Type)
}

func needValues(c Column, values []string) string {
	if c.Type != TypeCategorical && c.Type != TypeBoolean {
		return fmt.Sprintf("values need a categorical column; %s is %s (use bins)", c.Name, c.Type)
	}
	if len(c.Values) == 0 {
		return ""
	}
	for _, v := range values {
		if !slices.Contains(c.Values, v) {
			return fmt.Sprintf("column %s has no value %q (published values: %s)", c.Name, v, strings.Join(c.Values, ", "))
		}
	}
	return ""
}

func needLiterals(c Column, lits []any) string {
	for _, l := range lits {
		switch v := l.(type) {
		case string:
			if c.Type != TypeCategorical {
				return fmt.Sprintf("%q is text; %s is %s", v, c.Name, c.Type)
			}
			if len(c.Values) > 0 && !slices.Contains(c.Values, v) {
				return fmt.Sprintf("column %s has no value %q (published values: %s)", c.Name, v, strings.Join(c.Values, ", "))
			}
		case bool:
			if c.Type != TypeBoolean {
				return fmt.Sprintf("%v is a boolean; %s is %s", v, c.Name, c.Type)
			}
		default:
			if c.Type != TypeNumeric && c.Type != TypeDate {
				return fmt.Sprintf("%v is a number; %s is %s", v, c.Name, c.Type)
			}
		}
	}
	return ""
}
