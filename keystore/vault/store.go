package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/vault/api"

	"github.com/fedscore/fedscore/keystore"
)

// A Store keeps named secrets in Vault: each one sealed locally under its
// own transit data key, in a KV version 2 entry <KeyPrefix>/<name>.
//
// A Store is safe for concurrent use. Close it to stop the token renewal and
// revoke the token.
type Store struct {
	cfg    Config
	client *api.Client
	log    *slog.Logger

	// auth is how the Store logs in; it guards the credentials it holds.
	auth *authenticator

	stop context.CancelFunc // ends the renewal goroutine
	done chan struct{}      // closed when the renewal goroutine ends
	// tokenExpiry is when the token expires unless renewed (Unix
	// nanoseconds; 0 when unknown), see TokenExpiry.
	tokenExpiry atomic.Int64

	closeOnce sync.Once
	closed    chan struct{}

	// beforeWrite, if set, runs between reading an entry's version and
	// writing it; tests use it to provoke a check-and-set conflict.
	beforeWrite func()
}

var _ keystore.Store = (*Store)(nil)

// Open connects to Vault, checks that it is unsealed, logs in, and checks
// that the KV mount is KV version 2 and that the transit key exists and
// wraps data keys. It then keeps the token
// alive in the background until Close. ctx bounds only the work Open does
// itself.
//
// A sealed Vault gives ErrSealed, no answer ErrUnreachable, rejected
// credentials ErrAuth, a missing or unsuitable transit key ErrKey, and a
// KV mount of another kind ErrConfig.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkSeal(ctx, client, cfg.Address); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:    cfg,
		client: client,
		log:    log.With("vault", cfg.Address),
		auth:   &authenticator{cfg: cfg, client: client},
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	login, err := s.auth.login(ctx)
	if err != nil {
		return nil, err
	}
	s.noteLease(login)
	if err := s.checkKV(ctx); err != nil {
		s.revoke(ctx)
		return nil, err
	}
	if _, err := s.transitKey(ctx, cfg.TransitKey, "aes256-gcm96"); err != nil {
		s.revoke(ctx)
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.keepAlive(bg, login)
	return s, nil
}

// newClient makes a Vault client for cfg without a token.
func newClient(cfg Config) (*api.Client, error) {
	vc := api.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, vc.Error)
	}
	vc.Address = cfg.Address
	vc.Timeout = cfg.Timeout
	switch {
	case cfg.MaxRetries < 0:
		vc.MaxRetries = 0
	case cfg.MaxRetries > 0:
		vc.MaxRetries = cfg.MaxRetries
	}
	if cfg.CACert != "" {
		if err := vc.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("%w: Vault CA certificate %s: %w", ErrConfig, cfg.CACert, err)
		}
	}
	client, err := api.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// NewClient takes VAULT_TOKEN from the environment; only the
	// configured credentials may be used.
	client.ClearToken()
	client.SetNamespace(cfg.Namespace)
	return client, nil
}

// checkSeal fails with ErrSealed if Vault is sealed or not initialized.
func checkSeal(ctx context.Context, client *api.Client, addr string) error {
	st, err := client.Sys().SealStatusWithContext(ctx)
	if err != nil {
		return classify(ctx, "read seal status", addr, err)
	}
	switch {
	case !st.Initialized:
		return fmt.Errorf("%w: Vault at %s is not initialized", ErrSealed, addr)
	case st.Sealed:
		return fmt.Errorf("%w: Vault at %s is sealed (unseal progress %d of %d); unseal it before starting the node",
			ErrSealed, addr, st.Progress, st.T)
	}
	return nil
}

// checkKV checks that the KV mount is a KV version 2 engine: writing to a
// version 1 engine would ignore check-and-set and store entries under the
// wrong paths.
func (s *Store) checkKV(ctx context.Context) error {
	path := "sys/internal/ui/mounts/" + s.cfg.KVMount
	resp, err := s.client.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return classify(ctx, "check the KV mount ("+path+")", s.cfg.Address, err)
	}
	var typ, version string
	if resp != nil && resp.Data != nil {
		typ, _ = resp.Data["type"].(string)
		if opts, ok := resp.Data["options"].(map[string]any); ok {
			version, _ = opts["version"].(string)
		}
	}
	if typ != "kv" || version != "2" {
		return fmt.Errorf("%w: mount %s/ is %q version %q, want a KV version 2 engine", ErrConfig, s.cfg.KVMount, typ, version)
	}
	return nil
}

// Close stops renewing the token and revokes it. It is safe to call more
// than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stop()
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		defer cancel()
		s.revoke(ctx)
	})
	return nil
}

