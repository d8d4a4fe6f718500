package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/policy"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// reply is a node's answer to a query task: a message, sent after the
// blobs it names. A nil reply sends nothing.
type reply struct {
	msg   *pb.NodeMessage
	blobs []blob
}

type blob struct {
	id   string
	data []byte
}

// refusal is a policy's refusal of a task, with its reasons.
type refusal struct{ r *pb.Refusal }

func (e *refusal) Error() string { return refusalText(e.r) }

// queryTask is one coordinator message about a run of a query: the blobs
// it names and the step that handles it.
type queryTask struct {
	qid    string
	run    uint32
	what   string
	blobs  []string
	handle func(ctx context.Context, blobs [][]byte) (*reply, error)
}

// route returns the step that handles a query message, or false.
func (n *Node) route(m *pb.CoordinatorMessage) (queryTask, bool) {
	switch b := m.Body.(type) {
	case *pb.CoordinatorMessage_QueryTask:
		t := b.QueryTask
		return queryTask{unverifiedQueryID(t.Query), t.Run, "query task", []string{t.ReceiverKeyBlob},
			func(ctx context.Context, blobs [][]byte) (*reply, error) { return n.handleQuery(ctx, t, blobs[0]) }}, true
	case *pb.CoordinatorMessage_ReceiptSet:
		t := b.ReceiptSet
		return queryTask{t.QueryId, t.Run, "receipt set", nil,
			func(ctx context.Context, _ [][]byte) (*reply, error) { return n.handleReceiptSet(t) }}, true
	case *pb.CoordinatorMessage_SumTask:
		t := b.SumTask
		return queryTask{t.QueryId, t.Run, "sum", t.SumBlobs,
			func(ctx context.Context, blobs [][]byte) (*reply, error) { return n.handleSum(t, blobs) }}, true
	case *pb.CoordinatorMessage_SeedsTask:
		t := b.SeedsTask
		return queryTask{t.QueryId, t.Run, "seeds", nil,
			func(ctx context.Context, _ [][]byte) (*reply, error) { return n.handleSeeds(t) }}, true
	case *pb.CoordinatorMessage_FingerprintsTask:
		t := b.FingerprintsTask
		return queryTask{t.QueryId, t.Run, "fingerprints", nil,
			func(ctx context.Context, _ [][]byte) (*reply, error) { return n.handleFingerprints(ctx, t) }}, true
	case *pb.CoordinatorMessage_ResendTask:
		t := b.ResendTask
		return queryTask{t.QueryId, t.Run, "re-send", nil,
			func(ctx context.Context, _ [][]byte) (*reply, error) { return n.handleResend(t) }}, true
	case *pb.CoordinatorMessage_SpotCheckTask:
		t := b.SpotCheckTask
		var ids []string
		for _, in := range t.Inputs {
			ids = append(ids, in.CiphertextBlobs...)
		}
		return queryTask{t.QueryId, t.Run, "spot check", ids,
			func(ctx context.Context, blobs [][]byte) (*reply, error) { return n.handleSpotCheck(ctx, t, blobs) }}, true
	}
	return queryTask{}, false
}

// dispatch takes the blobs a query message names — the one place where a
// missing or oversized blob is caught — and queues its step behind the
// query's earlier ones.
func (n *Node) dispatch(ctx context.Context, s *session, wg *sync.WaitGroup, tasks *serializer, t queryTask) {
	blobs, err := s.blobs.TakeAll(t.blobs)
	if err != nil {
		for _, id := range t.blobs {
			s.blobs.Drop(id)
		}
		err = fmt.Errorf("%s: %w", t.what, err)
	}
	tasks.do(wg, t.qid, func() {
		var r *reply
		if err == nil {
			start := time.Now()
			r, err = t.handle(ctx, blobs)
			d := time.Since(start)
			n.metrics.steps.WithLabelValues(stepLabel(t.what)).Observe(d.Seconds())
			n.log.Debug("query step", "query", t.qid, "run", t.run, "step", t.what, "ms", float64(d.Microseconds())/1000, "ok", err == nil)
		}
		n.answer(s, t, r, err)
	})
}

// answer sends a step's reply, or its refusal. A run that fails a step
// never takes another; a task out of order leaves the run alone.
func (n *Node) answer(s *session, t queryTask, r *reply, err error) {
	if err != nil {
		// A replayed or out-of-order task leaves the run it names alone.
		if !errors.Is(err, errWrongStep) && !errors.Is(err, ErrAlreadyAdmitted) {
			n.forget(t.qid, t.run)
			n.metrics.ended.WithLabelValues(endRefused).Inc()
		}
		rf := &pb.Refusal{Error: err.Error()}
		var pr *refusal
		if errors.As(err, &pr) {
			rf = pr.r
		}
		rf.TaskId, rf.Run = t.qid, t.run
		n.metrics.refused(rf)
		n.log.Warn("task refused", "query", t.qid, "run", t.run, "task", t.what, "reason", refusalText(rf))
		s.send(&pb.NodeMessage{Body: &pb.NodeMessage_Refusal{Refusal: rf}})
		return
	}
	if r == nil {
		return
	}
	for _, b := range r.blobs {
		if err := s.sendBlob(b.id, b.data); err != nil {
			return
		}
	}
	s.send(r.msg)
}

// unverifiedQueryID reads a query's id for routing and error reports only.
func unverifiedQueryID(sq *pb.SignedQuery) string {
	env := &pb.QueryEnvelope{}
	if sq == nil || proto.Unmarshal(sq.Envelope, env) != nil {
		return ""
	}
	return env.QueryId
}

func refusalText(r *pb.Refusal) string {
	if r.Error != "" {
		return r.Error
	}
	var codes []string
	for _, x := range r.Reasons {
		codes = append(codes, x.Code)
	}
	return fmt.Sprint(codes)
}

// policyRefusal turns a policy decision's reasons into a refusal.
func policyRefusal(id, revision string, reasons []policy.Reason) (*refusal, []string) {
	r := &pb.Refusal{DecisionId: id, BundleRevision: revision}
	var codes []string
	for _, x := range reasons {
		r.Reasons = append(r.Reasons, &pb.Reason{Code: x.Code, Article: x.Article, Message: x.Message})
		codes = append(codes, x.Code)
	}
	return &refusal{r}, codes
}
