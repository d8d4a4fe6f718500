package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/shareddata"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// filterSpec exercises sum, mean and histogram metrics, in and between
// filters on numbers and categories, and categorical and bool group_by
// values (one of them absent from the data).
const filterSpec = `
purpose: risk_analytics
pipia_id: PIPIA-2026-RA-01
group_by:
  - column: education
    values: [high_school, college, bachelor, postgraduate, doctorate]
  - column: has_credit_card
    values: ["true", "false"]
filter:
  - {column: region, op: in, values: [east, south, north]}
  - {column: city_tier, op: in, values: [1, 2, 3]}
  - {column: credit_utilization, op: between, values: [0.05, 0.95]}
  - {column: age, op: between, values: [25, 60]}
  - {column: occupation, op: ne, value: student}
metrics:
  - kind: count
  - {kind: sum, column: annual_txn_amount, clip: [0, 500000]}
  - {kind: mean, column: credit_utilization, clip: [0, 1]}
  - {kind: histogram, column: delinquencies_12m, bins: [0, 1, 2, 3, 10]}
  - {kind: mean, column: credit_score, clip: [300, 850]}
min_partners: 3
decimals: 3
`

// minorsSpec counts customers by age around the policy's minimum age. It
// reads no sensitive column, so it needs no impact assessment.
const minorsSpec = `
purpose: marketing_analytics
group_by:
  - {column: age, bins: [0, 10, 14, 18, 30, 120]}
  - {column: gender, values: [female, male]}
metrics:
  - kind: count
min_partners: 3
`

// wideSpec has more slots than one ciphertext holds: one-year age bins by
// region, with a fine credit-score histogram.
func wideSpec(t *testing.T) *query.Spec {
	t.Helper()
	var ages, scores []string
	for a := 18; a <= 80; a++ {
		ages = append(ages, strconv.Itoa(a))
	}
	for s := 300; s <= 850; s += 25 {
		scores = append(scores, strconv.Itoa(s))
	}
	src := fmt.Sprintf(`{"purpose":"risk_analytics","pipia_id":"PIPIA-2026-RA-01",
"group_by":[{"column":"age","bins":[%s]},{"column":"region","values":["north","east","south","southwest","northwest","northeast","offshore"]}],
"filter":[{"column":"city_tier","op":"between","values":[1,4]}],
"metrics":[{"kind":"count"},{"kind":"sum","column":"annual_txn_amount","clip":[0,1000000]},
 {"kind":"mean","column":"credit_score","clip":[300,850]},{"kind":"histogram","column":"credit_score","bins":[%s]}],
"min_partners":3,"decimals":2}`, strings.Join(ages, ","), strings.Join(scores, ","))
	s := mustSpec(t, src)
	if n := s.Layout().VectorLen; n <= 8192 {
		t.Fatalf("wide spec has %d slots, want more than one ciphertext", n)
	}
	return s
}

