package bench

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// Kinds of blob on the wire, by the prefix of the blob id.
const (
	// node → coordinator
	blobInput1   = "input_phase1" // encrypted counts
	blobInput2   = "input_phase2" // encrypted masked vector
	blobResend   = "input_resend" // an input uploaded again for spot checks
	blobDecShare = "decryption_share"
	blobKSShare  = "key_switch_share"
	// coordinator → node
	blobSum         = "sum"        // a round's sum: aggregate, its c1 parts, or summed shares
	blobSpot        = "spot_check" // a spot-checked member's input
	blobReceiverKey = "receiver_key"
	blobOther       = "other"
)

// blobKind classifies a blob id: nodes send "ct/<query>/<run>/<phase>/<i>"
// for inputs, "resend/..." for re-sends, "dec/..." for decryption shares,
// "ks/..." for key-switch shares; the coordinator sends "sum/...",
// "spot/..." and "rk/...".
func blobKind(id string) string {
	parts := strings.Split(id, "/")
	phase := ""
	if len(parts) >= 4 {
		phase = parts[len(parts)-2]
	}
	switch {
	case parts[0] == "ct" && phase == "1":
		return blobInput1
	case parts[0] == "ct" && phase == "2":
		return blobInput2
	case parts[0] == "resend":
		return blobResend
	case parts[0] == "dec":
		return blobDecShare
	case parts[0] == "ks":
		return blobKSShare
	case parts[0] == "sum":
		return blobSum
	case parts[0] == "spot":
		return blobSpot
	case parts[0] == "rk":
		return blobReceiverKey
	}
	return blobOther
}

// traffic counts, while counting is on, what nodes send the coordinator
// (sandbox Config.Observe sees every such message) and what the
// coordinator sends the nodes and the querier (its service wrapped).
type traffic struct {
	mu       sync.Mutex
	on       bool
	messages int64
	bytes    map[string]int64 // per node: proto.Size of every message it sent
	received map[string]int64 // per node: proto.Size of every message it received
	querier  int64            // what the coordinator sent queriers
	blobs    map[string]int64 // per blob kind: chunk payload bytes
}

func newTraffic() *traffic {
	return &traffic{bytes: map[string]int64{}, received: map[string]int64{}, blobs: map[string]int64{}}
}

// count adds one message of size, carrying a chunk of payload bytes of
// kind, to per[who].
func (t *traffic) count(per map[string]int64, who string, size int64, kind string, payload int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	t.messages++
	if per != nil {
		per[who] += size
	} else {
		t.querier += size
	}
	if kind != "" {
		t.blobs[kind] += payload
	}
}

func chunkKind(ch *pb.Chunk) (string, int64) {
	if ch == nil {
		return "", 0
	}
	return blobKind(ch.GetBlobId()), int64(len(ch.GetData()))
}

// observe is the sandbox's Observe hook.
func (t *traffic) observe(node string, msg *pb.NodeMessage) {
	kind, payload := chunkKind(msg.GetChunk())
	t.count(t.bytes, node, int64(proto.Size(msg)), kind, payload)
}

// wrap is the sandbox's WrapCoordinator hook: it counts what the
// coordinator sends down every stream.
func (t *traffic) wrap(real pb.CoordinatorServer) pb.CoordinatorServer {
	return countingServer{CoordinatorServer: real, t: t}
}

type countingServer struct {
	pb.CoordinatorServer
	t *traffic
}

func (c countingServer) Attach(stream pb.Coordinator_AttachServer) error {
	id, _ := pki.PeerIdentity(stream.Context())
	return c.CoordinatorServer.Attach(countingAttach{Coordinator_AttachServer: stream, t: c.t, node: id.Name})
}

func (c countingServer) Query(stream pb.Coordinator_QueryServer) error {
	return c.CoordinatorServer.Query(countingQuery{Coordinator_QueryServer: stream, t: c.t})
}

type countingAttach struct {
	pb.Coordinator_AttachServer
	t    *traffic
	node string
}

func (s countingAttach) Send(m *pb.CoordinatorMessage) error {
	kind, payload := chunkKind(m.GetChunk())
	s.t.count(s.t.received, s.node, int64(proto.Size(m)), kind, payload)
	return s.Coordinator_AttachServer.Send(m)
}

type countingQuery struct {
	pb.Coordinator_QueryServer
	t *traffic
}

func (s countingQuery) Send(m *pb.QueryServerMessage) error {
	s.t.count(nil, "", int64(proto.Size(m)), "", 0)
	return s.Coordinator_QueryServer.Send(m)
}

// start clears the counters and turns counting on.
func (t *traffic) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on, t.messages, t.querier = true, 0, 0
	clear(t.bytes)
	clear(t.received)
	clear(t.blobs)
}

// trafficTotals are the counters of one measurement window.
type trafficTotals struct {
	messages int64
	perNode  map[string]int64 // sent by each node
	received map[string]int64 // received by each node
	querier  int64
	blobs    map[string]int64
}

// stop turns counting off and returns the totals.
func (t *traffic) stop() trafficTotals {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	out := trafficTotals{messages: t.messages, querier: t.querier, perNode: map[string]int64{}, received: map[string]int64{}, blobs: map[string]int64{}}
	for k, v := range t.bytes {
		out.perNode[k] = v
	}
	for k, v := range t.received {
		out.received[k] = v
	}
	for k, v := range t.blobs {
		out.blobs[k] = v
	}
	return out
}

// Bytes are per-query traffic figures, in bytes: the protobuf size of every
// message, blob chunks included.
type Bytes struct {
	// PerNodeSent is what one node sends the coordinator per query (mean
	// over nodes).
	PerNodeSent float64 `json:"per_node_sent"`
	// PerNodeReceived is what the coordinator sends one node per query
	// (mean over nodes).
	PerNodeReceived float64 `json:"per_node_received"`
	// CoordinatorReceived is what the coordinator receives from all nodes
	// per query (the querier's receiver key, about one ciphertext, is not
	// included).
	CoordinatorReceived float64 `json:"coordinator_received"`
	// CoordinatorSent is what the coordinator sends all nodes and the
	// querier per query.
	CoordinatorSent float64 `json:"coordinator_sent"`
	// Blobs splits the payload by blob kind, both directions.
	Blobs map[string]float64 `json:"blobs_by_kind"`
	// Messages is the number of messages per query, both directions.
	Messages float64 `json:"messages"`
}

// perQuery turns window totals into per-query figures for n nodes.
func (tt trafficTotals) perQuery(queries, nodes int) Bytes {
	q := float64(max(queries, 1))
	n := float64(max(nodes, 1))
	b := Bytes{Blobs: map[string]float64{}, Messages: float64(tt.messages) / q}
	var sent, received int64
	for _, v := range tt.perNode {
		sent += v
	}
	for _, v := range tt.received {
		received += v
	}
	b.CoordinatorReceived = float64(sent) / q
	b.PerNodeSent = b.CoordinatorReceived / n
	b.PerNodeReceived = float64(received) / q / n
	b.CoordinatorSent = float64(received+tt.querier) / q
	for k, v := range tt.blobs {
		b.Blobs[k] = float64(v) / q
	}
	return b
}
