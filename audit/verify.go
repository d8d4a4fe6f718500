package audit

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fedscore/fedscore/pki"
)

// Kinds of verification failure; a *VerifyError wraps one of them, so test
// with errors.Is.
var (
	// ErrEdited: a record's bytes or the chain link to it changed.
	ErrEdited = errors.New("audit: record edited")
	// ErrDeleted: records are missing from the middle of the log.
	ErrDeleted = errors.New("audit: record deleted")
	// ErrReordered: records are out of order or duplicated.
	ErrReordered = errors.New("audit: records reordered")
	// ErrTruncated: records are missing from the end of the log.
	ErrTruncated = errors.New("audit: log truncated")
	// ErrTorn: the last line is incomplete, as a crash during an append
	// leaves it. Every record before it verified.
	ErrTorn = errors.New("audit: torn last line")
	// ErrBadSignature: a checkpoint's signature or certificate does not
	// verify.
	ErrBadSignature = errors.New("audit: bad checkpoint signature")
	// ErrMalformed: a line is not a well-formed record.
	ErrMalformed = errors.New("audit: malformed record")
)

// A VerifyError says what is wrong with a log and where.
type VerifyError struct {
	Line    int    // 1-based line number; 0 if the problem is the log as a whole
	Seq     uint64 // the seq the line states, if it could be read
	Problem string
	Err     error // one of the Err* kinds above
}

func (e *VerifyError) Error() string {
	switch {
	case e.Line > 0 && e.Seq > 0:
		return fmt.Sprintf("line %d (seq %d): %s", e.Line, e.Seq, e.Problem)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return e.Problem
}

func (e *VerifyError) Unwrap() error { return e.Err }

// An Anchor is a (seq, hash) pair of a record, kept outside the log — for
// example the covers_seq and covers_hash of a checkpoint the node reported.
type Anchor struct {
	Seq  uint64
	Hash string
}

// VerifyOptions selects the checks Verify makes beyond the hash chain.
type VerifyOptions struct {
	// Cert, if set, is the node's certificate: every checkpoint signature
	// must verify under it.
	Cert *x509.Certificate
	// Roots, if set, are the federation's CA certificates: each
	// checkpoint's certificate chain (Cert if set, otherwise the chain the
	// checkpoint carries) must verify against them at the checkpoint's time
	// with role Role.
	Roots *x509.CertPool
	// Role is the role the signer must have; default pki.RoleNode.
	Role string
	// Signer, if set, is the identity every checkpoint must be signed by.
	// When signatures are checked and Signer is empty, all checkpoints
	// must share the first one's signer.
	Signer string
	// RequireFinalCheckpoint fails a log whose last record is not a
	// checkpoint, as the log of a node that closed it cleanly is.
	RequireFinalCheckpoint bool
	// Anchor, if set, must be a record of the log.
	Anchor *Anchor
}

// A Report summarises a log that verified (or, with an error, the part of it
// before the first problem).
type Report struct {
	Entries     int
	Checkpoints int
	LastSeq     uint64
	LastHash    string
	// LastCheckpointSeq and LastCheckpointLine locate the last checkpoint
	// (0 if none); EntriesAfterCheckpoint counts the entries after it,
	// which no signature covers yet.
	LastCheckpointSeq      uint64
	LastCheckpointLine     int
	EntriesAfterCheckpoint int
	// SignaturesVerified reports whether checkpoint signatures were
	// checked (Cert or Roots set); Signer is the checkpoints' signer.
	SignaturesVerified bool
	Signer             string
}

// Verify reads a log and checks its hash chain, sequence, encoding and, as
// opts asks, its checkpoint signatures, final checkpoint and anchor. It
// stops at the first problem and returns a *VerifyError saying where.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	st, err := verify(r, opts)
	return st.Report, err
}

// state is the outcome of verify, with what Open needs to continue a log.
type state struct {
	Report
	// goodBytes is the length of the verified prefix; tornBytes the length
	// of a torn last line after it.
	goodBytes int64
	tornBytes int
	torn      []byte
	lastIsCP  bool
	// lastCheckpoint is the time of the last checkpoint.
	lastCheckpoint time.Time
}

