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
	"github.com/fedscore/fedscore/node"
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
	// Sign is signing the two receipts, the three fingerprint statements
	// and the two share statements.
	Sign float64 `json:"sign"`
	// Verify is a verifier's checks of both phases: every partner's
	// receipt and signed fingerprint statement (certificates cached), the
	// fingerprints of its own input, of the sums and of the spot-checked
	// inputs. Only the receipt and statement checks grow with the number
	// of partners.
	Verify float64 `json:"verify_inputs"`
	// Shares is the decryption shares of the counts and the key-switch
	// shares of the values.
	Shares float64 `json:"shares"`
	// Open is checking the summed decryption shares' fingerprints, opening
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
	certs  *protocol.CertCache
	creds  []*pki.Credential
	names  []string
	engine *policy.Engine
	// spot is the number of inputs a verifier spot-checks per phase.
	spot int
}

func newComponentBench(ctx context.Context, params crypto.Params, fed *cryptoFederation) (*componentBench, error) {
	ca, err := pki.NewCA(sandbox.TrustDomain, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("bench: ca: %w", err)
	}
	c := &componentBench{params: params, fed: fed, roots: ca.Pool(), certs: protocol.NewCertCache(ca.Pool())}
	for i := range fed.shares {
		name := partnerName(i)
		cred, err := ca.Issue(pki.Identity{TrustDomain: sandbox.TrustDomain, Role: pki.RoleNode, Name: name}, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: node credential: %w", err)
		}
		c.creds = append(c.creds, cred)
		c.names = append(c.names, name)
	}
	c.spot = min(node.DefaultSpotChecks, len(c.names)-1)
	if c.engine, err = policy.NewEngine(ctx, policy.Options{DataOverrides: policyData()}); err != nil {
		return nil, fmt.Errorf("bench: policy engine: %w", err)
	}
	return c, nil
}

// signedPhase is every partner's signed receipt and fingerprint statement
// of a phase, all over the same ciphertexts (the costs do not depend on
// the values).
type signedPhase struct {
	receipts, receiptSigs [][]byte
	statements, stmtSigs  [][]byte
	joint                 []byte
}

// signPhase makes every partner's signed receipt and fingerprints of a
// phase; it returns what partner 0's signing cost, in ms.
func (c *componentBench) signPhase(step protocol.Step, blobs [][]byte) (*signedPhase, float64, error) {
	sp := &signedPhase{joint: protocol.JointSeed(step, pb.Round_ROUND_INPUTS, nil)}
	var fps [][]byte
	for _, b := range blobs {
		fp, err := c.params.Fingerprint(sp.joint, b)
		if err != nil {
			return nil, 0, err
		}
		enc, _ := fp.MarshalBinary()
		fps = append(fps, enc)
	}
	var cost float64
	for i, cred := range c.creds {
		t := time.Now()
		r := &pb.Receipt{QueryId: step.QueryID, QueryDigest: step.QueryDigest, Node: c.names[i], Epoch: step.Epoch, Run: step.Run, Phase: step.Phase,
			CiphertextDigests: digestsOf(blobs)}
		rb, sig, err := protocol.SignReceipt(cred.Key, r)
		if err != nil {
			return nil, 0, fmt.Errorf("bench: sign receipt: %w", err)
		}
		st := &pb.FingerprintStatement{QueryId: step.QueryID, Run: step.Run, Phase: step.Phase, Round: pb.Round_ROUND_INPUTS,
			Node: c.names[i], Seed: sp.joint, ReceiptDigest: protocol.Digest(rb), Fingerprints: fps}
		sb, ssig, err := protocol.SignFingerprints(cred.Key, st)
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			cost = ms(time.Since(t))
		}
		sp.receipts, sp.receiptSigs = append(sp.receipts, rb), append(sp.receiptSigs, sig)
		sp.statements, sp.stmtSigs = append(sp.statements, sb), append(sp.stmtSigs, ssig)
	}
	return sp, cost, nil
}

