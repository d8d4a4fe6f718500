package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrRefused reports that a server refused this party's certificate.
var ErrRefused = errors.New("pki: certificate refused by the server")

// In TLS 1.3 a server judges the client's certificate after the client's
// handshake has completed, so the client learns of a refusal only from the
// alert it reads next, which gRPC reports as a broken connection
// ("remote error: tls: ..."). These are the alerts crypto/tls servers send
// for a refused client certificate, with what they mean for the client.
var refusalAlerts = []struct{ alert, meaning string }{
	{"certificate required", "it requires a client certificate and this client presented none"},
	{"unknown certificate authority", "it does not trust the issuer of this party's certificate: is the certificate from another CA than the federation's?"},
	{"expired certificate", "the certificate has expired or is not yet valid"},
	{"bad certificate", "the certificate is outside the server's trust domain, has a role it does not admit, or is damaged (the server's log says which)"},
	{"certificate unknown", "the certificate is unacceptable (the server's log says why)"},
	{"unsupported certificate", "the certificate's type or usage is not accepted"},
	{"certificate revoked", "the certificate has been revoked"},
}

// ExplainRefusal turns a connection error caused by the server refusing
// self's certificate into an ErrRefused error that says so, naming the
// certificate, its issuer and validity; any other error is returned
// unchanged. Clients call it on the errors of their calls.
func ExplainRefusal(err error, self *x509.Certificate) error {
	if err == nil || errors.Is(err, ErrRefused) {
		return err
	}
	msg := err.Error()
	for _, a := range refusalAlerts {
		if !strings.Contains(msg, "remote error: tls: "+a.alert) {
			continue
		}
		return fmt.Errorf("%w: %s (%s): %w", ErrRefused, a.meaning, describe(self, time.Now()), err)
	}
	return err
}

// describe names a certificate for a person reading an error: identity,
// issuer and validity, and whether it has expired.
func describe(c *x509.Certificate, now time.Time) string {
	if c == nil {
		return "no certificate"
	}
	id := c.Subject.CommonName
	if got, err := IdentityFromCert(c); err == nil {
		id = got.String()
	}
	s := fmt.Sprintf("certificate %s issued by %q, valid %s to %s", id, c.Issuer.String(),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	switch {
	case now.After(c.NotAfter):
		s += ": it expired " + now.Sub(c.NotAfter).Round(time.Second).String() + " ago"
	case now.Before(c.NotBefore):
		s += ": it is not valid yet"
	}
	return s
}
