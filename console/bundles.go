package console

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/policy/review"
)

// maxBundles bounds the bundles a console keeps open.
const maxBundles = 32

// openedBundle is a bundle the regulator opened.
type openedBundle struct {
	ID     string
	Label  string
	Source string // current, builtin or upload
	Opened time.Time
	// Verified reports that the signature verified under one of the
	// configured keys; VerifyError says why not.
	Verified    bool
	VerifyError string
	fsys        fs.FS
	review      *review.Bundle
}

type bundleStore struct {
	keys []policy.VerificationKey

	mu   sync.Mutex
	list []*openedBundle
	seq  int
}

// newBundleStore opens the bundle built into fedscore and the federation's
// current one, if there is a path.
func newBundleStore(path string, keys []policy.VerificationKey) (*bundleStore, error) {
	st := &bundleStore{keys: keys}
	if path != "" {
		tarball, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("console: current bundle: %w", err)
		}
		b, err := st.open(tarball, "current", "the federation's current bundle")
		if err != nil {
			return nil, fmt.Errorf("console: current bundle %s: %w", path, err)
		}
		st.add(b)
	}
	rb, err := review.Read(policy.DefaultBundle())
	if err != nil {
		return nil, err
	}
	st.add(&openedBundle{Label: "the bundle built into fedscore (unsigned source)", Source: "builtin", Opened: time.Now(),
		VerifyError: "the built-in source is not signed; nodes run a signed copy", fsys: policy.DefaultBundle(), review: rb})
	return st, nil
}

// open reads and verifies a tarball.
func (st *bundleStore) open(tarball []byte, source, label string) (*openedBundle, error) {
	fsys, err := policy.OpenBundleTarball(tarball)
	if err != nil {
		return nil, err
	}
	rb, err := review.Read(fsys)
	if err != nil {
		return nil, err
	}
	b := &openedBundle{Label: label, Source: source, Opened: time.Now(), fsys: fsys, review: rb}
	switch {
	case len(st.keys) == 0:
		b.VerifyError = "no regulator key configured: the signature was not checked"
	default:
		if _, err := policy.VerifyBundle(tarball, st.keys...); err != nil {
			b.VerifyError = err.Error()
		} else {
			b.Verified = true
		}
	}
	return b, nil
}

func (st *bundleStore) add(b *openedBundle) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	if b.ID == "" {
		b.ID = b.Source
		if b.Source == "upload" {
			b.ID = fmt.Sprintf("upload-%d", st.seq)
		}
	}
	st.list = append(st.list, b)
	if len(st.list) > maxBundles {
		// Keep the current and built-in bundles; drop the oldest upload.
		for i, x := range st.list {
			if x.Source == "upload" {
				st.list = append(st.list[:i], st.list[i+1:]...)
				break
			}
		}
	}
}

func (st *bundleStore) get(id string) *openedBundle {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, b := range st.list {
		if b.ID == id {
			return b
		}
	}
	return nil
}

// current is the federation's bundle, or the built-in one without it.
func (st *bundleStore) current() *openedBundle {
	if b := st.get("current"); b != nil {
		return b
	}
	return st.get("builtin")
}

type bundleSummary struct {
	ID          string    `json:"id"`
	Label       string    `json:"label"`
	Source      string    `json:"source"`
	Revision    string    `json:"revision"`
	Signed      bool      `json:"signed"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error,omitempty"`
	KeyID       string    `json:"key_id,omitempty"`
	Digest      string    `json:"digest"`
	Opened      time.Time `json:"opened"`
}

func (b *openedBundle) summary() bundleSummary {
	i := b.review.Info
	return bundleSummary{ID: b.ID, Label: b.Label, Source: b.Source, Revision: i.Manifest.Revision, Signed: i.Signed,
		Verified: b.Verified, VerifyError: b.VerifyError, KeyID: i.KeyID, Digest: i.Digest, Opened: b.Opened}
}

func (s *Server) handleBundles(w http.ResponseWriter, r *http.Request) {
	s.bundles.mu.Lock()
	out := make([]bundleSummary, len(s.bundles.list))
	for i, b := range s.bundles.list {
		out[i] = b.summary()
	}
	s.bundles.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleOpenBundle(w http.ResponseWriter, r *http.Request) {
	data, name, ok := s.upload(w, r, "bundle")
	if !ok {
		return
	}
	b, err := s.bundles.open(data, "upload", name)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%s: %v", name, err))
		return
	}
	s.bundles.add(b)
	writeJSON(w, http.StatusCreated, b.summary())
}

// bundleView is a bundle laid out for the regulator.
type bundleView struct {
	bundleSummary
	Manifest any                 `json:"manifest"`
	Files    []policy.BundleFile `json:"files"`
	Rules    []review.Rule       `json:"rules"`
	Data     map[string]any      `json:"data"`
	Catalog  *catalog.Catalog    `json:"catalog"`
}

func (s *Server) bundle(w http.ResponseWriter, id string) *openedBundle {
	b := s.bundles.get(id)
	if b == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no open bundle %q", id))
	}
	return b
}

func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request) {
	b := s.bundle(w, r.PathValue("id"))
	if b == nil {
		return
	}
	writeJSON(w, http.StatusOK, bundleView{
		bundleSummary: b.summary(), Manifest: b.review.Info.Manifest, Files: b.review.Info.Files,
		Rules: b.review.Rules, Data: b.review.Data, Catalog: catalog.Build(b.review, s.cfg.Schema),
	})
}

type testResult struct {
	Package string  `json:"package"`
	Name    string  `json:"name"`
	Pass    bool    `json:"pass"`
	Skip    bool    `json:"skip"`
	Error   string  `json:"error,omitempty"`
	Ms      float64 `json:"ms"`
}

func (s *Server) handleBundleTest(w http.ResponseWriter, r *http.Request) {
	b := s.bundle(w, r.PathValue("id"))
	if b == nil {
		return
	}
	results, err := policy.BundleTests(r.Context(), b.fsys)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	out := struct {
		Passed  int          `json:"passed"`
		Failed  int          `json:"failed"`
		Skipped int          `json:"skipped"`
		Results []testResult `json:"results"`
	}{Results: []testResult{}}
	for _, t := range results {
		tr := testResult{Package: t.Package, Name: t.Name, Pass: t.Pass, Skip: t.Skip, Ms: float64(t.Duration.Microseconds()) / 1000}
		if t.Err != nil {
			tr.Error = t.Err.Error()
		}
		switch {
		case t.Skip:
			out.Skipped++
		case t.Pass:
			out.Passed++
		default:
			out.Failed++
		}
		out.Results = append(out.Results, tr)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	from := s.bundle(w, r.URL.Query().Get("from"))
	if from == nil {
		return
	}
	to := s.bundle(w, r.URL.Query().Get("to"))
	if to == nil {
		return
	}
	writeJSON(w, http.StatusOK, review.Compare(from.review, to.review))
}

// upload reads the multipart file field, within the size limit.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, field string) ([]byte, string, bool) {
	f, hdr, err := r.FormFile(field)
	if err != nil {
		s.uploadError(w, err, field)
		return nil, "", false
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		s.uploadError(w, err, field)
		return nil, "", false
	}
	return data, hdr.Filename, true
}

func (s *Server) uploadError(w http.ResponseWriter, err error, field string) {
	if isTooBig(err) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload larger than %d bytes", s.cfg.MaxUpload))
		return
	}
	writeError(w, http.StatusBadRequest, fmt.Sprintf("file %q: %v", field, err))
}
