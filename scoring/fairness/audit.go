package fairness

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
)

// MaxGroups bounds the number of groups an audit reports.
const MaxGroups = 100

// MissingGroup labels the rows whose group value is missing.
const MissingGroup = "(missing)"

// Config says what [AuditWith] reports.
type Config struct {
	// Group names the column that splits the rows into groups, such as
	// a protected attribute.
	Group string
	// GroupBands, for a number group column, are ascending band edges:
	// the groups are "<b0", "[b0,b1)", ..., "≥bn". Without bands each
	// distinct value is a group.
	GroupBands []float64
	// ScoreBins are the ascending edges of the score histogram; bin k is
	// [ScoreBins[k], ScoreBins[k+1]), the last bin closed. nil means steps
	// of 50 points across the score scale.
	ScoreBins []float64
	// Cutoff is the approval threshold: a row is approved when its score
	// is at least Cutoff. Zero means the middle grade's minimum score
	// (C of A–E).
	Cutoff float64
	// Rows selects the rows (nil: all).
	Rows []bool
	// MinGroupSize, if positive, suppresses every statistic but the row
	// count of groups with fewer scored rows.
	MinGroupSize int
}

// An Report is a fairness review of a model on one table: the score
// distribution of every group and the parity of approval rates.
type Report struct {
	Model           string    `json:"model"`
	Version         string    `json:"version"`
	Digest          string    `json:"digest"`
	ProtectedInputs []string  `json:"protected_inputs"`
	Group           string    `json:"group"`
	Cutoff          float64   `json:"cutoff"`
	ScoreBins       []float64 `json:"score_bins"`

	// Overall covers every selected row, Groups each group, in order of
	// their labels (numbers and bands in numeric order).
	Overall GroupStats   `json:"overall"`
	Groups  []GroupStats `json:"groups"`
	// InvalidByFeature counts the selected rows each feature could not
	// encode.
	InvalidByFeature []scoring.InvalidCount `json:"invalid_by_feature"`

	// ApprovalParity is the lowest group approval rate divided by the
	// highest (1 is parity; below 0.8 fails the common four-fifths rule),
	// ApprovalGap their difference and MeanScoreGap the spread of the
	// group mean scores, all over the groups that are not suppressed and
	// have scores. They are nil when no two such groups exist, and the
	// parity also when no group is approved.
	ApprovalParity *float64 `json:"approval_parity,omitempty"`
	ApprovalGap    *float64 `json:"approval_gap,omitempty"`
	MeanScoreGap   *float64 `json:"mean_score_gap,omitempty"`
}

// GroupStats is the score distribution of one group.
type GroupStats struct {
	Group string `json:"group"`
	// Rows counts the group's selected rows, Scored those with a score
	// and Invalid those with an invalid value.
	Rows    int `json:"rows"`
	Scored  int `json:"scored"`
	Invalid int `json:"invalid"`
	// Suppressed reports a group below Config.MinGroupSize: only
	// Rows is set.
	Suppressed bool `json:"suppressed,omitempty"`

	MeanScore       float64 `json:"mean_score"`
	StdScore        float64 `json:"std_score"`
	MeanProbability float64 `json:"mean_probability"`
	// ApprovalRate is the share of scored rows at or above the cut-off.
	ApprovalRate float64 `json:"approval_rate"`
	// Grades holds the count and share of each grade, best first.
	Grades []GradeShare `json:"grades"`
	// Histogram counts scores per ScoreBins bin; OutsideBins counts
	// scores outside the edges.
	Histogram   []int `json:"histogram"`
	OutsideBins int   `json:"outside_bins,omitempty"`

	// With a labelled table: Labelled counts the scored rows with a
	// valid target, EventRate is their observed event rate and AUC the
	// model's AUC among them (nil when undefined).
	Labelled  int      `json:"labelled,omitempty"`
	EventRate *float64 `json:"event_rate,omitempty"`
	AUC       *float64 `json:"auc,omitempty"`
}

// GradeShare is the number and share of a group's scored rows in a grade.
type GradeShare struct {
	Grade string  `json:"grade"`
	Count int     `json:"count"`
	Share float64 `json:"share"`
}