// revoke revokes the token the store logged in with, if it did.
func (s *Store) revoke(ctx context.Context) {
	if s.cfg.AppRole.RoleID == "" {
		return // a fixed development token is not ours to revoke
	}
	if err := s.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		s.log.Warn("vault: revoking the token failed", "err", err)
	}
	s.client.ClearToken()
}

func (s *Store) checkOpen(ctx context.Context, name string) error {
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return keystore.ValidateName(name)
}

// Put stores secret under name, replacing any previous value. It fails with
// ErrConflict, and leaves the entry as the other writer left it, if the
// entry changes between Put's read of its version and its write.
func (s *Store) Put(ctx context.Context, name string, secret []byte) error {
	if err := s.checkOpen(ctx, name); err != nil {
		return err
	}
	version, err := s.currentVersion(ctx, name)
	if err != nil {
		return err
	}
	return s.write(ctx, name, secret, version)
}

// Create stores secret under name if there is no entry there yet, and
// fails with ErrConflict otherwise.
func (s *Store) Create(ctx context.Context, name string, secret []byte) error {
	if err := s.checkOpen(ctx, name); err != nil {
		return err
	}
	return s.write(ctx, name, secret, 0)
}

// write seals secret and writes it with check-and-set version cas. Nothing
// is written unless every step before the single KV write succeeded.
func (s *Store) write(ctx context.Context, name string, secret []byte, cas int) error {
	if len(secret) > MaxSecretSize {
		return fmt.Errorf("%w: %s is %d bytes, at most %d fit one KV entry", ErrTooLarge, name, len(secret), MaxSecretSize)
	}
	env, err := s.seal(ctx, name, secret)
	if err != nil {
		return err
	}
	if s.beforeWrite != nil {
		s.beforeWrite()
	}
	_, err = s.client.KVv2(s.cfg.KVMount).Put(ctx, s.entryPath(name), env.fields(), api.WithCheckAndSet(cas))
	if err != nil {
		err = classify(ctx, "write "+s.kvDataPath(name), s.cfg.Address, err)
		if errors.Is(err, ErrConflict) {
			if cas == 0 {
				return fmt.Errorf("%w: %s already exists", err, name)
			}
			return fmt.Errorf("%w: %s changed since version %d was read", err, name, cas)
		}
		return err
	}
	return nil
}

// currentVersion returns the version of name's KV entry, 0 if there is
// none. A deleted latest version still counts: check-and-set needs it.
func (s *Store) currentVersion(ctx context.Context, name string) (int, error) {
	kv, err := s.client.KVv2(s.cfg.KVMount).Get(ctx, s.entryPath(name))
	if errors.Is(err, api.ErrSecretNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, classify(ctx, "read "+s.kvDataPath(name), s.cfg.Address, err)
	}
	if kv.VersionMetadata == nil {
		return 0, fmt.Errorf("%w: %s has no version metadata", keystore.ErrCorrupt, s.kvDataPath(name))
	}
	return kv.VersionMetadata.Version, nil
}

// Get returns the secret stored under name, or an error wrapping
// keystore.ErrNotFound if there is none, or keystore.ErrCorrupt if the entry
// does not open.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	if err := s.checkOpen(ctx, name); err != nil {
		return nil, err
	}
	kv, err := s.client.KVv2(s.cfg.KVMount).Get(ctx, s.entryPath(name))
	if errors.Is(err, api.ErrSecretNotFound) {
		return nil, fmt.Errorf("%w: %s", keystore.ErrNotFound, name)
	}
	if err != nil {
		return nil, classify(ctx, "read "+s.kvDataPath(name), s.cfg.Address, err)
	}
	if kv.Data == nil { // the latest version was deleted
		return nil, fmt.Errorf("%w: %s", keystore.ErrNotFound, name)
	}
	env, err := parseEnvelope(kv.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.kvDataPath(name), err)
	}
	return s.open(ctx, name, env)
}

// Delete removes every version of the entry stored under name. Deleting a
// name that holds no secret is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.checkOpen(ctx, name); err != nil {
		return err
	}
	err := s.client.KVv2(s.cfg.KVMount).DeleteMetadata(ctx, s.entryPath(name))
	if err != nil {
		return classify(ctx, "delete "+s.cfg.KVMount+"/metadata/"+s.entryPath(name), s.cfg.Address, err)
	}
	return nil
}

// entryPath is name's path inside the KV mount.
func (s *Store) entryPath(name string) string { return s.cfg.KeyPrefix + "/" + name }

// kvDataPath is name's full KV data path, for messages.
func (s *Store) kvDataPath(name string) string {
	return s.cfg.KVMount + "/data/" + s.entryPath(name)
}
