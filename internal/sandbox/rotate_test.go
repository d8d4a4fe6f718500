package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/keystore"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// TestKeyRotation rotates a running federation's epoch: only an operator
// may, every node ends up holding only the new epoch's share, and queries
// run under the new key.
func TestKeyRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	partners, err := GeneratePartners(DefaultPartnerNames(), 2000, 5)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fed, err := Start(ctx, Config{Partners: partners, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	old := fed.Coordinator().Epoch()

	client := func(role, name string) pb.CoordinatorClient {
		cred, err := fed.CA().Issue(pki.Identity{TrustDomain: TrustDomain, Role: role, Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(fed.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(
			pki.ClientTLSConfig(cred, fed.CA().Pool(), fed.CoordinatorIdentity()))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return pb.NewCoordinatorClient(conn)
	}
	if _, err := client(pki.RoleQuerier, "analyst2").Rotate(ctx, &pb.RotateRequest{Epoch: old.ID}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a querier rotated the key: %v", err)
	}
	op := client(pki.RoleOperator, "ops")
	if _, err := op.Rotate(ctx, &pb.RotateRequest{Epoch: "e-stale"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("rotation of a stale epoch: %v", err)
	}
	st, err := op.Rotate(ctx, &pb.RotateRequest{Epoch: old.ID})
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch == old.ID || !st.Ready {
		t.Fatalf("after rotation: %+v", st)
	}

	for _, p := range partners {
		nodeDir := filepath.Join(dir, "nodes", p.Name)
		pass, err := os.ReadFile(filepath.Join(nodeDir, "keystore.pass"))
		if err != nil {
			t.Fatal(err)
		}
		ks, err := keystore.OpenFileStore(filepath.Join(nodeDir, "keystore"), pass)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Get(ctx, "sk-"+old.ID); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("%s still holds the old epoch's share: %v", p.Name, err)
		}
		if _, err := ks.Get(ctx, "sk-"+st.Epoch); err != nil {
			t.Errorf("%s lacks the new epoch's share: %v", p.Name, err)
		}
	}
	spec, err := DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}
}