// TestQueryMatchesPlaintext runs queries through 3 and 5 partners and checks
// the decrypted answers against the sandbox's central computation and an
// independent row-by-row computation.
func TestQueryMatchesPlaintext(t *testing.T) {
	revision := bundleRevision(t)
	// A small minimum cell size, so that most cells are released.
	data := map[string]any{"release_gate": map[string]any{"min_cell_size": 11}}
	minCell := minCellSize(t, data)
	specs := []struct {
		name      string
		spec      func(*testing.T) *query.Spec
		sensitive bool // reads sensitive columns
	}{
		{"default", defaultSpec, true},
		{"filters", func(t *testing.T) *query.Spec { return mustSpec(t, filterSpec) }, true},
		{"several ciphertexts", wideSpec, true},
		{"minors", func(t *testing.T) *query.Spec { return mustSpec(t, minorsSpec) }, false},
	}
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("partners=%d", n), func(t *testing.T) {
			partners := synthPartners(t, n, testRows)
			rec := newRecorder()
			fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, PolicyData: data})
			engine, err := policy.NewEngine(context.Background(), policy.Options{DataOverrides: data})
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range specs {
				t.Run(sc.name, func(t *testing.T) {
					spec := sc.spec(t)
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					mark := rec.mark()
					ans, err := fed.Query(ctx, spec, nil)
					if err != nil {
						t.Fatalf("query: %v", err)
					}
					if err := fed.Verify(ctx, spec, ans.Result); err != nil {
						t.Error(err)
					}
					// The cohort comes from the policy, checked against the
					// core rules; the rest of the computation is naive.
					var recs []record
					for _, p := range partners {
						cohort := policyCohort(t, ctx, engine, spec, p)
						checkSyntheticCohort(t, p, spec, cohort, sc.sensitive)
						recs = append(recs, cohortRecords(p.Data, cohort)...)
					}
					naive := naiveResult(t, ans.Spec, recs, func(record) bool { return true })
					compareNaive(t, ans.Spec, ans.Result, naive, minCell)
					if sc.name == "minors" {
						// Children under 14 never enter a cohort; 14 to 17
						// year olds do.
						teens := int64(0)
						for _, row := range ans.Result.Rows {
							age, c := row.Values[0].(string), row.Values[2]
							if (age == "[0,10)" || age == "[10,14)") && c != nil && c != int64(0) {
								t.Errorf("%v customers under 14 (%s, %s) counted", c, age, row.Values[1])
							}
							if n, ok := c.(int64); ok && age == "[14,18)" {
								teens += n
							}
						}
						if teens == 0 {
							t.Errorf("no customer aged 14 to 17 counted")
						}
					}

					want := partnerNames[:n]
					if got := slices.Sorted(slices.Values(ans.Partners)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
						t.Errorf("partners %v, want %v", ans.Partners, want)
					}
					if len(ans.Receipts) != n {
						t.Errorf("%d receipts, want %d", len(ans.Receipts), n)
					}
					for _, r := range ans.Receipts {
						// The sandbox builds its bundle from the default
						// one with the data overrides.
						if !slices.Contains(want, r.Node) || !strings.HasPrefix(r.BundleRevision, revision) ||
							r.BundleRevision != ans.Receipts[0].BundleRevision || r.DecisionId == "" {
							t.Errorf("receipt %v: want a member, one revision of bundle %q and a decision id", r, revision)
						}
					}

					// Phase 1 carries the counts, phase 2 the whole vector.
					l := spec.Layout()
					wantCts := map[int32]int{1: (len(release.CountSlots(l)) + 8191) / 8192, 2: (l.VectorLen + 8191) / 8192}
					inputs := map[int32]int{}
					for _, o := range rec.since(mark) {
						in := o.msg.GetInput()
						if in == nil || in.QueryId != ans.QueryID {
							continue
						}
						r := &pb.Receipt{}
						if err := proto.Unmarshal(in.Receipt, r); err != nil {
							t.Fatal(err)
						}
						inputs[r.Phase]++
						if len(in.CiphertextBlobs) != wantCts[r.Phase] {
							t.Errorf("%s sent %d ciphertexts in phase %d, want %d", o.node, len(in.CiphertextBlobs), r.Phase, wantCts[r.Phase])
						}
					}
					if inputs[1] != n || inputs[2] != n || len(inputs) != 2 {
						t.Errorf("inputs per phase %v, want %d in phases 1 and 2", inputs, n)
					}
					if sc.name == "several ciphertexts" && wantCts[2] < 2 {
						t.Errorf("the wide query fits one ciphertext")
					}
				})
			}
		})
	}
}

// bankColumns are the bank marketing columns the query reads.
var bankColumns = []string{"age", "marital", "balance", "duration", "campaign"}

const bankSpec = `
purpose: marketing_analytics
group_by:
  - column: age
    bins: [18, 25, 35, 45, 55, 65, 100]
  - column: marital
    values: [married, single, divorced]
metrics:
  - kind: count
  - kind: sum
    column: balance
    clip: [-10000, 100000]
  - kind: mean
    column: duration
    clip: [0, 5000]
  - kind: histogram
    column: campaign
    bins: [1, 2, 4, 8, 64]
min_partners: 3
decimals: 0
`

// splitCSV deals the data lines of a CSV file round-robin into n files, each
// with the header.
func splitCSV(t *testing.T, data []byte, n int) [][]byte {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		t.Fatal("empty CSV file")
	}
	header := sc.Text()
	parts := make([]*bytes.Buffer, n)
	for i := range parts {
		parts[i] = bytes.NewBufferString(header + "\n")
	}
	for i := 0; sc.Scan(); i++ {
		parts[i%n].WriteString(sc.Text() + "\n")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, n)
	for i, p := range parts {
		out[i] = p.Bytes()
	}
	return out
}

