package node

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
)

// ErrAlreadyAdmitted reports a query run the node admitted before: a
// replay, which would spend privacy budget again and hand out fresh
// encryptions of the same data.
var ErrAlreadyAdmitted = errors.New("this run of the query was already admitted")

// AdmissionsFile is the name of the node's admission record in its state
// directory.
const AdmissionsFile = "admissions"

// admissions is the node's durable record of every query run it admitted,
// kept until the query expires. Like the share ledger it is append-only
// and synced before anything of the admitted run leaves the node, so that
// neither completion (which drops a query from memory) nor a restart lets
// a replayed query in again.
type admissions struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	runs  map[string]admitted // by query id
	lines int                 // records in the file, live or not
}

type admitted struct {
	run     uint32
	expires time.Time
}

// openAdmissions opens (or creates) the record at path, dropping the
// queries that expired before now.
func openAdmissions(path string, now time.Time) (*admissions, error) {
	a := &admissions{path: path, runs: map[string]admitted{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read admission record: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		qid, e, err := parseAdmission(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("admission record %s line %d: %w", path, line, err)
		}
		if old, ok := a.runs[qid]; !ok || e.run > old.run {
			a.runs[qid] = e
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read admission record: %w", err)
	}
	if err := a.compact(now); err != nil {
		return nil, err
	}
	return a, nil
}

func parseAdmission(line string) (string, admitted, error) {
	fields := strings.Fields(line)
	if len(fields) != 3 {
		return "", admitted{}, errors.New("not a record")
	}
	exp, err1 := strconv.ParseInt(fields[0], 10, 64)
	run, err2 := strconv.ParseUint(fields[1], 10, 32)
	qid, err3 := hex.DecodeString(fields[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", admitted{}, fmt.Errorf("not a record: %w", err)
	}
	return string(qid), admitted{run: uint32(run), expires: time.Unix(0, exp)}, nil
}

func formatAdmission(qid string, e admitted) string {
	return fmt.Sprintf("%d %d %s\n", e.expires.UnixNano(), e.run, hex.EncodeToString([]byte(qid)))
}

// compact drops expired queries and rewrites the file with one record per
// live query; a.mu is held or a is not shared yet.
func (a *admissions) compact(now time.Time) error {
	var buf strings.Builder
	for qid, e := range a.runs {
		if !now.Before(e.expires) {
			delete(a.runs, qid)
			continue
		}
		buf.WriteString(formatAdmission(qid, e))
	}
	if a.f != nil {
		a.f.Close()
		a.f = nil
	}
	if err := atomicfile.Write(a.path, []byte(buf.String()), 0o600); err != nil {
		return fmt.Errorf("write admission record: %w", err)
	}
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open admission record: %w", err)
	}
	a.f, a.lines = f, len(a.runs)
	return nil
}

// admit records run of query qid, which expires at expires, or fails with
// ErrAlreadyAdmitted if that run or a later one was admitted before. The
// record is on disk when admit returns nil.
func (a *admissions) admit(qid string, run uint32, expires, now time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.runs[qid]; ok && old.run >= run {
		return fmt.Errorf("%w (query %s, run %d; run %d was admitted)", ErrAlreadyAdmitted, qid, run, old.run)
	}
	if a.lines > 2*len(a.runs)+64 {
		if err := a.compact(now); err != nil {
			return err
		}
	}
	e := admitted{run: run, expires: expires}
	if _, err := a.f.WriteString(formatAdmission(qid, e)); err != nil {
		return fmt.Errorf("write admission record: %w", err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync admission record: %w", err)
	}
	a.runs[qid] = e
	a.lines++
	return nil
}

func (a *admissions) Close() error { return a.f.Close() }
