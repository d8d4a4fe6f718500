// Package querier submits signed joint queries to a fedscore coordinator and
// decrypts the answers. Only the querier holds the receiver secret key, so
// only it can read the result.
package querier

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// Config configures a Client.
type Config struct {
	// Credential is the querier's TLS and signing identity (role querier).
	Credential *pki.Credential
	Roots      *x509.CertPool
	// Coordinator is the coordinator's address and CoordinatorIdentity the
	// identity its certificate must carry.
	Coordinator         string
	CoordinatorIdentity pki.Identity
	// Timeout bounds one query; zero means 30 seconds.
	Timeout time.Duration
}

// Client talks to one coordinator.
type Client struct {
	cfg  Config
	conn *grpc.ClientConn
	api  pb.CoordinatorClient

	mu     sync.Mutex
	params map[string]crypto.Params // built once per set: costly to build
}

// Dial prepares a client; the connection is made on first use.
func Dial(cfg Config) (*Client, error) {
	if cfg.Credential == nil || cfg.Roots == nil {
		return nil, errors.New("querier: a credential and trust roots are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tlsCfg := pki.ClientTLSConfig(cfg.Credential, cfg.Roots, cfg.CoordinatorIdentity)
	conn, err := grpc.NewClient(cfg.Coordinator,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(wire.MaxMessageSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("querier: %w", err)
	}
	return &Client{cfg: cfg, conn: conn, api: pb.NewCoordinatorClient(conn), params: map[string]crypto.Params{}}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Status asks the coordinator for the federation's state.
func (c *Client) Status(ctx context.Context) (*pb.StatusResponse, error) {
	st, err := c.api.Status(ctx, &pb.StatusRequest{})
	return st, pki.ExplainRefusal(err, c.cfg.Credential.Certificate)
}

// Answer is a decrypted query result.
type Answer struct {
	QueryID string
	// Spec is the query as signed: resolved, each metric at the decimals
	// it was summed at (see [query.Spec.Resolve]).
	Spec   *query.Spec
	Result *query.Result
	// Vector is the decrypted vector, the slots the release mask withholds
	// zero, and Released the mask itself.
	Vector   []int64
	Released []bool
	Partners []string
	Receipts []*pb.PartnerReceipt
	// TimingsMs holds the coordinator's phase timings plus the querier's
	// own: "sign", "decrypt" and "end_to_end".
	TimingsMs map[string]float64
}

// Progress receives the coordinator's progress events.
type Progress func(phase, node string)

// Resolve returns spec as Run signs it: each sum and mean metric at the
// decimals the federation's members can sum exactly under its crypto
// parameters ([query.Spec.Resolve]), validated under the limits of those
// parameters.
func (c *Client) Resolve(ctx context.Context, spec *query.Spec) (*query.Spec, error) {
	resolved, _, _, err := c.resolve(ctx, spec)
	return resolved, err
}

func (c *Client) resolve(ctx context.Context, spec *query.Spec) (*query.Spec, *pb.StatusResponse, crypto.Params, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return nil, nil, crypto.Params{}, fmt.Errorf("coordinator status: %w", err)
	}
	if st.Epoch == "" {
		return nil, nil, crypto.Params{}, errors.New("the federation has no collective key yet")
	}
	params, err := c.paramsFor(st.Params)
	if err != nil {
		return nil, nil, crypto.Params{}, err
	}
	resolved, err := spec.Resolve(query.Capacity{ExactLimit: params.MaxAbsValue(), Partners: len(st.Members)})
	if err == nil {
		err = resolved.Validate(query.Limits{MaxCells: params.Slots(), MaxVectorLen: 8 * params.Slots()})
	}
	if err != nil {
		return nil, nil, crypto.Params{}, err
	}
	return resolved, st, params, nil
}

// Run resolves and signs spec, runs it and decrypts the answer.
func (c *Client) Run(ctx context.Context, spec *query.Spec, progress Progress) (*Answer, error) {
	ans, err := c.run(ctx, spec, progress)
	return ans, pki.ExplainRefusal(err, c.cfg.Credential.Certificate)
}

func (c *Client) run(ctx context.Context, spec *query.Spec, progress Progress) (*Answer, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	spec, st, params, err := c.resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	specJSON, err := spec.Canonical()
	if err != nil {
		return nil, err
	}
	rk, rpk, err := params.NewReceiverKey()
	if err != nil {
		return nil, err
	}
	rpkBytes, err := rpk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	env := &pb.QueryEnvelope{
		QueryId: newQueryID(), Spec: specJSON, Params: st.Params, Epoch: st.Epoch,
		ReceiverKeyDigest: protocol.Digest(rpkBytes),
		CreatedUnixNanos:  now.UnixNano(), ExpiresUnixNanos: now.Add(c.cfg.Timeout).UnixNano(),
	}
	signed, err := protocol.SignQuery(c.cfg.Credential, env)
	if err != nil {
		return nil, err
	}
	signMs := msSince(now)

	stream, err := c.api.Query(ctx)
	if err != nil {
		return nil, err
	}
	send := func(ch *pb.Chunk) error {
		return stream.Send(&pb.QueryClientMessage{Body: &pb.QueryClientMessage_Chunk{Chunk: ch}})
	}
	// The coordinator's deadline falls before the querier's, so that a
	// stalled node is reported by name rather than by a bare timeout.
	deadline, _ := ctx.Deadline()
	remaining := time.Until(deadline)
	coordTimeout := remaining - max(500*time.Millisecond, remaining/10)
	err = wire.Send(send, "rk", rpkBytes)
	if err == nil {
		err = stream.Send(&pb.QueryClientMessage{Body: &pb.QueryClientMessage_Request{Request: &pb.QueryRequest{
			Query: signed, ReceiverKeyBlob: "rk", TimeoutMs: max(coordTimeout.Milliseconds(), 1),
		}}})
	}
	if errors.Is(err, io.EOF) {
		// The server ended the stream; its status says why.
		_, err = stream.Recv()
	}
	if err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	blobs := wire.NewAssembler(64 << 20)
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return nil, errors.New("the coordinator closed the stream without a result")
		}
		if err != nil {
			return nil, err
		}
		switch b := m.Body.(type) {
		case *pb.QueryServerMessage_Chunk:
			if err := blobs.Add(b.Chunk); err != nil {
				return nil, err
			}
		case *pb.QueryServerMessage_Progress:
			if progress != nil {
				progress(b.Progress.Phase, b.Progress.Node)
			}
		case *pb.QueryServerMessage_Result:
			return c.open(spec, params, rk, b.Result, blobs, signMs, start)
		}
	}
}

// open decrypts the result ciphertexts with the receiver key.
func (c *Client) open(spec *query.Spec, params crypto.Params, rk *crypto.ReceiverKey, res *pb.QueryResult, blobs *wire.Assembler, signMs float64, start time.Time) (*Answer, error) {
	t := time.Now()
	cts, err := blobs.TakeAll(res.CiphertextBlobs)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var vec []int64
	for i, b := range cts {
		ct, err := params.UnmarshalCiphertext(b)
		if err != nil {
			return nil, fmt.Errorf("result ciphertext %d: %w", i, err)
		}
		v, err := rk.Decrypt(ct)
		if err != nil {
			return nil, fmt.Errorf("decrypt result ciphertext %d: %w", i, err)
		}
		vec = append(vec, v...)
	}
	released, err := release.FromBitmap(res.ReleaseMask, spec.Layout().VectorLen)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	result, err := query.DecodeReleased(spec, vec, released)
	if err != nil {
		return nil, err
	}
	timings := map[string]float64{"sign": signMs, "decrypt": msSince(t)}
	for k, v := range res.TimingsMs {
		timings[k] = v
	}
	timings["end_to_end"] = msSince(start)
	n := spec.Layout().VectorLen
	return &Answer{
		QueryID: res.QueryId, Spec: spec, Result: result, Vector: vec[:n], Released: released,
		Partners: res.Partners, Receipts: res.Receipts, TimingsMs: timings,
	}, nil
}

func newQueryID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "q-" + hex.EncodeToString(b)
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func (c *Client) paramsFor(name string) (crypto.Params, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.params[name]; ok {
		return p, nil
	}
	p, err := crypto.NewParams(name)
	if err == nil {
		c.params[name] = p
	}
	return p, err
}
