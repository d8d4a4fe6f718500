package fit

import (
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/scoring"
)

// Defaults of Config.
const (
	DefaultMaxIter   = 100
	DefaultTolerance = 1e-8
)

// Config says what [Fit] fits.
type Config struct {
	// Name, Version and Description label the model.
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`

	// Target is the label column; Positive and Negative as in [scoring.Model].
	Target   string `json:"target"`
	Positive string `json:"positive,omitempty"`
	Negative string `json:"negative,omitempty"`

	// Features are the inputs, in order.
	Features []FeatureSpec `json:"features"`

	// L2 is the ridge penalty: Fit minimises the mean log loss plus
	// L2/2·Σ weight² (the intercept is not penalised). Zero means none.
	L2 float64 `json:"l2,omitempty"`
	// MaxIter bounds the Newton iterations (default DefaultMaxIter).
	MaxIter int `json:"max_iter,omitempty"`
	// Tolerance stops the iterations once no parameter moves by more
	// (default DefaultTolerance).
	Tolerance float64 `json:"tolerance,omitempty"`

	// WeightColumn, if set, names a number column of non-negative sample
	// weights.
	WeightColumn string `json:"weight_column,omitempty"`

	// Rows selects the training rows (nil: all rows).
	Rows []bool `json:"-"`

	// Scale and Grades are copied into the model; zero values mean
	// scoring.DefaultScoreScale and scoring.DefaultGrades.
	Scale  scoring.ScoreScale `json:"scale"`
	Grades []scoring.GradeCut `json:"grades,omitempty"`
}

// A Report describes a fit.
type Report struct {
	// Rows counts the selected rows, Used those the model was fitted on;
	// the others are counted below, never dropped silently.
	Rows int `json:"rows"`
	Used int `json:"used"`
	// Events and NonEvents count the used rows by label.
	Events    int `json:"events"`
	NonEvents int `json:"non_events"`
	// InvalidTarget counts rows whose target is missing or neither value,
	// InvalidWeight rows with a missing or negative sample weight.
	InvalidTarget int `json:"invalid_target"`
	InvalidWeight int `json:"invalid_weight,omitempty"`
	// InvalidFeatures counts, per feature, the rows left out because of
	// its value; a row can count for several features.
	InvalidFeatures []scoring.InvalidCount `json:"invalid_features"`

	Iterations int  `json:"iterations"`
	Converged  bool `json:"converged"`
	// LogLoss is the final (weighted) mean log loss on the used rows,
	// Objective the minimised objective (log loss plus penalty).
	LogLoss   float64 `json:"log_loss"`
	Objective float64 `json:"objective"`
	// TrainAUC and TrainKS measure the fitted model on the used rows.
	TrainAUC float64 `json:"train_auc"`
	TrainKS  float64 `json:"train_ks"`
}

// Excluded returns the number of selected rows the fit left out.
func (r *Report) Excluded() int { return r.Rows - r.Used }

// Fit fits a logistic scorecard on the rows cfg.Rows selects: it computes
// the encodings from the data ([ComputeStats], [InitModel]) and then the
// weights by Newton's method (iteratively reweighted least squares) with
// an L2 penalty and step halving. It is meant for up to about a hundred
// features. Rows with an invalid target or feature value are left out
// and counted in the report.
func Fit(t *dataset.Table, cfg Config) (*scoring.Model, *Report, error) {
	maxIter := cfg.MaxIter
	if maxIter == 0 {
		maxIter = DefaultMaxIter
	}
	tol := cfg.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	switch {
	case maxIter < 0:
		return nil, nil, fmt.Errorf("scoring: fit: max_iter %d is negative: %w", cfg.MaxIter, scoring.ErrInvalidArgument)
	case !(tol > 0) || math.IsInf(tol, 0):
		return nil, nil, fmt.Errorf("scoring: fit: tolerance %v is not a positive number: %w", cfg.Tolerance, scoring.ErrInvalidArgument)
	case !(cfg.L2 >= 0) || math.IsInf(cfg.L2, 0):
		return nil, nil, fmt.Errorf("scoring: fit: l2 %v is not a non-negative number: %w", cfg.L2, scoring.ErrInvalidArgument)
	}
	st, err := ComputeStats(t, cfg)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Rows: st.Rows, Used: st.Used, InvalidTarget: st.InvalidTarget, InvalidWeight: st.InvalidWeight}
	for _, fs := range st.Features {
		rep.InvalidFeatures = append(rep.InvalidFeatures, fs.Invalid)
	}
	m, err := InitModel(cfg, st)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (%d of %d rows usable: %d invalid targets)", err, st.Used, st.Rows, st.InvalidTarget)
	}
	d, err := buildDesign(m, t, cfg.Rows, cfg.WeightColumn)
	if err != nil {
		return nil, nil, err
	}
	if d.n != st.Used {
		// The encodings come from the same rows, so this is not expected.
		return nil, nil, fmt.Errorf("scoring: fit: %d rows encoded, %d usable: %w", d.n, st.Used, ErrFit)
	}
	for _, y := range d.y {
		if y == 1 {
			rep.Events++
		} else {
			rep.NonEvents++
		}
	}
	beta := m.Params()
	res, err := newton(d, beta, cfg.L2, maxIter, tol)
	if err != nil {
		return nil, nil, err
	}
	if err := m.SetParams(res.beta); err != nil {
		return nil, nil, fmt.Errorf("scoring: fit diverged: %w: %w", err, ErrFit)
	}
	rep.Iterations, rep.Converged = res.iter, res.converged
	rep.LogLoss, rep.Objective = res.loss, res.objective
	labels := make([]bool, d.n)
	for i, y := range d.y {
		labels[i] = y == 1
	}
	rep.TrainAUC = AUC(labels, res.eta)
	rep.TrainKS = KS(labels, res.eta)
	m.ProtectedInputs = scoring.ProtectedInputs(m, nil)
	return m, rep, nil
}

// design is the encoded training data: row-major x with a leading 1.
type design struct {
	n, p int
	x    []float64
	y    []float64
	w    []float64 // nil: unit weights
	wsum float64
}

func buildDesign(m *scoring.Model, t *dataset.Table, rows []bool, weightColumn string) (*design, error) {
	s, err := scoring.Compile(m, t)
	if err != nil {
		return nil, err
	}
	tg, err := scoring.BindLabels(m.Target, m.Positive, m.Negative, t)
	if err != nil {
		return nil, err
	}
	weights, err := sampleWeights(weightColumn, t)
	if err != nil {
		return nil, err
	}
	p := len(m.Features) + 1
	d := &design{p: p}
	xi := make([]float64, p)
	xi[0] = 1
	for i := range t.Rows() {
		if rows != nil && !rows[i] {
			continue
		}
		y, ok := tg.At(i)
		if !ok {
			continue
		}
		wi := 1.0
		if weights != nil {
			wi = weights[i]
			if !(wi >= 0) || math.IsInf(wi, 0) {
				continue
			}
		}
		if !s.Encode(i, xi[1:], nil) {
			continue
		}
		d.x = append(d.x, xi...)
		d.y = append(d.y, y)
		if weights != nil {
			d.w = append(d.w, wi)
		}
		d.wsum += wi
		d.n++
	}
	if d.n == 0 || !(d.wsum > 0) {
		return nil, fmt.Errorf("scoring: fit: no usable rows: %w", ErrFit)
	}
	return d, nil
}

// logLoss1p returns log(1+e^η) − y·η, stably.
func logLoss(eta, y float64) float64 {
	var l float64
	if eta > 0 {
		l = eta + math.Log1p(math.Exp(-eta))
	} else {
		l = math.Log1p(math.Exp(eta))
	}
	return l - y*eta
}

type newtonResult struct {
	beta            []float64
	eta             []float64
	iter            int
	converged       bool
	loss, objective float64
}

// objective returns the mean log loss and the penalised objective at
// beta, filling eta.
func (d *design) objective(beta []float64, l2 float64, eta []float64) (loss, obj float64) {
	p := d.p
	for i := range d.n {
		row := d.x[i*p : i*p+p]
		var e float64
		for j, x := range row {
			e += beta[j] * x
		}
		eta[i] = e
		l := logLoss(e, d.y[i])
		if d.w != nil {
			l *= d.w[i]
		}
		loss += l
	}
	loss /= d.wsum
	var pen float64
	for _, b := range beta[1:] {
		pen += b * b
	}
	return loss, loss + 0.5*l2*pen
}

func newton(d *design, beta []float64, l2 float64, maxIter int, tol float64) (*newtonResult, error) {
	p := d.p
	beta = slices.Clone(beta)
	eta := make([]float64, d.n)
	loss, obj := d.objective(beta, l2, eta)
	g := make([]float64, p)
	h := make([]float64, p*p)
	step := make([]float64, p)
	trial := make([]float64, p)
	trialEta := make([]float64, d.n)
	res := &newtonResult{}
	for res.iter < maxIter {
		res.iter++
		clear(g)
		clear(h)
		for i := range d.n {
			row := d.x[i*p : i*p+p]
			mu := scoring.Probability(eta[i])
			r := mu - d.y[i]
			v := mu * (1 - mu)
			if d.w != nil {
				r *= d.w[i]
				v *= d.w[i]
			}
			for a, xa := range row {
				g[a] += r * xa
				va := v * xa
				ha := h[a*p : a*p+a+1]
				for b := range ha {
					ha[b] += va * row[b]
				}
			}
		}
		inv := 1 / d.wsum
		for a := range p {
			g[a] *= inv
			for b := 0; b <= a; b++ {
				h[a*p+b] *= inv
			}
			if a > 0 {
				g[a] += l2 * beta[a]
				h[a*p+a] += l2
			}
		}
		copy(step, g)
		if !choleskySolve(h, step, p) {
			return nil, fmt.Errorf("scoring: fit: the Hessian is singular (collinear or constant features); raise l2: %w", ErrFit)
		}
		// Step halving until the objective decreases.
		t := 1.0
		var tLoss, tObj float64
		improved := false
		for range 40 {
			for a := range p {
				trial[a] = beta[a] - t*step[a]
			}
			tLoss, tObj = d.objective(trial, l2, trialEta)
			if tObj <= obj {
				improved = true
				break
			}
			t /= 2
		}
		if !improved {
			res.converged = true // no descent left at floating-point precision
			break
		}
		var moved float64
		for a := range p {
			moved = max(moved, math.Abs(trial[a]-beta[a]))
		}
		beta, trial = trial, beta
		eta, trialEta = trialEta, eta
		loss, obj = tLoss, tObj
		if moved < tol {
			res.converged = true
			break
		}
	}
	for _, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, fmt.Errorf("scoring: fit diverged (parameter %v); raise l2: %w", b, ErrFit)
		}
	}
	res.beta, res.eta, res.loss, res.objective = beta, eta, loss, obj
	return res, nil
}

// choleskySolve solves H·x = b in place (x overwrites b) for the
// symmetric positive definite p×p matrix whose lower triangle h holds,
// destroying h. It reports false when H is not positive definite.
func choleskySolve(h, b []float64, p int) bool {
	for j := range p {
		s := h[j*p+j]
		for k := range j {
			s -= h[j*p+k] * h[j*p+k]
		}
		if !(s > 0) {
			return false
		}
		l := math.Sqrt(s)
		h[j*p+j] = l
		for i := j + 1; i < p; i++ {
			s := h[i*p+j]
			for k := range j {
				s -= h[i*p+k] * h[j*p+k]
			}
			h[i*p+j] = s / l
		}
	}
	for i := range p {
		s := b[i]
		for k := range i {
			s -= h[i*p+k] * b[k]
		}
		b[i] = s / h[i*p+i]
	}
	for i := p - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < p; k++ {
			s -= h[k*p+i] * b[k]
		}
		b[i] = s / h[i*p+i]
	}
	return true
}
