package protocol

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/fedscore/fedscore/pki"
)

// maxCachedChains bounds a CertCache: a federation's members, a few
// certificates each.
const maxCachedChains = 4096

// CertCache verifies certificate chains once and remembers the verified
// leaf until the chain's first certificate expires, so that checking N
// members' statements costs N signature checks, not N chain verifications.
// It is safe for concurrent use.
type CertCache struct {
	roots *x509.CertPool
	mu    sync.Mutex
	m     map[[sha256.Size]byte]cachedCert
}

type cachedCert struct {
	role     string
	id       pki.Identity
	leaf     *x509.Certificate
	notAfter time.Time
}

// NewCertCache returns a cache verifying against roots.
func NewCertCache(roots *x509.CertPool) *CertCache {
	return &CertCache{roots: roots, m: map[[sha256.Size]byte]cachedCert{}}
}

// Verify is pki.VerifyPeerCertificate, remembered.
func (c *CertCache) Verify(chain [][]byte, role string, now time.Time) (pki.Identity, *x509.Certificate, error) {
	h := sha256.New()
	for _, der := range chain {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(der))))
		h.Write(der)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && e.role == role && now.Before(e.notAfter) && !now.Before(e.leaf.NotBefore) {
		return e.id, e.leaf, nil
	}
	id, leaf, err := pki.VerifyPeerCertificate(chain, c.roots, role, now)
	if err != nil {
		return id, nil, err
	}
	notAfter := leaf.NotAfter
	for _, der := range chain[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil && ic.NotAfter.Before(notAfter) {
			notAfter = ic.NotAfter
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedChains {
		for k, e := range c.m {
			if !now.Before(e.notAfter) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedChains {
			clear(c.m)
		}
	}
	c.m[key] = cachedCert{role: role, id: id, leaf: leaf, notAfter: notAfter}
	return id, leaf, nil
}

// MemberCert returns the verified certificate of an epoch member: chain
// when given (a certificate renewed since the epoch's key generation),
// otherwise the one the epoch recorded. The certificate must name the
// member.
func (c *CertCache) MemberCert(e *Epoch, member string, chain [][]byte, now time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 {
		chain = e.MemberChains[member]
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no certificate of member %s for epoch %s", ErrInvalid, member, e.ID)
	}
	id, cert, err := c.Verify(chain, pki.RoleNode, now)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate of %s: %w", ErrInvalid, member, err)
	}
	if id.Name != member {
		return nil, fmt.Errorf("%w: the certificate given for %s is %s's", ErrInvalid, member, id.Name)
	}
	return cert, nil
}