// TestBankMarketing splits the UCI bank marketing file between three
// partners and checks the joint answer against the central computation and
// against a direct computation over the whole file.
func TestBankMarketing(t *testing.T) {
	path := shareddata.Path(t, "bank-full.csv")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var partners []Partner
	for i, part := range splitCSV(t, data, 3) {
		tbl, err := dataset.ReadCSV(bytes.NewReader(part), dataset.CSVOptions{Delimiter: ';'})
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		partners = append(partners, Partner{Name: partnerNames[i], Data: tbl})
	}
	policyData := map[string]any{
		"assume_consent_when_absent": true,
		"purposes": map[string]any{
			"marketing_analytics": map[string]any{"allowed_columns": bankColumns},
		},
	}
	fed := startFederation(t, Config{Partners: partners, PolicyData: policyData})
	spec := mustSpec(t, bankSpec)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}

	// The whole file, read directly.
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, c := range bankColumns {
		if _, ok := col[c]; !ok {
			t.Fatalf("bank file has no column %q", c)
		}
	}
	var recs []record
	for _, row := range rows[1:] {
		recs = append(recs, func(c string) string { return row[col[c]] })
	}
	if len(recs) != 45211 {
		t.Errorf("bank file has %d records, want 45211", len(recs))
	}
	// The data carries no consent records; only the age rule applies.
	naive := naiveResult(t, ans.Spec, recs, func(r record) bool {
		age, err := strconv.ParseFloat(r("age"), 64)
		return err == nil && age >= 14
	})
	compareNaive(t, ans.Spec, ans.Result, naive, minCellSize(t, policyData))

	// Every client is 18 to 95 and married, single or divorced, so the
	// released counts per marital status and the true counts of the
	// withheld cells add up to the file's rows.
	byMarital := map[string]int64{}
	for _, row := range ans.Result.Rows {
		m := row.Values[1].(string)
		if c, ok := row.Values[2].(int64); ok {
			byMarital[m] += c
		} else {
			byMarital[m] += naive[row.Values[0].(string)+"|"+m].count
		}
	}
	direct := map[string]int64{}
	for _, row := range rows[1:] {
		direct[row[col["marital"]]]++
	}
	var total int64
	for _, m := range []string{"married", "single", "divorced"} {
		if byMarital[m] != direct[m] {
			t.Errorf("%s: %d in the answer, %d in the file", m, byMarital[m], direct[m])
		}
		total += byMarital[m]
	}
	if total != int64(len(recs)) {
		t.Errorf("the answer counts %d clients, the file has %d", total, len(recs))
	}
}

