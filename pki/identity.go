package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Roles a party can hold in a federation.
const (
	RoleCoordinator = "coordinator"
	RoleNode        = "node"
	RoleQuerier     = "querier"
	RoleRegulator   = "regulator"
	// RoleOperator runs the federation: key ceremonies and rotations.
	RoleOperator = "operator"
)

// Errors reported by this package; test for them with errors.Is.
var (
	// ErrInvalidIdentity reports a malformed identity URI or field.
	ErrInvalidIdentity = errors.New("pki: invalid identity")
	// ErrNoIdentity reports a certificate or connection without exactly one
	// usable SPIFFE identity.
	ErrNoIdentity = errors.New("pki: no identity")
	// ErrWrongRole reports a valid identity whose role is not allowed.
	ErrWrongRole = errors.New("pki: wrong role")
	// ErrWrongIdentity reports a valid identity other than the one expected.
	ErrWrongIdentity = errors.New("pki: unexpected peer identity")
	// ErrUntrusted reports a certificate chain that does not verify against
	// the trusted roots.
	ErrUntrusted = errors.New("pki: untrusted certificate")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("pki: bad signature")
)

const (
	spiffeScheme       = "spiffe"
	maxTrustDomainLen  = 255
	maxNameLen         = 63
	spiffeSchemePrefix = spiffeScheme + "://"
)

// Identity is a party's SPIFFE-style identity,
// spiffe://<TrustDomain>/<Role>/<Name>.
type Identity struct {
	TrustDomain string
	Role        string
	Name        string
}

// URI returns the identity as a URI, as placed in a certificate's URI SAN.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: spiffeScheme, Host: id.TrustDomain, Path: "/" + id.Role + "/" + id.Name}
}

// String returns the identity's URI form.
func (id Identity) String() string {
	return spiffeSchemePrefix + id.TrustDomain + "/" + id.Role + "/" + id.Name
}

// Validate reports whether every field of id is well formed.
func (id Identity) Validate() error {
	if err := validateTrustDomain(id.TrustDomain); err != nil {
		return err
	}
	if !KnownRole(id.Role) {
		return fmt.Errorf("%w: unknown role %q", ErrInvalidIdentity, id.Role)
	}
	if !validName(id.Name) {
		return fmt.Errorf("%w: name %q must match [a-z0-9][a-z0-9._-]{0,62}", ErrInvalidIdentity, id.Name)
	}
	return nil
}

// KnownRole reports whether role is one of the Role constants.
func KnownRole(role string) bool {
	switch role {
	case RoleCoordinator, RoleNode, RoleQuerier, RoleRegulator, RoleOperator:
		return true
	}
	return false
}

// ParseIdentity parses a URI of the form spiffe://<trust-domain>/<role>/<name>.
// It accepts only the canonical form: lowercase scheme and trust domain, a
// known role, and no port, user info, query, fragment, percent-encoding or
// extra path segments.
func ParseIdentity(uri string) (Identity, error) {
	rest, ok := strings.CutPrefix(uri, spiffeSchemePrefix)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q does not start with %s", ErrInvalidIdentity, uri, spiffeSchemePrefix)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return Identity{}, fmt.Errorf("%w: %q is not %s<trust-domain>/<role>/<name>", ErrInvalidIdentity, uri, spiffeSchemePrefix)
	}
	id := Identity{TrustDomain: parts[0], Role: parts[1], Name: parts[2]}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// IdentityFromCert returns the identity in c's URI SAN. As for SPIFFE
// X.509-SVIDs, c must be a leaf (not a CA) with exactly one URI SAN.
func IdentityFromCert(c *x509.Certificate) (Identity, error) {
	if c == nil {
		return Identity{}, fmt.Errorf("%w: nil certificate", ErrNoIdentity)
	}
	if c.IsCA {
		return Identity{}, fmt.Errorf("%w: %q is a CA certificate", ErrNoIdentity, c.Subject)
	}
	if len(c.URIs) != 1 {
		return Identity{}, fmt.Errorf("%w: certificate %q has %d URI SANs, want exactly 1", ErrNoIdentity, c.Subject, len(c.URIs))
	}
	id, err := ParseIdentity(c.URIs[0].String())
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	return id, nil
}

func validateTrustDomain(td string) error {
	if td == "" || len(td) > maxTrustDomainLen {
		return fmt.Errorf("%w: trust domain must have 1 to %d characters", ErrInvalidIdentity, maxTrustDomainLen)
	}
	for i := 0; i < len(td); i++ {
		if c := td[i]; !isLowerAlnum(c) && c != '.' && c != '-' && c != '_' {
			return fmt.Errorf("%w: trust domain %q may contain only [a-z0-9._-]", ErrInvalidIdentity, td)
		}
	}
	return nil
}

func validName(name string) bool {
	if name == "" || len(name) > maxNameLen || !isLowerAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}