// verifyPhase is a verifier's checks of one phase's inputs: every receipt
// and fingerprint statement, the fingerprints of its own input and of the
// sum (part, as received), the spot-checked inputs' digests and
// fingerprints.
func (c *componentBench) verifyPhase(step protocol.Step, sp *signedPhase, own, sum [][]byte) error {
	now := time.Now()
	for i, name := range c.names {
		cert, err := c.certs.MemberCert(&protocol.Epoch{ID: step.Epoch}, name, protocol.ChainDER(c.creds[i]), now)
		if err != nil {
			return err
		}
		// A node checks the receipts' content; their signatures are covered
		// by the fingerprint statements that name them.
		if _, err := protocol.ParseReceipt(name, sp.receipts[i], step); err != nil {
			return fmt.Errorf("bench: receipt: %w", err)
		}
		st, err := protocol.VerifyFingerprints(cert, name, sp.statements[i], sp.stmtSigs[i], step, pb.Round_ROUND_INPUTS, sp.joint, len(own))
		if err != nil {
			return err
		}
		for _, b := range st.Fingerprints {
			if _, err := c.params.UnmarshalFingerprint(b); err != nil {
				return err
			}
		}
	}
	for _, b := range slices.Concat(own, sum) {
		if _, err := c.params.Fingerprint(sp.joint, b); err != nil {
			return err
		}
	}
	for range c.spot {
		for _, b := range own {
			protocol.Digest(b)
			if _, err := c.params.Fingerprint(sp.joint, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// sumOf adds n copies' worth of partners' ciphertexts: the aggregate a
// verifier receives (the values are irrelevant to the costs).
func (c *componentBench) sumOf(blobs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(blobs))
	for k, b := range blobs {
		acc := c.params.NewCiphertextAccumulator()
		for range c.names {
			if err := acc.Add(b); err != nil {
				return nil, err
			}
		}
		var err error
		if out[k], err = acc.Bytes(); err != nil {
			return nil, err
		}
	}
	return out, nil
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
	step := protocol.Step{QueryID: "q-bench", QueryDigest: protocol.Digest(specJSON), Epoch: "bench", Run: 1, Phase: 1}
	info := policyInfo(spec, step.QueryID)
	info.Digest = fmt.Sprintf("%x", step.QueryDigest)

	// Policy.
	t := time.Now()
	d, err := c.engine.Admit(ctx, policy.AdmissionInput{Query: info, NodeName: c.names[0], NodeColumns: tableColumns(table), Time: t})
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

	// Phase 1: encrypt and sign; verify the sum; decryption shares.
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
	signed1, sign1, err := c.signPhase(step, blobs1)
	if err != nil {
		return fail(err)
	}
	sum1, err := c.sumOf(blobs1)
	if err != nil {
		return fail(err)
	}
	t = time.Now()
	if err := c.verifyPhase(step, signed1, blobs1, sum1); err != nil {
		return fail(err)
	}
	comp.Verify = ms(time.Since(t))
	opened, shares1, open, err := c.openCounts(step, sum1)
	if err != nil {
		return fail(err)
	}
	comp.Shares, comp.Open = shares1, open
	mask, err := release.Compute(layout, opened[:len(slots)], rd.MinCellSize)
	if err != nil {
		return fail(fmt.Errorf("bench: release mask: %w", err))
	}

	// Phase 2: the masked vector, its verification and the key switch.
	step.Phase = 2
	masked := slices.Clone(vec)
	release.Apply(masked, mask.Released)
	t = time.Now()
	blobs2, err := encryptBlobs(enc, masked)
	if err != nil {
		return fail(err)
	}
	comp.Encrypt += ms(time.Since(t))
	signed2, sign2, err := c.signPhase(step, blobs2)
	if err != nil {
		return fail(err)
	}
	sum2, err := c.sumOf(blobs2)
	if err != nil {
		return fail(err)
	}
	parts := make([][]byte, len(sum2))
	for k, b := range sum2 {
		if parts[k], err = c.params.CiphertextC1(b); err != nil {
			return fail(err)
		}
	}
	t = time.Now()
	if err := c.verifyPhase(step, signed2, blobs2, parts); err != nil {
		return fail(err)
	}
	comp.Verify += ms(time.Since(t))
	ks, err := c.params.NewKeySwitcher(c.fed.shares[0])
	if err != nil {
		return fail(fmt.Errorf("bench: key switcher: %w", err))
	}
	t = time.Now()
	for _, b := range parts {
		ct, err := c.params.UnmarshalCiphertextC1(b)
		if err != nil {
			return fail(err)
		}
		if _, err := ks.Share(c.fed.rpk, ct); err != nil {
			return fail(fmt.Errorf("bench: key-switch share: %w", err))
		}
	}
	comp.Shares += ms(time.Since(t))
	// Partner 0 signs two receipts and input fingerprints (measured), and
	// the share fingerprints and two share statements: about three more.
	comp.Sign = sign1 + sign2 + 1.5*(sign1+sign2)/2
	comp.Total = comp.Policy + comp.Scan + comp.Encrypt + comp.Sign + comp.Verify + comp.Shares + comp.Open
	return comp, nil
}

// openCounts is phase 1's decryption: partner 0's decryption shares (the
// shares cost), and a verifier's check of the summed shares' fingerprints
// and the opening (the open cost). It returns the opened counts.
func (c *componentBench) openCounts(step protocol.Step, sum [][]byte) ([]int64, float64, float64, error) {
	decrypters := make([]*crypto.Decrypter, len(c.fed.shares))
	for i, sk := range c.fed.shares {
		var err error
		if decrypters[i], err = c.params.NewDecrypter(sk); err != nil {
			return nil, 0, 0, fmt.Errorf("bench: decrypter: %w", err)
		}
	}
	cts := make([]*crypto.Ciphertext, len(sum))
	for k, b := range sum {
		var err error
		if cts[k], err = c.params.UnmarshalCiphertext(b); err != nil {
			return nil, 0, 0, err
		}
	}
	var sharesCost float64
	summed := make([][]byte, len(cts))
	for k, ct := range cts {
		acc := c.params.NewDecryptionShareAccumulator()
		for i, dec := range decrypters {
			t := time.Now()
			sh, err := dec.Share(ct)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("bench: decryption share: %w", err)
			}
			if i == 0 {
				sharesCost += ms(time.Since(t))
			}
			if err := acc.Add(sh); err != nil {
				return nil, 0, 0, err
			}
		}
		var err error
		if summed[k], err = acc.Bytes(); err != nil {
			return nil, 0, 0, err
		}
	}
	joint := protocol.JointSeed(step, pb.Round_ROUND_DECRYPTION_SHARES, nil)
	t := time.Now()
	var opened []int64
	for k, ct := range cts {
		if _, err := c.params.Fingerprint(joint, summed[k]); err != nil {
			return nil, 0, 0, err
		}
		v, err := c.params.CombineDecrypt(ct, [][]byte{summed[k]})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("bench: open counts: %w", err)
		}
		opened = append(opened, v...)
	}
	return opened, sharesCost, ms(time.Since(t)), nil
}

func digestsOf(blobs [][]byte) [][]byte {
	out := make([][]byte, len(blobs))
	for i, b := range blobs {
		out[i] = protocol.Digest(b)
	}
	return out
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
