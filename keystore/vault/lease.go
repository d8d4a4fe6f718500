package vault

import (
	"time"

	"github.com/hashicorp/vault/api"
)

// noteLease records when the token of a login or renewal expires.
func (s *Store) noteLease(secret *api.Secret) {
	if secret == nil || secret.Auth == nil || secret.Auth.LeaseDuration <= 0 {
		return
	}
	s.tokenExpiry.Store(time.Now().Add(time.Duration(secret.Auth.LeaseDuration) * time.Second).UnixNano())
}

// TokenExpiry returns when the Store's Vault token expires unless it is
// renewed, as of its last login or renewal; false for a token given
// directly (Config.Token), whose lifetime the Store does not manage.
func (s *Store) TokenExpiry() (time.Time, bool) {
	n := s.tokenExpiry.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}
