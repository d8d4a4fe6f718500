package coordinator_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/querier"
)

const rogueName = "rogue-bank"

var honestNames = []string{"bank-east", "consumer-finance"}

// bgv14Ciphertexts encrypts the rogue's contribution under a bgv14 key of
// its own, while the federation uses bgv13.
func bgv14Ciphertexts(rt *rogueTask) ([][]byte, error) {
	p, err := crypto.NewParams(crypto.ParamsBGV14)
	if err != nil {
		return nil, err
	}
	sk, err := p.NewSecretShare()
	if err != nil {
		return nil, err
	}
	crs := make([]byte, crypto.CRSSize)
	share, err := p.CKGShare(sk, crs)
	if err != nil {
		return nil, err
	}
	pk, err := p.CombineCKG(crs, [][]byte{share})
	if err != nil {
		return nil, err
	}
	return rt.ciphertexts(p, pk)
}

// TestRogueNodeInputFailsQuery runs a federation of two real nodes and a
// rogue member that completed key generation honestly and then sends a bad
// answer to a query. The query must fail, naming the rogue and the cause;
// the honest nodes must be told to drop it; and once a real node replaces
// the rogue, the coordinator must run the next query to completion.
func TestRogueNodeInputFailsQuery(t *testing.T) {
	// stolen is a second certificate and key for an honest member, which
	// the rogue signs with in one case.
	type act func(rt *rogueTask, stolen *pki.Credential) error
	tests := []struct {
		name string
		act  act
		code codes.Code
		want []string
		// queryTimeout is the coordinator's; the querier allows 30 s.
		queryTimeout time.Duration
	}{
		{
			name: "truncated ciphertext with a receipt over the truncated bytes",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				cts[0] = cts[0][:len(cts[0])/2]
				return rt.sendWith(rt.receipt(cts), cts)
			},
			code: codes.Aborted,
			want: []string{"ciphertext 0", crypto.ErrMalformed.Error(), "truncated"},
		},
		{
			name: "ciphertext made with bgv14 parameters",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := bgv14Ciphertexts(rt)
				if err != nil {
					return err
				}
				return rt.sendWith(rt.receipt(cts), cts)
			},
			code: codes.Aborted,
			want: []string{"ciphertext 0", crypto.ErrParamsMismatch.Error()},
		},
		{
			name: "ciphertext bytes that do not match the receipt digest",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				cts[0][len(cts[0])-1] ^= 1
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{"ciphertext 0 does not match its receipt"},
		},
		{
			name: "receipt signed for another query id",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.QueryId = "q-another"
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{protocol.ErrInvalid.Error(), `is for query "q-another"`},
		},
		{
			name: "receipt for another version of the query",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.QueryDigest = protocol.Digest([]byte("another envelope"))
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{protocol.ErrInvalid.Error(), "another version of query"},
		},
		{
			name: "receipt signed with another node's key",
			act: func(rt *rogueTask, stolen *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rt.reveal(cts, len(cts))
				return rt.commit(rt.receipt(cts), stolen.Key)
			},
			code: codes.Aborted,
			want: []string{"receipt signature of " + rogueName, pki.ErrBadSignature.Error()},
		},
		{
			name: "receipt naming another node",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.Node = honestNames[0]
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{`claims node "` + honestNames[0] + `"`},
		},
		{
			name: "receipt for another epoch",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.Epoch = "e-previous"
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{`is for epoch "e-previous"`},
		},
		{
			name: "receipt for another run",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.Run++
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{protocol.ErrInvalid.Error(), "is for run 2, not 1"},
		},
		{
			name: "receipt for the other phase",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rc := rt.receipt(cts)
				rc.Phase = 2
				return rt.sendWith(rc, cts)
			},
			code: codes.Aborted,
			want: []string{protocol.ErrInvalid.Error(), "is for phase 2, not 1"},
		},
		{
			name: "reveal without the seed commitments of a verifier",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rt.s.mu.Lock()
				rt.s.onReceiptSet = func(set *pb.ReceiptSet) error {
					m := &pb.InputReveal{QueryId: set.QueryId, Run: set.Run, Phase: set.Phase, CiphertextBlobs: []string{"ct/0"}}
					if err := rt.s.sendBlob("ct/0", cts[0]); err != nil {
						return err
					}
					return rt.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Reveal{Reveal: m}})
				}
				rt.s.mu.Unlock()
				return rt.commit(rt.receipt(cts), rt.r.cred.Key)
			},
			code: codes.Aborted,
			want: []string{"sent 0 seed commitments, expected 2"},
		},
		{
			name: "more ciphertexts than the other partners",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				cts = append(cts, slices.Clone(cts[0]))
				return rt.sendWith(rt.receipt(cts), cts)
			},
			code: codes.Aborted,
			want: []string{"committed to 2 ciphertexts"},
		},
		{
			name: "no ciphertext at all",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				return rt.sendWith(rt.receipt(nil), nil)
			},
			code: codes.Aborted,
			want: []string{"names no ciphertext"},
		},
		{
			name: "key-switch share instead of an input",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				return rt.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_KeySwitchShare{KeySwitchShare: &pb.KeySwitchShare{QueryId: rt.vq.Envelope.QueryId}}})
			},
			code: codes.Aborted,
			want: []string{"unexpected message"},
		},
		{
			name: "policy refusal",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				return rt.s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: &pb.Refusal{
					TaskId: rt.vq.Envelope.QueryId, DecisionId: "d-1",
					Reasons: []*pb.Reason{{Code: "purpose_not_allowed", Message: "not for this purpose"}},
				}}})
			},
			code: codes.PermissionDenied,
			want: []string{"refused", "purpose_not_allowed"},
		},
		{
			name: "input naming a blob that never arrives",
			act: func(rt *rogueTask, _ *pki.Credential) error {
				cts, err := rt.collectiveCiphertexts()
				if err != nil {
					return err
				}
				rt.reveal(nil, len(cts))
				return rt.commit(rt.receipt(cts), rt.r.cred.Key)
			},
			// The query fails at once, naming the missing blob, rather than
			// waiting for its deadline.
			queryTimeout: 3 * time.Second,
			code:         codes.Aborted,
			want:         []string{"missing blob"},
		},
		{
			name: "disconnects after receiving the task",
			act: func(*rogueTask, *pki.Credential) error {
				return errHangUp
			},
			code: codes.Aborted,
			want: []string{"node disconnected"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			f := newFederation(t, fedConfig{honest: honestNames, others: []string{rogueName}, queryTimeout: tc.queryTimeout})
			r := f.startRogue(rogueName)
			f.waitReady(ctx)
			stolen := f.issue(pki.RoleNode, honestNames[0])

			r.misbehaveOnNextQuery(func(rt *rogueTask) error { return tc.act(rt, stolen) })
			_, err := f.client.Run(ctx, f.spec(), nil)
			errorContains(t, err, append([]string{"node " + rogueName}, tc.want...)...)
			if got := grpcCode(err); got != tc.code {
				t.Errorf("status code %v, want %v", got, tc.code)
			}
			for _, n := range honestNames {
				if _, err := f.logs.wait(ctx, 1, "query cancelled by the coordinator", "node", n); err != nil {
					t.Errorf("node %s was not told to drop the failed query: %v", n, err)
				}
			}
			if f.srv.Epoch() == nil {
				t.Fatal("the federation lost its epoch")
			}

			f.replaceRogue(ctx, r)
			f.mustQuery(ctx)
		})
	}
}