// TestNothingLeavesANodeButCiphertexts records every message the nodes send
// during key generation, answered queries and a refused one, and checks that
// each is a ciphertext under the collective key, a signed share opening an
// aggregate (decryption of the phase 1 counts, key switch of the released
// values), a signed receipt or a policy decision, and that none carries a
// customer id or a node's plaintext aggregate.
func TestNothingLeavesANodeButCiphertexts(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	rec := newRecorder()
	dir := t.TempDir()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, Dir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	specs := []*query.Spec{defaultSpec(t), wideSpec(t)}
	answered := map[string]bool{}
	for _, s := range specs {
		ans, err := fed.Query(ctx, s, nil)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if err := fed.Verify(ctx, s, ans.Result); err != nil {
			t.Fatal(err)
		}
		answered[ans.QueryID] = true
	}
	refused := defaultSpec(t)
	refused.Purpose = "credit_scoring"
	mark := rec.mark()
	if _, err := fed.Query(ctx, refused, nil); err == nil {
		t.Fatal("a credit_scoring query was answered")
	}
	if err := rec.waitFor(ctx, mark, "three refusals", func(msgs []observed) bool { return len(msgs) >= 3 }); err != nil {
		t.Fatal(err)
	}

	params, err := crypto.NewParams("bgv13")
	if err != nil {
		t.Fatal(err)
	}
	epoch := fed.Coordinator().Epoch()
	revision := bundleRevision(t)
	certs := map[string]*pki.Credential{}
	for _, p := range partners {
		d := filepath.Join(dir, "nodes", p.Name)
		if certs[p.Name], err = pki.LoadCredential(filepath.Join(d, "node.pem"), filepath.Join(d, "node-key.pem")); err != nil {
			t.Fatal(err)
		}
	}

	// Reassemble each node's blobs and check what names them.
	type blobKey struct{ node, id string }
	partial := map[blobKey][]byte{}
	complete := map[blobKey][]byte{}
	referenced := map[blobKey]bool{}
	take := func(node string, ids []string, what string) [][]byte {
		var out [][]byte
		for _, id := range ids {
			k := blobKey{node, id}
			b, ok := complete[k]
			if !ok {
				t.Errorf("%s: %s names blob %q, which it did not send before", node, what, id)
			}
			referenced[k] = true
			out = append(out, b)
		}
		return out
	}
	var blobs [][]byte
	phases := map[string][]int32{} // node/query -> phases of its inputs, in order
	msgs := rec.since(0)
	counts := map[string]int{}
	for _, o := range msgs {
		m := o.msg
		switch b := m.Body.(type) {
		case *pb.NodeMessage_Chunk:
			counts["chunk"]++
			k := blobKey{o.node, b.Chunk.BlobId}
			if _, dup := complete[k]; dup && !referenced[k] {
				t.Errorf("%s: blob %q sent twice", o.node, b.Chunk.BlobId)
			}
			partial[k] = append(partial[k], b.Chunk.Data...)
			if b.Chunk.Final {
				complete[k] = partial[k]
				delete(partial, k)
				blobs = append(blobs, complete[k])
			}
		case *pb.NodeMessage_Hello:
			counts["hello"]++
			// A hello names the key a node holds: none yet, or the epoch's.
			h := b.Hello
			none := h.Epoch == "" && len(h.PublicKeyDigest) == 0
			if !none && (h.Epoch != epoch.ID || !bytes.Equal(h.PublicKeyDigest, epoch.PublicKeyDigest)) {
				t.Errorf("%s: hello %v does not name the epoch's key", o.node, h)
			}
		case *pb.NodeMessage_SetupShare:
			counts["setup_share"]++
			sh := take(o.node, []string{b.SetupShare.ShareBlob}, "setup share")
			stmt, err := protocol.SetupStatementBytes(b.SetupShare.Epoch, epoch.Params, epoch.CRS, o.node, sh[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := pki.Verify(certs[o.node].Certificate, protocol.PurposeSetupShare, stmt, b.SetupShare.Signature); err != nil {
				t.Errorf("%s: key-generation share: %v", o.node, err)
			}
		case *pb.NodeMessage_Input:
			counts["input"]++
			in := b.Input
			cts := take(o.node, in.CiphertextBlobs, "query input")
			if err := pki.Verify(certs[o.node].Certificate, protocol.PurposeReceipt, in.Receipt, in.Signature); err != nil {
				t.Errorf("%s: receipt signature: %v", o.node, err)
			}
			r := &pb.Receipt{}
			if err := proto.Unmarshal(in.Receipt, r); err != nil {
				t.Fatalf("%s: receipt: %v", o.node, err)
			}
			if r.Node != o.node || r.QueryId != in.QueryId || !answered[in.QueryId] || r.Epoch != epoch.ID ||
				!strings.HasPrefix(r.BundleRevision, revision) || r.DecisionId == "" || len(r.CiphertextDigests) != len(cts) {
				t.Errorf("%s: receipt %v does not match its input", o.node, r)
			}
			phases[o.node+"/"+in.QueryId] = append(phases[o.node+"/"+in.QueryId], r.Phase)
			// Phase 2 carries the node's release mask, bound by the receipt.
			switch {
			case r.Phase == 1 && (in.ReleaseMask != nil || r.MaskDigest != nil):
				t.Errorf("%s: phase 1 input with a release mask", o.node)
			case r.Phase == 2 && !bytes.Equal(protocol.Digest(in.ReleaseMask), r.MaskDigest):
				t.Errorf("%s: phase 2 release mask does not match the receipt", o.node)
			case r.Phase != 1 && r.Phase != 2:
				t.Errorf("%s: input of phase %d", o.node, r.Phase)
			}
			for i, ct := range cts {
				if _, err := params.UnmarshalCiphertext(ct); err != nil {
					t.Errorf("%s: input blob %d is not a ciphertext: %v", o.node, i, err)
				}
				if i < len(r.CiphertextDigests) && !bytes.Equal(protocol.Digest(ct), r.CiphertextDigests[i]) {
					t.Errorf("%s: input blob %d does not match the receipt's digest", o.node, i)
				}
			}
		case *pb.NodeMessage_DecryptionShare:
			// The collective decryption of the phase 1 counts.
			counts["decryption_share"]++
			ds := b.DecryptionShare
			shares := take(o.node, ds.ShareBlobs, "decryption share")
			var digests [][]byte
			for _, sh := range shares {
				digests = append(digests, protocol.Digest(sh))
			}
			stmt, err := protocol.DecryptionStatementBytes(ds.QueryId, o.node, ds.AggregateDigests, digests)
			if err != nil {
				t.Fatal(err)
			}
			if err := pki.Verify(certs[o.node].Certificate, protocol.PurposeDecryptionShare, stmt, ds.Signature); err != nil {
				t.Errorf("%s: decryption share signature: %v", o.node, err)
			}
			if !answered[ds.QueryId] || len(ds.AggregateDigests) != len(ds.ShareBlobs) {
				t.Errorf("%s: decryption share for %q with %d digests and %d blobs", o.node, ds.QueryId, len(ds.AggregateDigests), len(ds.ShareBlobs))
			}
		case *pb.NodeMessage_KeySwitchShare:
			counts["key_switch_share"]++
			ks := b.KeySwitchShare
			for i, sh := range take(o.node, ks.ShareBlobs, "key-switch share") {
				if len(sh) != params.KeySwitchShareSize() {
					t.Errorf("%s: key-switch share %d has %d bytes, want %d", o.node, i, len(sh), params.KeySwitchShareSize())
				}
			}
			if !answered[ks.QueryId] || len(ks.AggregateDigests) != len(ks.ShareBlobs) {
				t.Errorf("%s: key-switch share for %q with %d digests and %d blobs", o.node, ks.QueryId, len(ks.AggregateDigests), len(ks.ShareBlobs))
			}
		case *pb.NodeMessage_Refusal:
			counts["refusal"]++
			r := b.Refusal
			if answered[r.TaskId] || !strings.HasPrefix(r.BundleRevision, revision) || r.DecisionId == "" || len(r.Reasons) == 0 {
				t.Errorf("%s: refusal %v is not a policy decision on the refused query", o.node, r)
			}
		default:
			t.Errorf("%s sent a message of type %T", o.node, m.Body)
		}
	}
	for k := range partial {
		t.Errorf("%s: blob %q never completed", k.node, k.id)
	}
	for k := range complete {
		if !referenced[k] {
			t.Errorf("%s: blob %q is named by no share, input or key-switch share", k.node, k.id)
		}
	}
	// Key generation, then per answered query and node a phase 1 input,
	// a decryption share of the counts, a phase 2 input and a key-switch
	// share; then one refusal per node.
	want := map[string]int{"setup_share": 3, "input": 12, "decryption_share": 6, "key_switch_share": 6, "refusal": 3}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s messages, want %d", counts[k], k, n)
		}
	}
	for k, ph := range phases {
		if !slices.Equal(ph, []int32{1, 2}) {
			t.Errorf("%s: inputs of phases %v, want 1 then 2", k, ph)
		}
	}

	// No customer id and no node's plaintext aggregate, in any message or
	// reassembled blob.
	var hay [][]byte
	for _, o := range msgs {
		b, err := proto.Marshal(o.msg)
		if err != nil {
			t.Fatal(err)
		}
		hay = append(hay, b)
	}
	hay = append(hay, blobs...)
	ids := map[string]bool{}
	for _, p := range partners {
		c, ok := p.Data.Column("customer_id")
		if !ok {
			t.Fatal("synthetic data without customer_id")
		}
		for i := range p.Data.Rows() {
			ids[c.String(i)] = true
		}
	}
	if id, ok := findAny(hay, ids); ok {
		t.Errorf("customer id %q left a node", id)
	}
	engine, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]bool{}
	for _, s := range specs {
		for _, p := range partners {
			// The whole vector, and the counts that phase 1 encrypts.
			vec := plaintextVector(t, ctx, engine, s, p)
			var counts []int64
			for _, i := range release.CountSlots(s.Layout()) {
				counts = append(counts, vec[i])
			}
			for _, v := range [][]int64{vec, counts} {
				enc := make([]byte, 8*len(v))
				for i, x := range v {
					binary.LittleEndian.PutUint64(enc[8*i:], uint64(x))
				}
				if _, ok := findAny(hay, map[string]bool{string(enc): true}); ok {
					t.Errorf("%s's plaintext vector left the node", p.Name)
				}
				// Any four consecutive slots, two of them not zero.
				for i := 0; i+4 <= len(v); i++ {
					nonzero := 0
					for _, x := range v[i : i+4] {
						if x != 0 {
							nonzero++
						}
					}
					if nonzero >= 2 {
						secrets[string(enc[8*i:8*i+32])] = true
					}
				}
			}
		}
	}
	// The release mask, a policy decision, is a sparse bitmap that may
	// look like a few small counts; it is not searched.
	var unmasked [][]byte
	for _, o := range msgs {
		m := o.msg
		if in := m.GetInput(); in != nil && in.ReleaseMask != nil {
			c := proto.Clone(in).(*pb.QueryInput)
			c.ReleaseMask = nil
			m = &pb.NodeMessage{Body: &pb.NodeMessage_Input{Input: c}}
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		unmasked = append(unmasked, b)
	}
	unmasked = append(unmasked, blobs...)
	if w, ok := findAny(unmasked, secrets); ok {
		t.Errorf("four slots of a plaintext aggregate (%s) left a node", hex.EncodeToString([]byte(w)))
	}
}

