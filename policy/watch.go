package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// DefaultWatchInterval is how often a [Watcher] polls by default.
const DefaultWatchInterval = 10 * time.Second

// WatchOptions configure a [Watcher].
type WatchOptions struct {
	// Interval between polls; zero means [DefaultWatchInterval].
	Interval time.Duration
	// Logger receives activations (info) and rejections (error); nil means
	// slog.Default().
	Logger *slog.Logger
	// OnActivate, if set, is called after a new bundle became active.
	OnActivate func(revision string)
	// OnReject, if set, is called once for each distinct content of the
	// watched path that could not be activated; the previous bundle keeps
	// deciding.
	OnReject func(err error)
}

// Watcher hot-reloads an [Engine] from a bundle path: a .tar.gz file or a
// directory. It polls the path and, when its content changes, reloads the
// engine as [Engine.Reload] does, which activates the new bundle only if it
// verifies against the engine's keys, is not older than the engine's
// high-water mark, has not expired and compiles. Replace the file
// atomically (write a temporary file, then rename): a half-written file is
// rejected, and activated once complete.
type Watcher struct {
	engine *Engine
	path   string
	opts   WatchOptions
	log    *slog.Logger

	mu      sync.Mutex // serialises Poll
	lastKey [sha256.Size]byte
	lastErr error
	expired [sha256.Size]byte // the expired active bundle last reported
}

// NewWatcher returns a watcher reloading e from path. The engine must have
// [Options.VerificationKeys]: hot reload never activates unsigned bundles.
func NewWatcher(e *Engine, path string, opts WatchOptions) (*Watcher, error) {
	if len(e.keys) == 0 {
		return nil, errors.New("policy: hot reload needs an engine with Options.VerificationKeys")
	}
	if path == "" {
		return nil, errors.New("policy: hot reload needs a bundle path")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultWatchInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{engine: e, path: path, opts: opts, log: log.With("bundle_path", path)}, nil
}

// Run polls until ctx is done, then returns ctx.Err(). It polls at once,
// then every interval. Rejections are logged and reported to OnReject;
// they never stop the watcher.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		_ = w.Poll(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll checks the path once and reloads the engine if its content changed
// and differs from the active bundle. It returns why the content at the
// path is not active, if it is not; an unchanged rejected content is
// returned again without being reported again.
func (w *Watcher) Poll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reportExpiry()

	key, files, err := w.read()
	if key == w.lastKey {
		return w.lastErr
	}
	if err == nil {
		if files.digest() == w.engine.active.Load().digest {
			w.lastKey, w.lastErr = key, nil
			return nil
		}
		var ab *activeBundle
		if ab, err = w.engine.activate(ctx, files, nil); err == nil {
			w.lastKey, w.lastErr = key, nil
			w.log.Info("policy bundle activated", "revision", ab.revision, "sequence", ab.sequence,
				"not_after", ab.notAfter, "key_id", ab.keyID)
			if w.opts.OnActivate != nil {
				w.opts.OnActivate(ab.revision)
			}
			return nil
		}
		if ctx.Err() != nil {
			// Not the bundle's fault: try this content again next time.
			return err
		}
	}
	w.lastKey, w.lastErr = key, err
	w.log.Error("policy bundle rejected; the active bundle keeps deciding",
		"active_revision", w.engine.Revision(), "error", err)
	if w.opts.OnReject != nil {
		w.opts.OnReject(err)
	}
	return err
}

// reportExpiry logs, once per bundle, that the active bundle has expired.
func (w *Watcher) reportExpiry() {
	ab := w.engine.active.Load()
	if ab.notAfter.IsZero() || time.Now().Before(ab.notAfter) || ab.digest == w.expired {
		return
	}
	w.expired = ab.digest
	w.log.Error("the active policy bundle has expired: every admission and release is refused with "+CodeBundleExpired+" until a newer signed bundle is activated",
		"revision", ab.revision, "sequence", ab.sequence, "not_after", ab.notAfter)
}

// read snapshots the bundle at the path. key identifies what was read (the
// raw bytes of a tarball, the files of a directory, or the error), so that
// unchanged content is neither reloaded nor reported twice.
func (w *Watcher) read() (key [sha256.Size]byte, files fileSet, err error) {
	files, key, err = readPath(w.path)
	if err != nil && key == ([sha256.Size]byte{}) {
		key = sha256.Sum256([]byte("error\x00" + err.Error()))
	}
	return key, files, err
}
