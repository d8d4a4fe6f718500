package bench

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/node/aggregate"
	"github.com/fedscore/fedscore/node/source"
	"github.com/fedscore/fedscore/pki"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
	"github.com/fedscore/fedscore/protocol"
	"github.com/fedscore/fedscore/query"
)

// Components are one node's costs per query, in ms, measured in process
// on one goroutine with the node's own code paths and the same data,
// spec, keys and number of partners as the federation. They split the
// coordinator's phases into the node's work; what a phase takes beyond
// them is transfer, TLS, scheduling and the other nodes' turns on the
// shared cores.
type Components struct {
	// Policy is the admission and release decisions (OPA).
	Policy float64 `json:"policy"`
	// Scan is the consent cohort and the local aggregation.
	Scan float64 `json:"scan"`
	// Encrypt is encoding and encrypting the counts and the masked vector,
	// and serializing the ciphertexts.
	Encrypt float64 `json:"encode_encrypt"`
	// Sign is signing the two receipts and the decryption statement.
	Sign float64 `json:"sign"`
	// Verify is checking every partner's signed inputs of both phases
	// (certificate chain, receipt signature, ciphertext digest, decoding)
	// and recomputing both aggregates: it grows with the number of
	// partners.
	Verify float64 `json:"verify_inputs"`
	// Shares is the decryption shares of the counts and the key-switch
	// shares of the values.
	Shares float64 `json:"shares"`
	// Open is checking every partner's signed decryption shares, opening
	// the counts and computing the release mask.
	Open float64 `json:"open_counts"`
	// Total is the sum of the above.
	Total float64 `json:"total"`
}

// componentBench holds what the per-node measurement needs for one
// number of partners.
type componentBench struct {
	params crypto.Params
	fed    *cryptoFederation
	roots  *x509.CertPool
	creds  []*pki.Credential
	names  []string
	engine *policy.Engine
}

func newComponentBench(ctx context.Context, params crypto.Params, fed *cryptoFederation) (*componentBench, error) {
	ca, err := pki.NewCA(sandbox.TrustDomain, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("bench: ca: %w", err)
	}
	c := &componentBench{params: params, fed: fed, roots: ca.Pool()}
	for i := range fed.shares {
		name := partnerName(i)
		cred, err := ca.Issue(pki.Identity{TrustDomain: sandbox.TrustDomain, Role: pki.RoleNode, Name: name}, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: node credential: %w", err)
		}
		c.creds = append(c.creds, cred)
		c.names = append(c.names, name)
	}
	if c.engine, err = policy.NewEngine(ctx, policy.Options{DataOverrides: policyData()}); err != nil {
		return nil, fmt.Errorf("bench: policy engine: %w", err)
	}
	return c, nil
}

// signedInputs returns every partner's signed input of a phase carrying
// the ciphertexts blobs (the same bytes for every partner: the costs do
// not depend on the values).
func (c *componentBench) signedInputs(qid string, qdigest []byte, phase int32, blobs [][]byte) ([]*pb.SignedInput, error) {
	var digests [][]byte
	var ids []string
	for k, b := range blobs {
		digests = append(digests, protocol.Digest(b))
		ids = append(ids, fmt.Sprintf("ct/%s/%d/%d", qid, phase, k))
	}
	out := make([]*pb.SignedInput, len(c.creds))
	for i, cred := range c.creds {
		r := &pb.Receipt{QueryId: qid, QueryDigest: qdigest, Node: c.names[i], Epoch: "bench", Phase: phase, CiphertextDigests: digests}
		rb, sig, err := protocol.SignReceipt(cred.Key, r)
		if err != nil {
			return nil, fmt.Errorf("bench: sign receipt: %w", err)
		}
		out[i] = &pb.SignedInput{Node: c.names[i], CertChain: protocol.ChainDER(cred), Receipt: rb, Signature: sig, CiphertextBlobs: ids}
	}
	return out, nil
}

// verifyPhase is a node's check of one phase's inputs: every receipt and
// ciphertext, then the recomputed aggregate and its digest.
func (c *componentBench) verifyPhase(qid string, qdigest []byte, inputs []*pb.SignedInput, blobs [][]byte) ([]*crypto.Ciphertext, error) {
	now := time.Now()
	cols := make([][]*crypto.Ciphertext, len(blobs))
	for _, in := range inputs {
		r, _, err := protocol.VerifyReceipt(in, c.roots, qid, qdigest, now)
		if err != nil {
			return nil, fmt.Errorf("bench: verify receipt: %w", err)
		}
		for k, b := range blobs {
			if string(protocol.Digest(b)) != string(r.CiphertextDigests[k]) {
				return nil, fmt.Errorf("bench: ciphertext %d does not match its receipt", k)
			}
			ct, err := c.params.UnmarshalCiphertext(b)
			if err != nil {
				return nil, fmt.Errorf("bench: ciphertext: %w", err)
			}
			cols[k] = append(cols[k], ct)
		}
	}
	eval := c.params.NewEvaluator()
	sums := make([]*crypto.Ciphertext, len(blobs))
	for k, col := range cols {
		sum, err := eval.Sum(col)
		if err != nil {
			return nil, fmt.Errorf("bench: sum: %w", err)
		}
		b, err := sum.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("bench: marshal: %w", err)
		}
		protocol.Digest(b)
		sums[k] = sum
	}
	return sums, nil
}