// plaintextVector is the aggregate vector partner p computes for s.
func plaintextVector(t *testing.T, ctx context.Context, engine *policy.Engine, s *query.Spec, p Partner) []int64 {
	t.Helper()
	vec, _, err := aggregate.Aggregate(ctx, s, p.Data, policyCohort(t, ctx, engine, s, p))
	if err != nil {
		t.Fatal(err)
	}
	return vec
}

// findAny returns a needle that occurs in any of hay.
func findAny(hay [][]byte, needles map[string]bool) (string, bool) {
	lengths := map[int]bool{}
	var first [256]bool
	for n := range needles {
		lengths[len(n)] = true
		first[n[0]] = true
	}
	for _, h := range hay {
		for i := range h {
			if !first[h[i]] {
				continue
			}
			for l := range lengths {
				if i+l <= len(h) && needles[string(h[i:i+l])] {
					return string(h[i : i+l]), true
				}
			}
		}
	}
	return "", false
}

// TestOneKeySwitchSharePerAggregate counts the shares that open
// ciphertexts over several queries — decryption shares of the phase 1
// counts and key-switch shares of the phase 2 values: each node gives
// exactly one per aggregate ciphertext, and never both kinds for one.
func TestOneKeySwitchSharePerAggregate(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	specs := []*query.Spec{defaultSpec(t), defaultSpec(t), wideSpec(t), mustSpec(t, filterSpec)}
	var qids []string
	aggregates := 0 // ciphertexts opened, over both phases
	for _, s := range specs {
		ans, err := fed.Query(ctx, s, nil)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		qids = append(qids, ans.QueryID)
		l := s.Layout()
		aggregates += (len(release.CountSlots(l))+8191)/8192 + (l.VectorLen+8191)/8192
	}
	type key struct{ node, digest string }
	shares := map[key]int{}
	queryOf := map[string]string{}
	perQuery := map[string]map[string]int{} // query -> node/kind -> messages
	for _, o := range rec.since(0) {
		var qid, kind string
		var digests [][]byte
		switch {
		case o.msg.GetKeySwitchShare() != nil:
			ks := o.msg.GetKeySwitchShare()
			qid, kind, digests = ks.QueryId, "key-switch", ks.AggregateDigests
		case o.msg.GetDecryptionShare() != nil:
			ds := o.msg.GetDecryptionShare()
			qid, kind, digests = ds.QueryId, "decryption", ds.AggregateDigests
		default:
			continue
		}
		if perQuery[qid] == nil {
			perQuery[qid] = map[string]int{}
		}
		perQuery[qid][o.node+"/"+kind]++
		for _, d := range digests {
			h := hex.EncodeToString(d)
			shares[key{o.node, h}]++
			if q, ok := queryOf[h]; ok && q != qid {
				t.Errorf("aggregate %s is in queries %s and %s", h[:16], q, qid)
			}
			queryOf[h] = qid
		}
	}
	for k, n := range shares {
		if n != 1 {
			t.Errorf("%s gave %d shares for aggregate %s", k.node, n, k.digest[:16])
		}
	}
	// Every node opened every aggregate once.
	if len(queryOf) != aggregates || len(shares) != aggregates*len(partners) {
		t.Errorf("%d aggregates and %d (node, aggregate) shares, want %d and %d", len(queryOf), len(shares), aggregates, aggregates*len(partners))
	}
	for _, q := range qids {
		for _, p := range partners {
			for _, kind := range []string{"decryption", "key-switch"} {
				if n := perQuery[q][p.Name+"/"+kind]; n != 1 {
					t.Errorf("%s sent %d %s share messages for %s", p.Name, n, kind, q)
				}
			}
		}
	}
}

