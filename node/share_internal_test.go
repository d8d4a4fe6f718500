package node

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

type keys struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *keys) Put(_ context.Context, name string, b []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[name] = slices.Clone(b)
	return nil
}

func (k *keys) Get(_ context.Context, name string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if b, ok := k.m[name]; ok {
		return slices.Clone(b), nil
	}
	return nil, keystore.ErrNotFound
}

func (k *keys) Delete(_ context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, name)
	return nil
}

// TestSharesAreClaimedOnceAcrossRestarts asks a node for its share of one
// verified aggregate twice, and again after a restart, which drops every
// query from memory: the share ledger refuses both repeats, for the
// decryption shares of phase 1 and the key-switch shares of phase 2.
// Without the ledger's claim the node would give a second share of the
// same ciphertext with fresh noise.
func TestSharesAreClaimedOnceAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := params.NewSecretShare()
	if err != nil {
		t.Fatal(err)
	}
	skb, _ := sk.MarshalBinary()
	crs := make([]byte, crypto.CRSSize)
	ckg, err := params.CKGShare(sk, crs)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := params.CombineCKG(crs, [][]byte{ckg})
	if err != nil {
		t.Fatal(err)
	}
	pkb, _ := pk.MarshalBinary()
	epoch := &protocol.Epoch{ID: "e1", Params: crypto.ParamsBGV13, Members: []string{"node-a"}, PublicKey: pkb}
	enc, err := params.NewEncryptor(pk)
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() []byte {
		cts, err := enc.Encrypt([]int64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := cts[0].MarshalBinary()
		return b
	}
	agg, agg2 := fresh(), fresh()
	c1, err := params.CiphertextC1(agg2)
	if err != nil {
		t.Fatal(err)
	}
	_, rpk, err := params.NewReceiverKey()
	if err != nil {
		t.Fatal(err)
	}

	ca, err := pki.NewCA("test.fedscore.local", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ca.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: pki.RoleNode, Name: "node-a"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := dataset.NewBuilder()
	b.AddNumber("age", []float64{30, 40})
	data, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	store := &keys{m: map[string][]byte{secretName(epoch.ID): skb}}
	dir := t.TempDir()
	open := func() *Node {
		t.Helper()
		n, err := New(Config{Credential: cred, Roots: ca.Pool(), Coordinator: "127.0.0.1:1", Data: data, Policy: engine, Keys: store, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	verified := func() *admittedQuery {
		aq := &admittedQuery{
			vq:     &protocol.VerifiedQuery{Envelope: &pb.QueryEnvelope{QueryId: "q-1"}, Digest: protocol.Digest([]byte("q-1"))},
			params: params, epoch: epoch, receiverKey: rpk, participants: epoch.Members, active: epoch.Members, run: 1,
		}
		aq.inputs[1] = &phaseInputs{round: verifyRound{sum: [][]byte{agg}}}
		aq.inputs[2] = &phaseInputs{round: verifyRound{sum: [][]byte{c1}}}
		return aq
	}
	for _, tt := range []struct {
		name  string
		share func(n *Node, ctx context.Context, aq *admittedQuery) (*reply, error)
	}{
		{"decryption share", (*Node).decryptionShares},
		{"key-switch share", (*Node).keySwitchShares},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := open()
			if r, err := tt.share(n, ctx, verified()); err != nil || r == nil {
				t.Fatalf("first share: %v", err)
			}
			if _, err := tt.share(n, ctx, verified()); !errors.Is(err, ErrAlreadyShared) {
				t.Errorf("second share: %v, want %v", err, ErrAlreadyShared)
			}
			n.Close()
			n = open()
			defer n.Close()
			if _, err := tt.share(n, ctx, verified()); !errors.Is(err, ErrAlreadyShared) {
				t.Errorf("share after a restart: %v, want %v", err, ErrAlreadyShared)
			}
		})
	}
	// A key-switch share of the phase 1 aggregate, whose c1 the node
	// decrypted, would be a second share of one ciphertext too.
	n := open()
	defer n.Close()
	aq := verified()
	aq.inputs[2].round.sum[0], err = params.CiphertextC1(agg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.keySwitchShares(ctx, aq); !errors.Is(err, ErrAlreadyShared) {
		t.Errorf("key switch of a decrypted aggregate: %v, want %v", err, ErrAlreadyShared)
	}
}

// TestAdmissionsSurviveRestartsUntilExpiry checks the admission record: a
// run is admitted once, a later run supersedes it, the record survives a
// restart, and an expired query is pruned.
func TestAdmissionsSurviveRestartsUntilExpiry(t *testing.T) {
	path := t.TempDir() + "/admissions"
	now := time.Now()
	a, err := openAdmissions(path, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.admit("q 1", 1, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := a.admit("q 1", 1, now.Add(time.Hour), now); !errors.Is(err, ErrAlreadyAdmitted) {
		t.Errorf("second admission: %v", err)
	}
	if err := a.admit("q 1", 2, now.Add(time.Hour), now); err != nil {
		t.Errorf("a later run: %v", err)
	}
	if err := a.admit("q-short", 1, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err = openAdmissions(path, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []uint32{1, 2} {
		if err := a.admit("q 1", run, now.Add(time.Hour), now); !errors.Is(err, ErrAlreadyAdmitted) {
			t.Errorf("run %d after a restart: %v", run, err)
		}
	}
	a.Close()
	// Two minutes on, the short query has expired and is forgotten; the
	// node's query check refuses it as expired anyway.
	later := now.Add(2 * time.Minute)
	a, err = openAdmissions(path, later)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.runs["q-short"]; ok {
		t.Error("an expired query was kept")
	}
	if err := a.admit("q 1", 2, now.Add(time.Hour), later); !errors.Is(err, ErrAlreadyAdmitted) {
		t.Errorf("a live query after pruning: %v", err)
	}
}
