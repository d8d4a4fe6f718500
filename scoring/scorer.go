package scoring

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/fedscore/fedscore/dataset"
)

// maxFirstInvalid bounds Scores.FirstInvalid.
const maxFirstInvalid = 10

// A Scorer is a model compiled against one table. It is safe for
// concurrent use.
type Scorer struct {
	model  *Model
	table  *dataset.Table
	enc    []*encoder
	weight []float64
	scale  scaleConsts
	dict   [][]string // category dictionaries, for explanations
}

// Compile validates m and binds its features to the columns of t. A
// missing column, or a column of a kind the feature's encoding cannot
// read, is an error naming the feature.
func Compile(m *Model, t *dataset.Table) (*Scorer, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m = m.Clone()
	s := &Scorer{model: m, table: t, scale: m.Score.consts()}
	for i := range m.Features {
		f := &m.Features[i]
		e, err := compileFeature(i, f, t)
		if err != nil {
			return nil, err
		}
		s.enc = append(s.enc, e)
		s.weight = append(s.weight, f.Weight)
		var dict []string
		if col, _ := t.Column(f.Column); col.Kind == dataset.KindCategory {
			dict = col.Dict
		}
		s.dict = append(s.dict, dict)
	}
	return s, nil
}

// Model returns the scorer's model. It must not be modified.
func (s *Scorer) Model() *Model { return s.model }

// Encode writes row i's encoded feature values, in feature order, into x,
// which must hold one entry per feature, and reports whether every value
// is valid. With inv (one entry per feature) it counts each invalid value
// by feature and reason.
func (s *Scorer) Encode(i int, x []float64, inv []InvalidCount) bool {
	ok := true
	for j, e := range s.enc {
		v, st := e.at(i)
		if st != stOK {
			if inv != nil {
				inv[j].add(st)
			}
			ok = false
			continue
		}
		x[j] = v
	}
	return ok
}

// InvalidCounts returns a zero count per feature, to collect what
// [Scorer.Encode] finds.
func (s *Scorer) InvalidCounts() []InvalidCount {
	out := make([]InvalidCount, len(s.enc))
	for j, e := range s.enc {
		out[j] = InvalidCount{Column: e.column, Encoding: e.enc}
	}
	return out
}

// A Result is the score of one row.
type Result struct {
	Logit       float64 `json:"logit"`
	Probability float64 `json:"probability"`
	Score       float64 `json:"score"`
	Grade       string  `json:"grade"`
}

// Score scores row i. A row with invalid values is an error wrapping
// [ErrInvalidValue] that names every invalid feature.
func (s *Scorer) Score(i int) (Result, error) {
	if i < 0 || i >= s.table.Rows() {
		return Result{}, fmt.Errorf("scoring: row %d of %d: %w", i, s.table.Rows(), ErrInvalidArgument)
	}
	logit := s.model.Intercept
	var problems []string
	for j, e := range s.enc {
		x, st := e.at(i)
		if st != stOK {
			problems = append(problems, fmt.Sprintf("%s: %s", featureLabel(j, &s.model.Features[j]), st))
			continue
		}
		logit += s.weight[j] * x
	}
	if problems != nil {
		return Result{}, fmt.Errorf("scoring: row %d: %s: %w", i, strings.Join(problems, "; "), ErrInvalidValue)
	}
	return s.result(logit), nil
}

func (s *Scorer) result(logit float64) Result {
	score := s.scale.points(logit)
	return Result{Logit: logit, Probability: Probability(logit), Score: score, Grade: s.model.GradeOf(score)}
}

// A Contribution is one feature's part in a row's score, for explaining
// the score to the customer and to reviewers.
type Contribution struct {
	Column   string   `json:"column"`
	Encoding Encoding `json:"encoding"`
	// Value is the input value as written in CSV; "" when missing.
	Value string `json:"value"`
	// Encoded is the encoded value x, Logit the contribution Weight·x.
	Encoded float64 `json:"encoded"`
	Logit   float64 `json:"logit"`
	// Points is the contribution in score points before rounding and
	// clamping; negative points lower the score.
	Points float64 `json:"points"`
}

// Explain returns each feature's contribution to row i's score, the
// features that lower the score most first.
func (s *Scorer) Explain(i int) (Result, []Contribution, error) {
	r, err := s.Score(i)
	if err != nil {
		return Result{}, nil, err
	}
	out := make([]Contribution, len(s.enc))
	for j, e := range s.enc {
		x, _ := e.at(i)
		v := e.raw(i)
		if d := s.dict[j]; d != nil {
			if c := e.codes[i]; c >= 0 {
				v = d[c]
			}
		}
		l := s.weight[j] * x
		out[j] = Contribution{Column: e.column, Encoding: e.enc, Value: v, Encoded: x, Logit: l, Points: s.scale.factor * s.scale.sign * l}
	}
	slices.SortStableFunc(out, func(a, b Contribution) int { return cmp.Compare(a.Points, b.Points) })
	return r, out, nil
}

// Scores holds the scores of a table's rows. Rows that were not selected
// or have invalid values have NaN outputs and an empty grade.
type Scores struct {
	Logit       []float64
	Probability []float64
	Score       []float64
	Grade       []string

	// Selected counts the selected rows, Scored those with a score and
	// Invalid those with an invalid value: Selected = Scored + Invalid.
	Selected, Scored, Invalid int
	// InvalidByFeature counts the selected rows each feature could not
	// encode, in feature order; a row can count for several features.
	InvalidByFeature []InvalidCount
	// FirstInvalid lists the first few invalid rows, for error messages.
	FirstInvalid []int
}