// TestNodeDiesMidQuery stops a node right after it sent its input: the
// query fails naming it, and after a restart the node rejoins the same
// epoch and the next query succeeds.
func TestNodeDiesMidQuery(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe, QueryTimeout: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	epoch := fed.Coordinator().Epoch().ID
	victim := partners[1].Name
	spec := defaultSpec(t)

	// The victim is stopped before the coordinator acts on its input: the
	// hook holds the coordinator's receiving goroutine until it is down.
	started, stopped := make(chan struct{}), make(chan error, 1)
	var once sync.Once
	rec.setHook(func(n string, m *pb.NodeMessage) {
		if n != victim || m.GetInput() == nil {
			return
		}
		once.Do(func() {
			close(started)
			done := make(chan error, 1)
			go func() { done <- fed.StopNode(victim) }()
			select {
			case err := <-done:
				stopped <- err
			case <-ctx.Done():
				stopped <- fmt.Errorf("stop %s: %w", victim, ctx.Err())
			}
		})
	})
	qctx, qcancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := fed.Query(qctx, spec, nil)
	qcancel()
	if err == nil {
		t.Fatal("the query succeeded although a node died")
	}
	select {
	case <-started:
	default:
		t.Fatalf("the query ended before %s sent its input: %v", victim, err)
	}
	if !strings.Contains(err.Error(), victim) {
		t.Errorf("error %q does not name %s", err, victim)
	}
	if st, _ := status.FromError(err); st.Code() == codes.DeadlineExceeded || strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("the disconnection was not detected, the query timed out: %v", err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop %s: %v", victim, err)
		}
	case <-ctx.Done():
		t.Fatal("the node did not stop")
	}
	rec.setHook(nil)

	// The coordinator must see the old stream go before the node returns.
	if err := waitDetached(ctx, fed, victim); err != nil {
		t.Fatal(err)
	}
	mark := rec.mark()
	if err := fed.StartNode(victim); err != nil {
		t.Fatal(err)
	}
	if err := fed.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fed.Coordinator().Epoch().ID; got != epoch {
		t.Errorf("epoch %s after the restart, want %s", got, epoch)
	}
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("query after the restart: %v", err)
	}
	if err := fed.Verify(ctx, spec, ans.Result); err != nil {
		t.Error(err)
	}
	if !slices.Contains(ans.Partners, victim) {
		t.Errorf("partners %v do not include the restarted %s", ans.Partners, victim)
	}
	for _, o := range rec.since(mark) {
		if o.msg.GetSetupShare() != nil {
			t.Errorf("%s sent a key-generation share after the restart", o.node)
		}
	}
}

