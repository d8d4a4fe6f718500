package coordinator

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// queryRecord follows one query for Status, the metrics and the log.
type queryRecord struct {
	start time.Time
	st    *pb.QueryStatus
	q     *runningQuery // nil until admitted
	res   *pb.QueryResult
}

// beginQuery starts the record of a querier's query.
func (s *Server) beginQuery(ctx context.Context) *queryRecord {
	r := &queryRecord{start: time.Now(), st: &pb.QueryStatus{StartedUnixNanos: time.Now().UnixNano()}}
	if id, err := pki.PeerIdentity(ctx); err == nil {
		r.st.Querier = id.String()
	}
	return r
}

// admitted notes the query the coordinator accepted.
func (r *queryRecord) admitted(q *runningQuery) {
	r.q = q
	r.st.QueryId, r.st.Purpose = q.id, q.spec.Purpose
}

// endQuery completes the record with the query's outcome — err is what
// the querier is told — and files it.
func (s *Server) endQuery(r *queryRecord, err error) {
	st := r.st
	st.DurationMs = float64(time.Since(r.start).Microseconds()) / 1000
	if q := r.q; q != nil {
		st.Runs, st.TimingsMs = q.runs, maps.Clone(q.timings)
	}
	var refusal *RefusalError
	switch {
	case err == nil:
		st.Outcome = outcomeAnswered
		if r.res != nil { // an overlap query has no joint-query result
			st.Partners = slices.Clone(r.res.Partners)
			s.metrics.withheld.Add(float64(r.withheld()))
		}
	case r.q == nil:
		st.Outcome = outcomeRejected
	case errors.As(err, &refusal):
		st.Outcome = outcomeRefused
		mr := &pb.MemberRefusal{Node: refusal.Node}
		for _, reason := range refusal.Reasons {
			mr.Codes = append(mr.Codes, reason.Code)
		}
		if len(mr.Codes) == 0 {
			mr.Codes = []string{"ERROR"}
		}
		for _, c := range mr.Codes {
			s.metrics.refusals.WithLabelValues(c).Inc()
		}
		st.Refusals = []*pb.MemberRefusal{mr}
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		st.Outcome = outcomeTimeout
	default:
		st.Outcome = outcomeFailed
	}
	if err != nil {
		st.Error = err.Error()
	}
	s.metrics.queries.WithLabelValues(st.Outcome).Inc()
	s.history.add(st)
	if err == nil {
		s.log.Info("query answered", "query", st.QueryId, "querier", st.Querier, "purpose", st.Purpose,
			"ms", st.DurationMs, "runs", st.Runs, "partners", st.Partners)
	}
}

// withheld counts the values of an answer the release mask withholds.
func (r *queryRecord) withheld() int {
	released, err := release.FromBitmap(r.res.ReleaseMask, r.q.spec.Layout().VectorLen)
	if err != nil {
		return 0
	}
	n := 0
	for _, ok := range released {
		if !ok {
			n++
		}
	}
	return n
}