// Err returns nil when every selected row was scored, and otherwise an
// error wrapping [ErrInvalidValue] that reports the invalid rows.
func (sc *Scores) Err() error {
	if sc.Invalid == 0 {
		return nil
	}
	var parts []string
	for i := range sc.InvalidByFeature {
		if c := &sc.InvalidByFeature[i]; c.Total() > 0 {
			parts = append(parts, c.String())
		}
	}
	return fmt.Errorf("scoring: %d of %d rows have invalid values (%s; first rows %v): %w",
		sc.Invalid, sc.Selected, strings.Join(parts, "; "), sc.FirstInvalid, ErrInvalidValue)
}

// ScoreTable compiles m against t and scores the rows that rows selects
// (nil: all rows). Invalid rows are counted in the result, not returned
// as an error; see [Scores.Err].
func ScoreTable(m *Model, t *dataset.Table, rows []bool) (*Scores, error) {
	s, err := Compile(m, t)
	if err != nil {
		return nil, err
	}
	return s.ScoreAll(rows)
}

// ScoreAll scores the rows that rows selects (nil: all rows).
func (s *Scorer) ScoreAll(rows []bool) (*Scores, error) {
	sc := new(Scores)
	if err := s.ScoreInto(sc, rows); err != nil {
		return nil, err
	}
	return sc, nil
}

// Rows are scored in chunks small enough for the CPU cache, and large
// tables by several goroutines, each over a contiguous range of chunks.
const (
	scoreChunk       = 4096
	parallelMinRows  = 1 << 18
	maxScoreRoutines = 16
)

// ScoreInto is [Scorer.ScoreAll] into dst, reusing its slices when they
// are large enough, so that scoring a table again allocates nothing.
// Tables of more than 262,144 rows are scored by up to GOMAXPROCS
// goroutines.
func (s *Scorer) ScoreInto(dst *Scores, rows []bool) error {
	n := s.table.Rows()
	if err := CheckSelection(rows, n); err != nil {
		return err
	}
	dst.Logit = resize(dst.Logit, n)
	dst.Probability = resize(dst.Probability, n)
	dst.Score = resize(dst.Score, n)
	dst.Grade = resize(dst.Grade, n)
	dst.InvalidByFeature = resize(dst.InvalidByFeature, len(s.enc))
	for j, e := range s.enc {
		dst.InvalidByFeature[j] = InvalidCount{Column: e.column, Encoding: e.enc}
	}
	dst.FirstInvalid = dst.FirstInvalid[:0]
	dst.Selected, dst.Scored, dst.Invalid = 0, 0, 0

	workers := min(runtime.GOMAXPROCS(0), maxScoreRoutines, n/(parallelMinRows/4))
	if n < parallelMinRows || workers < 2 {
		s.scoreRange(dst, rows, 0, n, &dst.InvalidByFeature, &dst.FirstInvalid, &dst.Selected, &dst.Scored, &dst.Invalid)
		return nil
	}
	type part struct {
		inv                       []InvalidCount
		first                     []int
		selected, scored, invalid int
	}
	parts := make([]part, workers)
	chunks := (n + scoreChunk - 1) / scoreChunk
	var wg sync.WaitGroup
	for w := range workers {
		lo := chunks * w / workers * scoreChunk
		hi := min(chunks*(w+1)/workers*scoreChunk, n)
		p := &parts[w]
		p.inv = slices.Clone(dst.InvalidByFeature)
		wg.Go(func() {
			s.scoreRange(dst, rows, lo, hi, &p.inv, &p.first, &p.selected, &p.scored, &p.invalid)
		})
	}
	wg.Wait()
	for _, p := range parts {
		dst.Selected += p.selected
		dst.Scored += p.scored
		dst.Invalid += p.invalid
		for j := range dst.InvalidByFeature {
			a, b := &dst.InvalidByFeature[j], &p.inv[j]
			a.Missing += b.Missing
			a.Unknown += b.Unknown
			a.OutOfRange += b.OutOfRange
			a.NonFinite += b.NonFinite
		}
		for _, i := range p.first {
			if len(dst.FirstInvalid) < maxFirstInvalid {
				dst.FirstInvalid = append(dst.FirstInvalid, i)
			}
		}
	}
	return nil
}

// scoreRange scores rows [lo, hi) into dst's slices, chunk by chunk,
// accumulating the counts into the given variables.
func (s *Scorer) scoreRange(dst *Scores, rows []bool, lo, hi int, inv *[]InvalidCount, first *[]int, selected, scored, invalid *int) {
	grades := s.model.Grades
	sc := s.scale
	nan := math.NaN()
	for c := lo; c < hi; c += scoreChunk {
		end := min(c+scoreChunk, hi)
		logit := dst.Logit[c:end]
		var sel []bool
		if rows != nil {
			sel = rows[c:end]
		}
		for k := range logit {
			logit[k] = s.model.Intercept
		}
		for j, e := range s.enc {
			e.addTo(logit, c, s.weight[j], sel, &(*inv)[j])
		}
		prob, score, grade := dst.Probability[c:end], dst.Score[c:end], dst.Grade[c:end]
		for k, l := range logit {
			if sel != nil && !sel[k] {
				logit[k], prob[k], score[k], grade[k] = nan, nan, nan, ""
				continue
			}
			*selected++
			if math.IsNaN(l) {
				prob[k], score[k], grade[k] = nan, nan, ""
				*invalid++
				if len(*first) < maxFirstInvalid {
					*first = append(*first, c+k)
				}
				continue
			}
			*scored++
			p := sc.points(l)
			prob[k] = Probability(l)
			score[k] = p
			g := ""
			for q := range grades {
				if p >= grades[q].MinScore {
					g = grades[q].Grade
					break
				}
			}
			grade[k] = g
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
