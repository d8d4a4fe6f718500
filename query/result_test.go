package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func decodeSpec() *Spec {
	return &Spec{
		Purpose:     "test_purpose",
		MinPartners: 2,
		Decimals:    new(2),
		GroupBy: []GroupBy{
			{Column: "age", Bins: []float64{18, 35, 65}},
			{Column: "region", Values: []string{"east", "west"}},
		},
		Metrics: []Metric{
			{Kind: KindSum, Column: "amount", Clip: &[2]float64{0, 1000}},
			{Kind: KindHistogram, Column: "score", Bins: []float64{300, 600, 850}},
			{Kind: KindMean, Column: "amount", Clip: &[2]float64{0, 1000}},
		},
	}
}

func TestDecode(t *testing.T) {
	s := decodeSpec()
	vec := []int64{
		// counts: [18,35)xeast, [18,35)xwest, [35,65]xeast, [35,65]xwest
		4, 0, 2, 1,
		// sum_amount
		10050, 0, 300, -25,
		// mean_amount
		10000, 0, 301, 150,
		// hist_score: per cell, bins [300,600) and [600,850]
		1, 3, 0, 0, 2, 0, 0, 1,
		// padding
		99, 99,
	}
	r, err := Decode(s, vec)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"age", "region", "count", "sum_amount", "hist_score_[300,600)", "hist_score_[600,850]", "mean_amount"}
	if !reflect.DeepEqual(r.Columns, wantCols) {
		t.Fatalf("columns = %q", r.Columns)
	}
	wantRows := [][]any{
		{"[18,35)", "east", int64(4), 100.5, int64(1), int64(3), 25.0},
		{"[18,35)", "west", int64(0), 0.0, int64(0), int64(0), nil},
		{"[35,65]", "east", int64(2), 3.0, int64(2), int64(0), 1.505},
		{"[35,65]", "west", int64(1), -0.25, int64(0), int64(1), 1.5},
	}
	for i, row := range r.Rows {
		if !reflect.DeepEqual(row.Values, wantRows[i]) {
			t.Errorf("row %d = %#v, want %#v", i, row.Values, wantRows[i])
		}
	}

	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	wantTable := "" +
		"age      region  count  sum_amount  hist_score_[300,600)  hist_score_[600,850]  mean_amount\n" +
		"[18,35)  east        4      100.50                     1                     3        25.00\n" +
		"[18,35)  west        0        0.00                     0                     0            -\n" +
		"[35,65]  east        2        3.00                     2                     0         1.50\n" +
		"[35,65]  west        1       -0.25                     0                     1         1.50\n" +
		"precision: sum_amount 2 decimals, mean_amount 2 decimals\n"
	if table.String() != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", table.String(), wantTable)
	}

	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"rows":[` +
		`{"age":"[18,35)","region":"east","count":4,"sum_amount":100.50,"hist_score":{"[300,600)":1,"[600,850]":3},"mean_amount":25.00},` +
		`{"age":"[18,35)","region":"west","count":0,"sum_amount":0.00,"hist_score":{"[300,600)":0,"[600,850]":0},"mean_amount":null},` +
		`{"age":"[35,65]","region":"east","count":2,"sum_amount":3.00,"hist_score":{"[300,600)":2,"[600,850]":0},"mean_amount":1.50},` +
		`{"age":"[35,65]","region":"west","count":1,"sum_amount":-0.25,"hist_score":{"[300,600)":0,"[600,850]":1},"mean_amount":1.50}],` +
		`"precision":{"sum_amount":2,"mean_amount":2}}`
	if string(js) != wantJSON {
		t.Errorf("JSON:\n%s\nwant:\n%s", js, wantJSON)
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := Decode(decodeSpec(), make([]int64, 19)); !errors.Is(err, ErrVectorLength) {
		t.Errorf("short vector: got %v", err)
	}
	if _, err := Decode(&Spec{}, nil); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("invalid spec: got %v", err)
	}
}
