package telemetry

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// blobKinds are the blob id prefixes node and coordinator name their blobs
// with (ct/..., ks/...): chunks are counted under "chunk/<kind>". Any other
// id counts as "chunk/other", so that a peer cannot grow the label set.
var blobKinds = map[string]bool{
	"ct": true, "resend": true, "dec": true, "ks": true, "ckg": true,
	"rk": true, "sum": true, "spot": true, "setup": true, "result": true,
}

// MessageBytes counts the bytes of every gRPC message (payload and gRPC
// framing) a server or client sends and receives, by direction ("in",
// "out") and kind: the field set in a message's oneof body ("receipt",
// "key_switch_share"), "chunk/<blob kind>" for a piece of a blob, or the
// message type for others ("StatusResponse").
type MessageBytes struct {
	c *prometheus.CounterVec
}

// NewMessageBytes registers the counter name on reg.
func NewMessageBytes(reg prometheus.Registerer, name, help string) (*MessageBytes, error) {
	m := &MessageBytes{c: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"direction", "kind"})}
	if err := reg.Register(m.c); err != nil {
		return nil, err
	}
	return m, nil
}

// Handler is the stats handler to install on a gRPC server or client.
func (m *MessageBytes) Handler() stats.Handler { return bytesHandler{m} }

type bytesHandler struct{ m *MessageBytes }

func (h bytesHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (h bytesHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h bytesHandler) HandleConn(context.Context, stats.ConnStats)                       {}

func (h bytesHandler) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch p := s.(type) {
	case *stats.InPayload:
		h.m.c.WithLabelValues("in", MessageKind(p.Payload)).Add(float64(p.WireLength))
	case *stats.OutPayload:
		h.m.c.WithLabelValues("out", MessageKind(p.Payload)).Add(float64(p.WireLength))
	}
}

// MessageKind names a message as MessageBytes counts it.
func MessageKind(payload any) string {
	msg, ok := payload.(proto.Message)
	if !ok {
		return "other"
	}
	m := msg.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("body")
	if od == nil {
		return string(m.Descriptor().Name())
	}
	fd := m.WhichOneof(od)
	if fd == nil {
		return "empty"
	}
	if fd.Name() == "chunk" && fd.Kind() == protoreflect.MessageKind {
		id := m.Get(fd).Message()
		blob := id.Get(id.Descriptor().Fields().ByName("blob_id")).String()
		kind, _, _ := strings.Cut(blob, "/")
		if !blobKinds[kind] {
			kind = "other"
		}
		return "chunk/" + kind
	}
	return string(fd.Name())
}
