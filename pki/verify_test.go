package pki

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestVerifyPeerCertificate(t *testing.T) {
	ca := newTestCA(t)
	otherCA := newTestCA(t)
	querier := issue(t, ca, RoleQuerier, "analyst")
	foreign := issue(t, otherCA, RoleQuerier, "analyst")
	chain := [][]byte{querier.Certificate.Raw}
	now := time.Now()

	tests := []struct {
		name    string
		chain   [][]byte
		roots   *x509.CertPool
		role    string
		now     time.Time
		wantErr error
	}{
		{"valid", chain, ca.Pool(), RoleQuerier, now, nil},
		{"wrong role", chain, ca.Pool(), RoleNode, now, ErrWrongRole},
		{"empty role", chain, ca.Pool(), "", now, ErrWrongRole},
		{"other CA", [][]byte{foreign.Certificate.Raw}, ca.Pool(), RoleQuerier, now, ErrUntrusted},
		{"expired", chain, ca.Pool(), RoleQuerier, now.Add(LeafValidity + time.Minute), ErrUntrusted},
		{"not yet valid", chain, ca.Pool(), RoleQuerier, now.Add(-time.Hour), ErrUntrusted},
		{"nil roots", chain, nil, RoleQuerier, now, ErrUntrusted},
		{"empty chain", nil, ca.Pool(), RoleQuerier, now, ErrUntrusted},
		{"garbage", [][]byte{{0x30, 0x01}}, ca.Pool(), RoleQuerier, now, ErrUntrusted},
		{"CA certificate as leaf", [][]byte{ca.Certificate().Raw}, ca.Pool(), RoleQuerier, now, ErrNoIdentity},
	}
	for _, tt := range tests {
		id, leaf, err := VerifyPeerCertificate(tt.chain, tt.roots, tt.role, tt.now)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if id != mustIdentity(t, querier) || !leaf.Equal(querier.Certificate) {
			t.Errorf("%s: got %v, %v", tt.name, id, leaf.Subject)
		}
	}
}

// TestNameConstraint checks that a development CA cannot vouch for an
// identity outside its trust domain even if its key signs one.
func TestNameConstraint(t *testing.T) {
	ca := newTestCA(t)
	ca.trustDomain = "evil.example" // bypass Issue's own check
	cred, err := ca.Issue(Identity{"evil.example", RoleCoordinator, "c"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca.trustDomain = testDomain
	if _, _, err := VerifyPeerCertificate([][]byte{cred.Certificate.Raw}, ca.Pool(), RoleCoordinator, time.Now()); !errors.Is(err, ErrUntrusted) {
		t.Errorf("identity outside the name constraint: err = %v, want ErrUntrusted", err)
	}
}