// waitDetached waits until the coordinator no longer lists name as attached.
func waitDetached(ctx context.Context, fed *Federation, name string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := fed.Querier().Status(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(st.Attached, name) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still attached: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestPolicyRefusal checks that queries the policy denies are refused by
// every node, with the reason and article reaching the querier, and that no
// node sends anything but its refusal.
func TestPolicyRefusal(t *testing.T) {
	partners := synthPartners(t, 3, 500)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe})
	tests := []struct {
		name    string
		edit    func(*query.Spec)
		code    string
		article string
	}{
		{"credit scoring without a licensed channel", func(s *query.Spec) { s.Purpose = "credit_scoring" },
			"CREDIT_REPORTING_LICENSE_REQUIRED", "PBOC Credit Reporting Business Measures Art. 4"},
		{"column not allowed for the purpose", func(s *query.Spec) {
			s.GroupBy = append(s.GroupBy, query.GroupBy{Column: "gender", Values: []string{"female", "male"}})
		}, "PURPOSE_COLUMNS", "PIPL Art. 6"},
		{"identifier column", func(s *query.Spec) {
			s.Filter = append(s.Filter, query.Predicate{Column: "customer_id", Op: query.OpNe, Value: "x"})
		}, "IDENTIFIER_COLUMN", "PIPL Art. 6"},
		{"too few partners", func(s *query.Spec) { s.MinPartners = 2 }, "MIN_PARTNERS", "PIPL Art. 73(4)"},
		{"unknown purpose", func(s *query.Spec) { s.Purpose = "profiling" }, "PURPOSE_UNKNOWN", "PIPL Art. 6"},
		{"sensitive columns without an impact assessment", func(s *query.Spec) { s.PipiaID = "" }, "PIPIA_REQUIRED", "PIPL Art. 55-56"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			spec := defaultSpec(t)
			tt.edit(spec)
			mark := rec.mark()
			ans, err := fed.Query(ctx, spec, nil)
			if err == nil {
				t.Fatalf("the query was answered: %v", ans.Result.Rows)
			}
			if code := status.Code(err); code != codes.PermissionDenied {
				t.Errorf("code %v, want PermissionDenied: %v", code, err)
			}
			if !strings.Contains(err.Error(), tt.code) || !strings.Contains(err.Error(), tt.article) {
				t.Errorf("error %q does not cite %s (%s)", err, tt.code, tt.article)
			}
			if err := rec.waitFor(ctx, mark, "a refusal from every node", func(msgs []observed) bool {
				return len(msgs) >= len(partners)
			}); err != nil {
				t.Fatal(err)
			}
			from := map[string]bool{}
			for _, o := range rec.since(mark) {
				r := o.msg.GetRefusal()
				if r == nil {
					t.Errorf("%s sent %T for a refused query", o.node, o.msg.Body)
					continue
				}
				from[o.node] = true
				cited := slices.ContainsFunc(r.Reasons, func(x *pb.Reason) bool {
					return x.Code == tt.code && x.Article == tt.article
				})
				if !cited || r.DecisionId == "" || r.BundleRevision == "" {
					t.Errorf("%s refused with %v, want %s (%s) with a decision id and revision", o.node, r, tt.code, tt.article)
				}
			}
			if len(from) != len(partners) {
				t.Errorf("refusals from %v, want every partner", from)
			}
		})
	}
}

// TestObserveSeesEveryNodeMessage checks the contract of Config.Observe
// (and coordinator.Config.Observe): it sees every message a node sends,
// including the Hello that opens each node's stream.
func TestObserveSeesEveryNodeMessage(t *testing.T) {
	partners := synthPartners(t, 3, 200)
	rec := newRecorder()
	startFederation(t, Config{Partners: partners, Observe: rec.observe})
	hellos := map[string]int{}
	for _, o := range rec.since(0) {
		if o.msg.GetHello() != nil {
			hellos[o.node]++
		}
	}
	// Each node says hello when it attaches (no epoch yet) and again after
	// it recombined the collective key.
	for _, p := range partners {
		if hellos[p.Name] != 2 {
			t.Errorf("observed %d hellos from %s, want 2 (the one opening its stream and the one after key generation)", hellos[p.Name], p.Name)
		}
	}
}

