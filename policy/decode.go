package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// decisionDocument is the shape of data.fedscore.admission.decision.
// Pointers and nil slices tell a missing field from a zero one: a missing
// field is malformed, never a default.
type decisionDocument struct {
	Allow   *bool            `json:"allow"`
	Deny    []reasonDocument `json:"deny"`
	Cohort  *cohortDocument  `json:"cohort"`
	Privacy *privacyDocument `json:"privacy"`
}

type reasonDocument struct {
	Code    string `json:"code"`
	Article string `json:"article"`
	Message string `json:"message"`
}

type cohortDocument struct {
	Conditions []json.RawMessage `json:"conditions"`
}

// conditionDocument is one cohort condition. Value stays raw so that a
// missing or null value is told apart from a zero one.
type conditionDocument struct {
	Column  string          `json:"column"`
	Op      string          `json:"op"`
	Value   json.RawMessage `json:"value"`
	Missing *string         `json:"missing"`
	Code    string          `json:"code"`
	Article string          `json:"article"`
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
	var privacy PrivacySettings
	if doc.Privacy != nil {
		if privacy, err = doc.Privacy.settings(); err != nil {
			return fmt.Errorf("privacy: %w", err)
		}
	}
	if *doc.Allow {
		if doc.Cohort == nil {
			return errors.New("allowed without a cohort rule")
		}
		if err := cohort.appliesTo(nodeColumns); err != nil {
			return err
		}
		// The node's privacy ledger needs a ceiling to enforce.
		if doc.Privacy == nil {
			return errors.New("allowed without privacy settings")
		}
		if err := privacy.admits(); err != nil {
			return fmt.Errorf("privacy: %w", err)
		}
	}

	d.Allow = *doc.Allow
	d.Reasons = reasons
	d.Cohort = cohort
	d.Privacy = privacy
	return nil
}

func (c *cohortDocument) rule() (CohortRule, error) {
	if c.Conditions == nil {
		return CohortRule{}, errors.New("cohort.conditions is missing")
	}
	rule := CohortRule{Conditions: make([]Condition, 0, len(c.Conditions))}
	for i, raw := range c.Conditions {
		cond, err := decodeCondition(raw)
		if err != nil {
			return CohortRule{}, fmt.Errorf("cohort.conditions[%d]: %w", i, err)
		}
		rule.Conditions = append(rule.Conditions, cond)
	}
	return rule, nil
}

// decodeCondition decodes one condition strictly: unknown fields, unknown
// operators and values of the wrong type are errors, never ignored.
func decodeCondition(raw json.RawMessage) (Condition, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var doc conditionDocument
	if err := dec.Decode(&doc); err != nil {
		return Condition{}, err
	}
	c := Condition{Column: doc.Column, Op: doc.Op, Missing: MissingExclude, Code: doc.Code, Article: doc.Article}
	if c.Column == "" {
		return c, errors.New("column is missing")
	}
	if c.Code == "" {
		return c, fmt.Errorf("condition on %s has no code", c.Column)
	}
	if doc.Missing != nil {
		switch *doc.Missing {
		case MissingExclude, MissingInclude:
			c.Missing = *doc.Missing
		default:
			return c, fmt.Errorf("condition on %s: missing is %q, not %q or %q", c.Column, *doc.Missing, MissingExclude, MissingInclude)
		}
	}
	if len(doc.Value) == 0 || string(doc.Value) == "null" {
		return c, fmt.Errorf("condition on %s has no value", c.Column)
	}
	if err := json.Unmarshal(doc.Value, &c.Value); err != nil {
		return c, err
	}
	switch c.Value.(type) {
	case bool, float64, string:
	default:
		return c, fmt.Errorf("condition on %s: value %s is not a bool, number or string", c.Column, doc.Value)
	}
	switch c.Op {
	case OpEq, OpNe:
	case OpLt, OpLe, OpGt, OpGe:
		if _, ok := c.Value.(float64); !ok {
			return c, fmt.Errorf("condition on %s: op %s needs a number, not %s", c.Column, c.Op, doc.Value)
		}
	default:
		return c, fmt.Errorf("condition on %s: unknown op %q", c.Column, c.Op)
	}
	return c, nil
}

// appliesTo reports an error unless every column c filters on is one of
// the node's, so that an allowed cohort can always be enforced.
func (c CohortRule) appliesTo(columns []string) error {
	for _, cond := range c.Conditions {
		if !slices.Contains(columns, cond.Column) {
			return fmt.Errorf("cohort column %s is not a node column", cond.Column)
		}
	}
	return nil
}
