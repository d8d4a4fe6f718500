package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exposition is one scrape of a /metrics endpoint.
type exposition struct {
	text     string
	families map[string]*dto.MetricFamily
}

// scrape reads and parses http://addr/metrics, as Prometheus or curl would.
func scrape(t *testing.T, addr string) exposition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v", addr, resp.Status, err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return exposition{text: string(b), families: fams}
}

// value is the sum of a metric's series that carry the given label pairs
// (name, value, ...): a counter's or gauge's value, a histogram's count.
func (e exposition) value(name string, labels ...string) float64 {
	f := e.families[name]
	if f == nil {
		return -1
	}
	total := 0.0
	for _, m := range f.Metric {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// check fails unless metric (with labels) satisfies ok.
func (e exposition) check(t *testing.T, what string, ok func(float64) bool, name string, labels ...string) {
	t.Helper()
	if v := e.value(name, labels...); !ok(v) {
		t.Errorf("%s: %s%v = %v", what, name, labels, v)
	}
}

// merge is the expositions of several parties of one role as one: a
// metric's value is then its sum over the parties.
func merge(es ...exposition) exposition {
	out := exposition{families: map[string]*dto.MetricFamily{}}
	for _, e := range es {
		out.text += e.text
		for name, f := range e.families {
			if g, ok := out.families[name]; ok {
				g.Metric = append(g.Metric, f.Metric...)
				continue
			}
			out.families[name] = &dto.MetricFamily{Name: f.Name, Help: f.Help, Type: f.Type, Metric: append([]*dto.Metric(nil), f.Metric...)}
		}
	}
	return out
}

func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
func equal(n float64) func(float64) bool   { return func(v float64) bool { return v == n } }

func (e exposition) String() string { return fmt.Sprintf("%d metric families", len(e.families)) }