func verify(r io.Reader, opts VerifyOptions) (state, error) {
	st := state{Report: Report{LastHash: GenesisHash}}
	checkSigs := opts.Cert != nil || opts.Roots != nil
	st.SignaturesVerified = checkSigs
	st.Signer = opts.Signer
	role := opts.Role
	if role == "" {
		role = pki.RoleNode
	}
	lr := &lineReader{br: bufio.NewReader(r)}
	anchorSeen := false
	for {
		line, complete, err := lr.next()
		if err == io.EOF {
			break
		}
		n := lr.n // lr.n moves on if findSeq reads ahead
		if errors.Is(err, errLineTooLong) {
			return st, &VerifyError{Line: n, Problem: fmt.Sprintf("line longer than %d bytes", maxLineBytes), Err: ErrMalformed}
		}
		if err != nil {
			return st, fmt.Errorf("audit: read log: %w", err)
		}
		if !complete {
			st.tornBytes, st.torn = len(line), line
			return st, &VerifyError{Line: n, Problem: fmt.Sprintf("torn last line (%d bytes without a newline): an append was interrupted; the %d records before it verify", len(line), st.LastSeq), Err: ErrTorn}
		}
		rec, err := decodeLine(line)
		if errors.Is(err, errHashMismatch) {
			return st, &VerifyError{Line: n, Seq: rec.seq, Problem: err.Error(), Err: ErrEdited}
		}
		if err != nil {
			return st, &VerifyError{Line: n, Problem: err.Error(), Err: ErrMalformed}
		}
		want := st.LastSeq + 1
		switch {
		case rec.seq > want:
			if at := lr.findSeq(want, rec.seq); at > 0 {
				return st, &VerifyError{Line: n, Seq: rec.seq, Problem: fmt.Sprintf("expected seq %d, which appears later at line %d: records reordered", want, at), Err: ErrReordered}
			}
			missing := rec.seq - want
			return st, &VerifyError{Line: n, Seq: rec.seq, Problem: fmt.Sprintf("seq jumps from %d to %d: %d record(s) deleted before this line", st.LastSeq, rec.seq, missing), Err: ErrDeleted}
		case rec.seq < want:
			return st, &VerifyError{Line: n, Seq: rec.seq, Problem: fmt.Sprintf("seq goes back from %d to %d: records reordered or duplicated", st.LastSeq, rec.seq), Err: ErrReordered}
		case rec.prev != st.LastHash:
			what := "the chain start (genesis)"
			if n > 1 {
				what = fmt.Sprintf("the hash of line %d", n-1)
			}
			return st, &VerifyError{Line: n, Seq: rec.seq, Problem: fmt.Sprintf("prev does not match %s: the chain is broken (a record was rewritten or replaced)", what), Err: ErrEdited}
		}
		if cp := rec.cp; cp != nil {
			if cp.CoversSeq != rec.seq-1 || cp.CoversHash != rec.prev {
				return st, &VerifyError{Line: n, Seq: rec.seq, Problem: "checkpoint does not cover the record before it", Err: ErrMalformed}
			}
			if checkSigs {
				if problem := checkSignature(cp, opts, role, &st.Signer); problem != "" {
					return st, &VerifyError{Line: n, Seq: rec.seq, Problem: problem, Err: ErrBadSignature}
				}
			}
			st.Checkpoints++
			st.LastCheckpointSeq, st.LastCheckpointLine = rec.seq, n
			st.lastCheckpoint = cp.Time
			st.EntriesAfterCheckpoint = 0
			st.lastIsCP = true
		} else {
			st.Entries++
			st.EntriesAfterCheckpoint++
			st.lastIsCP = false
		}
		if a := opts.Anchor; a != nil && a.Seq == rec.seq {
			if a.Hash != rec.hash {
				return st, &VerifyError{Line: n, Seq: rec.seq, Problem: fmt.Sprintf("hash %s differs from the anchor %s: the log was rewritten", rec.hash, a.Hash), Err: ErrEdited}
			}
			anchorSeen = true
		}
		st.LastSeq, st.LastHash = rec.seq, rec.hash
		st.goodBytes = lr.off
	}
	if a := opts.Anchor; a != nil && !anchorSeen {
		return st, &VerifyError{Line: lr.n, Seq: st.LastSeq, Problem: fmt.Sprintf("log ends at seq %d, before the anchor at seq %d: records were removed from the end", st.LastSeq, a.Seq), Err: ErrTruncated}
	}
	if opts.RequireFinalCheckpoint && !st.lastIsCP {
		problem := "log holds no records; a closed log ends with a checkpoint"
		if st.LastSeq > 0 {
			cp := "there is no checkpoint"
			if st.LastCheckpointSeq > 0 {
				cp = fmt.Sprintf("the last checkpoint is seq %d at line %d", st.LastCheckpointSeq, st.LastCheckpointLine)
			}
			problem = fmt.Sprintf("log ends with %d entries after its last checkpoint (%s): it was truncated or not closed cleanly", st.EntriesAfterCheckpoint, cp)
		}
		return st, &VerifyError{Line: lr.n, Seq: st.LastSeq, Problem: problem, Err: ErrTruncated}
	}
	return st, nil
}