// measure runs one node's work of one query on table with spec.
func (c *componentBench) measure(ctx context.Context, spec *query.Spec, table *dataset.Table) (Components, error) {
	var comp Components
	fail := func(err error) (Components, error) { return comp, err }
	layout := spec.Layout()
	specJSON, err := spec.Canonical()
	if err != nil {
		return fail(err)
	}
	qid, qdigest := "q-bench", protocol.Digest(specJSON)
	columns := tableColumns(table)
	info := policyInfo(spec, qid)
	info.Digest = fmt.Sprintf("%x", qdigest)
	n := len(c.creds)

	// Policy.
	t := time.Now()
	d, err := c.engine.Admit(ctx, policy.AdmissionInput{Query: info, NodeName: c.names[0], NodeColumns: columns, Time: t})
	if err != nil {
		return fail(fmt.Errorf("bench: admission: %w", err))
	}
	if err := d.Err(); err != nil {
		return fail(fmt.Errorf("bench: admission: %w", err))
	}
	rd, err := c.engine.Release(ctx, policy.ReleaseInput{Query: info, NodeName: c.names[0], Cells: layout.Cells, Time: t})
	if err != nil {
		return fail(fmt.Errorf("bench: release decision: %w", err))
	}
	comp.Policy = ms(time.Since(t))

	// Scan.
	t = time.Now()
	cohort, err := source.Cohort(table, d.Cohort)
	if err != nil {
		return fail(fmt.Errorf("bench: cohort: %w", err))
	}
	vec, _, err := aggregate.Aggregate(ctx, spec, table, cohort)
	if err != nil {
		return fail(fmt.Errorf("bench: aggregate: %w", err))
	}
	comp.Scan = ms(time.Since(t))

	// Phase 1 encryption; the other partners' inputs are made outside the
	// measurement.
	slots := release.CountSlots(layout)
	counts := make([]int64, len(slots))
	for i, s := range slots {
		counts[i] = vec[s]
	}
	enc := c.fed.enc.ShallowCopy()
	t = time.Now()
	blobs1, err := encryptBlobs(enc, counts)
	if err != nil {
		return fail(err)
	}
	comp.Encrypt = ms(time.Since(t))
	t = time.Now()
	if _, err := c.signedInputs(qid, qdigest, 1, blobs1); err != nil {
		return fail(err)
	}
	receipts := ms(time.Since(t)) // n receipts
	var statement float64
	inputs1, err := c.signedInputs(qid, qdigest, 1, blobs1)
	if err != nil {
		return fail(err)
	}

	// Verify phase 1 and make the decryption shares.
	t = time.Now()
	sums1, err := c.verifyPhase(qid, qdigest, inputs1, blobs1)
	if err != nil {
		return fail(err)
	}
	comp.Verify = ms(time.Since(t))
	decrypters := make([]*crypto.Decrypter, n)
	for i, sk := range c.fed.shares {
		if decrypters[i], err = c.params.NewDecrypter(sk); err != nil {
			return fail(fmt.Errorf("bench: decrypter: %w", err))
		}
	}
	t = time.Now()
	own := make([][]byte, len(sums1))
	for k, sum := range sums1 {
		if own[k], err = decrypters[0].Share(sum); err != nil {
			return fail(fmt.Errorf("bench: decryption share: %w", err))
		}
	}
	comp.Shares = ms(time.Since(t))
	// Every partner's shares and signed statements, made outside.
	aggDigests := make([][]byte, len(sums1))
	for k, sum := range sums1 {
		b, err := sum.MarshalBinary()
		if err != nil {
			return fail(err)
		}
		aggDigests[k] = protocol.Digest(b)
	}
	perCT := make([][][]byte, len(sums1))
	stmts := make([][]byte, n)
	sigs := make([][]byte, n)
	chains := make([][][]byte, n)
	for i := range n {
		var shareDigests [][]byte
		for k, sum := range sums1 {
			sh := own[k]
			if i > 0 {
				if sh, err = decrypters[i].Share(sum); err != nil {
					return fail(fmt.Errorf("bench: decryption share: %w", err))
				}
			}
			perCT[k] = append(perCT[k], sh)
			shareDigests = append(shareDigests, protocol.Digest(sh))
		}
		if stmts[i], err = protocol.DecryptionStatementBytes(qid, c.names[i], aggDigests, shareDigests); err != nil {
			return fail(err)
		}
		ts := time.Now()
		if sigs[i], err = pki.Sign(c.creds[i].Key, protocol.PurposeDecryptionShare, stmts[i]); err != nil {
			return fail(fmt.Errorf("bench: sign statement: %w", err))
		}
		if i == 0 {
			statement = ms(time.Since(ts))
		}
		chains[i] = protocol.ChainDER(c.creds[i])
	}

	// Open the counts from everyone's checked shares; the release mask.
	t = time.Now()
	for i := range n {
		_, cert, err := pki.VerifyPeerCertificate(chains[i], c.roots, pki.RoleNode, t)
		if err != nil {
			return fail(fmt.Errorf("bench: share certificate: %w", err))
		}
		var shareDigests [][]byte
		for k := range sums1 {
			shareDigests = append(shareDigests, protocol.Digest(perCT[k][i]))
		}
		stmt, err := protocol.DecryptionStatementBytes(qid, c.names[i], aggDigests, shareDigests)
		if err != nil {
			return fail(err)
		}
		if err := pki.Verify(cert, protocol.PurposeDecryptionShare, stmt, sigs[i]); err != nil {
			return fail(fmt.Errorf("bench: share signature: %w", err))
		}
	}
	var opened []int64
	for k, sum := range sums1 {
		v, err := c.params.CombineDecrypt(sum, perCT[k])
		if err != nil {
			return fail(fmt.Errorf("bench: open counts: %w", err))
		}
		opened = append(opened, v...)
	}
	mask, err := release.Compute(layout, opened[:len(slots)], rd.MinCellSize)
	if err != nil {
		return fail(fmt.Errorf("bench: release mask: %w", err))
	}
	comp.Open = ms(time.Since(t))

	// Phase 2: the masked vector, its verification and the key switch.
	masked := slices.Clone(vec)
	release.Apply(masked, mask.Released)
	t = time.Now()
	blobs2, err := encryptBlobs(enc, masked)
	if err != nil {
		return fail(err)
	}
	comp.Encrypt += ms(time.Since(t))
	inputs2, err := c.signedInputs(qid, qdigest, 2, blobs2)
	if err != nil {
		return fail(err)
	}
	t = time.Now()
	sums2, err := c.verifyPhase(qid, qdigest, inputs2, blobs2)
	if err != nil {
		return fail(err)
	}
	comp.Verify += ms(time.Since(t))
	ks, err := c.params.NewKeySwitcher(c.fed.shares[0])
	if err != nil {
		return fail(fmt.Errorf("bench: key switcher: %w", err))
	}
	t = time.Now()
	for _, sum := range sums2 {
		if _, err := ks.Share(c.fed.rpk, sum); err != nil {
			return fail(fmt.Errorf("bench: key-switch share: %w", err))
		}
	}
	comp.Shares += ms(time.Since(t))
	// One node signs two receipts (2/n of the n signed above) and one
	// decryption statement.
	comp.Sign = receipts*2/float64(n) + statement
	comp.Total = comp.Policy + comp.Scan + comp.Encrypt + comp.Sign + comp.Verify + comp.Shares + comp.Open
	return comp, nil
}

