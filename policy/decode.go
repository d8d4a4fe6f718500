package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// decisionDocument is the shape of data.fedscore.admission.decision.
// Pointers and nil slices tell a missing field from a zero one: a missing
// field is malformed, never a default.
type decisionDocument struct {
	Allow  *bool            `json:"allow"`
	Deny   []reasonDocument `json:"deny"`
	Cohort *cohortDocument  `json:"cohort"`
}

type reasonDocument struct {
	Code    string `json:"code"`
	Article string `json:"article"`
	Message string `json:"message"`
}

type cohortDocument struct {
	RequireTrue []string `json:"require_true"`
	ExcludeTrue []string `json:"exclude_true"`
	MinAge      *int     `json:"min_age"`
	AgeColumn   *string  `json:"age_column"`
}

// decodeDecision checks the policy's decision document v and copies it into
// d. An allowed decision must come with a cohort rule the node can apply to
// its columns; anything else fails closed.
func decodeDecision(v any, nodeColumns []string, d *Decision) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var doc decisionDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	if doc.Allow == nil {
		return errors.New("allow is missing")
	}
	if doc.Deny == nil {
		return errors.New("deny is missing")
	}
	switch {
	case *doc.Allow && len(doc.Deny) > 0:
		return fmt.Errorf("allow is true with %d deny reasons", len(doc.Deny))
	case !*doc.Allow && len(doc.Deny) == 0:
		return errors.New("allow is false without a deny reason")
	}

	reasons := make([]Reason, 0, len(doc.Deny))
	for i, r := range doc.Deny {
		if r.Code == "" {
			return fmt.Errorf("deny reason %d has no code", i)
		}
		reasons = append(reasons, Reason(r))
	}

	var cohort CohortRule
	if doc.Cohort != nil {
		if cohort, err = doc.Cohort.rule(); err != nil {
			return err
		}
	}
	if *doc.Allow {
		if doc.Cohort == nil {
			return errors.New("allowed without a cohort rule")
		}
		if err := cohort.appliesTo(nodeColumns); err != nil {
			return err
		}
	}

	d.Allow = *doc.Allow
	d.Reasons = reasons
	d.Cohort = cohort
	return nil
}

func (c *cohortDocument) rule() (CohortRule, error) {
	switch {
	case c.RequireTrue == nil:
		return CohortRule{}, errors.New("cohort.require_true is missing")
	case c.ExcludeTrue == nil:
		return CohortRule{}, errors.New("cohort.exclude_true is missing")
	case c.MinAge == nil:
		return CohortRule{}, errors.New("cohort.min_age is missing")
	case c.AgeColumn == nil:
		return CohortRule{}, errors.New("cohort.age_column is missing")
	case *c.MinAge < 0:
		return CohortRule{}, fmt.Errorf("cohort.min_age %d is negative", *c.MinAge)
	case *c.MinAge > 0 && *c.AgeColumn == "":
		return CohortRule{}, fmt.Errorf("cohort.min_age %d has no age column", *c.MinAge)
	}
	return CohortRule{
		RequireTrue: c.RequireTrue,
		ExcludeTrue: c.ExcludeTrue,
		MinAge:      *c.MinAge,
		AgeColumn:   *c.AgeColumn,
	}, nil
}

// appliesTo reports an error unless every column c filters on is one of
// the node's, so that an allowed cohort can always be enforced.
func (c CohortRule) appliesTo(columns []string) error {
	need := slices.Concat(c.RequireTrue, c.ExcludeTrue)
	if c.AgeColumn != "" {
		need = append(need, c.AgeColumn)
	}
	for _, col := range need {
		if !slices.Contains(columns, col) {
			return fmt.Errorf("cohort column %s is not a node column", col)
		}
	}
	return nil
}
