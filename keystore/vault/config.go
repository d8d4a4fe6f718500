package vault

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Defaults for the zero fields of a Config.
const (
	DefaultTransitMount = "transit"
	DefaultKVMount      = "secret"
	DefaultAppRoleMount = "approle"
	DefaultTimeout      = 30 * time.Second
)

// A Config says how to reach Vault (or OpenBao), how to log in, and where
// the node's keys live.
type Config struct {
	// Address is Vault's URL, such as https://vault.example:8200. Empty
	// means $VAULT_ADDR, else $BAO_ADDR.
	Address string
	// Namespace is the Vault Enterprise or OpenBao namespace. Empty means
	// $VAULT_NAMESPACE, else $BAO_NAMESPACE, else none.
	Namespace string
	// CACert is a PEM file with the CA certificates that Vault's TLS
	// certificate must chain to. Empty means $VAULT_CACERT, else
	// $BAO_CACERT, else the system roots.
	CACert string

	// AppRole is how the node logs in; it is required unless Token is set.
	AppRole AppRole
	// Token is a fixed Vault token, for development only: it is neither
	// renewed nor replaced when it expires. It is ignored if AppRole.RoleID
	// is set.
	Token string

	// Node names the node. It gives the default KeyPrefix and TransitKey.
	Node string
	// TransitMount is the transit secrets engine's mount path
	// (DefaultTransitMount if empty).
	TransitMount string
	// TransitKey is the aes256-gcm96 transit key that wraps the data keys
	// ("fedscore-<Node>-kek" if empty). It must exist before Open.
	TransitKey string
	// KVMount is the KV version 2 engine's mount path (DefaultKVMount if
	// empty).
	KVMount string
	// KeyPrefix is the KV path under which the node's entries are kept
	// ("fedscore/<Node>" if empty).
	KeyPrefix string

	// Timeout bounds each request to Vault, and each signature made
	// through crypto.Signer, which takes no context (DefaultTimeout if
	// zero).
	Timeout time.Duration
	// MaxRetries is how often a request that fails with a network error or
	// a 5xx answer is retried: 0 means the Vault client's default (2) and a
	// negative value means never.
	MaxRetries int
	// Logger receives token renewals and logins; nil means none.
	Logger *slog.Logger
}

// AppRole holds AppRole login credentials. Exactly one of
// WrappedSecretIDFile and SecretID must be set.
type AppRole struct {
	// Mount is the AppRole auth method's mount path (DefaultAppRoleMount
	// if empty).
	Mount string
	// RoleID is the role's role_id.
	RoleID string
	// WrappedSecretIDFile is a file holding a response-wrapping token
	// whose wrapped response holds the secret_id, as written by
	// `vault write -wrap-ttl=... -f auth/approle/role/<role>/secret-id`.
	// It is read again, and a new token in it unwrapped, when the node has
	// to log in again and the secret_id it holds no longer works.
	WrappedSecretIDFile string
	// SecretID is a plain secret_id.
	SecretID string
}

// withDefaults returns c with its empty fields filled in from the
// environment and the defaults, or an ErrConfig error.
func (c Config) withDefaults() (Config, error) {
	c.Address = firstNonEmpty(c.Address, os.Getenv("VAULT_ADDR"), os.Getenv("BAO_ADDR"))
	c.Namespace = firstNonEmpty(c.Namespace, os.Getenv("VAULT_NAMESPACE"), os.Getenv("BAO_NAMESPACE"))
	c.CACert = firstNonEmpty(c.CACert, os.Getenv("VAULT_CACERT"), os.Getenv("BAO_CACERT"))
	c.TransitMount = trimSlashes(firstNonEmpty(c.TransitMount, DefaultTransitMount))
	c.KVMount = trimSlashes(firstNonEmpty(c.KVMount, DefaultKVMount))
	c.AppRole.Mount = trimSlashes(firstNonEmpty(c.AppRole.Mount, DefaultAppRoleMount))
	if c.TransitKey == "" && c.Node != "" {
		c.TransitKey = "fedscore-" + c.Node + "-kek"
	}
	if c.KeyPrefix == "" && c.Node != "" {
		c.KeyPrefix = "fedscore/" + c.Node
	}
	c.KeyPrefix = trimSlashes(c.KeyPrefix)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Address == "":
		return c, fmt.Errorf("%w: no Vault address: set it, or VAULT_ADDR or BAO_ADDR", ErrConfig)
	case c.TransitKey == "" || strings.Contains(c.TransitKey, "/"):
		return c, fmt.Errorf("%w: transit key %q: name one, or the node", ErrConfig, c.TransitKey)
	case c.KeyPrefix == "":
		return c, fmt.Errorf("%w: no KV key prefix: name one, or the node", ErrConfig)
	case c.AppRole.RoleID == "" && c.Token == "":
		return c, fmt.Errorf("%w: no credentials: give an AppRole role_id and secret_id (or, for development, a token)", ErrConfig)
	case c.AppRole.RoleID != "" && (c.AppRole.WrappedSecretIDFile == "") == (c.AppRole.SecretID == ""):
		return c, fmt.Errorf("%w: AppRole needs exactly one of a wrapped secret_id file and a secret_id", ErrConfig)
	}
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func trimSlashes(s string) string { return strings.Trim(s, "/") }
