package aggregate

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/query"
)

// TestCheckColumnsNamesNodeAndCloseColumns: on the Taiwan data, whose
// columns are upper case, a query written for lower-case columns is a
// schema error naming the node, the column and the columns close to it.
func TestCheckColumnsNamesNodeAndCloseColumns(t *testing.T) {
	tab, err := dataset.LoadCSVFile(shareddata.Path(t, "credit-card-default-taiwan.csv"), dataset.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := query.Parse([]byte(`
purpose: risk_analytics
min_partners: 2
group_by: [{column: education, values: ["1", "2"]}]
filter: [{column: nosuch, op: eq, value: 1}]
metrics:
  - {kind: mean, column: LIMIT_BAL, clip: [0, 1000000]}
  - {kind: sum, column: PAY_AMT, clip: [0, 100000]}
  - {kind: histogram, column: SEX, bins: [1, 2]}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckColumns(spec, "bank-east", tab)
	var se *SchemaError
	if !errors.As(err, &se) || !errors.Is(err, query.ErrColumnMismatch) {
		t.Fatalf("got %v, want a *SchemaError", err)
	}
	want := []Reason{
		{CodeUnknownColumn, `node bank-east: group_by[0].column: unknown column "education"; close: "EDUCATION"`},
		{CodeUnknownColumn, `node bank-east: filter[0].column: unknown column "nosuch"`},
		{CodeUnknownColumn, `node bank-east: metrics[1].column: unknown column "PAY_AMT"; close: "PAY_AMT1", "PAY_AMT2", "PAY_AMT3", "PAY_AMT4", "PAY_AMT5", "PAY_AMT6"`},
	}
	got := se.Reasons()
	if len(got) != len(want) {
		t.Fatalf("reasons %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reason %d:\n%v\nwant\n%v", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(err.Error(), "node bank-east: the query does not fit its columns: ") {
		t.Errorf("error %q", err)
	}

	// The wrong kind is a schema error too, under its own code.
	spec.GroupBy, spec.Filter, spec.Metrics = nil, nil, []query.Metric{{Kind: query.KindHistogram, Column: "default.payment.next.month", Bins: []float64{0, 1}}}
	if err := CheckColumns(spec, "bank-east", tab); err != nil {
		t.Fatalf("a fitting query: %v", err)
	}
	kinds := dataset.NewBuilder()
	kinds.AddCategory("EDUCATION", []string{"graduate"})
	kt, err := kinds.Build()
	if err != nil {
		t.Fatal(err)
	}
	spec.Metrics = []query.Metric{{Kind: query.KindSum, Column: "EDUCATION", Clip: &[2]float64{0, 1}}}
	if err := CheckColumns(spec, "n", kt); !errors.As(err, &se) || se.Reasons()[0].Code != CodeColumnKind {
		t.Errorf("sum of a category: %v", err)
	}
}
