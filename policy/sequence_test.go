package policy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/fedscore/fedscore/policy"
)

// series signs bundles of one signer's series for the sequence tests.
type series struct {
	t    *testing.T
	priv *ecdsa.PrivateKey
	key  policy.VerificationKey
}

func newSeries(t *testing.T) *series {
	k := newSigningKey(t)
	return &series{t: t, priv: k, key: trust("regulator", k)}
}

func (s *series) sign(tarball []byte) []byte {
	s.t.Helper()
	return signBundle(s.t, tarball, s.priv, "regulator")
}

// bundle is the default bundle signed as revision rev with sequence seq,
// valid until notAfter (zero: the default validity).
func (s *series) bundle(rev string, seq uint64, notAfter time.Time) []byte {
	s.t.Helper()
	return s.sign(build(s.t, nil, policy.BuildOptions{Revision: rev, Sequence: seq, NotAfter: notAfter}))
}

// fs is a signed tarball as the file system an engine loads.
func (s *series) fs(tarball []byte) policy.Options {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(path, tarball, 0o644); err != nil {
		s.t.Fatal(err)
	}
	return policy.Options{Bundle: openBundle(s.t, path), VerificationKeys: []policy.VerificationKey{s.key}}
}

func openStore(t *testing.T, path string) *policy.SequenceStore {
	t.Helper()
	st, err := policy.OpenSequenceStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestBuildWritesVersion(t *testing.T) {
	s := newSeries(t)
	before := time.Now()
	info, err := policy.VerifyBundle(s.bundle("rev-7", 7, time.Time{}), s.key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Sequence != 7 || info.Manifest.Revision != "rev-7" {
		t.Errorf("sequence %d, revision %s", info.Sequence, info.Manifest.Revision)
	}
	// The default validity, to the second.
	want := before.Add(policy.DefaultValidity).Truncate(time.Second)
	if d := info.NotAfter.Sub(want); d < 0 || d > time.Minute {
		t.Errorf("not_after %v, want about %v", info.NotAfter, want)
	}
	// OPA keeps them in the manifest's metadata, beside the bundle's own.
	meta := info.Manifest.Metadata
	if meta["sequence"] == nil || meta["not_after"] != info.NotAfter.Format(time.RFC3339) || meta["regulation"] != "PIPL" {
		t.Errorf("manifest metadata %v", meta)
	}

	notAfter := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	info, err = policy.VerifyBundle(s.bundle("rev-8", 8, notAfter), s.key)
	if err != nil || !info.NotAfter.Equal(notAfter) {
		t.Errorf("explicit not_after: %v, %v", info.NotAfter, err)
	}

	for name, opts := range map[string]policy.BuildOptions{
		"no sequence":       {Revision: "r"},
		"sequence too big":  {Revision: "r", Sequence: 1<<53 + 1},
		"negative validity": {Revision: "r", Sequence: 1, ValidFor: -time.Hour},
	} {
		if _, err := policy.BuildBundle(nil, opts); !errors.Is(err, policy.ErrBundle) {
			t.Errorf("%s: BuildBundle = %v, want ErrBundle", name, err)
		}
	}
}

// signWithOPA signs the default bundle with OPA's own signer after edit
// changed its manifest, as a signer not using fedscore might: the
// signature verifies, and only fedscore's manifest checks remain.
func signWithOPA(t *testing.T, s *series, edit func(*bundle.Manifest)) []byte {
	t.Helper()
	b, err := bundle.NewReader(bytes.NewReader(buildBundle(t, nil, "rev-opa"))).WithSkipBundleVerification(true).Read()
	if err != nil {
		t.Fatal(err)
	}
	edit(&b.Manifest)
	keyPEM, err := policy.MarshalPrivateKeyPEM(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.GenerateSignature(bundle.NewSigningConfig(string(keyPEM), "ES256", ""), "regulator", false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVerifyRequiresVersion(t *testing.T) {
	s := newSeries(t)
	for name, edit := range map[string]func(*bundle.Manifest){
		"sequence a string":   func(m *bundle.Manifest) { m.Metadata["sequence"] = "7" },
		"sequence fractional": func(m *bundle.Manifest) { m.Metadata["sequence"] = 7.5 },
		"sequence zero":       func(m *bundle.Manifest) { m.Metadata["sequence"] = 0 },
		"not_after a number":  func(m *bundle.Manifest) { m.Metadata["not_after"] = 1 },
		"not_after no zone":   func(m *bundle.Manifest) { m.Metadata["not_after"] = "2030-01-01T00:00:00" },
	} {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.NewReader(bytes.NewReader(buildBundle(t, nil, "rev-m"))).WithSkipBundleVerification(true).Read()
			if err != nil {
				t.Fatal(err)
			}
			edit(&b.Manifest)
			var buf bytes.Buffer
			if err := bundle.NewWriter(&buf).Write(b); err != nil {
				t.Fatal(err)
			}
			if _, err := policy.SignBundle(buf.Bytes(), newSigningKey(t), "regulator"); !errors.Is(err, policy.ErrBundle) || !strings.Contains(err.Error(), "metadata") {
				t.Errorf("SignBundle = %v, want an ErrBundle naming the metadata", err)
			}
		})
	}
	for name, drop := range map[string]string{"no sequence": "sequence", "no expiry": "not_after"} {
		t.Run(name, func(t *testing.T) {
			// Signed with OPA's own signer, so only fedscore's check refuses it.
			signed := signWithOPA(t, s, func(m *bundle.Manifest) { delete(m.Metadata, drop) })
			if _, err := policy.VerifyBundle(signed, s.key); !errors.Is(err, policy.ErrBundle) || !strings.Contains(err.Error(), drop) {
				t.Errorf("VerifyBundle = %v, want an ErrBundle naming %s", err, drop)
			}
			if _, err := policy.NewEngine(context.Background(), s.fs(signed)); !errors.Is(err, policy.ErrBundle) {
				t.Errorf("NewEngine = %v, want ErrBundle", err)
			}
		})
	}
}

func (s *series) engine(tarball []byte, marks *policy.SequenceStore, override *policy.RollbackOverride) (*policy.Engine, error) {
	s.t.Helper()
	opts := s.fs(tarball)
	opts.HighWater, opts.AllowRollback = marks, override
	return policy.NewEngine(context.Background(), opts)
}

func digest(t *testing.T, s *series, tarball []byte) string {
	t.Helper()
	info, err := policy.VerifyBundle(tarball, s.key)
	if err != nil {
		t.Fatal(err)
	}
	return info.Digest
}

// TestBundlesOnlyMoveForward is the invariant: a node activates a bundle
// only if its sequence is above the highest it has run, or it is that very
// bundle, on reload and on start-up alike, from the mark on disk.
func TestBundlesOnlyMoveForward(t *testing.T) {
	ctx := context.Background()
	s := newSeries(t)
	path := filepath.Join(t.TempDir(), "state", policy.HighWaterFile)
	b4, b5, b6 := s.bundle("rev-4", 4, time.Time{}), s.bundle("rev-5", 5, time.Time{}), s.bundle("rev-6", 6, time.Time{})
	b5other := s.bundle("rev-5-other", 5, time.Time{})

	e, err := s.engine(b5, openStore(t, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		bundle  []byte
		want    error
		wantRev string
	}{
		{"lower sequence", b4, policy.ErrRollback, "rev-5"},
		{"same sequence, other content", b5other, policy.ErrRollback, "rev-5"},
		{"the marked bundle again", b5, nil, "rev-5"},
		{"higher sequence", b6, nil, "rev-6"},
		{"back to the previous one", b5, policy.ErrRollback, "rev-6"},
	}
	for _, st := range steps {
		err := e.Reload(ctx, s.fs(st.bundle).Bundle)
		if !errors.Is(err, st.want) || (err != nil && !errors.Is(err, policy.ErrBundle)) {
			t.Errorf("%s: Reload = %v, want %v", st.name, err, st.want)
		}
		if err != nil {
			t.Logf("%s: %v", st.name, err)
		}
		if e.Revision() != st.wantRev {
			t.Errorf("%s: active revision %s, want %s", st.name, e.Revision(), st.wantRev)
		}
	}

	// A node restarted from its state directory remembers.
	marks := openStore(t, path)
	m, ok := marks.Mark()
	if !ok || m.Sequence != 6 || m.Revision != "rev-6" || m.Digest != digest(t, s, b6) || m.Time.IsZero() {
		t.Fatalf("mark on disk = %+v, %v", m, ok)
	}
	for name, b := range map[string][]byte{"lower": b4, "lower, once run": b5, "same sequence, other content": s.bundle("rev-6-other", 6, time.Time{})} {
		if _, err := s.engine(b, marks, nil); !errors.Is(err, policy.ErrRollback) {
			t.Errorf("start on %s bundle = %v, want ErrRollback", name, err)
		}
	}
	if err := marks.Check(&policy.BundleInfo{Sequence: 5, Digest: digest(t, s, b5)}); !errors.Is(err, policy.ErrRollback) {
		t.Errorf("Check(lower) = %v", err)
	}
	if _, err := s.engine(b6, marks, nil); err != nil {
		t.Errorf("start on the marked bundle: %v", err)
	}
}

func TestWatcherRefusesRollback(t *testing.T) {
	ctx := context.Background()
	s := newSeries(t)
	marks := openStore(t, filepath.Join(t.TempDir(), policy.HighWaterFile))
	e, err := s.engine(s.bundle("rev-2", 2, time.Time{}), marks, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "policy.tar.gz")
	var rejected []error
	w, err := policy.NewWatcher(e, path, policy.WatchOptions{Logger: discardLogger(), OnReject: func(err error) { rejected = append(rejected, err) }})
	if err != nil {
		t.Fatal(err)
	}
	// An older signed bundle, as an attacker replaying a laxer policy
	// would drop it, is refused; the newer one is taken.
	replaceFile(t, path, s.bundle("rev-1", 1, time.Time{}))
	if err := w.Poll(ctx); !errors.Is(err, policy.ErrRollback) || e.Revision() != "rev-2" || len(rejected) != 1 {
		t.Errorf("poll of an older bundle = %v, revision %s, %d rejections", err, e.Revision(), len(rejected))
	}
	replaceFile(t, path, s.bundle("rev-3", 3, time.Time{}))
	if err := w.Poll(ctx); err != nil || e.Revision() != "rev-3" {
		t.Errorf("poll of a newer bundle = %v, revision %s", err, e.Revision())
	}
	if m, _ := marks.Mark(); m.Sequence != 3 {
		t.Errorf("mark %d after the reload, want 3", m.Sequence)
	}
}

func TestExpiredBundleNeverActivates(t *testing.T) {
	ctx := context.Background()
	s := newSeries(t)
	expired := s.bundle("rev-old", 1, time.Now().Add(-time.Minute))
	marks := openStore(t, filepath.Join(t.TempDir(), policy.HighWaterFile))
	for name, m := range map[string]*policy.SequenceStore{"without a mark": nil, "with a mark": marks} {
		if _, err := s.engine(expired, m, nil); !errors.Is(err, policy.ErrExpired) || !errors.Is(err, policy.ErrBundle) {
			t.Errorf("start %s on an expired bundle = %v, want ErrExpired", name, err)
		}
	}
	if _, ok := marks.Mark(); ok {
		t.Error("an expired bundle moved the mark")
	}
	e, err := s.engine(s.bundle("rev-2", 2, time.Time{}), marks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(ctx, s.fs(s.bundle("rev-3", 3, time.Now().Add(-time.Second))).Bundle); !errors.Is(err, policy.ErrExpired) || e.Revision() != "rev-2" {
		t.Errorf("Reload(expired) = %v, revision %s", err, e.Revision())
	}
}

// TestActiveBundleExpires: once the active bundle's not_after has passed,
// every admission and release is refused with BUNDLE_EXPIRED until a newer
// bundle is activated.
func TestActiveBundleExpires(t *testing.T) {
	ctx := context.Background()
	s := newSeries(t)
	notAfter := time.Now().Add(time.Hour).Truncate(time.Second)
	e, err := s.engine(s.bundle("rev-1", 1, notAfter), openStore(t, filepath.Join(t.TempDir(), policy.HighWaterFile)), nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(t time.Time) func(*policy.AdmissionInput) { return func(in *policy.AdmissionInput) { in.Time = t } }
	if d, err := e.Admit(ctx, admission(at(notAfter.Add(-time.Second)))); err != nil || !d.Allow {
		t.Fatalf("Admit before not_after = %+v, %v", d, err)
	}
	later := notAfter.Add(time.Second)
	d, err := e.Admit(ctx, admission(at(later)))
	if err != nil || d.Allow || len(d.Reasons) != 1 || d.Reasons[0].Code != policy.CodeBundleExpired || d.BundleRevision != "rev-1" {
		t.Fatalf("Admit after not_after = %+v, %v", d, err)
	}
	if !errors.Is(d.Err(), policy.ErrDenied) || !strings.Contains(d.Err().Error(), notAfter.UTC().Format(time.RFC3339)) {
		t.Errorf("Err() = %v", d.Err())
	}
	t.Log(d.Err())
	rd, err := e.Release(ctx, policy.ReleaseInput{Query: admission(nil).Query, NodeName: "bank-a", Cells: 4, Time: later})
	if err != nil || rd.Allow || len(rd.Reasons) != 1 || rd.Reasons[0].Code != policy.CodeBundleExpired {
		t.Errorf("Release after not_after = %+v, %v", rd, err)
	}
	if err := e.Reload(ctx, s.fs(s.bundle("rev-2", 2, time.Time{})).Bundle); err != nil {
		t.Fatal(err)
	}
	if d, err := e.Admit(ctx, admission(at(later))); err != nil || !d.Allow || d.BundleRevision != "rev-2" {
		t.Errorf("Admit after a newer bundle arrived = %+v, %v", d, err)
	}
}

// rollbackLog records the overrides an engine reports, failing if told to.
type rollbackLog struct {
	from, to []policy.HighWaterMark
	fail     error
}

func (l *rollbackLog) record(_ context.Context, from, to policy.HighWaterMark) error {
	l.from, l.to = append(l.from, from), append(l.to, to)
	return l.fail
}

func TestRollbackOverride(t *testing.T) {
	ctx := context.Background()
	s := newSeries(t)
	path := filepath.Join(t.TempDir(), policy.HighWaterFile)
	b5, b6, b7 := s.bundle("rev-5", 5, time.Time{}), s.bundle("rev-6", 6, time.Time{}), s.bundle("rev-7", 7, time.Time{})
	if _, err := s.engine(b7, openStore(t, path), nil); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// An override that cannot be recorded changes nothing.
	failing := &rollbackLog{fail: errors.New("audit log unavailable")}
	if _, err := s.engine(b6, openStore(t, path), &policy.RollbackOverride{Sequence: 6, Record: failing.record}); err == nil || !strings.Contains(err.Error(), "audit log unavailable") {
		t.Errorf("override with a failing record = %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, onDisk) || len(failing.to) != 1 {
		t.Errorf("a failed override changed the mark or was not attempted once (%d)", len(failing.to))
	}
	// An override naming another sequence lets nothing through.
	other := &rollbackLog{}
	if _, err := s.engine(b6, openStore(t, path), &policy.RollbackOverride{Sequence: 5, Record: other.record}); err == nil || len(other.to) != 0 {
		t.Errorf("override for sequence 5 on bundle 6 = %v, %d records", err, len(other.to))
	}

	log := &rollbackLog{}
	e, err := s.engine(b6, openStore(t, path), &policy.RollbackOverride{Sequence: 6, Record: log.record})
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() != "rev-6" || len(log.to) != 1 {
		t.Fatalf("revision %s, %d records", e.Revision(), len(log.to))
	}
	from, to := log.from[0], log.to[0]
	if from.Sequence != 7 || from.Digest != digest(t, s, b7) || to.Sequence != 6 || to.Digest != digest(t, s, b6) || to.Revision != "rev-6" {
		t.Errorf("recorded %+v -> %+v", from, to)
	}
	marks := openStore(t, path)
	if m, _ := marks.Mark(); m.Sequence != 6 || m.Digest != to.Digest {
		t.Errorf("mark after the override = %+v", m)
	}
	// The override applies to the start only: reloads still never go back,
	// and newer bundles are taken again.
	if err := e.Reload(ctx, s.fs(b5).Bundle); !errors.Is(err, policy.ErrRollback) {
		t.Errorf("Reload(5) after the override = %v", err)
	}
	if err := e.Reload(ctx, s.fs(b7).Bundle); err != nil {
		t.Errorf("Reload(7) after the override = %v", err)
	}
	// An override that is not needed is not recorded.
	again := &rollbackLog{}
	if _, err := s.engine(b7, openStore(t, path), &policy.RollbackOverride{Sequence: 7, Record: again.record}); err != nil || len(again.to) != 0 {
		t.Errorf("override of the marked bundle = %v, %d records", err, len(again.to))
	}

	for name, opts := range map[string]policy.Options{
		"override without a mark":     {AllowRollback: &policy.RollbackOverride{Sequence: 1, Record: log.record}, VerificationKeys: []policy.VerificationKey{s.key}},
		"override without a record":   {AllowRollback: &policy.RollbackOverride{Sequence: 1}, HighWater: marks, VerificationKeys: []policy.VerificationKey{s.key}},
		"mark without verification":   {HighWater: marks},
		"override without a sequence": {AllowRollback: &policy.RollbackOverride{Record: log.record}, HighWater: marks, VerificationKeys: []policy.VerificationKey{s.key}},
	} {
		if _, err := policy.NewEngine(ctx, opts); err == nil {
			t.Errorf("%s: NewEngine succeeded", name)
		}
	}
}

// TestHighWaterMarkFileDamaged: a damaged mark file stops the node with an
// error naming the file, and is left as it is, never reset.
func TestHighWaterMarkFileDamaged(t *testing.T) {
	s := newSeries(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if _, err := s.engine(s.bundle("rev-3", 3, time.Time{}), openStore(t, good), nil); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string][]byte{
		"empty":         {},
		"truncated":     valid[:len(valid)/2],
		"garbage":       []byte("\x00\x01not json"),
		"two documents": append(bytes.Clone(valid), valid...),
		"wrong version": bytes.Replace(valid, []byte(`"version": 1`), []byte(`"version": 2`), 1),
		"unknown field": bytes.Replace(valid, []byte(`"version": 1`), []byte(`"version": 1, "reset": true`), 1),
		"zero sequence": bytes.Replace(valid, []byte(`"sequence": 3`), []byte(`"sequence": 0`), 1),
		"bad digest":    bytes.Replace(valid, []byte(`"digest": "`), []byte(`"digest": "zz`), 1),
	}
	for name, data := range damaged {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(data, valid) {
				t.Fatal("the damage did not apply")
			}
			path := filepath.Join(t.TempDir(), policy.HighWaterFile)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := policy.OpenSequenceStore(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "never reset") {
				t.Fatalf("OpenSequenceStore = %v, want an error naming %s", err, path)
			}
			t.Log(err)
			if now, _ := os.ReadFile(path); !bytes.Equal(now, data) {
				t.Error("the damaged file was changed")
			}
		})
	}
}

// TestMarkWrittenBeforeActivation: a bundle whose mark cannot be written
// does not become active.
func TestMarkWrittenBeforeActivation(t *testing.T) {
	s := newSeries(t)
	state := filepath.Join(t.TempDir(), "state")
	e, err := s.engine(s.bundle("rev-1", 1, time.Time{}), openStore(t, filepath.Join(state, policy.HighWaterFile)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The state directory becomes a file: nothing can be written there.
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background(), s.fs(s.bundle("rev-2", 2, time.Time{})).Bundle); err == nil || e.Revision() != "rev-1" {
		t.Errorf("Reload without a writable mark = %v, revision %s", err, e.Revision())
	}
}

func TestCheckSuccessor(t *testing.T) {
	prev := &policy.BundleInfo{Sequence: 4}
	if err := policy.CheckSuccessor(prev, &policy.BundleInfo{Sequence: 5}); err != nil {
		t.Error(err)
	}
	for _, seq := range []uint64{3, 4} {
		if err := policy.CheckSuccessor(prev, &policy.BundleInfo{Sequence: seq}); !errors.Is(err, policy.ErrRollback) {
			t.Errorf("CheckSuccessor(4, %d) = %v", seq, err)
		}
	}
}
