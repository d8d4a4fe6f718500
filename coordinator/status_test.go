package coordinator_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// TestStatusReportsMembersAndQueries checks the Status RPC's member and
// epoch details after a query, and who sees which queries: operators and
// regulators all, a querier its own, a node none.
func TestStatusReportsMembersAndQueries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFederation(t, fedConfig{honest: []string{"bank-east", "consumer-finance", "rogue-bank"}})
	f.waitReady(ctx)
	f.mustQuery(ctx)

	st, err := f.dial(f.issue(pki.RoleOperator, "operator")).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Serving || !st.Ready || st.EpochStatus == nil || st.EpochStatus.Quorum != 3 || st.EpochStatus.CreatedUnixNanos == 0 {
		t.Fatalf("Status = serving %v, ready %v, epoch %+v", st.Serving, st.Ready, st.EpochStatus)
	}
	if len(st.MemberStatus) != 3 {
		t.Fatalf("%d member statuses, want 3", len(st.MemberStatus))
	}
	for _, m := range st.MemberStatus {
		if !m.Attached || !m.HoldsEpochKey || m.Epoch != st.Epoch || !m.SharePresent || m.BundleRevision == "" ||
			m.AttachedSinceUnixNanos == 0 || m.LastSeenUnixNanos < m.AttachedSinceUnixNanos {
			t.Errorf("member status %+v", m)
		}
	}
	if len(st.RecentQueries) != 1 {
		t.Fatalf("operator sees %d queries, want 1", len(st.RecentQueries))
	}
	q := st.RecentQueries[0]
	if q.Outcome != "answered" || q.Querier != "spiffe://"+trustDomain+"/querier/analyst" || q.Purpose == "" ||
		q.TimingsMs["total"] <= 0 || len(q.Partners) != 3 || q.Runs != 1 {
		t.Errorf("query record %+v", q)
	}

	for who, want := range map[*pki.Credential]int{
		f.issue(pki.RoleQuerier, "analyst"):    1,
		f.issue(pki.RoleQuerier, "other"):      0,
		f.issue(pki.RoleRegulator, "reviewer"): 1,
		f.issue(pki.RoleNode, "bank-east"):     0,
	} {
		st, err := f.dial(who).Status(ctx, &pb.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.RecentQueries) != want {
			id, _ := who.Identity()
			t.Errorf("%s sees %d queries, want %d", id, len(st.RecentQueries), want)
		}
	}
}
