package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fedscore/fedscore/privacy"
	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

// resultView is a decrypted result as the page draws it.
type resultView struct {
	Columns []resultColumn `json:"columns"`
	// Rows hold labels (strings), counts and bins (integers), sums and
	// means (numbers); null is a withheld value or an undefined mean.
	Rows [][]any `json:"rows"`
	// Withheld counts the values the release gate suppressed, and
	// WithheldCells the cells whose count it suppressed.
	Withheld      int        `json:"withheld"`
	WithheldCells int        `json:"withheld_cells"`
	Dimensions    []string   `json:"dimensions"`
	Noise         *noiseView `json:"noise,omitempty"`
}

// resultColumn says what a result column holds.
type resultColumn struct {
	Name string `json:"name"`
	// Role is label, count, sum, mean or bin.
	Role string `json:"role"`
	// Metric is the index of the metric in the spec, -1 for labels and
	// the count.
	Metric int    `json:"metric"`
	Column string `json:"column,omitempty"` // the metric's source column
	Bin    string `json:"bin,omitempty"`    // a histogram bin's label
	// Decimals is the precision a sum or mean was computed at (its
	// fixed-point scale; negative: rounded to tens, hundreds ...).
	Decimals int `json:"decimals"`
}

// noiseView states the differential-privacy noise in the result.
type noiseView struct {
	Epsilon float64 `json:"epsilon"`
	// BlockEpsilon is ε per block: the count, each sum and each histogram
	// compose sequentially.
	BlockEpsilon float64      `json:"block_epsilon"`
	Mechanism    string       `json:"mechanism"`
	Blocks       []noiseBlock `json:"blocks"`
}

// noiseBlock is the noise on every value of one block, in the value's own
// units (records for counts and bins).
type noiseBlock struct {
	Kind        string  `json:"kind"`
	Column      string  `json:"column,omitempty"`
	Sensitivity float64 `json:"sensitivity"`
	// Scale is t of the discrete Laplace distribution, P(k) ∝ exp(−|k|/t).
	Scale float64 `json:"scale"`
	// Bound95 bounds the noise on a value with probability 95 %.
	Bound95 float64 `json:"bound95"`
}

func newResultView(spec *query.Spec, a *querier.Answer) *resultView {
	if a.Spec != nil {
		spec = a.Spec // as signed: every metric at the decimals it was summed at
	}
	res := a.Result
	v := &resultView{Rows: make([][]any, len(res.Rows))}
	for _, g := range spec.GroupBy {
		v.Dimensions = append(v.Dimensions, g.Column)
	}
	i := 0
	next := func(c resultColumn) {
		if i < len(res.Columns) {
			c.Name = res.Columns[i]
		}
		v.Columns = append(v.Columns, c)
		i++
	}
	for range spec.GroupBy {
		next(resultColumn{Role: "label", Metric: -1})
	}
	next(resultColumn{Role: "count", Metric: -1})
	for m, metric := range spec.Metrics {
		switch metric.Kind {
		case query.KindSum, query.KindMean:
			next(resultColumn{Role: metric.Kind, Metric: m, Column: metric.Column, Decimals: spec.MetricDecimals(m)})
		case query.KindHistogram:
			prefix := "hist_" + metric.Column + "_"
			for range len(metric.Bins) - 1 {
				c := resultColumn{Role: "bin", Metric: m, Column: metric.Column}
				if i < len(res.Columns) {
					c.Bin = strings.TrimPrefix(res.Columns[i], prefix)
				}
				next(c)
			}
		}
	}
	count := len(spec.GroupBy)
	for r, row := range res.Rows {
		v.Rows[r] = row.Values
		if row.Values[count] == nil {
			v.WithheldCells++
		}
		for c, x := range row.Values {
			if x == nil && v.Columns[c].Role != "mean" {
				v.Withheld++
			}
		}
	}
	if spec.Epsilon > 0 {
		v.Noise = noiseOf(spec)
	}
	return v
}

// noiseOf computes the noise every value of spec carries.
func noiseOf(spec *query.Spec) *noiseView {
	blocks := spec.NoiseBlocks()
	eps := privacy.SplitEpsilon(spec.Epsilon, len(blocks))
	n := &noiseView{Epsilon: spec.Epsilon, BlockEpsilon: eps, Mechanism: privacy.DiscreteLaplace.String()}
	layout := spec.Layout()
	for i, b := range blocks {
		kind, column, unit := query.KindCount, "", 1.0
		if lb := layout.Blocks[i]; lb.Metric >= 0 {
			kind, column = lb.Kind, spec.Metrics[lb.Metric].Column
			if kind == query.KindSum || kind == query.KindMean {
				unit = spec.MetricScale(lb.Metric)
			}
		}
		c := privacy.Calibration{Epsilon: eps, Sensitivity: b.Sensitivity}
		d, err := c.Distribution()
		if err != nil {
			continue
		}
		n.Blocks = append(n.Blocks, noiseBlock{
			Kind: kind, Column: column, Sensitivity: float64(b.Sensitivity) / unit,
			Scale: d.Scale / unit, Bound95: float64(privacy.Bound(c, 0.05)) / unit,
		})
	}
	return n
}

func (s *Server) finished(w http.ResponseWriter, r *http.Request) (*job, *querier.Answer) {
	j := s.job(w, r)
	if j == nil {
		return nil, nil
	}
	j.mu.Lock()
	a := j.answer
	j.mu.Unlock()
	if a == nil {
		writeError(w, http.StatusConflict, "the query has no result")
	}
	return j, a
}

func (s *Server) handleResultCSV(w http.ResponseWriter, r *http.Request) {
	_, a := s.finished(w, r)
	if a == nil {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="fedscore-%s.csv"`, a.QueryID))
	cw := csv.NewWriter(w)
	cw.Write(a.Result.Columns)
	for _, row := range a.Result.Rows {
		line := make([]string, len(row.Values))
		for i, v := range row.Values {
			switch x := v.(type) {
			case nil:
				line[i] = "" // withheld or undefined
			case string:
				line[i] = x
			case int64:
				line[i] = strconv.FormatInt(x, 10)
			case float64:
				line[i] = strconv.FormatFloat(x, 'f', -1, 64)
			}
		}
		cw.Write(line)
	}
	cw.Flush()
}

func (s *Server) handleResultJSON(w http.ResponseWriter, r *http.Request) {
	j, a := s.finished(w, r)
	if a == nil {
		return
	}
	rows, err := json.Marshal(a.Result)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	doc := map[string]any{}
	json.Unmarshal(rows, &doc)
	doc["query_id"], doc["partners"], doc["timings_ms"] = a.QueryID, a.Partners, a.TimingsMs
	doc["receipts"] = j.summary().Receipts
	doc["spec"] = json.RawMessage(mustCanonical(j.spec))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="fedscore-%s.json"`, a.QueryID))
	writeJSON(w, http.StatusOK, doc)
}

func mustCanonical(s *query.Spec) []byte {
	b, err := s.Canonical()
	if err != nil {
		return []byte("null")
	}
	return b
}