// TestConcurrentQueries runs several queries at once through one
// federation: every node and the coordinator handle them in parallel, each
// with its own encryptors, evaluators and key switchers.
func TestConcurrentQueries(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	fed := startFederation(t, Config{Partners: partners})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	specs := []*query.Spec{defaultSpec(t), mustSpec(t, filterSpec), wideSpec(t), mustSpec(t, minorsSpec), defaultSpec(t)}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			ans, err := fed.Query(ctx, s, nil)
			if err == nil {
				err = fed.Verify(ctx, s, ans.Result)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("query %d: %v", i, err)
		}
	}
}

// nodeBlobs reassembles the blobs each node sent, by node and blob id.
func nodeBlobs(msgs []observed) map[string]map[string][]byte {
	out := map[string]map[string][]byte{}
	for _, o := range msgs {
		c := o.msg.GetChunk()
		if c == nil {
			continue
		}
		if out[o.node] == nil {
			out[o.node] = map[string][]byte{}
		}
		out[o.node][c.BlobId] = append(out[o.node][c.BlobId], c.Data...)
	}
	return out
}

// TestOpenedCountsAreNoisy plays a curious coordinator: it combines the
// phase 1 inputs and the decryption shares it relays into the cell counts
// every node's release gate sees. The design opens only noisy counts
// (each node adds its share of differential-privacy noise before
// encrypting), so these must not be the exact counts — in particular not
// those of the cells the release gate withholds because they are too small.
func TestOpenedCountsAreNoisy(t *testing.T) {
	partners := synthPartners(t, 3, testRows)
	rec := newRecorder()
	fed := startFederation(t, Config{Partners: partners, Observe: rec.observe})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spec := wideSpec(t)
	// Differential privacy is the querier's and the policy's choice; with
	// it, no one learns an exact count, not even the cells the release gate
	// withholds.
	spec.Epsilon = 1
	mark := rec.mark()
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	msgs := rec.since(mark)
	blobs := nodeBlobs(msgs)
	params, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]*crypto.Ciphertext // [node][ciphertext], phase 1
	shares := map[int][][]byte{}      // ciphertext -> every node's share
	for _, o := range msgs {
		if in := o.msg.GetInput(); in != nil {
			r := &pb.Receipt{}
			if err := proto.Unmarshal(in.Receipt, r); err != nil {
				t.Fatal(err)
			}
			if r.Phase != 1 {
				continue
			}
			var cts []*crypto.Ciphertext
			for _, id := range in.CiphertextBlobs {
				ct, err := params.UnmarshalCiphertext(blobs[o.node][id])
				if err != nil {
					t.Fatal(err)
				}
				cts = append(cts, ct)
			}
			inputs = append(inputs, cts)
		}
		if ds := o.msg.GetDecryptionShare(); ds != nil {
			for k, id := range ds.ShareBlobs {
				shares[k] = append(shares[k], blobs[o.node][id])
			}
		}
	}
	if len(inputs) != len(partners) || len(shares) == 0 {
		t.Fatalf("observed %d phase 1 inputs and shares of %d ciphertexts", len(inputs), len(shares))
	}
	var opened []int64
	for k := range inputs[0] {
		var col []*crypto.Ciphertext
		for _, in := range inputs {
			col = append(col, in[k])
		}
		sum, err := params.NewEvaluator().Sum(col)
		if err != nil {
			t.Fatal(err)
		}
		v, err := params.CombineDecrypt(sum, shares[k])
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, v...)
	}

	engine, err := policy.NewEngine(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := spec.Layout()
	slots := release.CountSlots(l)
	exact := make([]int64, len(slots))
	for _, p := range partners {
		vec := plaintextVector(t, ctx, engine, spec, p)
		for i, s := range slots {
			exact[i] += vec[s]
		}
	}
	// The count block comes first among the count slots: slot c is cell c.
	withheld, exposed := 0, 0
	for c, row := range ans.Result.Rows {
		if v := row.Values[len(spec.GroupBy)]; v == nil && exact[c] > 0 {
			withheld++
			if opened[c] == exact[c] {
				exposed++
			}
		}
	}
	if withheld == 0 {
		t.Fatal("no non-empty cell was withheld; the query does not exercise the release gate")
	}
	if slices.Equal(opened[:len(exact)], exact) {
		t.Errorf("the counts opened in phase 1 are exact: the coordinator and every partner learn the true count of all %d count slots, "+
			"including %d of the %d non-empty cells the release gate withholds as too small", len(exact), exposed, withheld)
	}
}