// checkSignature verifies a checkpoint's signer and signature and returns
// what is wrong, or "".
func checkSignature(cp *Checkpoint, opts VerifyOptions, role string, signer *string) string {
	if *signer == "" {
		*signer = cp.Signer
	}
	if cp.Signer != *signer {
		return fmt.Sprintf("checkpoint signed by %q, expected %q", cp.Signer, *signer)
	}
	if len(cp.Signature) == 0 {
		return "checkpoint has no signature"
	}
	leaf := opts.Cert
	if opts.Roots != nil {
		chain := cp.Certificates
		if leaf != nil {
			chain = [][]byte{leaf.Raw}
		}
		if len(chain) == 0 {
			return "checkpoint carries no certificate to verify against the CA"
		}
		id, c, err := pki.VerifyPeerCertificate(chain, opts.Roots, role, cp.Time)
		if err != nil {
			return fmt.Sprintf("signer certificate does not verify at the checkpoint's time %s: %v", cp.Time.Format(time.RFC3339), err)
		}
		if id.String() != cp.Signer {
			return fmt.Sprintf("certificate identity %s is not the checkpoint's signer %q", id, cp.Signer)
		}
		leaf = c
	} else if id, err := pki.IdentityFromCert(leaf); err == nil && id.String() != cp.Signer {
		return fmt.Sprintf("certificate identity %s is not the checkpoint's signer %q", id, cp.Signer)
	}
	if err := pki.Verify(leaf, CheckpointPurpose, cp.SignedMessage(), cp.Signature); err != nil {
		return fmt.Sprintf("checkpoint signature does not verify: %v", err)
	}
	return ""
}

var errLineTooLong = errors.New("line too long")

// lineReader reads newline-terminated lines of bounded length.
type lineReader struct {
	br  *bufio.Reader
	n   int   // lines returned so far
	off int64 // bytes of complete lines returned so far
}

// next returns the next line without its newline; complete is false for a
// last line that has no newline. It returns io.EOF at the end.
func (lr *lineReader) next() (line []byte, complete bool, err error) {
	var buf []byte
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLineBytes+1 {
			lr.n++
			return nil, false, errLineTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			lr.n++
			lr.off += int64(len(buf))
			return buf[:len(buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, false, io.EOF
			}
			lr.n++
			return buf, false, nil
		default:
			return nil, false, err
		}
	}
}

// findSeq reads the rest of the log looking for a record whose seq is in
// [lo, hi) and returns its line number, or 0. It consumes the reader; the
// caller reports an error afterwards.
func (lr *lineReader) findSeq(lo, hi uint64) int {
	for {
		line, _, err := lr.next()
		if err != nil {
			return 0
		}
		var probe struct {
			Seq uint64 `json:"seq"`
		}
		if _, _, ok := splitLine(line); !ok {
			continue
		}
		if json.Unmarshal(line, &probe) == nil && probe.Seq >= lo && probe.Seq < hi {
			return lr.n
		}
	}
}