// Audit reports m's score distribution per value of groupColumn in t,
// with score histogram edges bins (nil: steps of 50 points) and the
// default cut-off. See [AuditWith].
func Audit(m *scoring.Model, t *dataset.Table, groupColumn string, bins []float64) (*Report, error) {
	return AuditWith(m, t, Config{Group: groupColumn, ScoreBins: bins})
}

// AuditWith scores the selected rows of t with m and reports, for each
// group of cfg.Group, the score distribution, grade shares, approval rate
// at the cut-off and, when t holds m's target, the observed event rate and
// AUC; and the parity of approval rates across groups. The report
// describes one partner's own data and stays on its node unless released
// through the federation's aggregate queries.
func AuditWith(m *scoring.Model, t *dataset.Table, cfg Config) (*Report, error) {
	s, err := scoring.Compile(m, t)
	if err != nil {
		return nil, err
	}
	m = s.Model()
	if err := scoring.CheckSelection(cfg.Rows, t.Rows()); err != nil {
		return nil, err
	}
	bins := cfg.ScoreBins
	if bins == nil {
		for v := m.Score.Min; v < m.Score.Max; v += 50 {
			bins = append(bins, v)
		}
		bins = append(bins, m.Score.Max)
	}
	if len(bins) < 2 || !slices.IsSorted(bins) || slices.ContainsFunc(bins, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) || len(slices.Compact(slices.Clone(bins))) != len(bins) {
		return nil, fmt.Errorf("scoring: audit: score bins %v are not at least two strictly ascending finite edges: %w", bins, scoring.ErrInvalidArgument)
	}
	cutoff := cfg.Cutoff
	if cutoff == 0 {
		cutoff = m.Grades[len(m.Grades)/2].MinScore
	}
	if math.IsNaN(cutoff) || math.IsInf(cutoff, 0) {
		return nil, fmt.Errorf("scoring: audit: cut-off %v: %w", cutoff, scoring.ErrInvalidArgument)
	}
	labels, groupOf, err := auditGroups(t, cfg)
	if err != nil {
		return nil, err
	}
	sc, err := s.ScoreAll(cfg.Rows)
	if err != nil {
		return nil, err
	}
	var tg *scoring.Labels
	if m.Target != "" {
		if _, ok := t.Column(m.Target); ok {
			if tg, err = scoring.BindLabels(m.Target, m.Positive, m.Negative, t); err != nil {
				return nil, err
			}
		}
	}
	digest, err := m.Digest()
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Model: m.Name, Version: m.Version, Digest: digest,
		ProtectedInputs: scoring.ProtectedInputs(m, nil), Group: cfg.Group,
		Cutoff: cutoff, ScoreBins: bins, InvalidByFeature: sc.InvalidByFeature,
	}
	acc := make([]*groupAcc, len(labels))
	for g := range acc {
		acc[g] = newGroupAcc(m, len(bins)-1)
	}
	all := newGroupAcc(m, len(bins)-1)
	for i := range t.Rows() {
		if cfg.Rows != nil && !cfg.Rows[i] {
			continue
		}
		var y float64
		labelled := false
		if tg != nil {
			y, labelled = tg.At(i)
		}
		g := acc[groupOf[i]]
		for _, a := range []*groupAcc{g, all} {
			a.add(sc, i, bins, cutoff, labelled, y)
		}
	}
	rep.Overall = all.stats("(all)", 0)
	var rates, means []float64
	for g, a := range acc {
		if a.rows == 0 {
			continue
		}
		st := a.stats(labels[g], cfg.MinGroupSize)
		rep.Groups = append(rep.Groups, st)
		if !st.Suppressed && st.Scored > 0 {
			rates = append(rates, st.ApprovalRate)
			means = append(means, st.MeanScore)
		}
	}
	if len(rates) >= 2 {
		lo, hi := slices.Min(rates), slices.Max(rates)
		rep.ApprovalGap = ptr(hi - lo)
		if hi > 0 {
			rep.ApprovalParity = ptr(lo / hi)
		}
		rep.MeanScoreGap = ptr(slices.Max(means) - slices.Min(means))
	}
	return rep, nil
}

