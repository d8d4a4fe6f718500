package fairness

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

func TestAuditTaiwan(t *testing.T) {
	tab, train, test := loadTaiwan(t)
	m, _, err := fit.Fit(tab, taiwanConfig(train))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := AuditWith(m, tab, Config{Group: "SEX", Rows: test})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Groups) != 2 || rep.Groups[0].Group != "1" || rep.Groups[1].Group != "2" {
		t.Fatalf("groups %+v", rep.Groups)
	}
	if rep.Cutoff != 550 || len(rep.ScoreBins) != 12 || rep.ScoreBins[0] != 300 || rep.ScoreBins[11] != 850 {
		t.Errorf("cutoff %v bins %v", rep.Cutoff, rep.ScoreBins)
	}
	if rep.Overall.Rows != 9000 || rep.Groups[0].Rows+rep.Groups[1].Rows != 9000 {
		t.Errorf("rows: overall %d, groups %d + %d", rep.Overall.Rows, rep.Groups[0].Rows, rep.Groups[1].Rows)
	}
	for _, g := range append(rep.Groups, rep.Overall) {
		var share float64
		var count int
		for _, s := range g.Grades {
			share += s.Share
			count += s.Count
		}
		hist := 0
		for _, h := range g.Histogram {
			hist += h
		}
		if math.Abs(share-1) > 1e-9 || count != g.Scored || hist+g.OutsideBins != g.Scored {
			t.Errorf("group %s: grade shares sum to %v, counts %d, histogram %d, scored %d", g.Group, share, count, hist, g.Scored)
		}
		if g.EventRate == nil || g.AUC == nil || *g.AUC < 0.65 {
			t.Errorf("group %s: event rate %v AUC %v", g.Group, g.EventRate, g.AUC)
		}
		if g.MeanScore < 300 || g.MeanScore > 850 || g.ApprovalRate < 0 || g.ApprovalRate > 1 {
			t.Errorf("group %s: %+v", g.Group, g)
		}
	}
	if rep.ApprovalParity == nil || *rep.ApprovalParity <= 0 || *rep.ApprovalParity > 1 {
		t.Errorf("approval parity %v", rep.ApprovalParity)
	}
	if len(rep.ProtectedInputs) != 1 || rep.ProtectedInputs[0] != "AGE" {
		t.Errorf("protected inputs %v", rep.ProtectedInputs)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())
	for _, want := range []string{"groups by SEX", "protected inputs used directly: AGE", "(all)", "approval parity"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not marshal: %v", err)
	}

	// Age bands, in order, and a minimum group size.
	rep, err = AuditWith(m, tab, Config{Group: "AGE", GroupBands: []float64{25, 35, 45, 60}, Rows: test, MinGroupSize: 200, Cutoff: 525})
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, g := range rep.Groups {
		labels = append(labels, g.Group)
		if g.Suppressed != (g.Rows < 200) {
			t.Errorf("group %s with %d rows: suppressed %v", g.Group, g.Rows, g.Suppressed)
		}
		if g.Suppressed && (g.MeanScore != 0 || g.Histogram != nil) {
			t.Errorf("suppressed group %s reports statistics", g.Group)
		}
	}
	if strings.Join(labels, " ") != "<25 [25,35) [35,45) [45,60) ≥60" {
		t.Errorf("age groups %v", labels)
	}
}

func TestAuditErrors(t *testing.T) {
	nan := math.NaN()
	tab := testTable(t, []float64{10, 12, nan}, []float64{1, 2, 3}, []string{"a", "b", "a"})
	m := testModel()
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"missing group column", Config{Group: "gender"}, dataset.ErrUnknownColumn},
		{"bins not ascending", Config{Group: "c", ScoreBins: []float64{600, 300}}, scoring.ErrInvalidArgument},
		{"one bin edge", Config{Group: "c", ScoreBins: []float64{300}}, scoring.ErrInvalidArgument},
		{"bands on a category", Config{Group: "c", GroupBands: []float64{1}}, scoring.ErrInvalidArgument},
		{"short selection", Config{Group: "c", Rows: []bool{true}}, scoring.ErrInvalidArgument},
		{"NaN cut-off", Config{Group: "c", Cutoff: nan}, scoring.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := AuditWith(m, tab, tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("AuditWith = %v, want %v", err, tt.want)
			}
		})
	}
	// Invalid rows are counted per group, and a missing group value is a
	// group of its own.
	rep, err := Audit(m, tab, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, g := range rep.Groups {
		labels = append(labels, g.Group)
	}
	if strings.Join(labels, " ") != "10 12 "+MissingGroup || rep.Groups[2].Invalid != 1 || rep.Overall.Invalid != 1 || rep.InvalidByFeature[0].Missing != 1 {
		t.Errorf("groups %v, report %+v", labels, rep)
	}
	// Too many distinct numbers to group by without bands.
	many := make([]float64, 200)
	for i := range many {
		many[i] = float64(i)
	}
	big := testTable(t, many, many, make([]string, 200))
	if _, err := Audit(m, big, "n", nil); !errors.Is(err, scoring.ErrInvalidArgument) || !strings.Contains(err.Error(), "group bands") {
		t.Errorf("Audit on 200 distinct values: %v", err)
	}
}
