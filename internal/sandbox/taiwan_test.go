package sandbox

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/query"
)

// taiwanMapping is what a partner holding the Taiwan credit data declares:
// the label under a plain name, and AGE as the column the minors rule
// reads.
const taiwanMapping = `
columns:
  - {source: default.payment.next.month, name: default_next_month}
roles: {age: AGE}
`

// taiwanQuery is the default rate and credit limit by education, the
// EDUCATION codes given as values.
const taiwanQuery = `
purpose: marketing_analytics
group_by:
  - {column: EDUCATION, values: ["1", "2", "3", "4", "5", "6"]}
metrics:
  - {kind: count}
  - {kind: mean, column: default_next_month, clip: [0, 1]}
  - {kind: sum, column: LIMIT_BAL, clip: [0, 1000000]}
min_partners: 3
`

// TestTaiwanCreditAsANewUser runs the queries a new user wrote against
// the Taiwan credit data split across three partners: decimals 0 used to
// return every default rate as 0, and decimals 4 was refused with a
// vector slot and a partner's sum. Now the default rates come back to 5
// decimals whatever the query's decimals (which are for sums), and a sum
// that cannot fit says which metric and what would.
func TestTaiwanCreditAsANewUser(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "credit-card-default-taiwan.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mapping, err := dataset.ParseMapping([]byte(taiwanMapping))
	if err != nil {
		t.Fatal(err)
	}
	var partners []Partner
	for i, part := range splitCSV(t, data, 3) {
		tbl, err := dataset.ReadCSV(bytes.NewReader(part), dataset.CSVOptions{Mapping: mapping})
		if err != nil {
			t.Fatal(err)
		}
		partners = append(partners, Partner{Name: partnerNames[i], Data: tbl, Roles: mapping.Roles})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fed := startFederation(t, Config{Partners: partners, PolicyData: map[string]any{
		"assume_consent_when_absent": true,
		"purposes": map[string]any{"marketing_analytics": map[string]any{
			"allowed_columns": []string{"EDUCATION", "AGE", "LIMIT_BAL", "default_next_month"},
		}},
	}})

	// The default rate and limit total per EDUCATION code, straight from
	// the file.
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var count, defaults [7]float64
	var limits [7]int64
	for _, r := range rows[1:] {
		edu, _ := strconv.Atoi(r[3])
		limit, _ := strconv.ParseFloat(r[1], 64)
		count[edu]++
		defaults[edu] += map[string]float64{"0": 0, "1": 1}[r[24]]
		limits[edu] += int64(limit)
	}

	for _, decimals := range []string{"", "decimals: 0\n"} {
		t.Run("query "+strings.TrimSpace(decimals), func(t *testing.T) {
			spec := mustSpec(t, taiwanQuery+decimals)
			ans, err := fed.Query(ctx, spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := fed.Verify(ctx, spec, ans.Result); err != nil {
				t.Fatal(err)
			}
			if d := ans.Result.Precision["mean_default_next_month"]; d < 4 {
				t.Errorf("default rate at %d decimals, want at least 4", d)
			}
			for i, row := range ans.Result.Rows {
				edu := i + 1
				rate, ok := row.Values[2].(float64)
				if !ok {
					t.Fatalf("EDUCATION %d: no default rate in %v", edu, row.Values)
				}
				want := defaults[edu] / count[edu]
				if math.Abs(rate-want) > 5e-6 || rate < 0.05 || rate > 0.27 {
					t.Errorf("EDUCATION %d: default rate %v, want %.5f", edu, rate, want)
				}
				if sum := row.Values[3].(float64); sum != float64(limits[edu]) {
					t.Errorf("EDUCATION %d: LIMIT_BAL sum %v, want %d", edu, sum, limits[edu])
				}
			}
			var table strings.Builder
			if err := ans.Result.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", table.String())
			if !strings.Contains(table.String(), "precision: mean_default_next_month 5 decimals") {
				t.Errorf("the table does not state the default rate's precision:\n%s", table.String())
			}
		})
	}

	t.Run("decimals 4", func(t *testing.T) {
		_, err := fed.Query(ctx, mustSpec(t, taiwanQuery+"decimals: 4\n"), nil)
		if err == nil {
			t.Fatal("the query was answered")
		}
		t.Log(err)
		for _, want := range []string{query.ErrInexact.Error(), "metrics[2] (sum_LIMIT_BAL) at 4 decimals", "room for 18 records per cell",
			"-1 decimals (what is chosen when the metric states none)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}
