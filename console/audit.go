package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node"
)

// auditLogFile is a node's audit log in its state directory.
const auditLogFile = "audit.log"

// auditView is a verified (or not) audit log and its entries.
type auditView struct {
	Source string `json:"source"`
	OK     bool   `json:"ok"`
	// Error, Line, Seq and Problem name the first bad record.
	Error   string `json:"error,omitempty"`
	Line    int    `json:"line,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Problem string `json:"problem,omitempty"`
	Kind    string `json:"kind,omitempty"`

	Entries            int    `json:"entries"`
	Checkpoints        int    `json:"checkpoints"`
	LastSeq            uint64 `json:"last_seq"`
	SignaturesVerified bool   `json:"signatures_verified"`
	Signer             string `json:"signer,omitempty"`
	AfterCheckpoint    int    `json:"entries_after_checkpoint"`
	// Archive reports that the node's query archive was given, so that
	// entries carry their purpose and querier.
	Archive bool         `json:"archive"`
	Records []auditEntry `json:"records"`
}

type auditEntry struct {
	audit.Entry
	Purpose string `json:"purpose,omitempty"`
	Querier string `json:"querier,omitempty"`
}

var verifyKinds = []struct {
	err  error
	name string
}{
	{audit.ErrEdited, "edited"}, {audit.ErrDeleted, "deleted"}, {audit.ErrReordered, "reordered"},
	{audit.ErrTruncated, "truncated"}, {audit.ErrTorn, "torn"}, {audit.ErrBadSignature, "bad_signature"}, {audit.ErrMalformed, "malformed"},
}

// verifyLog verifies a log against the federation CA and lists its
// entries, joined with the query archive when there is one.
func (s *Server) verifyLog(source string, log, archive []byte) auditView {
	v := auditView{Source: source, Records: []auditEntry{}}
	rep, err := audit.Verify(bytes.NewReader(log), audit.VerifyOptions{Roots: s.cfg.AuditRoots})
	v.Entries, v.Checkpoints, v.LastSeq = rep.Entries, rep.Checkpoints, rep.LastSeq
	v.SignaturesVerified, v.Signer, v.AfterCheckpoint = rep.SignaturesVerified, rep.Signer, rep.EntriesAfterCheckpoint
	v.OK = err == nil
	if err != nil {
		v.Error = err.Error()
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			v.Line, v.Seq, v.Problem = ve.Line, ve.Seq, ve.Problem
		}
		for _, k := range verifyKinds {
			if errors.Is(err, k.err) {
				v.Kind = k.name
				break
			}
		}
	}
	queries := archiveIndex(archive)
	v.Archive = archive != nil
	entries, _ := audit.Filter(bytes.NewReader(log), audit.FilterOptions{})
	for _, e := range entries {
		ae := auditEntry{Entry: e}
		if q, ok := queries[e.QueryID]; ok {
			ae.Purpose, ae.Querier = q.purpose, q.querier
		}
		v.Records = append(v.Records, ae)
	}
	return v
}

type archived struct{ purpose, querier string }

// archiveIndex maps query ids to the purpose and querier a node archived.
func archiveIndex(archive []byte) map[string]archived {
	out := map[string]archived{}
	sc := bufio.NewScanner(bytes.NewReader(archive))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rec node.QueryRecord
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		var spec struct {
			Purpose string `json:"purpose"`
		}
		json.Unmarshal(rec.Spec, &spec)
		out[rec.QueryID] = archived{purpose: spec.Purpose, querier: rec.Querier}
	}
	return out
}

func (s *Server) handleAuditUpload(w http.ResponseWriter, r *http.Request) {
	log, name, ok := s.upload(w, r, "log")
	if !ok {
		return
	}
	var archive []byte
	if _, _, err := r.FormFile("archive"); !errors.Is(err, http.ErrMissingFile) {
		if archive, _, ok = s.upload(w, r, "archive"); !ok {
			return
		}
	}
	writeJSON(w, http.StatusOK, s.verifyLog(name, log, archive))
}

func (s *Server) node(w http.ResponseWriter, name string) *Node {
	for i := range s.cfg.Nodes {
		if s.cfg.Nodes[i].Name == name {
			return &s.cfg.Nodes[i]
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no node %q", name))
	return nil
}

func (s *Server) handleAuditNodes(w http.ResponseWriter, r *http.Request) {
	names := []string{}
	for _, n := range s.cfg.Nodes {
		names = append(names, n.Name)
	}
	writeJSON(w, http.StatusOK, names)
}

func (s *Server) handleAuditNode(w http.ResponseWriter, r *http.Request) {
	n := s.node(w, r.PathValue("name"))
	if n == nil {
		return
	}
	log, err := os.ReadFile(filepath.Join(n.StateDir, auditLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		log, err = nil, nil
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	archive, _ := os.ReadFile(filepath.Join(n.StateDir, node.QueryArchiveFile))
	if archive == nil {
		archive = []byte{}
	}
	writeJSON(w, http.StatusOK, s.verifyLog(n.Name+"/"+auditLogFile, log, archive))
}

// subjectRequest asks which queries used one data subject's record at a
// node the console can read.
type subjectRequest struct {
	Node     string `json:"node"`
	ID       string `json:"id"`
	IDColumn string `json:"id_column,omitempty"`
	Since    string `json:"since,omitempty"` // YYYY-MM-DD
	Until    string `json:"until,omitempty"`
}

type subjectUse struct {
	Time           time.Time `json:"time"`
	QueryID        string    `json:"query_id"`
	Querier        string    `json:"querier"`
	BundleRevision string    `json:"bundle_revision"`
	Purpose        string    `json:"purpose"`
	Used           bool      `json:"used"`
	Cell           string    `json:"cell,omitempty"`
	Reason         string    `json:"reason,omitempty"`
}

// handleSubject answers from a node's own archive and records: JSON for a
// node the console reads, or a multipart upload of the archive and the
// records (CSV) with the id.
func (s *Server) handleSubject(w http.ResponseWriter, r *http.Request) {
	var req subjectRequest
	var archivePath string
	var table *dataset.Table
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		archive, _, ok := s.upload(w, r, "archive")
		if !ok {
			return
		}
		data, name, ok := s.upload(w, r, "data")
		if !ok {
			return
		}
		t, err := dataset.ReadCSV(bytes.NewReader(data), dataset.CSVOptions{})
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%s: %v", name, err))
			return
		}
		dir, err := os.MkdirTemp("", "fedscore-console-")
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		defer os.RemoveAll(dir)
		archivePath = filepath.Join(dir, node.QueryArchiveFile)
		if err := os.WriteFile(archivePath, archive, 0o600); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		table = t
		req = subjectRequest{ID: r.FormValue("id"), IDColumn: r.FormValue("id_column"), Since: r.FormValue("since"), Until: r.FormValue("until")}
	} else {
		if !readJSON(w, r, &req) {
			return
		}
		n := s.node(w, req.Node)
		if n == nil {
			return
		}
		if n.Data == nil {
			writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("the console does not hold node %s's records", n.Name))
			return
		}
		archivePath, table = filepath.Join(n.StateDir, node.QueryArchiveFile), n.Data
	}
	if req.IDColumn == "" {
		req.IDColumn = "customer_id"
	}
	var from, to time.Time
	var err error
	if from, err = parseDay(req.Since); err == nil {
		to, err = parseDay(req.Until)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1) // the whole last day
	}
	col, ok := table.Column(req.IDColumn)
	if !ok || col.Kind != dataset.KindCategory {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("no identifier column %q", req.IDColumn))
		return
	}
	row := -1
	if code := col.Code(req.ID); code >= 0 {
		row = slices.Index(col.Codes, code)
	}
	if row < 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no record with %s %q", req.IDColumn, req.ID))
		return
	}
	uses, err := node.SubjectQueries(r.Context(), archivePath, table, row, from, to)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	out := []subjectUse{}
	for _, u := range uses {
		var spec struct {
			Purpose string `json:"purpose"`
		}
		json.Unmarshal(u.Query.Spec, &spec)
		out = append(out, subjectUse{Time: u.Query.Time, QueryID: u.Query.QueryID, Querier: u.Query.Querier, BundleRevision: u.Query.BundleRevision,
			Purpose: spec.Purpose, Used: u.Used, Cell: u.Cell, Reason: u.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}

func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

func isTooBig(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig) || strings.Contains(fmt.Sprint(err), "request body too large")
}
