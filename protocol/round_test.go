package protocol

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

func TestSeedsAndCommitments(t *testing.T) {
	verifiers := []string{"a", "b", "c"}
	seed := func(b byte) []byte { return bytes.Repeat([]byte{b}, SeedSize) }
	var seeds, commitments []*pb.NodeValue
	byNode := map[string][]byte{}
	for i, v := range verifiers {
		seeds = append(seeds, &pb.NodeValue{Node: v, Value: seed(byte(i + 1))})
		c := SeedCommitment(seed(byte(i + 1)))
		commitments = append(commitments, &pb.NodeValue{Node: v, Value: c})
		byNode[v] = c
	}
	got, err := CheckCommitments(verifiers, "b", byNode["b"], commitments)
	if err != nil || len(got) != 3 {
		t.Fatalf("commitments: %v", err)
	}
	if err := CheckSeeds(verifiers, got, seeds); err != nil {
		t.Fatalf("seeds: %v", err)
	}
	for name, tc := range map[string]func() error{
		"my commitment replaced": func() error {
			_, err := CheckCommitments(verifiers, "b", SeedCommitment(seed(9)), commitments)
			return err
		},
		"a commitment missing": func() error {
			_, err := CheckCommitments(verifiers, "b", nil, commitments[1:])
			return err
		},
		"a seed that opens no commitment": func() error {
			bad := []*pb.NodeValue{seeds[0], {Node: "b", Value: seed(9)}, seeds[2]}
			return CheckSeeds(verifiers, got, bad)
		},
		"seeds out of order": func() error {
			return CheckSeeds(verifiers, got, []*pb.NodeValue{seeds[1], seeds[0], seeds[2]})
		},
		"a short seed": func() error {
			return CheckSeeds(verifiers, got, []*pb.NodeValue{seeds[0], seeds[1], {Node: "c", Value: seed(3)[:16]}})
		},
	} {
		if err := tc(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// The joint seed depends on every seed and on the step.
	step := Step{QueryID: "q", QueryDigest: []byte("d"), Run: 1, Phase: 1}
	j := JointSeed(step, pb.Round_ROUND_INPUTS, seeds)
	other := step
	other.Run = 2
	for name, k := range map[string][]byte{
		"another run":   JointSeed(other, pb.Round_ROUND_INPUTS, seeds),
		"another round": JointSeed(step, pb.Round_ROUND_DECRYPTION_SHARES, seeds),
		"another seed":  JointSeed(step, pb.Round_ROUND_INPUTS, []*pb.NodeValue{seeds[0], seeds[1], {Node: "c", Value: seed(7)}}),
	} {
		if bytes.Equal(j, k) {
			t.Errorf("%s: same joint seed", name)
		}
	}
}

func TestCertCache(t *testing.T) {
	ca, err := pki.NewCA("test.fedscore.local", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(role, name string) [][]byte {
		c, err := ca.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: role, Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ChainDER(c)
	}
	a, renewed, b := issue(pki.RoleNode, "a"), issue(pki.RoleNode, "a"), issue(pki.RoleNode, "b")
	e := &Epoch{ID: "e1", Members: []string{"a", "b"}, MemberChains: map[string][][]byte{"a": a, "b": b}}
	c := NewCertCache(ca.Pool())
	now := time.Now()
	for range 2 { // the second time from the cache
		cert, err := c.MemberCert(e, "a", nil, now)
		if err != nil || !bytes.Equal(cert.Raw, a[0]) {
			t.Fatalf("a's epoch certificate: %v", err)
		}
	}
	if cert, err := c.MemberCert(e, "a", renewed, now); err != nil || !bytes.Equal(cert.Raw, renewed[0]) {
		t.Errorf("a's renewed certificate: %v", err)
	}
	for name, tc := range map[string]func() error{
		"b's certificate for a": func() error { _, err := c.MemberCert(e, "a", b, now); return err },
		"a querier's":           func() error { _, err := c.MemberCert(e, "a", issue(pki.RoleQuerier, "a"), now); return err },
		"no certificate":        func() error { _, err := c.MemberCert(e, "c", nil, now); return err },
		"expired":               func() error { _, err := c.MemberCert(e, "a", nil, now.Add(2*time.Hour)); return err },
	} {
		if err := tc(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
