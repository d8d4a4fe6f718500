package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// HighWaterFile is the name of a node's bundle high-water mark in its
// state directory.
const HighWaterFile = "policy-high-water.json"

// highWaterVersion is the version of the high-water mark file format.
const highWaterVersion = 1

// HighWaterMark is the newest policy bundle a node has run.
type HighWaterMark struct {
	Sequence uint64 `json:"sequence"`
	// Digest is the bundle's digest ([BundleInfo.Digest]).
	Digest   string `json:"digest"`
	Revision string `json:"revision"`
	// Time is when the node recorded the mark.
	Time time.Time `json:"time"`
}

// markFile is the file's form.
type markFile struct {
	Version int `json:"version"`
	HighWaterMark
}

// SequenceStore keeps a node's bundle high-water mark in a JSON file,
// replaced atomically and synced to disk whenever the mark moves, so that
// a node restarted from its state directory refuses what it refused
// before. A missing file means the node has run no bundle yet; an
// unreadable one is an error that names the file, never a fresh start.
// Only one engine may use a store.
type SequenceStore struct {
	path string

	mu   sync.Mutex
	mark HighWaterMark // Sequence 0: none yet
}

// OpenSequenceStore reads the high-water mark at path, conventionally
// [HighWaterFile] in the node's state directory.
func OpenSequenceStore(path string) (*SequenceStore, error) {
	s := &SequenceStore{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy: bundle high-water mark: %w", err)
	}
	if s.mark, err = decodeMark(data); err != nil {
		return nil, fmt.Errorf("policy: bundle high-water mark %s is unreadable: %w; "+
			"it records the newest policy bundle this node ran and is never reset automatically: restore it from a backup", path, err)
	}
	return s, nil
}

func decodeMark(data []byte) (HighWaterMark, error) {
	if len(data) == 0 {
		return HighWaterMark{}, errors.New("the file is empty")
	}
	var f markFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return HighWaterMark{}, err
	}
	if dec.More() {
		return HighWaterMark{}, errors.New("data after the mark")
	}
	m := f.HighWaterMark
	switch {
	case f.Version != highWaterVersion:
		return m, fmt.Errorf("version %d, want %d", f.Version, highWaterVersion)
	case m.Sequence == 0 || m.Sequence > maxSequence:
		return m, fmt.Errorf("sequence %d is not in [1, 2^53]", m.Sequence)
	case !isHexDigest(m.Digest):
		return m, fmt.Errorf("digest %q is not a hex SHA-256", m.Digest)
	case m.Revision == "":
		return m, errors.New("no revision")
	case m.Time.IsZero():
		return m, errors.New("no time")
	}
	return m, nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Path is the file the store keeps the mark in.
func (s *SequenceStore) Path() string { return s.path }

// Mark returns the high-water mark, and false if the node has run no
// bundle yet.
func (s *SequenceStore) Mark() (HighWaterMark, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mark, s.mark.Sequence > 0
}

// Check reports an [ErrRollback] error unless the bundle info describes
// moves the mark forward or is the marked bundle itself: what an engine
// checks before activating it, for operators and regulators asking
// whether a node would take a bundle.
func (s *SequenceStore) Check(info *BundleInfo) error {
	_, err := s.admits(info, nil)
	return err
}

// admits reports whether the bundle info describes may be activated: its
// sequence is above the mark, or it is the marked bundle itself. Anything
// else is an ErrRollback error unless override allows exactly this
// sequence, in which case rollback is true. An override naming another
// sequence than the bundle's is an error in every case.
func (s *SequenceStore) admits(info *BundleInfo, override *RollbackOverride) (rollback bool, err error) {
	if override != nil && override.Sequence != info.Sequence {
		return false, fmt.Errorf("%w: the rollback override allows sequence %d, but bundle revision %s has sequence %d; remove the override",
			ErrBundle, override.Sequence, info.Manifest.Revision, info.Sequence)
	}
	m, ok := s.Mark()
	switch {
	case !ok || info.Sequence > m.Sequence:
		return false, nil
	case info.Sequence == m.Sequence && info.Digest == m.Digest:
		return false, nil
	case override != nil:
		return true, nil
	case info.Sequence == m.Sequence:
		return false, fmt.Errorf("%w: revision %s has sequence %d, which this node already ran as another bundle (revision %s, digest %s; this one's is %s; recorded in %s)",
			ErrRollback, info.Manifest.Revision, info.Sequence, m.Revision, m.Digest, info.Digest, s.path)
	default:
		return false, fmt.Errorf("%w: revision %s has sequence %d, below %d (revision %s), the newest bundle this node ran (recorded in %s)",
			ErrRollback, info.Manifest.Revision, info.Sequence, m.Sequence, m.Revision, s.path)
	}
}

// advance records next as the mark, durably, if it moves the mark forward
// or, with rollback, anywhere. The marked bundle itself changes nothing.
func (s *SequenceStore) advance(next HighWaterMark, rollback bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !rollback && s.mark.Sequence > 0 && next.Sequence <= s.mark.Sequence {
		return nil
	}
	data, err := json.MarshalIndent(markFile{Version: highWaterVersion, HighWaterMark: next}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("policy: recording the bundle high-water mark in %s: %w", s.path, err)
	}
	s.mark = next
	return nil
}
