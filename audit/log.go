package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fedscore/fedscore/pki"
)

// DefaultCheckpointEvery is how many entries a Log writes between
// checkpoints unless Options says otherwise.
const DefaultCheckpointEvery = 100

// Errors returned by a Log.
var (
	// ErrClosed reports use of a closed Log.
	ErrClosed = errors.New("audit: log closed")
	// ErrFailed reports a Log that stopped accepting entries after a
	// write failed; reopen it to continue.
	ErrFailed = errors.New("audit: log failed")
	// ErrNoSigner reports a checkpoint request on a Log without a signer.
	ErrNoSigner = errors.New("audit: no checkpoint signer configured")
	// ErrLocked reports a log file another Log (in this or another
	// process) has open.
	ErrLocked = errors.New("audit: log is in use")
)

// Options configures Open.
type Options struct {
	// Path is the log file; it and its directory are created (0600, 0700)
	// if missing.
	Path string
	// Signer is the node's ECDSA P-256 key that signs checkpoints; nil
	// means the log writes no checkpoints.
	Signer crypto.Signer
	// SignerCerts is the certificate chain of Signer (leaf first). It is
	// embedded in every checkpoint so a verifier holding only the CA can
	// check it. Optional, but without it verification needs the exact
	// node certificate.
	SignerCerts []*x509.Certificate
	// SignerID is the signer's identity; by default the identity in the
	// leaf of SignerCerts. Required with a Signer but no SignerCerts.
	SignerID string
	// CheckpointEvery is the number of entries between checkpoints:
	// 0 means DefaultCheckpointEvery, a negative value only on Checkpoint
	// and Close.
	CheckpointEvery int
	// RepairTornTail lets Open cut off a torn last line (left by a crash
	// during an append, whose Append therefore never succeeded) instead of
	// refusing the log. The cut is recorded in a KindRecovery entry with
	// the length and SHA-256 of the bytes removed.
	RepairTornTail bool
}

// A Log appends records to a node's audit log file. It is safe for
// concurrent use; appends are serialised and each is on disk (fsync) before
// Append returns.
type Log struct {
	mu              sync.Mutex
	f               *os.File
	path            string
	every           int
	signer          crypto.Signer
	signerID        string
	certs           [][]byte
	seq             uint64
	head            string
	size            int64
	sinceCheckpoint int
	lastIsCP        bool
	lastCheckpoint  time.Time
	failed          error
	closed          bool
}

// Open opens the log at opts.Path, creating it if needed. It verifies the
// whole existing chain first and refuses to append to a log that does not
// verify (a torn last line may be repaired, see Options.RepairTornTail). It
// takes an exclusive lock on the file, so two Logs never interleave.
func Open(opts Options) (*Log, error) {
	if opts.Path == "" {
		return nil, errors.New("audit: no log path")
	}
	l := &Log{path: opts.Path, every: opts.CheckpointEvery}
	if l.every == 0 {
		l.every = DefaultCheckpointEvery
	}
	if err := l.setSigner(opts.Signer, opts.SignerCerts, opts.SignerID); err != nil {
		return nil, err
	}
	dir := filepath.Dir(opts.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	_, statErr := os.Stat(opts.Path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrLocked, opts.Path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close() // also releases the lock
		}
	}()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	} else if fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	if created {
		syncDir(dir)
	}
	st, verr := verify(f, VerifyOptions{})
	repair := errors.Is(verr, ErrTorn) && opts.RepairTornTail
	if verr != nil && !repair {
		return nil, fmt.Errorf("audit: refusing to append to %s: %w", opts.Path, verr)
	}
	l.f = f
	l.seq, l.head, l.size = st.LastSeq, st.LastHash, st.goodBytes
	l.sinceCheckpoint, l.lastIsCP = st.EntriesAfterCheckpoint, st.lastIsCP
	l.lastCheckpoint = st.lastCheckpoint
	if repair {
		if err := f.Truncate(st.goodBytes); err != nil {
			return nil, fmt.Errorf("audit: cut torn line of %s: %w", opts.Path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("audit: cut torn line of %s: %w", opts.Path, err)
		}
		note := Entry{Kind: KindRecovery, Result: ResultAllow, Reasons: []string{"torn_line_removed"}, Detail: map[string]string{
			"torn_bytes":  strconv.Itoa(st.tornBytes),
			"torn_sha256": hexSHA256(st.torn),
		}}
		if _, err := l.appendLocked(note); err != nil {
			return nil, err
		}
	}
	ok = true
	return l, nil
}

// setSigner validates and installs a checkpoint signer.
func (l *Log) setSigner(signer crypto.Signer, certs []*x509.Certificate, id string) error {
	if signer == nil {
		if len(certs) > 0 || id != "" {
			return errors.New("audit: signer certificates or identity given without a signer")
		}
		l.signer, l.signerID, l.certs = nil, "", nil
		return nil
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("audit: checkpoint signer key is %T, want ECDSA P-256", signer.Public())
	}
	var der [][]byte
	total := 0
	if len(certs) > 0 {
		if !pub.Equal(certs[0].PublicKey) {
			return errors.New("audit: signer key does not match its certificate")
		}
		cid, err := pki.IdentityFromCert(certs[0])
		if err != nil {
			return fmt.Errorf("audit: signer certificate: %w", err)
		}
		if id == "" {
			id = cid.String()
		} else if id != cid.String() {
			return fmt.Errorf("audit: signer identity %q differs from its certificate's %s", id, cid)
		}
		for _, c := range certs {
			der = append(der, c.Raw)
			total += len(c.Raw)
		}
		if total > maxCertsBytes {
			return fmt.Errorf("audit: signer certificate chain is %d bytes, at most %d", total, maxCertsBytes)
		}
	}
	if id == "" {
		return errors.New("audit: a signer needs a SignerID or SignerCerts")
	}
	if !isToken(id, maxSignerLen) {
		return fmt.Errorf("audit: signer identity %q must be at most %d printable characters", id, maxSignerLen)
	}
	l.signer, l.signerID, l.certs = signer, id, der
	return nil
}

