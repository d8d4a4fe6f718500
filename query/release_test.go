package query

import (
	"strings"
	"testing"
)

func TestDecodeReleased(t *testing.T) {
	s := &Spec{
		Purpose:     "marketing_analytics",
		GroupBy:     []GroupBy{{Column: "region", Values: []string{"east", "south"}}},
		Metrics:     []Metric{{Kind: KindCount}, {Kind: KindMean, Column: "amount", Clip: &[2]float64{0, 100}}},
		MinPartners: 3,
		Decimals:    new(0),
	}
	// count block [0,2), mean's sum block [2,4)
	vec := []int64{120, 7, 2400, 70}
	r, err := DecodeReleased(s, vec, []bool{true, false, true, false})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rows[0].Values; got[1] != int64(120) || got[2] != 20.0 {
		t.Errorf("released row %v", got)
	}
	if got := r.Rows[1].Values; got[1] != nil || got[2] != nil {
		t.Errorf("withheld row leaks values: %v", got)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "7") {
		t.Errorf("table shows a withheld value:\n%s", b.String())
	}
	if _, err := DecodeReleased(s, vec, []bool{true}); err == nil {
		t.Error("mask of the wrong length accepted")
	}
}
