package coordinator

import (
	"fmt"
	"testing"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

func TestQueryHistoryKeepsTheNewest(t *testing.T) {
	var h queryHistory
	for i := range historySize + 10 {
		h.add(&pb.QueryStatus{QueryId: fmt.Sprint(i)})
	}
	got := h.list(func(*pb.QueryStatus) bool { return true })
	if len(got) != historySize {
		t.Fatalf("%d records kept, want %d", len(got), historySize)
	}
	for i, q := range got {
		if want := fmt.Sprint(historySize + 9 - i); q.QueryId != want {
			t.Fatalf("record %d is %s, want %s (newest first)", i, q.QueryId, want)
		}
	}
	odd := h.list(func(q *pb.QueryStatus) bool { return q.QueryId[len(q.QueryId)-1]%2 == 1 })
	if len(odd) != historySize/2 {
		t.Errorf("%d odd records, want %d", len(odd), historySize/2)
	}
}