// encryptBlobs encrypts values and serializes the ciphertexts.
func encryptBlobs(enc *crypto.Encryptor, values []int64) ([][]byte, error) {
	cts, err := enc.Encrypt(values)
	if err != nil {
		return nil, fmt.Errorf("bench: encrypt: %w", err)
	}
	out := make([][]byte, len(cts))
	for k, ct := range cts {
		if out[k], err = ct.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("bench: marshal: %w", err)
		}
	}
	return out, nil
}

// partnerName names the i-th partner of a benchmark federation.
func partnerName(i int) string { return fmt.Sprintf("partner-%02d", i) }

// policyInfo describes spec to the policy as a node does.
func policyInfo(spec *query.Spec, id string) policy.QueryInfo {
	metrics := make([]string, len(spec.Metrics))
	for i, m := range spec.Metrics {
		metrics[i] = m.Kind
	}
	return policy.QueryInfo{
		ID: id, Purpose: spec.Purpose, Columns: spec.Columns(), Metrics: metrics, MinPartners: spec.MinPartners,
		PipiaID: spec.PipiaID, Destination: spec.Destination, Recipient: spec.Recipient,
	}
}

// tableColumns lists t's column names.
func tableColumns(t *dataset.Table) []string {
	var out []string
	for _, c := range t.Columns() {
		out = append(out, c.Name)
	}
	return out
}
