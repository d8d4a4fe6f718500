package console

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/coordinator"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// The console reads refusals out of the coordinator's error text; this
// pins the two together.
func TestParseRefusalReadsTheCoordinatorsError(t *testing.T) {
	cases := []struct {
		err  *coordinator.RefusalError
		want *refusal
	}{
		{
			&coordinator.RefusalError{Node: "bank-east", Reasons: []*pb.Reason{
				{Code: "PURPOSE_COLUMNS", Article: "PIPL Art. 6", Message: "column credit_score is not allowed for purpose marketing_analytics; see the bundle"},
				{Code: "MIN_PARTNERS", Article: "PIPL Art. 73(4)", Message: "query aggregates over 2 partners; at least 3 are required"},
				{Code: "SOMETHING_ELSE"},
			}},
			&refusal{Node: "bank-east", Reasons: []reason{
				{Code: "PURPOSE_COLUMNS", Article: "PIPL Art. 6", Message: "column credit_score is not allowed for purpose marketing_analytics; see the bundle"},
				{Code: "MIN_PARTNERS", Article: "PIPL Art. 73(4)", Message: "query aggregates over 2 partners; at least 3 are required"},
				{Code: "SOMETHING_ELSE"},
			}},
		},
		{
			&coordinator.RefusalError{Node: "pay-platform", Err: "data source: unknown column \"nosuch\""},
			&refusal{Node: "pay-platform", Reasons: []reason{}, Error: "data source: unknown column \"nosuch\""},
		},
	}
	for _, tc := range cases {
		msg := status.Convert(status.Error(codes.PermissionDenied, tc.err.Error())).Message()
		if got := parseRefusal(msg); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseRefusal(%q)\n got %+v\nwant %+v", msg, got, tc.want)
		}
	}
	if rf := parseRefusal("query q-1 failed: node bank-east is gone"); rf != nil {
		t.Errorf("a failure that is no refusal parsed as %+v", rf)
	}
}
