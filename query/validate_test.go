package query

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func validSpec() *Spec {
	return &Spec{
		Purpose: "marketing_analytics",
		GroupBy: []GroupBy{
			{Column: "age", Bins: []float64{18, 25, 35, 45, 55, 65, 100}},
			{Column: "region", Values: []string{"north", "east", "south"}},
		},
		Filter: []Predicate{
			{Column: "city_tier", Op: OpLe, Value: 2.0},
			{Column: "occupation", Op: OpIn, Values: []any{"employee", "manager"}},
			{Column: "credit_score", Op: OpBetween, Values: []any{300.0, 850.0}},
		},
		Metrics: []Metric{
			{Kind: KindCount},
			{Kind: KindSum, Column: "annual_txn_amount", Clip: &[2]float64{0, 1e6}},
			{Kind: KindMean, Column: "credit_score", Clip: &[2]float64{300, 850}},
			{Kind: KindHistogram, Column: "credit_utilization", Bins: []float64{0, 0.5, 1, 1.5}},
		},
		MinPartners: 2,
		Decimals:    new(2),
	}
}

func TestValidateAcceptsValidSpec(t *testing.T) {
	if err := validSpec().Validate(Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestValidateAcceptsResultFields(t *testing.T) {
	for _, edit := range []func(*Spec){
		func(s *Spec) { s.PipiaID = "PIPIA-2026-RA-01" },
		func(s *Spec) { s.PipiaID = strings.Repeat("a.b_c-", 10) + "1234" },
		func(s *Spec) { s.Destination = "CN" },
		func(s *Spec) { s.Destination = "SG" },
		func(s *Spec) { s.Recipient = "self" },
		func(s *Spec) { s.Recipient = "acme-consumer-finance" },
		func(s *Spec) { s.Recipient = "某某消费金融有限公司" },
		func(s *Spec) { s.Recipient = "spiffe://fedscore.local/processor/acme" },
		func(s *Spec) { s.Recipient = strings.Repeat("名", 128) },
	} {
		s := validSpec()
		edit(s)
		if err := s.Validate(Limits{}); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func TestResultDefaults(t *testing.T) {
	s := validSpec()
	if s.ResultDestination() != "CN" || s.ResultRecipient() != "self" {
		t.Errorf("defaults %q, %q; want CN and self", s.ResultDestination(), s.ResultRecipient())
	}
	s.Destination, s.Recipient = "SG", "acme"
	if s.ResultDestination() != "SG" || s.ResultRecipient() != "acme" {
		t.Errorf("ResultDestination, ResultRecipient = %q, %q", s.ResultDestination(), s.ResultRecipient())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(s *Spec)
		limits Limits
		field  string
		msg    string
	}{
		{"purpose pattern", func(s *Spec) { s.Purpose = "Marketing" }, Limits{}, "purpose", "must match"},
		{"purpose too short", func(s *Spec) { s.Purpose = "m" }, Limits{}, "purpose", "must match"},
		{"min partners", func(s *Spec) { s.MinPartners = 1 }, Limits{}, "min_partners", "below 2"},
		{"decimals high", func(s *Spec) { s.Decimals = new(7) }, Limits{}, "decimals", "outside -6..6"},
		{"decimals low", func(s *Spec) { s.Decimals = new(-7) }, Limits{}, "decimals", "outside"},
		{"metric decimals high", func(s *Spec) { s.Metrics[1].Decimals = new(7) }, Limits{}, "metrics[1].decimals", "outside -6..6"},
		{"decimals on a count", func(s *Spec) { s.Metrics[0].Decimals = new(1) }, Limits{}, "metrics[0].decimals", "not used by count"},
		{"decimals on a histogram", func(s *Spec) { s.Metrics[3].Decimals = new(1) }, Limits{}, "metrics[3].decimals", "not used by histogram"},
		{"clip too wide for its decimals", func(s *Spec) { s.Metrics[1].Decimals = new(6); s.Metrics[1].Clip = &[2]float64{0, 1e10} }, Limits{}, "metrics[1].clip", "2^53"},
		{"unknown version", func(s *Spec) { s.Version = 3 }, Limits{}, "version", "1 or 2"},
		{"group column missing", func(s *Spec) { s.GroupBy[0].Column = "" }, Limits{}, "group_by[0].column", "required"},
		{"duplicate group column", func(s *Spec) { s.GroupBy[1].Column = "age" }, Limits{}, "group_by[1].column", "duplicate"},
		{"both bins and values", func(s *Spec) { s.GroupBy[1].Bins = []float64{0, 1} }, Limits{}, "group_by[1]", "exactly one"},
		{"neither bins nor values", func(s *Spec) { s.GroupBy[0].Bins = nil }, Limits{}, "group_by[0]", "exactly one"},
		{"non-increasing bins", func(s *Spec) { s.GroupBy[0].Bins = []float64{18, 25, 25, 40} }, Limits{}, "group_by[0].bins[2]", "strictly increasing"},
		{"single edge", func(s *Spec) { s.GroupBy[0].Bins = []float64{18} }, Limits{}, "group_by[0].bins", "two edges"},
		{"NaN edge", func(s *Spec) { s.GroupBy[0].Bins = []float64{18, math.NaN()} }, Limits{}, "group_by[0].bins[1]", "not finite"},
		{"Inf edge", func(s *Spec) { s.GroupBy[0].Bins = []float64{math.Inf(-1), 0} }, Limits{}, "group_by[0].bins[0]", "not finite"},
		{"duplicate value", func(s *Spec) { s.GroupBy[1].Values = []string{"east", "east"} }, Limits{}, "group_by[1].values[1]", "duplicate"},
		{"empty value", func(s *Spec) { s.GroupBy[1].Values = []string{""} }, Limits{}, "group_by[1].values[0]", "empty"},
		{"reserved group column", func(s *Spec) { s.GroupBy[1].Column = "count" }, Limits{}, "group_by[1].column", "reserved"},
		{"too many cells", func(s *Spec) {
			s.GroupBy[1].Values = make([]string, 1500)
			for i := range s.GroupBy[1].Values {
				s.GroupBy[1].Values[i] = strings.Repeat("v", i+1)
			}
		}, Limits{}, "group_by", "9000 cells exceed the limit of 8192"},
		{"vector too long", func(s *Spec) {}, Limits{MaxVectorLen: 100}, "metrics", "vector length 108 exceeds the limit of 100"},
		{"unknown op", func(s *Spec) { s.Filter[0].Op = "like" }, Limits{}, "filter[0].op", "unknown op"},
		{"missing op", func(s *Spec) { s.Filter[0].Op = "" }, Limits{}, "filter[0].op", "required"},
		{"filter column", func(s *Spec) { s.Filter[0].Column = "" }, Limits{}, "filter[0].column", "required"},
		{"missing value", func(s *Spec) { s.Filter[0].Value = nil }, Limits{}, "filter[0].value", "required"},
		{"string compared", func(s *Spec) { s.Filter[0].Value = "2" }, Limits{}, "filter[0].value", "must be a number"},
		{"NaN value", func(s *Spec) { s.Filter[0].Value = math.NaN() }, Limits{}, "filter[0].value", "not finite"},
		{"values on comparison", func(s *Spec) { s.Filter[0].Values = []any{1.0} }, Limits{}, "filter[0].values", "not used"},
		{"empty in", func(s *Spec) { s.Filter[1].Values = nil }, Limits{}, "filter[1].values", "at least one"},
		{"mixed in", func(s *Spec) { s.Filter[1].Values = []any{"a", 1.0} }, Limits{}, "filter[1].values[1]", "mixes"},
		{"value on in", func(s *Spec) { s.Filter[1].Value = "a" }, Limits{}, "filter[1].value", "not used"},
		{"in with map", func(s *Spec) { s.Filter[1].Values = []any{map[string]any{}} }, Limits{}, "filter[1].values[0]", "must be a number, string or bool"},
		{"between arity", func(s *Spec) { s.Filter[2].Values = []any{1.0} }, Limits{}, "filter[2].values", "exactly"},
		{"between order", func(s *Spec) { s.Filter[2].Values = []any{9.0, 1.0} }, Limits{}, "filter[2].values", "exceeds"},
		{"between Inf", func(s *Spec) { s.Filter[2].Values = []any{1.0, math.Inf(1)} }, Limits{}, "filter[2].values[1]", "not finite"},
		{"no metrics", func(s *Spec) { s.Metrics = nil }, Limits{}, "metrics", "at least one"},
		{"unknown kind", func(s *Spec) { s.Metrics[1].Kind = "median" }, Limits{}, "metrics[1].kind", "unknown metric kind"},
		{"missing kind", func(s *Spec) { s.Metrics[1].Kind = "" }, Limits{}, "metrics[1].kind", "required"},
		{"count twice", func(s *Spec) { s.Metrics = append(s.Metrics, Metric{Kind: KindCount}) }, Limits{}, "metrics[4].kind", "twice"},
		{"count with column", func(s *Spec) { s.Metrics[0].Column = "age" }, Limits{}, "metrics[0].column", "not used"},
		{"missing clip", func(s *Spec) { s.Metrics[1].Clip = nil }, Limits{}, "metrics[1].clip", "required"},
		{"clip order", func(s *Spec) { s.Metrics[2].Clip = &[2]float64{850, 850} }, Limits{}, "metrics[2].clip", "below"},
		{"clip NaN", func(s *Spec) { s.Metrics[2].Clip = &[2]float64{math.NaN(), 1} }, Limits{}, "metrics[2].clip", "not finite"},
		{"clip too wide", func(s *Spec) { s.Metrics[1].Clip = &[2]float64{0, 1e15} }, Limits{}, "metrics[1].clip", "2^53"},
		{"sum column", func(s *Spec) { s.Metrics[1].Column = "" }, Limits{}, "metrics[1].column", "required"},
		{"sum with bins", func(s *Spec) { s.Metrics[1].Bins = []float64{0, 1} }, Limits{}, "metrics[1].bins", "not used"},
		{"histogram bins", func(s *Spec) { s.Metrics[3].Bins = []float64{1, 0} }, Limits{}, "metrics[3].bins[1]", "strictly increasing"},
		{"histogram clip", func(s *Spec) { s.Metrics[3].Clip = &[2]float64{0, 1} }, Limits{}, "metrics[3].clip", "not used"},
		{"duplicate metric", func(s *Spec) { s.Metrics = append(s.Metrics, s.Metrics[1]) }, Limits{}, "metrics[4]", "already produced"},
		{"pipia id pattern", func(s *Spec) { s.PipiaID = "PIPIA 2026" }, Limits{}, "pipia_id", "must match"},
		{"pipia id too long", func(s *Spec) { s.PipiaID = strings.Repeat("P", 65) }, Limits{}, "pipia_id", "must match"},
		{"destination lower case", func(s *Spec) { s.Destination = "sg" }, Limits{}, "destination", "ISO 3166-1 alpha-2"},
		{"destination alpha-3", func(s *Spec) { s.Destination = "CHN" }, Limits{}, "destination", "ISO 3166-1 alpha-2"},
		{"recipient leading space", func(s *Spec) { s.Recipient = " acme" }, Limits{}, "recipient", "processor's name"},
		{"recipient trailing space", func(s *Spec) { s.Recipient = "acme " }, Limits{}, "recipient", "processor's name"},
		{"recipient control character", func(s *Spec) { s.Recipient = "acme\nfinance" }, Limits{}, "recipient", "processor's name"},
		{"recipient not UTF-8", func(s *Spec) { s.Recipient = "acme\xff" }, Limits{}, "recipient", "processor's name"},
		{"recipient too long", func(s *Spec) { s.Recipient = strings.Repeat("名", 129) }, Limits{}, "recipient", "processor's name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.edit(s)
			err := s.Validate(tt.limits)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("got %v, want ErrInvalidSpec", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v is not a *ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Field == tt.field && strings.Contains(p.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("no problem at %s mentioning %q in %v", tt.field, tt.msg, err)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := validSpec()
	s.Purpose = ""
	s.MinPartners = 0
	s.Metrics[1].Clip = nil
	var ve *ValidationError
	if !errors.As(s.Validate(Limits{}), &ve) {
		t.Fatal("not a *ValidationError")
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	if got := strings.Join(fields, ","); got != "purpose,metrics[1].clip,min_partners" {
		t.Errorf("fields = %s", got)
	}
	var fe *FieldError
	if !errors.As(s.Validate(Limits{}), &fe) || fe.Field != "purpose" {
		t.Errorf("errors.As found %v", fe)
	}
}

func TestColumns(t *testing.T) {
	got := strings.Join(validSpec().Columns(), ",")
	want := "age,annual_txn_amount,city_tier,credit_score,credit_utilization,occupation,region"
	if got != want {
		t.Errorf("Columns() = %s, want %s", got, want)
	}
}

func TestLayout(t *testing.T) {
	l := validSpec().Layout()
	if l.Cells != 18 || l.VectorLen != 18*3+18*3 {
		t.Fatalf("layout %+v", l)
	}
	wantOffsets := []int{0, 18, 36, 54}
	wantKinds := []string{KindCount, KindSum, KindMean, KindHistogram}
	for i, b := range l.Blocks {
		if b.Offset != wantOffsets[i] || b.Kind != wantKinds[i] {
			t.Errorf("block %d = %+v", i, b)
		}
	}
}
