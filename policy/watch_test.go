package policy_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedscore/fedscore/policy"
)

// replaceFile replaces path atomically, as a deployment should.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// watchedEngine returns an engine serving the signed bundle at path.
func watchedEngine(t testing.TB, path string, keys []policy.VerificationKey) *policy.Engine {
	t.Helper()
	fsys, err := policy.LoadSignedBundle(path, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return newEngine(t, policy.Options{Bundle: fsys, VerificationKeys: keys})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestWatcherHotReload runs a watcher with a short interval and replaces the
// bundle file under it while decisions are being made.
func TestWatcherHotReload(t *testing.T) {
	key, other := newSigningKey(t), newSigningKey(t)
	keys := []policy.VerificationKey{trust("regulator", key)}
	path := filepath.Join(t.TempDir(), "policy.tar.gz")
	replaceFile(t, path, signBundle(t, buildBundle(t, nil, "rev-A"), key, "regulator"))
	e := watchedEngine(t, path, keys)

	type event struct {
		revision string
		err      error
	}
	events := make(chan event, 16)
	w, err := policy.NewWatcher(e, path, policy.WatchOptions{
		Interval:   5 * time.Millisecond,
		Logger:     discardLogger(),
		OnActivate: func(rev string) { events <- event{revision: rev} },
		OnReject:   func(err error) { events <- event{err: err} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		if err := w.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})

	// Decisions keep flowing through every swap, each made by one whole
	// bundle and carrying its revision.
	served := map[string]bool{"rev-A": true, "rev-B": true, "rev-C": true}
	var decisions atomic.Int64
	wg.Go(func() {
		pace := time.NewTicker(time.Millisecond) // leave CPU for the reloads
		defer pace.Stop()
		for ctx.Err() == nil {
			<-pace.C
			d, err := e.Admit(context.Background(), admission(nil))
			if err != nil || !d.Allow || !served[d.BundleRevision] {
				t.Errorf("Admit during reloads = %+v, %v", d, err)
				return
			}
			decisions.Add(1)
		}
	})

	next := func(t *testing.T) event {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher reported nothing within 10s")
			return event{}
		}
	}
	signedB := signBundle(t, buildBundle(t, nil, "rev-B"), key, "regulator")

	steps := []struct {
		name     string
		content  []byte
		wantRev  string // activated revision, or "" for a rejection
		wantErr  error
		afterRev string // Revision() afterwards
	}{
		{"signed rev B", signedB, "rev-B", nil, "rev-B"},
		{"tampered", editTar(t, signedB, "fedscore/admission.rego", flipByte), "", policy.ErrBadSignature, "rev-B"},
		{"unsigned", buildBundle(t, nil, "rev-U"), "", policy.ErrUnsigned, "rev-B"},
		{"signed by another key", signBundle(t, buildBundle(t, nil, "rev-X"), other, "regulator"), "", policy.ErrBadSignature, "rev-B"},
		{"truncated", signedB[:len(signedB)/2], "", policy.ErrBundle, "rev-B"},
		{"signed but does not compile", signBundle(t, writeTar(t, []tarEntry{
			{"/.manifest", []byte(`{"revision":"rev-D","roots":["fedscore"],"metadata":{"sequence":9,"not_after":"2099-01-01T00:00:00Z"}}`)},
			{"/fedscore/admission.rego", []byte("package fedscore.admission\n\ndecision := no_such_function(1)\n")},
		}), key, "regulator"), "", policy.ErrBundle, "rev-B"},
		{"empty file", nil, "", policy.ErrBundle, "rev-B"},
		{"signed rev C", signBundle(t, buildBundle(t, nil, "rev-C"), key, "regulator"), "rev-C", nil, "rev-C"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			replaceFile(t, path, st.content)
			// The first report must be about this content: the initial poll
			// of rev A (already active) and earlier rejections report nothing.
			ev := next(t)
			if st.wantRev != "" {
				if ev.err != nil || ev.revision != st.wantRev {
					t.Fatalf("event = %+v, want activation of %s", ev, st.wantRev)
				}
			} else {
				if ev.err == nil || !errors.Is(ev.err, st.wantErr) {
					t.Fatalf("event = %+v, want a rejection wrapping %v", ev, st.wantErr)
				}
				t.Log(ev.err)
			}
			if got := e.Revision(); got != st.afterRev {
				t.Errorf("Revision() = %q, want %q", got, st.afterRev)
			}
			d, err := e.Admit(context.Background(), admission(nil))
			if err != nil || d.BundleRevision != st.afterRev {
				t.Errorf("decision revision %q, %v; want %q", d.BundleRevision, err, st.afterRev)
			}
		})
	}
	if decisions.Load() == 0 {
		t.Error("no decisions were made during the reloads")
	}
}

// TestWatcherPoll drives the watcher by hand: each poll either activates,
// rejects or ignores the content at the path.
func TestWatcherPoll(t *testing.T) {
	ctx := context.Background()
	key := newSigningKey(t)
	keys := []policy.VerificationKey{trust("regulator", key)}
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.tar.gz")
	signedA := signBundle(t, buildBundle(t, nil, "rev-A"), key, "regulator")
	replaceFile(t, path, signedA)
	e := watchedEngine(t, path, keys)

	var activations, rejections int
	w, err := policy.NewWatcher(e, path, policy.WatchOptions{
		Logger:     discardLogger(),
		OnActivate: func(string) { activations++ },
		OnReject:   func(error) { rejections++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	poll := func(wantErr error, wantRev string, wantActivations, wantRejections int) {
		t.Helper()
		err := w.Poll(ctx)
		if (wantErr == nil) != (err == nil) || (wantErr != nil && !errors.Is(err, wantErr)) {
			t.Errorf("Poll = %v, want %v", err, wantErr)
		}
		if e.Revision() != wantRev || activations != wantActivations || rejections != wantRejections {
			t.Errorf("revision %s, %d activations, %d rejections; want %s, %d, %d",
				e.Revision(), activations, rejections, wantRev, wantActivations, wantRejections)
		}
	}
	poll(nil, "rev-A", 0, 0) // the active bundle is not reloaded
	replaceFile(t, path, editTar(t, signedA, "data.json", replace(t, `"min_partners":3`, `"min_partners":1`)))
	poll(policy.ErrBadSignature, "rev-A", 0, 1)
	poll(policy.ErrBadSignature, "rev-A", 0, 1) // reported once
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	poll(os.ErrNotExist, "rev-A", 0, 2)
	replaceFile(t, path, signBundle(t, buildBundle(t, nil, "rev-B"), key, "regulator"))
	poll(nil, "rev-B", 1, 2)
	poll(nil, "rev-B", 1, 2)

	// A directory works too.
	unpacked := filepath.Join(dir, "unpacked")
	for _, f := range readTar(t, signBundle(t, buildBundle(t, nil, "rev-dir"), key, "regulator")) {
		p := filepath.Join(unpacked, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, err := policy.NewWatcher(e, unpacked, policy.WatchOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := wd.Poll(ctx); err != nil || e.Revision() != "rev-dir" {
		t.Errorf("directory poll = %v, revision %s", err, e.Revision())
	}
}

func TestEngineReload(t *testing.T) {
	ctx := context.Background()
	key := newSigningKey(t)
	keys := []policy.VerificationKey{trust("regulator", key)}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.tar.gz", signBundle(t, buildBundle(t, nil, "rev-A"), key, "regulator"))
	e := watchedEngine(t, a, keys)

	if err := e.Reload(ctx, nil); !errors.Is(err, policy.ErrUnsigned) || e.Revision() != "rev-A" {
		t.Errorf("Reload(unsigned default) = %v, revision %s", err, e.Revision())
	}
	b := openBundle(t, write("b.tar.gz", signBundle(t, buildBundle(t, nil, "rev-B"), key, "regulator")))
	if err := e.Reload(ctx, b); err != nil || e.Revision() != "rev-B" {
		t.Errorf("Reload(signed B) = %v, revision %s", err, e.Revision())
	}
}

func TestNewWatcherNeedsVerification(t *testing.T) {
	e := newEngine(t, policy.Options{})
	if _, err := policy.NewWatcher(e, "policy.tar.gz", policy.WatchOptions{}); err == nil {
		t.Error("NewWatcher accepted an engine that verifies nothing")
	}
}
