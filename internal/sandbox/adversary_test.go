package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/internal/wire"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
)

// deviantCoordinator is the real coordinator with a hook on everything it
// sends down each node's task stream.
type deviantCoordinator struct {
	pb.CoordinatorServer
	d *deviant
}

// deviant holds a deviant coordinator's hook and its current stream to
// every node.
type deviant struct {
	send    func(s *deviantStream, m *pb.CoordinatorMessage) error
	mu      sync.Mutex
	streams map[string]*deviantStream
}

func (d deviantCoordinator) Attach(stream pb.Coordinator_AttachServer) error {
	id, err := pki.PeerIdentity(stream.Context())
	if err != nil {
		// The real service refuses the stream.
		return d.CoordinatorServer.Attach(stream)
	}
	s := &deviantStream{Coordinator_AttachServer: stream, node: id.Name, chunks: map[string][]*pb.Chunk{}, d: d.d}
	d.d.mu.Lock()
	d.d.streams[id.Name] = s
	d.d.mu.Unlock()
	return d.CoordinatorServer.Attach(s)
}

// stream returns the current stream to a node.
func (d *deviant) stream(node string) *deviantStream {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.streams[node]
}

// deviantStream is one node's task stream as the deviant coordinator sees
// it. The coordinator serialises sends per stream; mu guards the record of
// sent blobs against the test's own injections.
type deviantStream struct {
	pb.Coordinator_AttachServer
	d      *deviant
	node   string
	mu     sync.Mutex
	chunks map[string][]*pb.Chunk // every blob sent, by id
}

func (s *deviantStream) Send(m *pb.CoordinatorMessage) error {
	if c := m.GetChunk(); c != nil {
		s.mu.Lock()
		s.chunks[c.BlobId] = append(s.chunks[c.BlobId], c)
		s.mu.Unlock()
	}
	return s.d.send(s, m)
}

// forward sends m to the node unchanged.
func (s *deviantStream) forward(m *pb.CoordinatorMessage) error {
	return s.Coordinator_AttachServer.Send(m)
}

// sendBlob sends data under a blob id.
func (s *deviantStream) sendBlob(id string, data []byte) error {
	return wire.Send(func(c *pb.Chunk) error {
		return s.forward(&pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_Chunk{Chunk: c}})
	}, id, data)
}

// blob returns a blob that was sent, or was to be sent.
func (s *deviantStream) blob(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for _, c := range s.chunks[id] {
		b = append(b, c.Data...)
	}
	return b
}

func wrapWith(send func(s *deviantStream, m *pb.CoordinatorMessage) error) (func(pb.CoordinatorServer) pb.CoordinatorServer, *deviant) {
	d := &deviant{send: send, streams: map[string]*deviantStream{}}
	return func(real pb.CoordinatorServer) pb.CoordinatorServer {
		return deviantCoordinator{CoordinatorServer: real, d: d}
	}, d
}

// sumPhase returns the phase and round a sum blob id names
// ("sum/<query>/<run>/<phase>/<round>/<k>").
func sumPhase(id string) (phase, round string, ok bool) {
	p := strings.Split(id, "/")
	if len(p) != 6 || p[0] != "sum" {
		return "", "", false
	}
	return p[3], p[4], true
}

// inputsOf returns every node's revealed ciphertexts of a phase of a run,
// from what the nodes sent.
func inputsOf(rec *recorder, qid string, run uint32, phase int32) map[string][][]byte {
	msgs := rec.since(0)
	blobs := nodeBlobs(msgs)
	out := map[string][][]byte{}
	for _, o := range msgs {
		rv := o.msg.GetReveal()
		if rv == nil || rv.Resend || rv.QueryId != qid || rv.Run != run || rv.Phase != phase {
			continue
		}
		for _, id := range rv.CiphertextBlobs {
			out[o.node] = append(out[o.node], blobs[o.node][id])
		}
	}
	return out
}

// sharesOf returns every active member's decryption shares of a run.
func sharesOf(rec *recorder, qid string, run uint32) map[string][][]byte {
	msgs := rec.since(0)
	blobs := nodeBlobs(msgs)
	out := map[string][][]byte{}
	for _, o := range msgs {
		ds := o.msg.GetDecryptionShare()
		if ds == nil || ds.QueryId != qid || ds.Run != run {
			continue
		}
		for _, id := range ds.ShareBlobs {
			out[o.node] = append(out[o.node], blobs[o.node][id])
		}
	}
	return out
}

