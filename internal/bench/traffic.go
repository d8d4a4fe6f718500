package bench

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// Kinds of blob a node sends, by the prefix of the blob id.
const (
	blobInput1   = "input_phase1" // encrypted counts
	blobInput2   = "input_phase2" // encrypted masked vector
	blobDecShare = "decryption_share"
	blobKSShare  = "key_switch_share"
	blobOther    = "other"
)

// traffic counts what nodes send to the coordinator (sandbox Config.Observe
// sees every such message) while counting is on.
type traffic struct {
	mu       sync.Mutex
	on       bool
	messages int64
	bytes    map[string]int64 // per node: proto.Size of every message
	blobs    map[string]int64 // per blob kind: chunk payload bytes
}

func newTraffic() *traffic {
	return &traffic{bytes: map[string]int64{}, blobs: map[string]int64{}}
}

// observe is the sandbox's Observe hook.
func (t *traffic) observe(node string, msg *pb.NodeMessage) {
	t.mu.Lock()
	on := t.on
	t.mu.Unlock()
	if !on {
		return
	}
	size := int64(proto.Size(msg))
	kind, payload := "", int64(0)
	if ch := msg.GetChunk(); ch != nil {
		kind, payload = blobKind(ch.GetBlobId()), int64(len(ch.GetData()))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages++
	t.bytes[node] += size
	if kind != "" {
		t.blobs[kind] += payload
	}
}

// blobKind classifies a node's blob id: "ct/<query>[/<run>]/<phase>/<i>"
// for inputs, "dec/..." for decryption shares, "ks/..." for key-switch
// shares.
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
	case parts[0] == "dec":
		return blobDecShare
	case parts[0] == "ks":
		return blobKSShare
	}
	return blobOther
}

// start clears the counters and turns counting on.
func (t *traffic) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on, t.messages = true, 0
	clear(t.bytes)
	clear(t.blobs)
}

// trafficTotals are the counters of one measurement window.
type trafficTotals struct {
	messages int64
	perNode  map[string]int64
	blobs    map[string]int64
}

// stop turns counting off and returns the totals.
func (t *traffic) stop() trafficTotals {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	out := trafficTotals{messages: t.messages, perNode: map[string]int64{}, blobs: map[string]int64{}}
	for k, v := range t.bytes {
		out.perNode[k] = v
	}
	for k, v := range t.blobs {
		out.blobs[k] = v
	}
	return out
}

// Bytes are per-query traffic figures, in bytes.
type Bytes struct {
	// PerNodeSent is what one node sends the coordinator per query (mean
	// over nodes): every message's protobuf size, ciphertext chunks
	// included.
	PerNodeSent float64 `json:"per_node_sent"`
	// CoordinatorReceived is what the coordinator receives from all nodes
	// per query (the querier's receiver key, about one ciphertext, is not
	// included).
	CoordinatorReceived float64 `json:"coordinator_received"`
	// CoordinatorSent is derived from the protocol's relays: every node
	// receives every node's phase 1 input, every node's decryption shares
	// and every node's phase 2 input, plus the receiver key; the querier
	// receives the result. Payload bytes only.
	CoordinatorSent float64 `json:"coordinator_sent_derived"`
	// Blobs splits the payload the nodes send by kind.
	Blobs map[string]float64 `json:"blobs_by_kind"`
	// Messages is the number of messages per query from all nodes.
	Messages float64 `json:"messages"`
}

// perQuery turns window totals into per-query figures for n nodes.
func (tt trafficTotals) perQuery(queries, nodes int, receiverKey, resultBytes int64) Bytes {
	q := float64(max(queries, 1))
	b := Bytes{Blobs: map[string]float64{}, Messages: float64(tt.messages) / q}
	var total int64
	for _, v := range tt.perNode {
		total += v
	}
	b.CoordinatorReceived = float64(total) / q
	b.PerNodeSent = b.CoordinatorReceived / float64(max(nodes, 1))
	for k, v := range tt.blobs {
		b.Blobs[k] = float64(v) / q
	}
	relayed := b.Blobs[blobInput1] + b.Blobs[blobDecShare] + b.Blobs[blobInput2]
	b.CoordinatorSent = float64(nodes)*(relayed+float64(receiverKey)) + float64(resultBytes)
	return b
}
