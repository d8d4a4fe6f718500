package vault

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/keystore"
)

// TestFederationWithVaultCustody runs a federation whose nodes keep their
// secret-key shares in a real Vault, each under its own AppRole and key
// encryption key, and restarts a node: it restores its share from Vault and
// answers in the same epoch.
func TestFederationWithVaultCustody(t *testing.T) {
	if os.Getenv(vaultTestsEnv) != "1" {
		t.Skipf("%s is not 1; the Vault double covers the store's behaviours", vaultTestsEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDevVault(t)
	names := sandbox.DefaultPartnerNames()
	for _, p := range names {
		kek := "fedscore-" + p + "-kek"
		d.write(t, "transit/keys/"+kek, map[string]any{"type": "aes256-gcm96"})
		d.role(t, p, `
path "transit/keys/`+kek+`" { capabilities = ["read"] }
path "transit/datakey/plaintext/`+kek+`" { capabilities = ["update"] }
path "transit/decrypt/`+kek+`" { capabilities = ["update"] }
path "secret/data/fedscore/`+p+`/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/fedscore/`+p+`/*" { capabilities = ["delete"] }
`, "1h", "4h")
	}
	opened := map[string]int{}
	custody := func(ctx context.Context, partner string) (keystore.Store, error) {
		opened[partner]++
		// A wrapped secret_id works once: every start gets a fresh one.
		return Open(ctx, Config{
			Address: d.addr, Node: partner, MaxRetries: -1, Timeout: 10 * time.Second,
			AppRole: AppRole{RoleID: d.roleIDs[partner], WrappedSecretIDFile: d.wrappedSecretID(t, partner)},
		})
	}
	partners, err := sandbox.GeneratePartners(names, 2000, 3)
	if err != nil {
		t.Fatal(err)
	}
	fed, err := sandbox.Start(ctx, sandbox.Config{Partners: partners, Keystore: custody})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	epoch := fed.Coordinator().Epoch()
	for _, p := range names {
		s, err := d.root.KVv2("secret").Get(ctx, "fedscore/"+p+"/sk-"+epoch.ID)
		if err != nil || s == nil {
			t.Errorf("%s: no share of epoch %s in Vault: %v", p, epoch.ID, err)
		}
	}
	spec, err := sandbox.DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	query := func() {
		t.Helper()
		ans, err := fed.Query(ctx, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := fed.Verify(ctx, spec, ans.Result); err != nil {
			t.Fatal(err)
		}
	}
	query()

	if err := fed.StopNode(names[0]); err != nil {
		t.Fatal(err)
	}
	if err := fed.StartNode(names[0]); err != nil {
		t.Fatal(err)
	}
	if err := fed.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fed.Coordinator().Epoch().ID; got != epoch.ID {
		t.Fatalf("the restart made a new epoch %s; the node should have restored its share of %s from Vault", got, epoch.ID)
	}
	if opened[names[0]] != 2 {
		t.Errorf("%s opened its Vault store %d times, want 2", names[0], opened[names[0]])
	}
	query()
}
