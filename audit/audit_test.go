package audit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
)

const testDomain = "fed.example"

func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(testDomain, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newNode(t testing.TB, ca *pki.CA, name string) *pki.Credential {
	t.Helper()
	cred, err := ca.Issue(pki.Identity{TrustDomain: testDomain, Role: pki.RoleNode, Name: name}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func openLog(t testing.TB, path string, cred *pki.Credential, every int) *Log {
	t.Helper()
	opts := Options{Path: path, CheckpointEvery: every}
	if cred != nil {
		opts.Signer, opts.SignerCerts = cred.Key, []*x509.Certificate{cred.Certificate}
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func digest(s string) string { return hexSHA256([]byte(s)) }

// sampleEntry returns the i-th entry of a plausible decision sequence.
func sampleEntry(i int) Entry {
	kinds := []Kind{KindAdmission, KindCohort, KindRelease, KindKeySwitch}
	e := Entry{
		Time:           t0.Add(time.Duration(i) * time.Minute),
		Kind:           kinds[i%len(kinds)],
		Node:           "spiffe://fed.example/node/bank-a",
		QueryID:        fmt.Sprintf("q-%d", i/len(kinds)),
		QueryDigest:    digest(fmt.Sprintf("query %d", i/len(kinds))),
		DecisionID:     fmt.Sprintf("dec-%d", i),
		BundleRevision: "rev-7",
		Result:         ResultAllow,
		Reasons:        []string{"consent_ok"},
	}
	switch e.Kind {
	case KindCohort:
		e.Detail = map[string]string{"cohort_size": "1834"}
	case KindRelease:
		e.InputDigests = []string{digest("in-a"), digest("in-b")}
	case KindKeySwitch:
		e.CiphertextDigests = []string{digest(fmt.Sprintf("ct %d", i))}
	}
	if i%7 == 6 {
		e.Result, e.Reasons = ResultDeny, []string{"min_cell_size", "budget_exhausted"}
	}
	return e
}

// writeLog writes n entries with a checkpoint every `every` and closes the
// log, which adds a final checkpoint.
func writeLog(t testing.TB, path string, cred *pki.Credential, n, every int) {
	t.Helper()
	l := openLog(t, path, cred, every)
	for i := range n {
		if _, err := l.Append(context.Background(), sampleEntry(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func verifyFile(t testing.TB, path string, opts VerifyOptions) (Report, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Verify(f, opts)
}

func TestAppendAndVerify(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	l := openLog(t, path, cred, 100)
	var got []Entry
	for i := range 250 {
		e, err := l.Append(context.Background(), sampleEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Checkpoints after entries 100 and 200 take seqs 101 and 202.
	if got[0].Seq != 1 || got[0].Prev != GenesisHash || got[99].Seq != 100 || got[100].Seq != 102 || got[249].Seq != 252 {
		t.Errorf("unexpected seqs: %d %d %d %d", got[0].Seq, got[99].Seq, got[100].Seq, got[249].Seq)
	}
	lines := readLines(t, path)
	if len(lines) != 253 {
		t.Fatalf("%d lines, want 250 entries + 3 checkpoints", len(lines))
	}
	// The hash Append returns is the SHA-256 of the documented body.
	body, hash, ok := splitLine(bytes.TrimSuffix(lines[0], []byte("\n")))
	if !ok || hash != got[0].Hash || hexSHA256(body) != hash || bytes.Contains(body, []byte(`"hash"`)) {
		t.Errorf("line 1 does not carry the documented hash: %s", lines[0])
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	for name, opts := range map[string]VerifyOptions{
		"chain only":   {},
		"cert":         {Cert: cred.Certificate, RequireFinalCheckpoint: true},
		"ca":           {Roots: pool, RequireFinalCheckpoint: true, Signer: "spiffe://fed.example/node/bank-a"},
		"cert and ca":  {Cert: cred.Certificate, Roots: pool},
		"anchor":       {Anchor: &Anchor{Seq: got[150].Seq, Hash: got[150].Hash}},
		"final anchor": {Anchor: &Anchor{Seq: 253, Hash: lastHash(t, lines)}},
	} {
		rep, err := verifyFile(t, path, opts)
		if err != nil {
			t.Errorf("%s: Verify: %v", name, err)
			continue
		}
		want := Report{Entries: 250, Checkpoints: 3, LastSeq: 253, LastHash: lastHash(t, lines), LastCheckpointSeq: 253, LastCheckpointLine: 253,
			SignaturesVerified: opts.Cert != nil || opts.Roots != nil}
		if want.SignaturesVerified {
			want.Signer = "spiffe://fed.example/node/bank-a"
		}
		if rep != want {
			t.Errorf("%s: report %+v, want %+v", name, rep, want)
		}
	}
}

func lastHash(t testing.TB, lines [][]byte) string {
	t.Helper()
	_, h, ok := splitLine(bytes.TrimSuffix(lines[len(lines)-1], []byte("\n")))
	if !ok {
		t.Fatal("last line has no hash")
	}
	return h
}

// reseal rewrites a line's JSON with edit applied and a correct hash, as
// someone who can write the file but not sign would.
func reseal(t testing.TB, line []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	delete(m, "hash")
	edit(m)
	var body []byte
	var err error
	if m["kind"] == string(KindCheckpoint) {
		var c Checkpoint
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		body, err = json.Marshal(&c)
	} else {
		var e Entry
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		body, err = json.Marshal(&e)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, _ := seal(body)
	return out
}

// rechain recomputes prev and hash of every line from index i on.
func rechain(t testing.TB, lines [][]byte, from int) {
	t.Helper()
	for i := from; i < len(lines); i++ {
		prev := GenesisHash
		if i > 0 {
			_, prev, _ = splitLine(bytes.TrimSuffix(lines[i-1], []byte("\n")))
		}
		lines[i] = reseal(t, lines[i], func(m map[string]any) {
			m["prev"] = prev
			if m["kind"] == string(KindCheckpoint) {
				m["covers_hash"] = prev
			}
		})
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	other := newNode(t, ca, "bank-b")
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	src := filepath.Join(t.TempDir(), "src.log")
	// 20 entries with checkpoints after every 5: entries take lines 1-5,
	// 7-11, 13-17, 19-23; checkpoints lines 6, 12, 18, 24.
	writeLog(t, src, cred, 20, 5)
	if n := len(readLines(t, src)); n != 24 {
		t.Fatalf("source log has %d lines, want 24", n)
	}
	withCert := VerifyOptions{Cert: cred.Certificate}
	tests := []struct {
		name   string
		mutate func(lines [][]byte) [][]byte
		opts   VerifyOptions
		want   error  // nil: must verify
		where  string // substring of the error
	}{
		{"intact", func(l [][]byte) [][]byte { return l }, withCert, nil, ""},
		{"edit result", func(l [][]byte) [][]byte {
			l[8] = bytes.Replace(l[8], []byte(`"result":"allow"`), []byte(`"result":"deny"`), 1)
			return l
		}, VerifyOptions{}, ErrEdited, "line 9 (seq 9): hash mismatch"},
		{"edit query id", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"query_id":"q-0"`), []byte(`"query_id":"q-9"`), 1)
			return l
		}, VerifyOptions{}, ErrEdited, "line 3 (seq 3): hash mismatch"},
		{"edit seq", func(l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte(`"seq":4,`), []byte(`"seq":5,`), 1)
			return l
		}, VerifyOptions{}, ErrEdited, "line 4"},
		{"edit with rehash", func(l [][]byte) [][]byte {
			l[6] = reseal(t, l[6], func(m map[string]any) { m["result"] = "deny" })
			return l
		}, VerifyOptions{}, ErrEdited, "line 8 (seq 8): prev does not match the hash of line 7"},
		{"edit and rewrite chain, unsigned check", func(l [][]byte) [][]byte {
			l[6] = reseal(t, l[6], func(m map[string]any) { m["result"] = "deny" })
			rechain(t, l, 7)
			return l
		}, VerifyOptions{}, nil, ""}, // the documented limit of a bare hash chain
		{"edit and rewrite chain, signed check", func(l [][]byte) [][]byte {
			l[6] = reseal(t, l[6], func(m map[string]any) { m["result"] = "deny" })
			rechain(t, l, 7)
			return l
		}, withCert, ErrBadSignature, "line 12 (seq 12)"},
		{"edit and rewrite chain, CA check", func(l [][]byte) [][]byte {
			l[6] = reseal(t, l[6], func(m map[string]any) { m["result"] = "deny" })
			rechain(t, l, 7)
			return l
		}, VerifyOptions{Roots: pool}, ErrBadSignature, "line 12 (seq 12)"},
		{"non-canonical but rehashed", func(l [][]byte) [][]byte {
			body, _, _ := splitLine(bytes.TrimSuffix(l[0], []byte("\n")))
			body = bytes.Replace(body, []byte(`"seq":1,`), []byte(`"seq": 1,`), 1)
			l[0], _ = seal(body)
			return l
		}, VerifyOptions{}, ErrMalformed, "line 1: record is not in the canonical encoding"},
		{"unknown member rehashed", func(l [][]byte) [][]byte {
			l[0] = reseal(t, l[0], func(m map[string]any) {})
			body, _, _ := splitLine(bytes.TrimSuffix(l[0], []byte("\n")))
			body = bytes.Replace(body, []byte(`{"seq":1,`), []byte(`{"seq":1,"name":"Zhang San",`), 1)
			l[0], _ = seal(body)
			return l
		}, VerifyOptions{}, ErrMalformed, "line 1"},
		{"delete line", func(l [][]byte) [][]byte { return slices.Delete(l, 9, 10) }, VerifyOptions{}, ErrDeleted, "line 10 (seq 11): seq jumps from 9 to 11: 1 record(s) deleted"},
		{"delete first line", func(l [][]byte) [][]byte { return l[1:] }, VerifyOptions{}, ErrDeleted, "line 1 (seq 2)"},
		{"delete checkpoint", func(l [][]byte) [][]byte { return slices.Delete(l, 5, 6) }, VerifyOptions{}, ErrDeleted, "line 6 (seq 7)"},
		{"delete two lines", func(l [][]byte) [][]byte { return slices.Delete(l, 2, 4) }, VerifyOptions{}, ErrDeleted, "2 record(s) deleted"},
		{"swap lines", func(l [][]byte) [][]byte { l[3], l[4] = l[4], l[3]; return l }, VerifyOptions{}, ErrReordered, "line 4 (seq 5): expected seq 4, which appears later at line 5"},
		{"move line to end", func(l [][]byte) [][]byte {
			moved := l[2]
			l = slices.Delete(l, 2, 3)
			return append(l, moved)
		}, VerifyOptions{}, ErrReordered, "line 3 (seq 4): expected seq 3, which appears later at line 24"},
		{"duplicate line", func(l [][]byte) [][]byte { return slices.Insert(l, 5, l[4]) }, VerifyOptions{}, ErrReordered, "line 6 (seq 5): seq goes back from 5 to 5"},
		{"blank line", func(l [][]byte) [][]byte { return slices.Insert(l, 3, []byte("\n")) }, VerifyOptions{}, ErrMalformed, "line 4"},
		{"truncate after entries, final checkpoint required", func(l [][]byte) [][]byte { return l[:21] }, VerifyOptions{RequireFinalCheckpoint: true}, ErrTruncated, "3 entries after its last checkpoint (the last checkpoint is seq 18 at line 18)"},
		{"truncate after entries, not required", func(l [][]byte) [][]byte { return l[:21] }, VerifyOptions{}, nil, ""},
		{"truncate at a checkpoint, anchored", func(l [][]byte) [][]byte { return l[:18] }, VerifyOptions{RequireFinalCheckpoint: true, Anchor: &Anchor{Seq: 24}}, ErrTruncated, "log ends at seq 18, before the anchor at seq 24"},
		{"truncate to nothing", func(l [][]byte) [][]byte { return nil }, VerifyOptions{RequireFinalCheckpoint: true}, ErrTruncated, "log holds no records"},
		{"anchor hash differs", func(l [][]byte) [][]byte { return l }, VerifyOptions{Anchor: &Anchor{Seq: 3, Hash: digest("x")}}, ErrEdited, "line 3 (seq 3): hash"},
		{"torn last line", func(l [][]byte) [][]byte { return append(l, []byte(`{"seq":25,"time":"2026-03-01T09:`)) }, VerifyOptions{}, ErrTorn, "line 25: torn last line (32 bytes without a newline)"},
		{"last newline removed", func(l [][]byte) [][]byte {
			l[23] = bytes.TrimSuffix(l[23], []byte("\n"))
			return l
		}, VerifyOptions{}, ErrTorn, "line 24: torn"},
		{"wrong certificate", func(l [][]byte) [][]byte { return l }, VerifyOptions{Cert: other.Certificate}, ErrBadSignature, "line 6 (seq 6)"},
		{"wrong expected signer", func(l [][]byte) [][]byte { return l }, VerifyOptions{Roots: pool, Signer: "spiffe://fed.example/node/bank-b"}, ErrBadSignature, "line 6 (seq 6): checkpoint signed by"},
		{"untrusted CA", func(l [][]byte) [][]byte { return l }, VerifyOptions{Roots: newCA(t).Pool()}, ErrBadSignature, "line 6 (seq 6): signer certificate does not verify"},
		{"signature bit flipped", func(l [][]byte) [][]byte {
			l[5] = reseal(t, l[5], func(m map[string]any) {
				// Change one character to another valid base64 character: a
				// flipped bit could make the encoding itself invalid.
				s := []byte(m["sig"].(string))
				if s[10] == 'A' {
					s[10] = 'B'
				} else {
					s[10] = 'A'
				}
				m["sig"] = string(s)
			})
			rechain(t, l, 6)
			return l
		}, withCert, ErrBadSignature, "line 6 (seq 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tt.mutate(readLines(t, src))
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := verifyFile(t, path, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var ve *VerifyError
			if !errors.Is(err, tt.want) || !errors.As(err, &ve) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.where) {
				t.Errorf("error %q does not say %q", err, tt.where)
			}
		})
	}
}

func TestReopenContinuesChain(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	path := filepath.Join(t.TempDir(), "audit.log")
	for round := range 3 {
		l := openLog(t, path, cred, 100)
		seq, _ := l.Head()
		if want := uint64(round * 5); seq != want {
			t.Fatalf("round %d: head seq %d, want %d", round, seq, want)
		}
		for i := range 4 {
			if _, err := l.Append(context.Background(), sampleEntry(round*4+i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := l.Append(context.Background(), sampleEntry(0)); !errors.Is(err, ErrClosed) {
			t.Errorf("Append after Close = %v, want ErrClosed", err)
		}
	}
	rep, err := verifyFile(t, path, VerifyOptions{Cert: cred.Certificate, RequireFinalCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 12 || rep.Checkpoints != 3 || rep.LastSeq != 15 {
		t.Errorf("report %+v", rep)
	}

	// Reopening without new entries adds no checkpoint.
	l := openLog(t, path, cred, 100)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if n := len(readLines(t, path)); n != 15 {
		t.Errorf("%d lines after an idle reopen, want 15", n)
	}
}

func TestOpenRefusesBrokenLog(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	src := filepath.Join(t.TempDir(), "src.log")
	writeLog(t, src, cred, 10, 4)
	lines := readLines(t, src)
	tests := []struct {
		name  string
		data  []byte
		want  error
		where string
	}{
		{"edited", bytes.Join(slices.Concat(lines[:2], [][]byte{bytes.Replace(lines[2], []byte("dec-2"), []byte("dec-X"), 1)}, lines[3:]), nil), ErrEdited, "line 3"},
		{"deleted", bytes.Join(slices.Delete(slices.Clone(lines), 4, 5), nil), ErrDeleted, "line 5"},
		{"reordered", bytes.Join(slices.Concat(lines[:1], [][]byte{lines[2], lines[1]}, lines[3:]), nil), ErrReordered, "line 2"},
		{"torn", append(bytes.Join(lines, nil), `{"seq":14,"ti`...), ErrTorn, "line 14"},
		{"garbage", []byte("not a log\n"), ErrMalformed, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(Options{Path: path, Signer: cred.Key, SignerCerts: []*x509.Certificate{cred.Certificate}})
			if err == nil {
				l.Close()
				t.Fatal("Open accepted a broken log")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.where) {
				t.Errorf("Open = %v, want %v at %q", err, tt.want, tt.where)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tt.data) {
				t.Error("Open changed a log it refused")
			}
		})
	}
}

func TestOpenRepairsTornTail(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, cred, 10, 4)
	torn := []byte(`{"seq":14,"time":"2026-03-01T10:00:00Z","kind":"adm`)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(torn)
	f.Close()

	l, err := Open(Options{Path: path, Signer: cred.Key, SignerCerts: []*x509.Certificate{cred.Certificate}, RepairTornTail: true})
	if err != nil {
		t.Fatalf("Open with RepairTornTail: %v", err)
	}
	if _, err := l.Append(context.Background(), sampleEntry(10)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyFile(t, path, VerifyOptions{Cert: cred.Certificate, RequireFinalCheckpoint: true}); err != nil {
		t.Fatalf("repaired log does not verify: %v", err)
	}
	f, _ = os.Open(path)
	rec, err := Filter(f, FilterOptions{Kinds: []Kind{KindRecovery}})
	f.Close()
	if err != nil || len(rec) != 1 || rec[0].Seq != 14 || rec[0].Detail["torn_bytes"] != fmt.Sprint(len(torn)) || rec[0].Detail["torn_sha256"] != hexSHA256(torn) {
		t.Errorf("recovery entry = %+v, %v", rec, err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, cred, 7)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	seqs := make(chan uint64, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e, err := l.Append(context.Background(), sampleEntry(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- e.Seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Errorf("seq %d handed out twice", s)
		}
		seen[s] = true
	}
	rep, err := verifyFile(t, path, VerifyOptions{Cert: cred.Certificate, RequireFinalCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != workers*each || rep.Checkpoints != workers*each/7+1 {
		t.Errorf("report %+v", rep)
	}
}

func TestFileModeAndLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, path, nil, 0)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new log has mode %v, want 0600", fi.Mode().Perm())
	}
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
		if l2, err := Open(Options{Path: path}); !errors.Is(err, ErrLocked) {
			if l2 != nil {
				l2.Close()
			}
			t.Errorf("second Open = %v, want ErrLocked", err)
		}
	}
	if err := l.Checkpoint(); !errors.Is(err, ErrNoSigner) {
		t.Errorf("Checkpoint without signer = %v", err)
	}
	l.Close()

	// An existing log readable by others is tightened.
	loose := filepath.Join(dir, "loose.log")
	os.WriteFile(loose, nil, 0o644)
	os.Chmod(loose, 0o644)
	openLog(t, loose, nil, 0).Close()
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o600 {
		t.Errorf("existing log left at mode %v", fi.Mode().Perm())
	}
}

func TestAppendRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil, 0)
	defer l.Close()
	ok := sampleEntry(0)
	tests := map[string]func(e *Entry){
		"checkpoint kind":       func(e *Entry) { e.Kind = KindCheckpoint },
		"unknown kind":          func(e *Entry) { e.Kind = "gossip" },
		"no result":             func(e *Entry) { e.Result = "" },
		"free-text reason":      func(e *Entry) { e.Reasons = []string{"customer Zhang San is 17"} },
		"reason with a space":   func(e *Entry) { e.Reasons = []string{"MIN CELL"} },
		"non-hex digest":        func(e *Entry) { e.CiphertextDigests = []string{"110101199003078888"} },
		"short digest":          func(e *Entry) { e.QueryDigest = "abcd" },
		"uppercase digest":      func(e *Entry) { e.InputDigests = []string{strings.ToUpper(digest("x"))} },
		"detail with newline":   func(e *Entry) { e.Detail = map[string]string{"note": "a\nb"} },
		"detail key not a code": func(e *Entry) { e.Detail = map[string]string{"Phone Number": "1"} },
		"query id control char": func(e *Entry) { e.QueryID = "q\x00" },
		"time out of range":     func(e *Entry) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, edit := range tests {
		e := ok
		edit(&e)
		if _, err := l.Append(context.Background(), e); err == nil {
			t.Errorf("%s: Append accepted %+v", name, e)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, ok); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with cancelled context = %v", err)
	}
	// Nothing was written, and the log still works.
	if e, err := l.Append(context.Background(), ok); err != nil || e.Seq != 1 {
		t.Errorf("Append after rejections = %+v, %v", e, err)
	}
}

func TestAppendCopiesCallerData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil, 0)
	in := sampleEntry(1) // a cohort entry with Detail
	in.Reasons = []string{"consent_ok"}
	e, err := l.Append(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.Reasons[0] = "changed"
	in.Detail["cohort_size"] = "0"
	l.Close()
	if e.Reasons[0] != "consent_ok" || e.Detail["cohort_size"] != "1834" {
		t.Errorf("returned entry shares the caller's data: %+v", e)
	}
	f, _ := os.Open(path)
	defer f.Close()
	got, err := Filter(f, FilterOptions{})
	if err != nil || len(got) != 1 {
		t.Fatalf("Filter = %v, %v", got, err)
	}
	if got[0].Hash != e.Hash || !got[0].Time.Equal(in.Time) || got[0].Time.Location() != time.UTC {
		t.Errorf("read back %+v, appended %+v", got[0], e)
	}
}

func TestSignerRotation(t *testing.T) {
	ca := newCA(t)
	cred := newNode(t, ca, "bank-a")
	renewed := newNode(t, ca, "bank-a")
	intruder := newNode(t, ca, "bank-b")
	pool := ca.Pool()
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, cred, 100)
	for i := range 3 {
		l.Append(context.Background(), sampleEntry(i))
	}
	if err := l.SetSigner(renewed.Key, []*x509.Certificate{renewed.Certificate}, ""); err != nil {
		t.Fatal(err)
	}
	if err := l.SetSigner(renewed.Key, []*x509.Certificate{cred.Certificate}, ""); err == nil {
		t.Error("SetSigner accepted a certificate for another key")
	}
	for i := range 3 {
		l.Append(context.Background(), sampleEntry(3+i))
	}
	l.Close()
	if _, err := verifyFile(t, path, VerifyOptions{Roots: pool, RequireFinalCheckpoint: true}); err != nil {
		t.Errorf("rotated log does not verify against the CA: %v", err)
	}
	if _, err := verifyFile(t, path, VerifyOptions{Cert: cred.Certificate}); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "line 8 (seq 8)") {
		t.Errorf("Verify with the old certificate only = %v, want a bad signature at line 8", err)
	}

	// Another node's key cannot checkpoint this node's log.
	l = openLog(t, path, intruder, 100)
	l.Append(context.Background(), sampleEntry(6))
	l.Close()
	if _, err := verifyFile(t, path, VerifyOptions{Roots: pool}); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "bank-b") {
		t.Errorf("Verify of a log checkpointed by another node = %v", err)
	}
}

func TestFilterAndQueriesBetween(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeLog(t, path, nil, 40, 0) // 10 queries x 4 kinds, one minute apart
	l := openLog(t, path, nil, 0)
	readmit := sampleEntry(8) // q-2 admitted again
	readmit.Time = t0.Add(time.Hour)
	l.Append(context.Background(), readmit)
	l.Close()

	read := func(f func(*os.File) ([]Entry, error)) []Entry {
		t.Helper()
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		es, err := f(file)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	ids := func(es []Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s/%s", e.QueryID, e.Kind))
		}
		return out
	}
	tests := []struct {
		name string
		f    FilterOptions
		want []string
	}{
		{"query", FilterOptions{QueryID: "q-3"}, []string{"q-3/admission", "q-3/cohort", "q-3/release", "q-3/key_switch"}},
		{"time range", FilterOptions{Since: t0.Add(5 * time.Minute), Until: t0.Add(8 * time.Minute)}, []string{"q-1/cohort", "q-1/release", "q-1/key_switch"}},
		{"kind", FilterOptions{Kinds: []Kind{KindKeySwitch}, Until: t0.Add(12 * time.Minute)}, []string{"q-0/key_switch", "q-1/key_switch", "q-2/key_switch"}},
		{"denied", FilterOptions{Result: ResultDeny, Until: t0.Add(20 * time.Minute)}, []string{"q-1/release", "q-3/cohort"}},
		{"none", FilterOptions{QueryID: "q-99"}, nil},
	}
	for _, tt := range tests {
		got := ids(read(func(f *os.File) ([]Entry, error) { return Filter(f, tt.f) }))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Entries i with i%7 == 6 are denials; entry 20 is q-5's admission.
	// q-2, admitted twice under the same digest, is listed once.
	got := read(func(f *os.File) ([]Entry, error) { return QueriesBetween(f, t0, t0.Add(2*time.Hour)) })
	want := []string{"q-0", "q-1", "q-2", "q-3", "q-4", "q-6", "q-7", "q-8", "q-9"}
	var gotIDs []string
	for _, e := range got {
		if e.Kind != KindAdmission || e.Result != ResultAllow {
			t.Errorf("QueriesBetween returned %+v", e)
		}
		gotIDs = append(gotIDs, e.QueryID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("QueriesBetween = %v, want %v (each once)", gotIDs, want)
	}
}

func FuzzVerify(f *testing.F) {
	ca := newCA(f)
	cred := newNode(f, ca, "bank-a")
	path := filepath.Join(f.TempDir(), "seed.log")
	writeLog(f, path, cred, 6, 3)
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"seq":1,"hash":"` + strings.Repeat("0", 64) + `"}` + "\n"))
	f.Add([]byte{})
	pool := ca.Pool()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []VerifyOptions{{}, {Cert: cred.Certificate, RequireFinalCheckpoint: true}, {Roots: pool, Anchor: &Anchor{Seq: 3}}} {
			rep, err := Verify(bytes.NewReader(data), opts)
			var ve *VerifyError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("Verify returned %T %v, want *VerifyError", err, err)
			}
			if err == nil && rep.Entries+rep.Checkpoints != int(rep.LastSeq) {
				t.Fatalf("report %+v does not add up", rep)
			}
		}
		Filter(bytes.NewReader(data), FilterOptions{QueryID: "q-1"})
	})
}
