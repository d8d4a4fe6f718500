package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/query"
)

// maxJobs bounds the history kept in memory.
const maxJobs = 200

// problem is one field problem of a spec.
type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Kind is "invalid" (the spec itself), "schema" (the published
	// schema) or "refused" (the policy would refuse it).
	Kind string `json:"kind"`
}

func problemsOf(err error) []problem {
	var ve *query.ValidationError
	if !errors.As(err, &ve) {
		return []problem{{Field: "", Message: err.Error(), Kind: "invalid"}}
	}
	out := make([]problem, len(ve.Problems))
	for i, p := range ve.Problems {
		kind := "invalid"
		switch {
		case errors.Is(p, catalog.ErrRefused):
			kind = "refused"
		case errors.Is(p, query.ErrColumnMismatch):
			kind = "schema"
		}
		out[i] = problem{Field: p.Field, Message: p.Msg, Kind: kind}
	}
	return out
}

type catalogResponse struct {
	*catalog.Catalog
	DefaultSpec string `json:"default_spec"`
}

func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, catalogResponse{Catalog: s.catalog, DefaultSpec: string(s.cfg.DefaultSpec)})
}

// specRequest carries a spec as text (a loaded file) or as the builder's
// JSON object.
type specRequest struct {
	Text string         `json:"text,omitempty"`
	Spec map[string]any `json:"spec,omitempty"`
	// Force submits a spec the catalogue says the policy would refuse,
	// to let the partners decide.
	Force bool `json:"force,omitempty"`
}

// checked is a spec with what the analyst sees before signing.
type checked struct {
	OK       bool      `json:"ok"`
	Spec     any       `json:"spec,omitempty"`
	YAML     string    `json:"yaml,omitempty"`
	Problems []problem `json:"problems"`
	Cells    int       `json:"cells,omitempty"`
	spec     *query.Spec
	invalid  bool // a problem of the spec itself, not only the catalogue
}

func (s *Server) check(req specRequest) checked {
	raw := []byte(req.Text)
	if req.Spec != nil {
		var err error
		if raw, err = json.Marshal(req.Spec); err != nil {
			return checked{Problems: []problem{{Message: err.Error(), Kind: "invalid"}}, invalid: true}
		}
	}
	spec, err := query.Parse(raw)
	if err != nil {
		return checked{Problems: []problem{{Message: err.Error(), Kind: "invalid"}}, invalid: true}
	}
	c := checked{spec: spec, Problems: []problem{}}
	if y, err := specYAML(spec); err == nil {
		c.YAML = y
	}
	if canon, err := spec.Canonical(); err == nil {
		c.Spec = json.RawMessage(canon)
	}
	if err := s.catalog.Check(spec); err != nil {
		c.Problems = problemsOf(err)
	}
	for _, p := range c.Problems {
		if p.Kind == "invalid" {
			c.invalid = true
		}
	}
	c.OK = len(c.Problems) == 0
	if !c.invalid {
		c.Cells = spec.Layout().Cells
	}
	return c
}

func (s *Server) handleSpecCheck(w http.ResponseWriter, r *http.Request) {
	var req specRequest
	if !readJSON(w, r, &req) {
		return
	}
	writeJSON(w, http.StatusOK, s.check(req))
}

func (s *Server) handleRunQuery(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Querier == nil {
		writeError(w, http.StatusServiceUnavailable, "this console has no querier credential and cannot run queries")
		return
	}
	var req specRequest
	if !readJSON(w, r, &req) {
		return
	}
	c := s.check(req)
	if c.invalid || (!c.OK && !req.Force) {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "the spec has problems", Problems: c.Problems})
		return
	}
	j := &job{ID: newJobID(), Created: time.Now(), spec: c.spec, YAML: c.YAML, State: stateRunning, Forced: !c.OK}
	s.mu.Lock()
	s.jobs[j.ID] = j
	s.order = append(s.order, j.ID)
	for len(s.order) > maxJobs {
		delete(s.jobs, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	go s.run(j)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.ID})
}

// run runs a job's query; the querier bounds it with its own timeout.
func (s *Server) run(j *job) {
	ctx := context.Background()
	if s.cfg.Status != nil {
		if st, err := s.cfg.Status(ctx); err == nil {
			j.setMembers(st.Members, st.Attached)
		}
	}
	ans, err := s.cfg.Querier.Run(ctx, j.spec, j.progress)
	var expected *query.Result
	if err == nil && s.cfg.Expected != nil {
		if expected, err = s.cfg.Expected(ctx, j.spec); err != nil {
			s.log.Warn("plaintext check failed", "err", err)
			err = nil
		}
	}
	j.finish(ans, expected, err)
}

func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]jobSummary, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		out = append(out, s.jobs[s.order[i]].summary())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) *job {
	s.mu.Lock()
	j := s.jobs[r.PathValue("id")]
	s.mu.Unlock()
	if j == nil {
		writeError(w, http.StatusNotFound, "no such query in this console's history")
	}
	return j
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	if j := s.job(w, r); j != nil {
		writeJSON(w, http.StatusOK, j.view())
	}
}

// specYAML renders a spec as compact YAML: lists of numbers or names on
// one line, as people write them.
func specYAML(s *query.Spec) (string, error) {
	var n yaml.Node
	if err := n.Encode(s); err != nil {
		return "", err
	}
	flowLists(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

func flowLists(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1e15 {
			n.Value, n.Tag = strconv.FormatFloat(f, 'f', -1, 64), "!!int"
		}
	}
	if n.Kind == yaml.SequenceNode && !slices.ContainsFunc(n.Content, func(c *yaml.Node) bool { return c.Kind != yaml.ScalarNode }) {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		flowLists(c)
	}
}

func newJobID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
