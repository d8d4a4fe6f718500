package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		in   string
		want Identity // zero: must be rejected
	}{
		{"spiffe://fed.example/node/bank-a", Identity{"fed.example", RoleNode, "bank-a"}},
		{"spiffe://fed.example/coordinator/c1", Identity{"fed.example", RoleCoordinator, "c1"}},
		{"spiffe://fed.example/querier/risk.team_2", Identity{"fed.example", RoleQuerier, "risk.team_2"}},
		{"spiffe://td/regulator/0", Identity{"td", RoleRegulator, "0"}},
		{"spiffe://fed.example/node/" + strings.Repeat("a", 63), Identity{"fed.example", RoleNode, strings.Repeat("a", 63)}},

		{"", Identity{}},
		{"spiffe:", Identity{}},
		{"spiffe://", Identity{}},
		{"https://fed.example/node/bank-a", Identity{}},
		{"SPIFFE://fed.example/node/bank-a", Identity{}},
		{"spiffe:/fed.example/node/bank-a", Identity{}},
		{"spiffe:///node/bank-a", Identity{}},
		{"spiffe://Fed.example/node/bank-a", Identity{}},
		{"spiffe://fed.example:443/node/bank-a", Identity{}},
		{"spiffe://user@fed.example/node/bank-a", Identity{}},
		{"spiffe://fed.example/node/bank-a?x=1", Identity{}},
		{"spiffe://fed.example/node/bank-a#frag", Identity{}},
		{"spiffe://fed.example/node/bank-a/", Identity{}},
		{"spiffe://fed.example/node/bank-a/extra", Identity{}},
		{"spiffe://fed.example/node", Identity{}},
		{"spiffe://fed.example/node/", Identity{}},
		{"spiffe://fed.example//bank-a", Identity{}},
		{"spiffe://fed.example/admin/bank-a", Identity{}},
		{"spiffe://fed.example/Node/bank-a", Identity{}},
		{"spiffe://fed.example/node/Bank-A", Identity{}},
		{"spiffe://fed.example/node/-bank", Identity{}},
		{"spiffe://fed.example/node/.bank", Identity{}},
		{"spiffe://fed.example/node/..", Identity{}},
		{"spiffe://fed.example/node/bank%2Da", Identity{}},
		{"spiffe://fed.example/node/bank a", Identity{}},
		{"spiffe://fed.example/node/" + strings.Repeat("a", 64), Identity{}},
		{"spiffe://" + strings.Repeat("a", 256) + "/node/x", Identity{}},
		{" spiffe://fed.example/node/bank-a", Identity{}},
		{"spiffe://fed.example/node/bank-a\n", Identity{}},
	}
	for _, tt := range tests {
		got, err := ParseIdentity(tt.in)
		if tt.want == (Identity{}) {
			if err == nil {
				t.Errorf("ParseIdentity(%q) = %+v, want error", tt.in, got)
			} else if !errors.Is(err, ErrInvalidIdentity) {
				t.Errorf("ParseIdentity(%q) error %v, want ErrInvalidIdentity", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseIdentity(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.in {
			t.Errorf("String() = %q, want %q", s, tt.in)
		}
		if u := got.URI().String(); u != tt.in {
			t.Errorf("URI() = %q, want %q", u, tt.in)
		}
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{
		"spiffe://fed.example/node/bank-a",
		"spiffe://td/regulator/0",
		"spiffe://fed.example/node/bank-a/x",
		"spiffe://fed.example:1/node/a",
		"spiffe://fed.example/node/%41",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentity(s)
		if err != nil {
			return
		}
		if err := id.Validate(); err != nil {
			t.Fatalf("ParseIdentity(%q) returned invalid %+v: %v", s, id, err)
		}
		// Only the canonical form is accepted, and it round-trips through
		// both the string and the URI form used in certificates.
		if id.String() != s {
			t.Fatalf("ParseIdentity(%q).String() = %q", s, id.String())
		}
		u, err := url.Parse(id.URI().String())
		if err != nil {
			t.Fatalf("URI of %+v does not parse: %v", id, err)
		}
		again, err := ParseIdentity(u.String())
		if err != nil || again != id {
			t.Fatalf("round trip of %q gave %+v, %v", s, again, err)
		}
	})
}

func TestIdentityFromCert(t *testing.T) {
	ca := newTestCA(t)
	node := issue(t, ca, RoleNode, "bank-a")
	if got, err := IdentityFromCert(node.Certificate); err != nil || got != (Identity{testDomain, RoleNode, "bank-a"}) {
		t.Errorf("IdentityFromCert(leaf) = %v, %v", got, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	selfSigned := func(uris ...string) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bad := map[string]*x509.Certificate{
		"nil":             nil,
		"CA":              ca.Certificate(),
		"no URI":          selfSigned(),
		"two URIs":        selfSigned("spiffe://fed.example/node/a", "spiffe://fed.example/node/b"),
		"other URI too":   selfSigned("spiffe://fed.example/node/a", "https://example.com/"),
		"non-spiffe URI":  selfSigned("https://fed.example/node/a"),
		"unknown role":    selfSigned("spiffe://fed.example/admin/a"),
		"escaped name":    selfSigned("spiffe://fed.example/node/%61"),
		"uppercase host":  selfSigned("spiffe://FED.example/node/a"),
		"trailing slash":  selfSigned("spiffe://fed.example/node/a/"),
		"query in URI":    selfSigned("spiffe://fed.example/node/a?b"),
		"port in the URI": selfSigned("spiffe://fed.example:8443/node/a"),
	}
	for name, c := range bad {
		if id, err := IdentityFromCert(c); !errors.Is(err, ErrNoIdentity) {
			t.Errorf("%s: IdentityFromCert = %v, %v; want ErrNoIdentity", name, id, err)
		}
	}
}

func TestIssue(t *testing.T) {
	ca := newTestCA(t)
	if _, err := ca.Issue(Identity{"other.example", RoleNode, "a"}, nil, nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("Issue outside trust domain: %v, want ErrUntrusted", err)
	}
	if _, err := ca.Issue(Identity{testDomain, "admin", "a"}, nil, nil); !errors.Is(err, ErrInvalidIdentity) {
		t.Errorf("Issue with unknown role: %v, want ErrInvalidIdentity", err)
	}
	if _, err := NewCA("Bad Domain", time.Hour); !errors.Is(err, ErrInvalidIdentity) {
		t.Errorf("NewCA with bad trust domain: %v, want ErrInvalidIdentity", err)
	}
	cred := issue(t, ca, RoleCoordinator, "coord")
	c := cred.Certificate
	if c.IsCA || c.NotAfter.After(ca.Certificate().NotAfter) || c.NotAfter.Sub(c.NotBefore) > LeafValidity+clockSkew {
		t.Errorf("leaf: IsCA=%v validity %v..%v", c.IsCA, c.NotBefore, c.NotAfter)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Errorf("leaf does not verify for usage %v: %v", u, err)
		}
	}
}
