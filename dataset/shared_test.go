package dataset

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/shareddata"
)

// sharedData returns the path of a file in the shared data directory.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	return shareddata.Path(t, name)
}

func TestBankFull(t *testing.T) {
	start := time.Now()
	tab, err := LoadCSVFile(sharedData(t, "bank-full.csv"), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d rows in %v", tab.Rows(), time.Since(start))
	if tab.Rows() != 45211 || len(tab.Columns()) != 17 {
		t.Fatalf("got %d rows, %d columns", tab.Rows(), len(tab.Columns()))
	}
	kinds := map[string]Kind{"age": KindNumber, "job": KindCategory, "balance": KindNumber, "pdays": KindNumber, "y": KindCategory}
	for name, kind := range kinds {
		if c, ok := tab.Column(name); !ok || c.Kind != kind {
			t.Errorf("column %q: %+v", name, c)
		}
	}
	y, _ := tab.Column("y")
	yes := 0
	for _, code := range y.Codes {
		if y.Dict[code] == "yes" {
			yes++
		}
	}
	if yes != 5289 {
		t.Errorf("y = yes on %d rows, want 5289", yes)
	}
	age, _ := tab.Column("age")
	if age.Numbers[0] != 58 {
		t.Errorf("first age = %v, want 58", age.Numbers[0])
	}
}

func TestCreditCardTaiwan(t *testing.T) {
	m := &Mapping{Columns: []ColumnMapping{
		{Source: "default.payment.next.month", Name: "default_next_month", Type: "bool"},
		{Source: "SEX", Type: "category"},
	}}
	tab, err := LoadCSVFile(sharedData(t, "credit-card-default-taiwan.csv"), CSVOptions{Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != 30000 {
		t.Fatalf("Rows = %d", tab.Rows())
	}
	limit, _ := tab.Column("LIMIT_BAL")
	if limit.Kind != KindNumber {
		t.Fatalf("LIMIT_BAL is %v", limit.Kind)
	}
	for i, v := range limit.Numbers {
		if v != math.Trunc(v) || v <= 0 {
			t.Fatalf("LIMIT_BAL row %d = %v", i, v)
		}
	}
	def, _ := tab.Column("default_next_month")
	n := 0
	for _, b := range def.Bools {
		if b {
			n++
		}
	}
	if n != 6636 {
		t.Errorf("defaults = %d, want 6636", n)
	}
}

func BenchmarkLoadBankFull(b *testing.B) {
	path := sharedData(b, "bank-full.csv")
	for b.Loop() {
		if _, err := LoadCSVFile(path, CSVOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// sameTable reports how two tables differ in names, kinds or values.
func sameTable(a, b *Table) error {
	if a.Rows() != b.Rows() || len(a.cols) != len(b.cols) {
		return fmt.Errorf("shape %dx%d vs %dx%d", a.Rows(), len(a.cols), b.Rows(), len(b.cols))
	}
	for i, ca := range a.cols {
		cb := b.cols[i]
		if ca.Name != cb.Name || ca.Kind != cb.Kind {
			return fmt.Errorf("column %d: %q %v vs %q %v", i, ca.Name, ca.Kind, cb.Name, cb.Kind)
		}
		for r := range a.Rows() {
			if ca.IsMissing(r) != cb.IsMissing(r) {
				return fmt.Errorf("column %q row %d: missing %v vs %v", ca.Name, r, ca.IsMissing(r), cb.IsMissing(r))
			}
			if ca.Kind == KindNumber && !ca.IsMissing(r) && ca.Numbers[r] != cb.Numbers[r] {
				return fmt.Errorf("column %q row %d: %v vs %v", ca.Name, r, ca.Numbers[r], cb.Numbers[r])
			}
			if ca.String(r) != cb.String(r) {
				return fmt.Errorf("column %q row %d: %q vs %q", ca.Name, r, ca.String(r), cb.String(r))
			}
		}
	}
	return nil
}
