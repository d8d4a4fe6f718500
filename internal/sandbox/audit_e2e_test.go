package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/node"
)

// TestAuditTrailOfAQuery runs a query and checks every node's audit log:
// it verifies, it holds the admission, cohort, release and both key-switch
// decisions of the query with the bundle revision, it is covered by a
// signed checkpoint, and an edit anywhere is detected.
func TestAuditTrailOfAQuery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	partners, err := GeneratePartners(DefaultPartnerNames(), 3000, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fed, err := Start(ctx, Config{Partners: partners, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	spec, err := DefaultQuery()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range partners {
		path := filepath.Join(dir, "nodes", p.Name, "state", node.AuditLogFile)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{Roots: fed.CA().Pool(), RequireFinalCheckpoint: true})
		if err != nil {
			t.Fatalf("%s: audit log does not verify: %v", p.Name, err)
		}
		if rep.Checkpoints == 0 {
			t.Errorf("%s: no signed checkpoint after a completed query", p.Name)
		}
		entries, err := audit.Filter(bytes.NewReader(data), audit.FilterOptions{QueryID: ans.QueryID})
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[audit.Kind]int{}
		for _, e := range entries {
			kinds[e.Kind]++
			if e.BundleRevision == "" || e.QueryDigest == "" || e.Result != audit.ResultAllow {
				t.Errorf("%s: incomplete entry %+v", p.Name, e)
			}
		}
		want := map[audit.Kind]int{audit.KindAdmission: 1, audit.KindCohort: 1, audit.KindRelease: 1, audit.KindKeySwitch: 2}
		for k, n := range want {
			if kinds[k] != n {
				t.Errorf("%s: %d %s entries for the query, want %d (all: %v)", p.Name, kinds[k], k, n, kinds)
			}
		}
		// No customer identifier ever reaches the log.
		if strings.Contains(string(data), p.Name+"-0") {
			t.Errorf("%s: audit log contains a customer identifier", p.Name)
		}

		// Editing any entry is detected and located.
		lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
		edited := bytes.Replace(lines[0], []byte(`"allow"`), []byte(`"deny"`), 1)
		tampered := bytes.Join(append([][]byte{edited}, lines[1:]...), []byte("\n"))
		_, err = audit.Verify(bytes.NewReader(append(tampered, '\n')), audit.VerifyOptions{Roots: fed.CA().Pool()})
		var ve *audit.VerifyError
		if !errors.As(err, &ve) || ve.Line != 1 {
			t.Errorf("%s: edit of line 1 not located: %v", p.Name, err)
		}
	}
}