// TestRogueSetupShareSignature has a member send a key-generation share
// whose signature does not verify. No epoch may be formed and no node may
// receive the relayed shares; once the member signs correctly, a new key
// generation succeeds.
func TestRogueSetupShareSignature(t *testing.T) {
	type hook func(r *rogueNode, stolen *pki.Credential, req *pb.SetupRequest, share, sig []byte) (blob, signature []byte)
	sign := func(key *pki.Credential, purpose string, req *pb.SetupRequest, epoch, node string, share []byte) []byte {
		stmt, err := protocol.SetupStatementBytes(epoch, req.Params, req.Crs, node, share)
		if err != nil {
			panic(err)
		}
		sig, err := pki.Sign(key.Key, purpose, stmt)
		if err != nil {
			panic(err)
		}
		return sig
	}
	tests := []struct {
		name string
		hook hook
	}{
		{"garbage signature", func(_ *rogueNode, _ *pki.Credential, _ *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, []byte("not a signature")
		}},
		{"no signature", func(_ *rogueNode, _ *pki.Credential, _ *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, nil
		}},
		{"signed under the receipt purpose", func(r *rogueNode, _ *pki.Credential, req *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, sign(r.cred, protocol.PurposeReceipt, req, req.Epoch, r.name, share)
		}},
		{"signed for another epoch", func(r *rogueNode, _ *pki.Credential, req *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, sign(r.cred, protocol.PurposeSetupShare, req, req.Epoch+"-other", r.name, share)
		}},
		{"statement naming another member", func(r *rogueNode, _ *pki.Credential, req *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, sign(r.cred, protocol.PurposeSetupShare, req, req.Epoch, honestNames[0], share)
		}},
		{"signed with another member's key", func(r *rogueNode, stolen *pki.Credential, req *pb.SetupRequest, share, _ []byte) ([]byte, []byte) {
			return share, sign(stolen, protocol.PurposeSetupShare, req, req.Epoch, r.name, share)
		}},
		{"share replaced after signing", func(_ *rogueNode, _ *pki.Credential, req *pb.SetupRequest, _, sig []byte) ([]byte, []byte) {
			p, err := crypto.NewParams(req.Params)
			if err != nil {
				panic(err)
			}
			sk, err := p.NewSecretShare()
			if err != nil {
				panic(err)
			}
			other, err := p.CKGShare(sk, req.Crs)
			if err != nil {
				panic(err)
			}
			return other, sig
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			f := newFederation(t, fedConfig{honest: honestNames, others: []string{rogueName}})
			stolen := f.issue(pki.RoleNode, honestNames[0])
			r := f.startRogue(rogueName)
			r.misbehaveInSetup(func(req *pb.SetupRequest, share, sig []byte) ([]byte, []byte) {
				return tc.hook(r, stolen, req, share, sig)
			})

			if _, err := f.logs.wait(ctx, 1, "key generation failed"); err != nil {
				t.Fatal(err)
			}
			short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
			err := f.srv.WaitReady(short)
			cancelShort()
			errorContains(t, err, "federation not ready", "node "+rogueName+" key-generation share signature", pki.ErrBadSignature.Error())
			if e := f.srv.Epoch(); e != nil {
				t.Fatalf("an epoch %s was formed from a share with a bad signature", e.ID)
			}
			if n := r.setupResultCount(); n != 0 {
				t.Errorf("the rogue received %d setup results", n)
			}
			acks := f.obs.all(func(_ string, m *pb.NodeMessage) bool { return m.GetHello().GetEpoch() != "" })
			if len(acks) != 0 {
				t.Errorf("%s acknowledged a collective key", acks[0].node)
			}

			// A correctly signed share in a new key generation succeeds.
			r.misbehaveInSetup(nil)
			if err := r.sendHello(); err != nil {
				t.Fatal(err)
			}
			f.waitReady(ctx)
			e := f.srv.Epoch()
			if e == nil {
				t.Fatal("no epoch after a correct key generation")
			}
			if !slices.Equal(e.Members, f.members) {
				t.Errorf("epoch members %v, want %v", e.Members, f.members)
			}
			if n := r.setupResultCount(); n != 1 {
				t.Errorf("the rogue received %d setup results, want 1", n)
			}
		})
	}
}

// TestStalledNodeNamedWhenQuerierDeadlineBinds has a member stall while the
// querier's own timeout, not the coordinator's, bounds the query. The
// querier must still learn which node held the query up.
func TestStalledNodeNamedWhenQuerierDeadlineBinds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	f := newFederation(t, fedConfig{honest: honestNames, others: []string{rogueName}})
	r := f.startRogue(rogueName)
	f.waitReady(ctx)
	client, err := querier.Dial(querier.Config{
		Credential: f.issue(pki.RoleQuerier, "impatient-analyst"), Roots: f.roots,
		Coordinator: f.addr, CoordinatorIdentity: f.coordID, Timeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	r.misbehaveOnNextQuery(func(rt *rogueTask) error {
		return nil // the rogue never answers
	})
	_, err = client.Run(ctx, f.spec(), nil)
	errorContains(t, err, "node "+rogueName, "did not answer in time")
}
