package node

import (
	"errors"

	"github.com/fedscore/fedscore/node/aggregate"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// schemaRefusal is the refusal of a query that does not fit the node's
// columns: one reason per problem under the schema codes, each naming the
// node, the column and the names close to it, and the codes for the audit
// log. No policy decision is made for such a query, so it carries no
// decision id.
func schemaRefusal(err error) (*pb.Refusal, []string) {
	var se *aggregate.SchemaError
	if !errors.As(err, &se) {
		return &pb.Refusal{Error: err.Error()}, nil
	}
	r := &pb.Refusal{}
	var codes []string
	for _, x := range se.Reasons() {
		r.Reasons = append(r.Reasons, &pb.Reason{Code: x.Code, Message: x.Message})
		codes = append(codes, x.Code)
	}
	return r, codes
}
