package aggregate

import (
	"context"
	"encoding/csv"
	"github.com/fedscore/fedscore/query"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
)

// sharedData returns the path of a file in the shared data directory.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	return shareddata.Path(t, name)
}

const bankSpec = `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [18, 25, 35, 45, 55, 65, 100]}
  - {column: marital, values: [married, single, divorced]}
metrics:
  - {kind: count}
  - {kind: sum, column: balance, clip: [-10000, 100000]}
min_partners: 2
`

func TestBankFull(t *testing.T) {
	path := sharedData(t, "bank-full.csv")
	s, err := query.Parse([]byte(bankSpec))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := dataset.LoadCSVFile(path, dataset.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vec, st, err := Aggregate(context.Background(), s, tab, nil)
	if err != nil {
		t.Fatal(err)
	}

	// An independent computation straight from the file.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	records, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	edges := []int{18, 25, 35, 45, 55, 65, 100}
	marital := map[string]int{"married": 0, "single": 1, "divorced": 2}
	wantCount := make([]int64, 18)
	wantSum := make([]int64, 18)
	for _, rec := range records[1:] {
		age, _ := strconv.Atoi(rec[0])
		balance, _ := strconv.Atoi(rec[5])
		band := -1
		for k := 0; k+1 < len(edges); k++ {
			if age >= edges[k] && (age < edges[k+1] || k == len(edges)-2 && age == edges[k+1]) {
				band = k
			}
		}
		m, ok := marital[rec[2]]
		if band < 0 || !ok {
			continue
		}
		cell := band*3 + m
		wantCount[cell]++
		wantSum[cell] += int64(min(max(balance, -10000), 100000)) * 100
	}
	for c := range 18 {
		if vec[c] != wantCount[c] || vec[18+c] != wantSum[c] {
			t.Errorf("cell %d: count %d sum %d, want %d %d", c, vec[c], vec[18+c], wantCount[c], wantSum[c])
		}
	}
	if st.Rows != 45211 || st.Selected != 45211 || st.OutOfCells != 0 {
		t.Errorf("stats = %+v", st)
	}

	res, err := query.Decode(s, vec)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	if !strings.HasPrefix(b.String(), "age       marital   count  sum_balance\n[18,25)   married      97     54761.00\n") {
		t.Errorf("unexpected table head:\n%s", b.String())
	}
}
