package aggregate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fedscore/fedscore/query"
)

// Codes of a schema refusal. They are not policy decisions: a node reports
// them before it asks the policy, so that a misspelt column reads as what
// it is rather than as a column the purpose does not allow.
const (
	// CodeUnknownColumn: the partner's data has no such column.
	CodeUnknownColumn = "SCHEMA_UNKNOWN_COLUMN"
	// CodeColumnKind: the column exists but holds another kind of value
	// than the query needs.
	CodeColumnKind = "SCHEMA_COLUMN_KIND"
)

// A SchemaError reports a query that does not fit one partner's columns.
type SchemaError struct {
	// Node names the partner whose columns the query does not fit.
	Node     string
	Problems []*query.FieldError
}

func (e *SchemaError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("node %s: the query does not fit its columns: %s", e.Node, strings.Join(msgs, "; "))
}

// Unwrap returns the problems, which wrap query.ErrColumnMismatch.
func (e *SchemaError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// A Reason is one problem of a SchemaError as a node reports it.
type Reason struct{ Code, Message string }

// Reasons returns one reason per problem, each naming the node.
func (e *SchemaError) Reasons() []Reason {
	out := make([]Reason, len(e.Problems))
	for i, p := range e.Problems {
		code := CodeColumnKind
		if errors.Is(p, query.ErrUnknownColumn) {
			code = CodeUnknownColumn
		}
		out[i] = Reason{Code: code, Message: fmt.Sprintf("node %s: %s", e.Node, p)}
	}
	return out
}

// CheckColumns checks that every column spec reads is in the schema of
// node's data with the kind the spec needs ([query.Spec.CheckColumns]); an
// unknown column comes with the names close to it when the schema lists
// its columns. It returns nil or a *SchemaError. A node runs it before its
// policy decides on the query.
func CheckColumns(spec *query.Spec, node string, schema query.Schema) error {
	err := spec.CheckColumns(schema)
	var ve *query.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return &SchemaError{Node: node, Problems: ve.Problems}
}