// add sums serialized ciphertexts (or decryption shares) part by part.
func add(t *testing.T, params crypto.Params, shares bool, contributions ...[][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for k := range contributions[0] {
		acc := params.NewCiphertextAccumulator()
		if shares {
			acc = params.NewDecryptionShareAccumulator()
		}
		for _, c := range contributions {
			if err := acc.Add(c[k]); err != nil {
				t.Fatal(err)
			}
		}
		b, err := acc.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// c1Parts returns the c1 parts of serialized ciphertexts: what a phase 2
// verifier receives.
func c1Parts(t *testing.T, params crypto.Params, cts [][]byte) [][]byte {
	t.Helper()
	out := make([][]byte, len(cts))
	for k, b := range cts {
		var err error
		if out[k], err = params.CiphertextC1(b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// encryptUnder encrypts n ciphertexts of ones under the federation's key.
func encryptUnder(t *testing.T, fed *Federation, params crypto.Params, n int) [][]byte {
	t.Helper()
	pk, err := params.UnmarshalPublicKey(fed.Coordinator().Epoch().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := params.NewEncryptor(pk)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for range n {
		cts, err := enc.Encrypt(slices.Repeat([]int64{1}, params.Slots()))
		if err != nil {
			t.Fatal(err)
		}
		b, err := cts[0].MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// queryOf returns the id of the query the nodes answered since mark.
func queryOf(rec *recorder, mark int) string {
	for _, o := range rec.since(mark) {
		if r := o.msg.GetReceipt(); r != nil {
			return r.QueryId
		}
	}
	return ""
}

// sumAttack rewrites the sum a deviant coordinator hands every verifier of
// a round; sum is the real one, as the verifier would receive it.
type sumAttack struct {
	name  string
	round pb.Round
	// forge returns the sum to send, whole ciphertexts (or shares).
	forge func(t *testing.T, env *attackEnv, s *deviantStream, task *pb.SumTask, sum [][]byte) [][]byte
	// fingerprints, when set, rewrites the fingerprints task instead.
	fingerprints func(env *attackEnv, task *pb.FingerprintsTask) *pb.FingerprintsTask
	want         string
}

// attackEnv is what the deviant coordinator of TestCoordinatorCannotOpenOnePartnersInput
// knows: every node's uploads, the federation's key, and what it sent in
// the previous query.
type attackEnv struct {
	fed      *Federation
	params   crypto.Params
	rec      *recorder
	mu       sync.Mutex
	oldSums  map[string][][]byte             // phase/round -> a sum of the previous query
	oldFP    map[string]*pb.FingerprintsTask // phase/round -> the previous query's fingerprints
	lastSums map[string]map[string][][]byte  // query -> phase/round -> sum
	lastFP   map[string]map[string]*pb.FingerprintsTask
}

func (env *attackEnv) inputs(t *testing.T, task *pb.SumTask) [][][]byte {
	in := inputsOf(env.rec, task.QueryId, task.Run, task.Phase)
	var out [][][]byte
	for _, p := range env.fed.cfg.Partners {
		if in[p.Name] == nil {
			t.Errorf("no input of %s observed", p.Name)
		}
		out = append(out, in[p.Name])
	}
	return out
}

// TestCoordinatorCannotOpenOnePartnersInput plays a coordinator that hands
// the verifiers of a round a sum other than the sum of the signed inputs
// (or shares) — one input dropped or counted twice, one partner's input
// alone, a crafted delta added, an aggregate of another query — or the
// fingerprints of another query's round: every node refuses, none gives
// the share the sum is for, and the querier gets no result. Without the
// fingerprint check every node would give its share.
func TestCoordinatorCannotOpenOnePartnersInput(t *testing.T) {
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var current *sumAttack
	var currentPhase int32
	partners := synthPartners(t, 3, 1000)
	rec := newRecorder()
	env := &attackEnv{params: params, rec: rec, oldSums: map[string][][]byte{}, oldFP: map[string]*pb.FingerprintsTask{},
		lastSums: map[string]map[string][][]byte{}, lastFP: map[string]map[string]*pb.FingerprintsTask{}}
	wrap, _ := wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
		mu.Lock()
		a, phase := current, currentPhase
		mu.Unlock()
		switch b := m.Body.(type) {
		case *pb.CoordinatorMessage_Cancel:
			// This coordinator does not give up: each node must judge the
			// task on its merits.
			return nil
		case *pb.CoordinatorMessage_Chunk:
			ph, round, ok := sumPhase(b.Chunk.BlobId)
			if ok && a != nil && a.forge != nil && ph == fmt.Sprint(phase) && round == fmt.Sprint(int(a.round)) {
				return nil // replaced when the sum task goes out
			}
		case *pb.CoordinatorMessage_SumTask:
			task := b.SumTask
			key := fmt.Sprintf("%d/%d", task.Phase, task.Round)
			var sum [][]byte
			for _, id := range task.SumBlobs {
				sum = append(sum, s.blob(id))
			}
			env.mu.Lock()
			if env.lastSums[task.QueryId] == nil {
				env.lastSums[task.QueryId] = map[string][][]byte{}
			}
			env.lastSums[task.QueryId][key] = sum
			env.mu.Unlock()
			if a != nil && a.forge != nil && task.Phase == phase && task.Round == a.round {
				forged := a.forge(t, env, s, task, sum)
				if phase == 2 && task.Round == pb.Round_ROUND_INPUTS {
					forged = c1Parts(t, params, forged)
				}
				for k, id := range task.SumBlobs {
					if err := s.sendBlob(id, forged[k]); err != nil {
						return err
					}
				}
			}
		case *pb.CoordinatorMessage_FingerprintsTask:
			task := b.FingerprintsTask
			key := fmt.Sprintf("%d/%d", task.Phase, task.Round)
			env.mu.Lock()
			if env.lastFP[task.QueryId] == nil {
				env.lastFP[task.QueryId] = map[string]*pb.FingerprintsTask{}
			}
			env.lastFP[task.QueryId][key] = task
			env.mu.Unlock()
			if a != nil && a.fingerprints != nil && task.Phase == phase && task.Round == a.round {
				m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_FingerprintsTask{FingerprintsTask: a.fingerprints(env, task)}}
			}
		}
		return s.forward(m)
	})
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second, WrapCoordinator: wrap, PolicyData: exactResults(nil)})
	env.fed = fed

	// An honest query first: the deviant keeps its sums and fingerprints.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	mark := rec.mark()
	if _, err := fed.Query(ctx, exactSpec(t), nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	first := queryOf(rec, mark)
	env.oldSums, env.oldFP = env.lastSums[first], env.lastFP[first]

	const notSum = "is not the sum of the signed inputs"
	inputs := pb.Round_ROUND_INPUTS
	attacks := []sumAttack{
		{name: "one input dropped", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				in := env.inputs(t, task)
				return add(t, env.params, false, in[:len(in)-1]...)
			}},
		{name: "one input counted twice", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				in := env.inputs(t, task)
				return add(t, env.params, false, append(in, in[0])...)
			}},
		{name: "one partner's input alone", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				return env.inputs(t, task)[0]
			}},
		{name: "each node its own input alone", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, s *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				return inputsOf(env.rec, task.QueryId, task.Run, task.Phase)[s.node]
			}},
		{name: "a crafted delta added", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				in := env.inputs(t, task)
				return add(t, env.params, false, append(in, encryptUnder(t, env.fed, env.params, len(in[0])))...)
			}},
		{name: "the aggregate of another query", round: inputs, want: notSum,
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, _ [][]byte) [][]byte {
				old := env.oldSums[fmt.Sprintf("%d/%d", task.Phase, task.Round)]
				if task.Phase == 2 {
					// Phase 2 sums are c1 parts; the deviant keeps the whole
					// phase 1 aggregate only, so it reuses that one.
					old = env.oldSums["1/1"]
				}
				return old
			}},
		{name: "the fingerprints of another query", round: inputs, want: "fingerprints of",
			fingerprints: func(env *attackEnv, task *pb.FingerprintsTask) *pb.FingerprintsTask {
				out := proto.Clone(task).(*pb.FingerprintsTask)
				out.Statements = env.oldFP[fmt.Sprintf("%d/%d", task.Phase, task.Round)].Statements
				return out
			}},
		{name: "a fingerprint statement missing", round: inputs, want: "fingerprints of 2 contributors, the round has 3",
			fingerprints: func(_ *attackEnv, task *pb.FingerprintsTask) *pb.FingerprintsTask {
				out := proto.Clone(task).(*pb.FingerprintsTask)
				out.Statements = out.Statements[1:]
				return out
			}},
		{name: "a member's fingerprints twice", round: inputs, want: "sent two statements",
			fingerprints: func(_ *attackEnv, task *pb.FingerprintsTask) *pb.FingerprintsTask {
				out := proto.Clone(task).(*pb.FingerprintsTask)
				out.Statements[1] = out.Statements[0]
				return out
			}},
		{name: "decryption shares with one counted twice", round: pb.Round_ROUND_DECRYPTION_SHARES, want: "is not the sum of the signed shares",
			forge: func(t *testing.T, env *attackEnv, _ *deviantStream, task *pb.SumTask, sum [][]byte) [][]byte {
				sh := sharesOf(env.rec, task.QueryId, task.Run)
				return add(t, env.params, true, sum, sh[env.fed.cfg.Partners[0].Name])
			}},
	}
	for _, phase := range []int32{1, 2} {
		for _, a := range attacks {
			if a.round == pb.Round_ROUND_DECRYPTION_SHARES && phase != 1 {
				continue
			}
			t.Run(fmt.Sprintf("phase %d/%s", phase, a.name), func(t *testing.T) {
				mu.Lock()
				current, currentPhase = &a, phase
				mu.Unlock()
				defer func() {
					mu.Lock()
					current = nil
					mu.Unlock()
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				mark := rec.mark()
				ans, err := fed.Query(ctx, exactSpec(t), nil)
				if err == nil {
					t.Fatalf("the querier got a result: %v", ans.Result.Rows)
				}
				if code := status.Code(err); code != codes.FailedPrecondition || !strings.Contains(err.Error(), "refused") {
					t.Errorf("error %v, want a node's refusal (FailedPrecondition)", err)
				}
				qid := queryOf(rec, mark)
				err = rec.waitFor(ctx, mark, "a refusal from every node", func(msgs []observed) bool {
					return len(refusalsPerNode(msgs, qid)) == len(partners)
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range rec.since(mark) {
					switch {
					case o.msg.GetKeySwitchShare() != nil:
						t.Errorf("%s gave a key-switch share", o.node)
					case phase == 1 && a.round == inputs && o.msg.GetDecryptionShare() != nil:
						t.Errorf("%s gave a decryption share", o.node)
					}
					if r := o.msg.GetRefusal(); r != nil && !strings.Contains(r.Error, a.want) {
						t.Errorf("%s refused with %q, want %q", o.node, r.Error, a.want)
					}
				}
			})
		}
	}
}

// TestLyingMemberIsCaughtBySpotCheck plays a coordinator colluding with a
// member, whose signing key it holds. After seeing the seeds it swaps the
// member's committed input for another encryption in the sum it hands the
// other verifiers, and signs fingerprints of the swapped input as the
// member's: the fingerprints add up. Every verifier that spot-checks the
// member fetches the ciphertext its receipt commits to, finds that its
// signed fingerprints do not match, refuses, and keeps the signed receipt
// and fingerprints as evidence. With two spot checks of two other members
// (the default at N = 3) every verifier checks the liar; with one check of
// three (N = 4, a fixed choice) only those that sample it do, and the
// others are fooled.
func TestLyingMemberIsCaughtBySpotCheck(t *testing.T) {
	for _, tc := range []struct {
		partners, spot int
		// seed fixes the spot checks: with 6, two of the three honest
		// verifiers at N = 4 sample the liar.
		seed   uint64
		phases []int32
	}{
		{3, 0, 1, []int32{1, 2}},
		{4, 1, 6, []int32{1}},
	} {
		t.Run(fmt.Sprintf("N=%d", tc.partners), func(t *testing.T) {
			lyingMemberCaught(t, tc.partners, tc.spot, tc.seed, tc.phases)
		})
	}
}

func lyingMemberCaught(t *testing.T, n, spot int, seed uint64, phases []int32) {
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	partners := synthPartners(t, n, 1000)
	liar := partners[n-1].Name
	dir := t.TempDir()
	rec := newRecorder()
	var mu sync.Mutex
	var attackPhase int32
	var liarCred *pki.Credential
	swapped := map[string][][]byte{} // query -> the encryption swapped in
	var fed *Federation
	wrap, _ := wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
		mu.Lock()
		phase := attackPhase
		mu.Unlock()
		if phase == 0 || s.node == liar {
			return s.forward(m)
		}
		switch b := m.Body.(type) {
		case *pb.CoordinatorMessage_Cancel:
			return nil
		case *pb.CoordinatorMessage_Chunk:
			if ph, round, ok := sumPhase(b.Chunk.BlobId); ok && ph == fmt.Sprint(phase) && round == "1" {
				return nil
			}
		case *pb.CoordinatorMessage_SumTask:
			task := b.SumTask
			if task.Phase != phase || task.Round != pb.Round_ROUND_INPUTS {
				break
			}
			in := inputsOf(rec, task.QueryId, task.Run, task.Phase)
			mu.Lock()
			e := swapped[task.QueryId]
			if e == nil {
				e = encryptUnder(t, fed, params, len(task.SumBlobs))
				swapped[task.QueryId] = e
			}
			mu.Unlock()
			var parts [][][]byte
			for _, p := range partners {
				if p.Name != liar {
					parts = append(parts, in[p.Name])
				}
			}
			forged := add(t, params, false, append(parts, e)...)
			if phase == 2 {
				forged = c1Parts(t, params, forged)
			}
			for k, id := range task.SumBlobs {
				if err := s.sendBlob(id, forged[k]); err != nil {
					return err
				}
			}
		case *pb.CoordinatorMessage_FingerprintsTask:
			task := proto.Clone(b.FingerprintsTask).(*pb.FingerprintsTask)
			if task.Phase != phase || task.Round != pb.Round_ROUND_INPUTS {
				break
			}
			for _, sf := range task.Statements {
				if sf.Node != liar {
					continue
				}
				st := &pb.FingerprintStatement{}
				if err := proto.Unmarshal(sf.Statement, st); err != nil {
					t.Error(err)
				}
				mu.Lock()
				e := swapped[task.QueryId]
				mu.Unlock()
				st.Fingerprints = nil
				for _, ct := range e {
					fp, err := params.Fingerprint(st.Seed, ct)
					if err != nil {
						t.Error(err)
					}
					enc, _ := fp.MarshalBinary()
					st.Fingerprints = append(st.Fingerprints, enc)
				}
				forged, sig, err := protocol.SignFingerprints(liarCred.Key, st)
				if err != nil {
					t.Error(err)
				}
				sf.Statement, sf.Signature = forged, sig
			}
			m = &pb.CoordinatorMessage{Body: &pb.CoordinatorMessage_FingerprintsTask{FingerprintsTask: task}}
		}
		return s.forward(m)
	})
	fed = startFederation(t, Config{Partners: partners, Dir: dir, Observe: rec.observe, QueryTimeout: 20 * time.Second,
		WrapCoordinator: wrap, SpotChecks: spot, SpotCheckSeed: seed, PolicyData: exactResults(nil)})
	d := filepath.Join(dir, "nodes", liar)
	if liarCred, err = pki.LoadCredential(filepath.Join(d, "node.pem"), filepath.Join(d, "node-key.pem")); err != nil {
		t.Fatal(err)
	}
	for _, phase := range phases {
		t.Run(fmt.Sprintf("phase %d", phase), func(t *testing.T) {
			mu.Lock()
			attackPhase = phase
			mu.Unlock()
			defer func() {
				mu.Lock()
				attackPhase = 0
				mu.Unlock()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			mark := rec.mark()
			if _, err := fed.Query(ctx, exactSpec(t), nil); err == nil {
				t.Fatal("the coalition got a result")
			}
			qid := queryOf(rec, mark)
			// Who sampled the liar; at N = 3 every other verifier does.
			var catchers []string
			for _, o := range rec.since(mark) {
				if r := o.msg.GetSpotCheckRequest(); r != nil && r.Phase == phase && slices.Contains(r.Members, liar) {
					catchers = append(catchers, o.node)
				}
			}
			if len(catchers) == 0 {
				t.Fatal("no verifier sampled the liar; choose another SpotCheckSeed")
			}
			if n == 3 && len(catchers) != 2 {
				t.Errorf("verifiers %v sampled the liar, want both others", catchers)
			}
			err := rec.waitFor(ctx, mark, "a refusal from every verifier that sampled the liar", func(msgs []observed) bool {
				refused := refusalsPerNode(msgs, qid)
				for _, c := range catchers {
					if refused[c] == 0 {
						return false
					}
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			lie := liar + " signed fingerprints that do not match its committed input"
			for _, o := range rec.since(mark) {
				r := o.msg.GetRefusal()
				if r == nil || r.TaskId != qid {
					continue
				}
				caught := strings.Contains(r.Error, lie)
				if slices.Contains(catchers, o.node) != caught {
					t.Errorf("%s (sampled the liar: %v) refused with %q", o.node, slices.Contains(catchers, o.node), r.Error)
				}
			}
			for _, o := range rec.since(mark) {
				if o.msg.GetKeySwitchShare() != nil && slices.Contains(catchers, o.node) {
					t.Errorf("%s gave a key-switch share", o.node)
				}
				if ds := o.msg.GetDecryptionShare(); ds != nil && phase == 1 && slices.Contains(catchers, o.node) {
					t.Errorf("%s gave a decryption share of the forged aggregate", o.node)
				}
			}
			for _, c := range catchers {
				checkEvidence(t, fed, dir, c, liar, qid)
			}
			if n > 3 {
				// The verifiers that did not sample the liar were fooled:
				// they gave their decryption shares of the forged sum. The
				// run still fails, since every active member must share.
				fooled := 0
				for _, o := range rec.since(mark) {
					if o.msg.GetDecryptionShare() != nil && o.node != liar && !slices.Contains(catchers, o.node) {
						fooled++
					}
				}
				if fooled != n-1-len(catchers) {
					t.Errorf("%d verifiers that did not sample the liar gave shares, want %d", fooled, n-1-len(catchers))
				}
			}
		})
	}
}

// checkEvidence checks that node keeps verifiable evidence of liar's false
// fingerprints in qid, and notes it in its audit log.
func checkEvidence(t *testing.T, fed *Federation, dir, nodeName, liar, qid string) {
	t.Helper()
	state := filepath.Join(dir, "nodes", nodeName, "state")
	data, err := os.ReadFile(filepath.Join(state, node.AuditLogFile))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := audit.Filter(bytes.NewReader(data), audit.FilterOptions{QueryID: qid})
	if err != nil {
		t.Fatal(err)
	}
	var path string
	for _, e := range entries {
		if e.Result == audit.ResultDeny && slices.Contains(e.Reasons, "FINGERPRINT_MISMATCH") && e.Detail["member"] == liar {
			path = e.Detail["evidence"]
		}
	}
	if path == "" {
		t.Fatalf("%s: no audit entry of %s's false fingerprints", nodeName, liar)
	}
	b, err := os.ReadFile(filepath.Join(state, path))
	if err != nil {
		t.Fatal(err)
	}
	var ev node.Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	// The evidence stands on its own: both signatures are the liar's, the
	// ciphertexts are the ones its receipt commits to, and their
	// fingerprints are not the ones it signed.
	id, cert, err := pki.VerifyPeerCertificate(ev.Certificates, fed.CA().Pool(), pki.RoleNode, time.Now())
	if err != nil || id.Name != liar {
		t.Fatalf("evidence certificate: %v (%s)", err, id.Name)
	}
	if err := pki.Verify(cert, protocol.PurposeReceipt, ev.Receipt, ev.ReceiptSignature); err != nil {
		t.Errorf("evidence receipt: %v", err)
	}
	if err := pki.Verify(cert, protocol.PurposeFingerprint, ev.Statement, ev.StatementSignature); err != nil {
		t.Errorf("evidence statement: %v", err)
	}
	r, st := &pb.Receipt{}, &pb.FingerprintStatement{}
	if proto.Unmarshal(ev.Receipt, r) != nil || proto.Unmarshal(ev.Statement, st) != nil {
		t.Fatal("evidence does not decode")
	}
	params, _ := crypto.NewParams(crypto.ParamsBGV13)
	differs := false
	for k, ct := range ev.Ciphertexts {
		if !bytes.Equal(protocol.Digest(ct), r.CiphertextDigests[k]) {
			t.Errorf("evidence ciphertext %d is not the committed one", k)
		}
		fp, _ := params.Fingerprint(st.Seed, ct)
		signed, err := params.UnmarshalFingerprint(st.Fingerprints[k])
		if err != nil {
			t.Fatal(err)
		}
		differs = differs || !fp.Equal(signed)
	}
	if !differs || !bytes.Equal(st.ReceiptDigest, protocol.Digest(ev.Receipt)) {
		t.Error("the evidence does not show a false fingerprint of the committed input")
	}
}

// TestReplayedShareTaskIsRefused plays a coordinator that sends every task
// that has a node give a share — the spot check closing phase 1 (a
// decryption share) or phase 2 (a key-switch share) — twice, with its
// blobs: each node refuses the second and never gives a second share.
func TestReplayedShareTaskIsRefused(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	var mu sync.Mutex
	replayPhase := int32(0)
	replayed := map[string]int{} // query id -> streams replayed on
	rec := newRecorder()
	wrap, _ := wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
		if m.GetCancel() != nil {
			// Withholding cancellations makes every node judge both copies
			// of the task itself.
			return nil
		}
		if err := s.forward(m); err != nil {
			return err
		}
		mu.Lock()
		phase := replayPhase
		mu.Unlock()
		task := m.GetSpotCheckTask()
		if task == nil || task.Phase != phase {
			return nil
		}
		for _, in := range task.Inputs {
			for _, id := range in.CiphertextBlobs {
				if err := s.sendBlob(id, s.blob(id)); err != nil {
					return err
				}
			}
		}
		mu.Lock()
		replayed[task.QueryId]++
		mu.Unlock()
		return s.forward(m)
	})
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second, WrapCoordinator: wrap, PolicyData: exactResults(nil)})
	spec := exactSpec(t)
	tests := []struct {
		name  string
		phase int32
		share func(*pb.NodeMessage) bool
	}{
		{"decryption share", 1, func(m *pb.NodeMessage) bool { return m.GetDecryptionShare() != nil }},
		{"key-switch share", 2, func(m *pb.NodeMessage) bool { return m.GetKeySwitchShare() != nil }},
	}
	for _, tt := range tests {
		for i := range 2 {
			t.Run(fmt.Sprintf("%s/%d", tt.name, i), func(t *testing.T) {
				mu.Lock()
				replayPhase = tt.phase
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				mark := rec.mark()
				ans, err := fed.Query(ctx, spec, nil)
				if err == nil {
					if err := fed.Verify(ctx, spec, ans.Result); err != nil {
						t.Error(err)
					}
				} else if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "refused") {
					// The refusal of a replay may reach the coordinator in
					// place of an answer it waits for; nothing else may
					// fail the query.
					t.Fatalf("the query failed other than by a refusal: %v", err)
				}
				qid := queryOf(rec, mark)
				mu.Lock()
				n := replayed[qid]
				mu.Unlock()
				if qid == "" || n != len(partners) {
					t.Fatalf("query %q: task replayed on %d streams, want %d", qid, n, len(partners))
				}
				// Two answers per node: one share, one refusal.
				count := func(msgs []observed) (shares, refusals map[string]int) {
					shares, refusals = map[string]int{}, map[string]int{}
					for _, o := range msgs {
						switch {
						case taskOf(o.msg) != qid:
						case tt.share(o.msg):
							shares[o.node]++
						case o.msg.GetRefusal() != nil:
							refusals[o.node]++
						}
					}
					return shares, refusals
				}
				err = rec.waitFor(ctx, mark, "two answers from every node", func(msgs []observed) bool {
					shares, refusals := count(msgs)
					for _, p := range partners {
						if shares[p.Name]+refusals[p.Name] < 2 {
							return false
						}
					}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				shares, refusals := count(rec.since(mark))
				for _, p := range partners {
					if shares[p.Name] != 1 || refusals[p.Name] != 1 {
						t.Errorf("%s: %d shares and %d refusals, want 1 and 1", p.Name, shares[p.Name], refusals[p.Name])
					}
				}
				for _, o := range rec.since(mark) {
					if r := o.msg.GetRefusal(); r != nil && !slices.ContainsFunc(
						[]string{"no open contribution", "not at the step"},
						func(s string) bool { return strings.Contains(r.Error, s) }) {
						t.Errorf("%s refused for another reason: %s", o.node, r.Error)
					}
				}
			})
		}
	}
}

// TestReplayedQueryIsRefused plays a coordinator that sends a node the
// query task of a query it answered again — right after the query
// completed, when the node has dropped it from memory, and after the node
// restarted: the node's durable admission record refuses both, so a
// coordinator cannot make it spend privacy budget and encrypt its data
// again for a query the querier signed once.
func TestReplayedQueryIsRefused(t *testing.T) {
	partners := synthPartners(t, 3, 1000)
	rec := newRecorder()
	var mu sync.Mutex
	var taskMsgs []*pb.CoordinatorMessage // the query task and its receiver key, as sent to the victim
	victim := partners[1].Name
	wrap, d := wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
		if s.node == victim {
			c := m.GetChunk()
			if m.GetQueryTask() != nil || (c != nil && strings.HasPrefix(c.BlobId, "rk/")) {
				mu.Lock()
				taskMsgs = append(taskMsgs, m)
				mu.Unlock()
			}
		}
		return s.forward(m)
	})
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second, WrapCoordinator: wrap, PolicyData: exactResults(nil)})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ans, err := fed.Query(ctx, exactSpec(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	replay := func(what string) {
		t.Helper()
		mark := rec.mark()
		s := d.stream(victim)
		mu.Lock()
		msgs := slices.Clone(taskMsgs)
		mu.Unlock()
		for _, m := range msgs {
			if err := s.forward(m); err != nil {
				t.Fatal(err)
			}
		}
		err := rec.waitFor(ctx, mark, "the victim's answer to the replay", func(msgs []observed) bool {
			for _, o := range msgs {
				if o.node == victim && (o.msg.GetRefusal() != nil || o.msg.GetReceipt() != nil) {
					return true
				}
			}
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range rec.since(mark) {
			if o.node != victim {
				continue
			}
			if o.msg.GetReceipt() != nil {
				t.Errorf("%s: the victim admitted the query again and committed to a new input", what)
			}
			if r := o.msg.GetRefusal(); r != nil && !strings.Contains(r.Error, node.ErrAlreadyAdmitted.Error()) {
				t.Errorf("%s: refused with %q, want %q", what, r.Error, node.ErrAlreadyAdmitted)
			}
		}
	}
	replay("after completion")
	if err := fed.StopNode(victim); err != nil {
		t.Fatal(err)
	}
	if err := waitDetached(ctx, fed, victim); err != nil {
		t.Fatal(err)
	}
	if err := fed.StartNode(victim); err != nil {
		t.Fatal(err)
	}
	if err := fed.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	replay("after a restart")
	// The answered query stays answered, and a new one runs.
	if ans == nil {
		t.Fatal("no answer")
	}
	if _, err := fed.Query(ctx, exactSpec(t), nil); err != nil {
		t.Fatalf("a new query after the replays: %v", err)
	}
}

// TestDeviantTasksLeaveNodesUsable checks that after a deviant sum was
// refused, a correct run of a fresh query still works: refusing does not
// wedge a node or its share ledger.
func TestDeviantTasksLeaveNodesUsable(t *testing.T) {
	partners := synthPartners(t, 3, 1000)
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	deviate := true
	var fed *Federation
	wrap, _ := wrapWith(func(s *deviantStream, m *pb.CoordinatorMessage) error {
		mu.Lock()
		dv := deviate
		mu.Unlock()
		if st := m.GetSumTask(); st != nil && dv && st.Phase == 2 {
			// A fresh encryption's c1 in place of the aggregate's.
			forged := c1Parts(t, params, encryptUnder(t, fed, params, len(st.SumBlobs)))
			for k, id := range st.SumBlobs {
				if err := s.sendBlob(id, forged[k]); err != nil {
					return err
				}
			}
			return s.forward(m)
		}
		if c := m.GetChunk(); c != nil && dv {
			if ph, _, ok := sumPhase(c.BlobId); ok && ph == "2" {
				return nil
			}
		}
		return s.forward(m)
	})
	fed = startFederation(t, Config{Partners: partners, QueryTimeout: 20 * time.Second, WrapCoordinator: wrap, PolicyData: exactResults(nil)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spec := exactSpec(t)
	if _, err := fed.Query(ctx, spec, nil); err == nil {
		t.Fatal("the deviant coordinator got a result")
	}
	mu.Lock()
	deviate = false
	mu.Unlock()
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("an honest query after a refused one: %v", err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}
}
