package pki

import (
	"testing"
	"time"
)

const testDomain = "fed.example"

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA(testDomain, time.Hour)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func issue(t testing.TB, ca *CA, role, name string) *Credential {
	t.Helper()
	cred, err := ca.Issue(Identity{TrustDomain: testDomain, Role: role, Name: name}, nil, nil)
	if err != nil {
		t.Fatalf("Issue(%s/%s): %v", role, name, err)
	}
	return cred
}

func mustIdentity(t testing.TB, cred *Credential) Identity {
	t.Helper()
	id, err := cred.Identity()
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	return id
}
