package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/query"
)

// TestUnknownColumnIsASchemaError: a column the partners do not have is
// refused as a schema error, naming the node, the column and the columns
// close to it, before the policy is asked — not as a column the purpose
// does not allow.
func TestUnknownColumnIsASchemaError(t *testing.T) {
	partners := synthPartners(t, 3, 300)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := defaultSpec(t)
	spec.GroupBy = append(spec.GroupBy, query.GroupBy{Column: "Gender", Values: []string{"female", "male"}})
	mark := rec.mark()
	_, err := fed.Query(ctx, spec, nil)
	if err == nil {
		t.Fatal("the query was answered")
	}
	for _, want := range []string{aggregate.CodeUnknownColumn, `group_by[2].column: unknown column "Gender"; close: "gender"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "PURPOSE_COLUMNS") {
		t.Errorf("error %q is a policy refusal", err)
	}
	if err := rec.waitFor(ctx, mark, "a refusal from every node", func(msgs []observed) bool { return len(msgs) >= len(partners) }); err != nil {
		t.Fatal(err)
	}
	for _, o := range rec.since(mark) {
		r := o.msg.GetRefusal()
		if r == nil || len(r.Reasons) != 1 {
			t.Fatalf("%s sent %v", o.node, o.msg)
		}
		if x := r.Reasons[0]; x.Code != aggregate.CodeUnknownColumn || !strings.HasPrefix(x.Message, "node "+o.node+": ") || r.DecisionId != "" {
			t.Errorf("%s refused with %v, want %s naming the node and no policy decision", o.node, r, aggregate.CodeUnknownColumn)
		}
	}
}
