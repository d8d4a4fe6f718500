package console

import (
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/querier"
	"github.com/fedscore/fedscore/query"
)

// Job states.
const (
	stateRunning = "running"
	stateDone    = "done"
	stateRefused = "refused"
	stateFailed  = "failed"
)

// job is one query the analyst ran from this console.
type job struct {
	ID      string
	Created time.Time
	YAML    string
	Forced  bool
	spec    *query.Spec

	mu       sync.Mutex
	State    string
	members  []string
	attached []string
	events   []event
	answer   *querier.Answer
	expected *query.Result
	err      string
	refusal  *refusal
	finished time.Time
}

// event is one progress event of the coordinator.
type event struct {
	Ms    float64 `json:"ms"`
	Phase string  `json:"phase"`
	Node  string  `json:"node,omitempty"`
}

func (j *job) setMembers(members, attached []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.members, j.attached = members, attached
}

func (j *job) progress(phase, node string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, event{Ms: msSince(j.Created), Phase: phase, Node: node})
}

func (j *job) finish(ans *querier.Answer, expected *query.Result, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished = time.Now()
	j.answer, j.expected = ans, expected
	switch {
	case err == nil:
		j.State = stateDone
	default:
		j.err = status.Convert(err).Message()
		if rf := parseRefusal(j.err); rf != nil {
			j.State, j.refusal = stateRefused, rf
		} else {
			j.State = stateFailed
		}
	}
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// jobSummary is a line of the history.
type jobSummary struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Purpose  string    `json:"purpose"`
	State    string    `json:"state"`
	QueryID  string    `json:"query_id,omitempty"`
	Partners []string  `json:"partners,omitempty"`
	Receipts []receipt `json:"receipts,omitempty"`
	Error    string    `json:"error,omitempty"`
	Ms       float64   `json:"ms,omitempty"`
}

type receipt struct {
	Node           string `json:"node"`
	DecisionID     string `json:"decision_id"`
	BundleRevision string `json:"bundle_revision"`
}

func (j *job) summary() jobSummary {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.summaryLocked()
}

func (j *job) summaryLocked() jobSummary {
	s := jobSummary{ID: j.ID, Created: j.Created, Purpose: j.spec.Purpose, State: j.State, Error: j.err}
	if !j.finished.IsZero() {
		s.Ms = float64(j.finished.Sub(j.Created).Microseconds()) / 1000
	}
	if a := j.answer; a != nil {
		s.QueryID, s.Partners = a.QueryID, a.Partners
		for _, r := range a.Receipts {
			s.Receipts = append(s.Receipts, receipt{Node: r.Node, DecisionID: r.DecisionId, BundleRevision: r.BundleRevision})
		}
	}
	return s
}

// jobView is everything the result page shows.
type jobView struct {
	jobSummary
	YAML     string             `json:"yaml"`
	Forced   bool               `json:"forced"`
	Spec     json.RawMessage    `json:"spec"`
	Events   []event            `json:"events"`
	Partners []partnerProgress  `json:"partner_progress"`
	Refusal  *refusal           `json:"refusal,omitempty"`
	Result   *resultView        `json:"result,omitempty"`
	Timings  map[string]float64 `json:"timings_ms,omitempty"`
	// Plaintext is the sandbox's central check: "match" or "differs".
	Plaintext string `json:"plaintext,omitempty"`
}

// partnerProgress is how far one partner got.
type partnerProgress struct {
	Name     string             `json:"name"`
	Attached bool               `json:"attached"`
	Steps    map[string]float64 `json:"steps"` // phase -> ms
	Refused  bool               `json:"refused"`
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	canon, _ := j.spec.Canonical()
	v := jobView{jobSummary: j.summaryLocked(), YAML: j.YAML, Forced: j.Forced, Spec: canon, Events: slices.Clone(j.events), Refusal: j.refusal}
	if v.Events == nil {
		v.Events = []event{}
	}
	names := slices.Clone(j.members)
	for _, e := range j.events {
		if e.Node != "" && !slices.Contains(names, e.Node) {
			names = append(names, e.Node)
		}
	}
	if j.refusal != nil && !slices.Contains(names, j.refusal.Node) {
		names = append(names, j.refusal.Node)
	}
	for _, n := range names {
		p := partnerProgress{Name: n, Attached: slices.Contains(j.attached, n), Steps: map[string]float64{}}
		for _, e := range j.events {
			if e.Node == n {
				p.Steps[e.Phase] = e.Ms
			}
		}
		p.Refused = j.refusal != nil && j.refusal.Node == n
		v.Partners = append(v.Partners, p)
	}
	if a := j.answer; a != nil {
		v.Timings = a.TimingsMs
		v.Result = newResultView(j.spec, a)
		if j.expected != nil {
			v.Plaintext = "differs"
			if reflect.DeepEqual(j.expected, a.Result) {
				v.Plaintext = "match"
			}
		}
	}
	return v
}