// auditGroups returns the group labels and each row's group index.
func auditGroups(t *dataset.Table, cfg Config) ([]string, []int, error) {
	col, ok := t.Column(cfg.Group)
	if !ok {
		return nil, nil, fmt.Errorf("scoring: audit: group column %q: no such column in the data: %w: %w", cfg.Group, scoring.ErrColumn, dataset.ErrUnknownColumn)
	}
	n := t.Rows()
	groupOf := make([]int, n)
	index := make(map[string]int)
	var labels []string
	intern := func(label string) int {
		g, ok := index[label]
		if !ok {
			g = len(labels)
			index[label] = g
			labels = append(labels, label)
		}
		return g
	}
	if cfg.GroupBands != nil {
		if col.Kind != dataset.KindNumber {
			return nil, nil, fmt.Errorf("scoring: audit: group bands need a number column, %q is %s: %w", cfg.Group, col.Kind, scoring.ErrInvalidArgument)
		}
		b := cfg.GroupBands
		if len(b) == 0 || !slices.IsSorted(b) || len(slices.Compact(slices.Clone(b))) != len(b) || slices.ContainsFunc(b, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			return nil, nil, fmt.Errorf("scoring: audit: group bands %v are not strictly ascending finite numbers: %w", b, scoring.ErrInvalidArgument)
		}
		// Intern the bands in order, so the report lists them in order.
		f := dataset.FormatNumber
		intern("<" + f(b[0]))
		for k := 1; k < len(b); k++ {
			intern("[" + f(b[k-1]) + "," + f(b[k]) + ")")
		}
		intern("≥" + f(b[len(b)-1]))
		missing := intern(MissingGroup)
		for i, v := range col.Numbers {
			if math.IsNaN(v) {
				groupOf[i] = missing
				continue
			}
			k := 0
			for k < len(b) && v >= b[k] {
				k++
			}
			groupOf[i] = k
		}
		return labels, groupOf, nil
	}
	for i := range n {
		label := col.String(i)
		if col.IsMissing(i) {
			label = MissingGroup
		}
		groupOf[i] = intern(label)
		if len(labels) > MaxGroups {
			return nil, nil, fmt.Errorf("scoring: audit: group column %q has more than %d distinct values; give group bands: %w", cfg.Group, MaxGroups, scoring.ErrInvalidArgument)
		}
	}
	// Sort labels (numerically for numbers), with missing last.
	perm := make([]int, len(labels))
	for g := range perm {
		perm[g] = g
	}
	num := func(g int) float64 {
		v, err := strconv.ParseFloat(labels[g], 64)
		if err != nil {
			return math.Inf(1)
		}
		return v
	}
	slices.SortFunc(perm, func(a, b int) int {
		la, lb := labels[a], labels[b]
		if (la == MissingGroup) != (lb == MissingGroup) {
			if la == MissingGroup {
				return 1
			}
			return -1
		}
		if col.Kind == dataset.KindNumber {
			if c := compareFloat(num(a), num(b)); c != 0 {
				return c
			}
		}
		return strings.Compare(la, lb)
	})
	rank := make([]int, len(labels))
	sorted := make([]string, len(labels))
	for r, g := range perm {
		rank[g] = r
		sorted[r] = labels[g]
	}
	for i, g := range groupOf {
		groupOf[i] = rank[g]
	}
	return sorted, groupOf, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type groupAcc struct {
	m                   *scoring.Model
	rows, scored        int
	sum, sumSq, probSum float64
	approved            int
	grades              []int
	hist                []int
	outside             int
	labels              []bool
	probs               []float64
	events              float64
}

func newGroupAcc(m *scoring.Model, nbins int) *groupAcc {
	return &groupAcc{m: m, grades: make([]int, len(m.Grades)), hist: make([]int, nbins)}
}

func (a *groupAcc) add(sc *scoring.Scores, i int, bins []float64, cutoff float64, labelled bool, y float64) {
	a.rows++
	s := sc.Score[i]
	if math.IsNaN(s) {
		return
	}
	a.scored++
	a.sum += s
	a.sumSq += s * s
	a.probSum += sc.Probability[i]
	if s >= cutoff {
		a.approved++
	}
	for k, g := range a.m.Grades {
		if s >= g.MinScore {
			a.grades[k]++
			break
		}
	}
	switch k := len(bins) - 1; {
	case s < bins[0] || s > bins[k]:
		a.outside++
	case s == bins[k]:
		a.hist[k-1]++
	default:
		j := 0
		for j+1 < k && s >= bins[j+1] {
			j++
		}
		a.hist[j]++
	}
	if labelled {
		a.labels = append(a.labels, y == 1)
		a.probs = append(a.probs, sc.Probability[i])
		a.events += y
	}
}

func (a *groupAcc) stats(label string, minSize int) GroupStats {
	st := GroupStats{Group: label, Rows: a.rows, Scored: a.scored, Invalid: a.rows - a.scored}
	if minSize > 0 && a.scored < minSize {
		return GroupStats{Group: label, Rows: a.rows, Suppressed: true}
	}
	st.Histogram = a.hist
	st.OutsideBins = a.outside
	st.Grades = make([]GradeShare, len(a.m.Grades))
	for k, g := range a.m.Grades {
		st.Grades[k] = GradeShare{Grade: g.Grade, Count: a.grades[k]}
	}
	if a.scored == 0 {
		return st
	}
	n := float64(a.scored)
	st.MeanScore = a.sum / n
	st.StdScore = math.Sqrt(max(a.sumSq/n-st.MeanScore*st.MeanScore, 0))
	st.MeanProbability = a.probSum / n
	st.ApprovalRate = float64(a.approved) / n
	for k := range st.Grades {
		st.Grades[k].Share = float64(st.Grades[k].Count) / n
	}
	if len(a.labels) > 0 {
		st.Labelled = len(a.labels)
		rate := a.events / float64(len(a.labels))
		st.EventRate = &rate
		if auc := fit.AUC(a.labels, a.probs); !math.IsNaN(auc) {
			st.AUC = &auc
		}
	}
	return st
}

// WriteText writes the report as a table for reviewers.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s %s (sha256 %s)\n", r.Model, r.Version, r.Digest)
	if len(r.ProtectedInputs) > 0 {
		fmt.Fprintf(&b, "protected inputs used directly: %s\n", strings.Join(r.ProtectedInputs, ", "))
	} else {
		b.WriteString("protected inputs used directly: none\n")
	}
	fmt.Fprintf(&b, "groups by %s; approval at score >= %s\n\n", r.Group, dataset.FormatNumber(r.Cutoff))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "group\trows\tscored\tinvalid\tmean score\tstd\tmean P(event)\tapproval"
	for _, g := range r.Overall.Grades {
		head += "\t" + g.Grade
	}
	head += "\tevent rate\tAUC\t\n"
	tw.Write([]byte(head))
	opt := func(p *float64, format string, mul float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf(format, mul**p)
	}
	row := func(g GroupStats) {
		if g.Suppressed {
			fmt.Fprintf(tw, "%s\t%d\t(suppressed: fewer than the minimum group size)\t\n", g.Group, g.Rows)
			return
		}
		line := fmt.Sprintf("%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.4f\t%.1f%%", g.Group, g.Rows, g.Scored, g.Invalid, g.MeanScore, g.StdScore, g.MeanProbability, 100*g.ApprovalRate)
		for _, s := range g.Grades {
			line += fmt.Sprintf("\t%.1f%%", 100*s.Share)
		}
		line += "\t" + opt(g.EventRate, "%.1f%%", 100) + "\t" + opt(g.AUC, "%.3f", 1) + "\t\n"
		tw.Write([]byte(line))
	}
	for _, g := range r.Groups {
		row(g)
	}
	row(r.Overall)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\napproval parity (lowest/highest rate) %s, approval gap %s points, mean score gap %s\n",
		opt(r.ApprovalParity, "%.3f", 1), opt(r.ApprovalGap, "%.1f", 100), opt(r.MeanScoreGap, "%.1f", 1))
	if r.ApprovalParity != nil && *r.ApprovalParity < 0.8 {
		b.WriteString("approval parity is below 0.8 (the four-fifths rule): review the model\n")
	}
	for _, c := range r.InvalidByFeature {
		if c.Total() > 0 {
			fmt.Fprintf(&b, "invalid: %s\n", c.String())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ptr(v float64) *float64 { return &v }