// SetSigner replaces the checkpoint signer, for example when the node's
// short-lived certificate is renewed. Entries appended since the last
// checkpoint are first checkpointed under the old signer.
func (l *Log) SetSigner(signer crypto.Signer, certs []*x509.Certificate, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if l.signer != nil && !l.lastIsCP {
		if err := l.checkpointLocked(); err != nil {
			return err
		}
	}
	return l.setSigner(signer, certs, id)
}

func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// Append records e. It fills in Seq, Prev, Hash and, if zero, Time (the
// time is stored in UTC), writes the record and syncs it to disk before
// returning it. Every CheckpointEvery entries it then writes a checkpoint.
//
// A decision must not take effect unless its Append succeeded. If the
// entry was written but the checkpoint after it failed, Append returns the
// entry and an error.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if err := validateEntry(&e); err != nil {
		return Entry{}, err
	}
	// Copy the caller's slices and map, so that later changes by the
	// caller cannot make the returned entry disagree with its hash.
	e.Reasons = cloneNonEmpty(e.Reasons)
	e.InputDigests = cloneNonEmpty(e.InputDigests)
	e.CiphertextDigests = cloneNonEmpty(e.CiphertextDigests)
	if len(e.Detail) == 0 {
		e.Detail = nil
	} else {
		d := make(map[string]string, len(e.Detail))
		for k, v := range e.Detail {
			d[k] = v
		}
		e.Detail = d
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return Entry{}, err
	}
	e, err := l.appendLocked(e)
	if err != nil {
		return Entry{}, err
	}
	if l.signer != nil && l.every > 0 && l.sinceCheckpoint >= l.every {
		if err := l.checkpointLocked(); err != nil {
			return e, fmt.Errorf("audit: entry %d recorded, but the checkpoint after it failed: %w", e.Seq, err)
		}
	}
	return e, nil
}

func cloneNonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func (l *Log) appendLocked(e Entry) (Entry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.Seq, e.Prev, e.Hash = l.seq+1, l.head, ""
	body, err := json.Marshal(&e)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: encode entry: %w", err)
	}
	line, hash := seal(body)
	if len(line) > maxLineBytes {
		return Entry{}, fmt.Errorf("audit: entry is %d bytes, at most %d", len(line), maxLineBytes)
	}
	if err := l.writeLocked(line); err != nil {
		return Entry{}, err
	}
	e.Hash = hash
	l.seq, l.head = e.Seq, hash
	l.sinceCheckpoint++
	l.lastIsCP = false
	return e, nil
}

// Checkpoint writes a signed checkpoint covering every record so far,
// unless the last record already is one. Close also writes one.
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if l.signer == nil {
		return ErrNoSigner
	}
	if l.lastIsCP {
		return nil
	}
	return l.checkpointLocked()
}

func (l *Log) checkpointLocked() error {
	cp := Checkpoint{
		Seq:          l.seq + 1,
		Time:         time.Now().UTC(),
		Kind:         KindCheckpoint,
		Signer:       l.signerID,
		CoversSeq:    l.seq,
		CoversHash:   l.head,
		Certificates: l.certs,
		Prev:         l.head,
	}
	sig, err := pki.Sign(l.signer, CheckpointPurpose, cp.SignedMessage())
	if err != nil {
		return fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	cp.Signature = sig
	body, err := json.Marshal(&cp)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint: %w", err)
	}
	line, hash := seal(body)
	if err := l.writeLocked(line); err != nil {
		return err
	}
	l.seq, l.head = cp.Seq, hash
	l.sinceCheckpoint = 0
	l.lastIsCP = true
	l.lastCheckpoint = cp.Time
	return nil
}

// writeLocked appends one line and syncs it. On failure it cuts the file
// back to its last good length, as far as it can, and fails the Log: the
// file's state is uncertain, so no further entry may be chained onto it.
func (l *Log) writeLocked(line []byte) error {
	_, err := l.f.Write(line)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		if terr := l.f.Truncate(l.size); terr == nil {
			l.f.Sync()
		}
		l.failed = fmt.Errorf("%w: %s: %v", ErrFailed, l.path, err)
		return l.failed
	}
	l.size += int64(len(line))
	return nil
}

// Head returns the seq and hash of the last record; a verifier given them
// (for example by the node reporting them to the regulator) can later use
// them as an Anchor. An empty log has seq 0 and GenesisHash.
func (l *Log) Head() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.head
}

// Close writes a final checkpoint (if the Log has a signer and entries
// since the last one), then closes the file and releases its lock. Calling
// Close again does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.failed == nil && l.signer != nil && !l.lastIsCP {
		err = l.checkpointLocked()
	}
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("audit: %w", cerr)
	}
	return err
}

// syncDir makes a new directory entry durable; errors are ignored because
// not every platform can sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
