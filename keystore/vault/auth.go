package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
)

// An authenticator logs a client in with the configured credentials.
type authenticator struct {
	cfg    Config
	client *api.Client

	mu sync.Mutex
	// secretID is the unwrapped secret_id, kept to log in again while the
	// role allows it.
	secretID string
	// usedWrap is the last wrapping token unwrapped; a wrapping token works
	// once.
	usedWrap string
}

// login logs in and sets the client's token. It returns the login secret
// to renew, or nil for a fixed development token.
func (a *authenticator) login(ctx context.Context) (*api.Secret, error) {
	if a.cfg.AppRole.RoleID == "" {
		return nil, a.useToken(ctx)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.secretID == "" && a.cfg.AppRole.SecretID != "" {
		a.secretID = a.cfg.AppRole.SecretID
	}
	if a.secretID != "" {
		secret, err := a.appRoleLogin(ctx, a.secretID)
		if err == nil || a.cfg.AppRole.WrappedSecretIDFile == "" || !errors.Is(err, ErrAuth) {
			return secret, err
		}
		// The secret_id is used up or expired: look for a new wrapped one.
	}
	wrapped, err := a.readWrapped()
	if err != nil {
		return nil, err
	}
	secretID, err := a.unwrap(ctx, wrapped)
	if err != nil {
		return nil, err
	}
	a.secretID = secretID
	return a.appRoleLogin(ctx, secretID)
}

// readWrapped reads the wrapping token from its file, refusing one that was
// already unwrapped.
func (a *authenticator) readWrapped() (string, error) {
	file := a.cfg.AppRole.WrappedSecretIDFile
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: wrapped secret_id: %w", ErrAuth, err)
	}
	wrapped := strings.TrimSpace(string(b))
	switch wrapped {
	case "":
		return "", fmt.Errorf("%w: wrapped secret_id file %s is empty", ErrAuth, file)
	case a.usedWrap:
		return "", fmt.Errorf("%w: the wrapping token in %s was already used and its secret_id no longer logs in; write a new wrapped secret_id there",
			ErrAuth, file)
	}
	return wrapped, nil
}

// unwrap returns the secret_id in the response wrapped by token
// (sys/wrapping/unwrap). A wrapping token is single-use: an intercepted one
// fails here, which is how its theft shows.
func (a *authenticator) unwrap(ctx context.Context, token string) (string, error) {
	c, err := a.loginClient()
	if err != nil {
		return "", err
	}
	a.usedWrap = token
	secret, err := c.Logical().UnwrapWithContext(ctx, token)
	if err != nil {
		return "", classifyLogin(ctx, "unwrap the secret_id in "+a.cfg.AppRole.WrappedSecretIDFile, a.cfg.Address,
			"a wrapping token works once and expires: write a fresh one (if this one was never used, it was intercepted)", err)
	}
	if secret == nil || secret.Data == nil {
		return "", fmt.Errorf("%w: unwrapping %s gave no data", ErrAuth, a.cfg.AppRole.WrappedSecretIDFile)
	}
	id, _ := secret.Data["secret_id"].(string)
	if id == "" {
		return "", fmt.Errorf("%w: the wrapped response in %s holds no secret_id", ErrAuth, a.cfg.AppRole.WrappedSecretIDFile)
	}
	return id, nil
}

// appRoleLogin logs in with the role_id and secretID and sets the token on
// the store's client.
func (a *authenticator) appRoleLogin(ctx context.Context, secretID string) (*api.Secret, error) {
	method, err := approle.NewAppRoleAuth(a.cfg.AppRole.RoleID, &approle.SecretID{FromString: secretID},
		approle.WithMountPath(a.cfg.AppRole.Mount))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c, err := a.loginClient()
	if err != nil {
		return nil, err
	}
	secret, err := c.Auth().Login(ctx, method)
	if err != nil {
		return nil, classifyLogin(ctx, "AppRole login (auth/"+a.cfg.AppRole.Mount+"/login)", a.cfg.Address,
			"check the role_id and provide a fresh secret_id", err)
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return nil, fmt.Errorf("%w: AppRole login at %s returned no token", ErrAuth, a.cfg.Address)
	}
	a.client.SetToken(secret.Auth.ClientToken)
	return secret, nil
}

// loginClient returns a token-less copy of the client, so that a login
// neither sends nor disturbs the token other requests are using.
func (a *authenticator) loginClient() (*api.Client, error) {
	c, err := a.client.Clone()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c.ClearToken()
	c.SetNamespace(a.cfg.Namespace)
	return c, nil
}

// useToken sets the fixed development token and checks that Vault accepts
// it.
func (a *authenticator) useToken(ctx context.Context) error {
	a.client.SetToken(a.cfg.Token)
	if _, err := a.client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return classifyLogin(ctx, "look up the token (auth/token/lookup-self)", a.cfg.Address,
			"the token is wrong or expired", err)
	}
	return nil
}

// keepAlive renews the token from login until ctx ends, and logs in again
// whenever the token can no longer be renewed (it reached its maximum
// lifetime, or renewal failed until it expired).
func (s *Store) keepAlive(ctx context.Context, login *api.Secret) {
	defer close(s.done)
	if login == nil {
		return // a fixed development token
	}
	for {
		w, err := s.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{
			Secret:        login,
			RenewBehavior: api.RenewBehaviorIgnoreErrors,
		})
		if err != nil {
			s.log.Error("vault: cannot watch the token's lifetime", "err", err)
			return
		}
		go w.Start()
		err = s.watch(ctx, w)
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		s.log.Info("vault: token lifetime ended; logging in again", "reason", err)
		if login = s.relogin(ctx); login == nil {
			return
		}
	}
}

// watch reports renewals until the watcher is done, and returns why it
// ended; it returns nil when ctx ends.
func (s *Store) watch(ctx context.Context, w *api.LifetimeWatcher) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.DoneCh():
			if err == nil {
				err = errors.New("token reached its maximum lifetime")
			}
			return err
		case r := <-w.RenewCh():
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				s.noteLease(r.Secret)
				s.log.Debug("vault: token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			}
		}
	}
}

// relogin logs in again, retrying with backoff until it works or ctx
// ends (then it returns nil). Requests fail with ErrDenied meanwhile.
func (s *Store) relogin(ctx context.Context) *api.Secret {
	const maxWait = time.Minute
	wait := time.Second
	for {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		login, err := s.auth.login(lctx)
		cancel()
		if err == nil {
			s.noteLease(login)
			s.log.Info("vault: logged in again")
			return login
		}
		s.log.Error("vault: login failed; Vault requests will fail until it works", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
