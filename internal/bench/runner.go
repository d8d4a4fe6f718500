package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/crypto"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/internal/synth"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/privacy/release"
	"github.com/fedscore/fedscore/query"
)

// runner holds one Run's state.
type runner struct {
	cfg    Config
	params crypto.Params
	specs  map[int]*query.Spec
	report *Report
	// Per number of partners, built once and reused.
	cryptoFeds map[int]*cryptoFederation
	parties    map[int][]cryptoParty
	components map[int]*componentBench
	paillier   map[int]paillierSample
	pkey       *paillierKey
	done, all  int
}

// Run measures every configuration of cfg and returns the report. A
// configuration that fails is reported with its error and the run goes
// on; Run itself fails only for an invalid Config or a cancelled ctx,
// returning what it measured so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.Params
	if name == "" {
		name = crypto.ParamsBGV13
	}
	params, err := crypto.NewParams(name)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &runner{
		cfg: cfg, params: params, specs: map[int]*query.Spec{},
		cryptoFeds: map[int]*cryptoFederation{}, parties: map[int][]cryptoParty{},
		components: map[int]*componentBench{}, paillier: map[int]paillierSample{},
		all: len(cfg.Nodes) * len(cfg.Cells) * len(cfg.Records),
	}
	for _, c := range cfg.Cells {
		if r.specs[c], err = Spec(c); err != nil {
			return nil, err
		}
	}
	r.report = &Report{
		Started: time.Now().UTC(),
		Env: Env{
			GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
			Params: name, Slots: params.Slots(), LoadStart: loadAverage(),
		},
		Config: cfg,
		Notes:  notes(cfg),
	}
	defer func() {
		r.report.Env.LoadEnd = loadAverage()
		r.report.DurationSeconds = time.Since(r.report.Started).Seconds()
	}()
	if cfg.PaillierBits > 0 {
		r.logf("generating a %d-bit Paillier key", cfg.PaillierBits)
		if r.pkey, err = newPaillierKey(randReader(), cfg.PaillierBits); err != nil {
			return r.report, err
		}
	}
	for _, records := range cfg.Records {
		if err := r.runRecords(ctx, records); err != nil {
			return r.report, err
		}
	}
	return r.report, nil
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
	}
}

// runRecords generates the data of one records size and runs every
// partner count and query size on it.
func (r *runner) runRecords(ctx context.Context, records int) error {
	maxN := slices.Max(r.cfg.Nodes)
	distinct := min(maxN, max(1, r.cfg.MaxDistinctRows/records))
	r.logf("generating %d distinct table(s) of %d records", distinct, records)
	t := time.Now()
	tables, err := generateTables(ctx, distinct, records, r.cfg.Seed)
	if err != nil {
		return err
	}
	r.logf("generated in %.1fs", time.Since(t).Seconds())
	for _, n := range r.cfg.Nodes {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		partners := make([]sandbox.Partner, n)
		for i := range partners {
			partners[i] = sandbox.Partner{Name: partnerName(i), Data: tables[i%len(tables)]}
		}
		r.runFederation(ctx, partners, records, min(n, distinct))
	}
	tables = nil
	debug.FreeOSMemory()
	return ctx.Err()
}

// generateTables makes n synthetic tables, in parallel.
func generateTables(ctx context.Context, n, rows int, seed uint64) ([]*dataset.Table, error) {
	out := make([]*dataset.Table, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range out {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			t, err := synth.Generate(synth.Config{Partner: partnerName(i), Rows: rows, Seed: seed})
			if err != nil {
				return fmt.Errorf("bench: generate data: %w", err)
			}
			out[i] = t
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// runFederation starts one federation and runs every query size on it.
func (r *runner) runFederation(ctx context.Context, partners []sandbox.Partner, records, distinct int) {
	n := len(partners)
	fail := func(err error) {
		for _, cells := range r.cfg.Cells {
			r.done++
			r.report.Results = append(r.report.Results, Result{Nodes: n, Cells: cells, Records: records, Error: err.Error()})
			r.logf("[%d/%d] N=%d cells=%d records=%d failed: %v", r.done, r.all, n, cells, records, err)
		}
	}
	dir := ""
	if r.cfg.StateDir != "" {
		d, err := os.MkdirTemp(r.cfg.StateDir, "fedscore-bench-")
		if err != nil {
			fail(fmt.Errorf("state dir: %w", err))
			return
		}
		defer os.RemoveAll(d)
		dir = d
	}
	tr := newTraffic()
	r.logf("starting a federation of %d nodes with %d records each", n, records)
	t := time.Now()
	fed, err := sandbox.Start(ctx, sandbox.Config{
		Partners: partners, Params: r.params.Name(), Dir: dir, PolicyData: policyData(),
		Observe: tr.observe, WrapCoordinator: tr.wrap, QueryTimeout: r.cfg.QueryTimeout,
	})
	if err != nil {
		fail(fmt.Errorf("start federation: %w", err))
		return
	}
	defer fed.Close()
	setup := time.Since(t).Seconds()
	r.logf("federation ready in %.1fs", setup)
	tables := make([]*dataset.Table, n)
	for i, p := range partners {
		tables[i] = p.Data
	}
	for _, cells := range r.cfg.Cells {
		if ctx.Err() != nil {
			return
		}
		r.done++
		res := Result{Nodes: n, Cells: cells, Records: records, DistinctTables: distinct, SetupSeconds: setup}
		if err := r.runConfig(ctx, fed, tr, tables, &res); err != nil {
			res.Error = err.Error()
			r.logf("[%d/%d] N=%d cells=%d records=%d: %v", r.done, r.all, n, cells, records, err)
		} else {
			r.logf("[%d/%d] N=%d cells=%d records=%d: p50 %.1f ms, p95 %.1f ms; crypto-only %.1f ms, plaintext %.1f ms, paillier %.1f s",
				r.done, r.all, n, cells, records, res.Latency.P50, res.Latency.P95,
				res.Baselines.CryptoOnly, res.Baselines.Plaintext, res.Baselines.Paillier/1000)
		}
		r.report.Results = append(r.report.Results, res)
	}
}

// runConfig measures one query size on a running federation.
func (r *runner) runConfig(ctx context.Context, fed *sandbox.Federation, tr *traffic, tables []*dataset.Table, res *Result) error {
	spec := r.specs[res.Cells]
	layout := spec.Layout()
	slots := r.params.Slots()
	res.GroupCells, res.VectorLen = layout.Cells, layout.VectorLen
	res.CountCiphertexts = ceilDiv(len(release.CountSlots(layout)), slots)
	res.ValueCiphertexts = ceilDiv(layout.VectorLen, slots)
	tag := fmt.Sprintf("[%d/%d] N=%d cells=%d records=%d", r.done, r.all, res.Nodes, res.Cells, res.Records)

	warm := r.cfg.Warmup
	if r.cfg.Verify {
		ans, err := fed.Query(ctx, spec, nil)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if err := fed.Verify(ctx, spec, ans.Result); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		res.Verified = true
		warm--
	}
	for range max(warm, 0) {
		if _, err := fed.Query(ctx, spec, nil); err != nil {
			return fmt.Errorf("warm-up query: %w", err)
		}
	}

	stopProfile, err := r.startProfile(res)
	if err != nil {
		return err
	}
	debug.FreeOSMemory()
	res.PeakRSSReset = resetPeakRSS()
	heap := startHeapSampler(5 * time.Millisecond)
	cpu0, wall0 := processCPU(), time.Now()
	tr.start()
	latencies := make([]float64, 0, r.cfg.Queries)
	phases := map[string][]float64{}
	var qerr error
	for i := range r.cfg.Queries {
		t := time.Now()
		ans, err := fed.Query(ctx, spec, nil)
		if err != nil {
			qerr = fmt.Errorf("query %d: %w", i+1, err)
			break
		}
		latencies = append(latencies, ms(time.Since(t)))
		for k, v := range ans.TimingsMs {
			phases[k] = append(phases[k], v)
		}
		if step := max(1, r.cfg.Queries/4); (i+1)%step == 0 && i+1 < r.cfg.Queries {
			r.logf("%s: %d/%d queries, p50 so far %.1f ms", tag, i+1, r.cfg.Queries, median(latencies))
		}
	}
	traffic := tr.stop()
	wall, cpu := time.Since(wall0), processCPU()-cpu0
	if err := stopProfile(); err != nil {
		return err
	}
	res.PeakHeap = heap.Stop()
	res.PeakRSS = peakRSS()
	res.Queries = len(latencies)
	res.Latency = Summarize(latencies)
	res.Phases = map[string]float64{}
	for k, v := range phases {
		res.Phases[k] = median(v)
	}
	if res.Queries > 0 {
		res.CPUPerQuery = ms(cpu) / float64(res.Queries)
		res.CPUUtilization = ratio(cpu.Seconds(), wall.Seconds()*float64(runtime.GOMAXPROCS(0)))
	}
	res.Bytes = traffic.perQuery(res.Queries, res.Nodes)
	if qerr != nil {
		return qerr
	}

	r.logf("%s: %d queries done, p50 %.1f ms; baselines", tag, res.Queries, res.Latency.P50)
	if err := r.baselines(ctx, spec, tables, res); err != nil {
		return err
	}
	p50 := res.Latency.P50
	res.Ratios = Ratios{
		Efficiency:        ratio(res.Baselines.CryptoOnly, p50),
		PaillierSpeedup:   ratio(res.Baselines.Paillier, p50),
		PlaintextOverhead: ratio(p50, res.Baselines.Plaintext),
	}
	return nil
}

// startProfile starts a CPU profile of res's measured queries when
// ProfileDir is set, and returns what stops it.
func (r *runner) startProfile(res *Result) (func() error, error) {
	if r.cfg.ProfileDir == "" {
		return func() error { return nil }, nil
	}
	path := filepath.Join(r.cfg.ProfileDir, fmt.Sprintf("cpu-N%d-C%d-R%d.pprof", res.Nodes, res.Cells, res.Records))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		r.logf("wrote %s", path)
		return nil
	}, nil
}

// baselines measures the crypto-only, plaintext and Paillier baselines
// and one node's components for res's configuration.
func (r *runner) baselines(ctx context.Context, spec *query.Spec, tables []*dataset.Table, res *Result) error {
	n := res.Nodes
	cf, err := r.cryptoFederation(n)
	if err != nil {
		return err
	}
	comp, err := r.componentBench(ctx, n)
	if err != nil {
		return err
	}
	layout := spec.Layout()
	countLen := len(release.CountSlots(layout))
	counts, values := make([][]int64, n), make([][]int64, n)
	for i := range n {
		counts[i], values[i] = make([]int64, countLen), make([]int64, layout.VectorLen)
		for j := range values[i] {
			values[i][j] = int64((i + j) % 1000)
		}
		for j := range counts[i] {
			counts[i][j] = int64((i + j) % 100)
		}
	}

	var steps []CryptoSteps
	var plain []float64
	var comps []Components
	rule, minCell, err := comp.rules(ctx, spec, tables[0])
	if err != nil {
		return err
	}
	for range r.cfg.BaselineRuns {
		st, err := cf.query(r.parties[n], counts, values)
		if err != nil {
			return err
		}
		steps = append(steps, st)
		d, err := plaintextQuery(ctx, spec, tables, rule, minCell)
		if err != nil {
			return err
		}
		plain = append(plain, ms(d))
		c, err := comp.measure(ctx, spec, tables[0])
		if err != nil {
			return err
		}
		comps = append(comps, c)
	}
	res.Baselines.CryptoSteps = medianSteps(steps)
	res.Baselines.CryptoOnly = res.Baselines.CryptoSteps.Total
	res.Baselines.Plaintext = median(plain)
	res.Components = medianComponents(comps)

	if r.pkey != nil {
		s, ok := r.paillier[n]
		if !ok {
			r.logf("Paillier baseline: %d partners × %d values", n, r.cfg.PaillierSubset)
			if s, err = measurePaillier(r.pkey, n, r.cfg.PaillierSubset); err != nil {
				return err
			}
			r.paillier[n] = s
		}
		p := &PaillierResult{
			Bits: r.cfg.PaillierBits, Values: countLen + layout.VectorLen, Subset: r.cfg.PaillierSubset,
			EncryptMs: ms(s.encrypt), AddMs: ms(s.add), DecryptMs: ms(s.decrypt),
		}
		p.BytesPerPartner = int64(p.Values * r.pkey.ciphertextBytes())
		res.Baselines.PaillierDetail = p
		res.Baselines.Paillier = p.Extrapolated()
	}
	return nil
}

func (r *runner) cryptoFederation(n int) (*cryptoFederation, error) {
	if f := r.cryptoFeds[n]; f != nil {
		return f, nil
	}
	f, err := newCryptoFederation(r.params, n)
	if err != nil {
		return nil, err
	}
	if r.parties[n], err = f.parties(); err != nil {
		return nil, err
	}
	r.cryptoFeds[n] = f
	return f, nil
}

func (r *runner) componentBench(ctx context.Context, n int) (*componentBench, error) {
	if c := r.components[n]; c != nil {
		return c, nil
	}
	f, err := r.cryptoFederation(n)
	if err != nil {
		return nil, err
	}
	c, err := newComponentBench(ctx, r.params, f)
	if err != nil {
		return nil, err
	}
	r.components[n] = c
	return c, nil
}

// rules returns the cohort rule and minimum cell size the default policy
// gives a partner holding t for spec.
func (c *componentBench) rules(ctx context.Context, spec *query.Spec, t *dataset.Table) (policy.CohortRule, int64, error) {
	info := policyInfo(spec, "q-plaintext")
	d, err := c.engine.Admit(ctx, policy.AdmissionInput{Query: info, NodeName: c.names[0], NodeColumns: tableColumns(t), Time: time.Now()})
	if err != nil {
		return policy.CohortRule{}, 0, fmt.Errorf("bench: admission: %w", err)
	}
	if err := d.Err(); err != nil {
		return policy.CohortRule{}, 0, fmt.Errorf("bench: admission: %w", err)
	}
	rd, err := c.engine.Release(ctx, policy.ReleaseInput{Query: info, NodeName: c.names[0], Cells: spec.Layout().Cells, Time: time.Now()})
	if err != nil {
		return policy.CohortRule{}, 0, fmt.Errorf("bench: release decision: %w", err)
	}
	return d.Cohort, rd.MinCellSize, nil
}

func medianSteps(s []CryptoSteps) CryptoSteps {
	pick := func(f func(CryptoSteps) float64) float64 {
		xs := make([]float64, len(s))
		for i, x := range s {
			xs[i] = f(x)
		}
		return median(xs)
	}
	return CryptoSteps{
		EncryptCounts: pick(func(x CryptoSteps) float64 { return x.EncryptCounts }),
		SumCounts:     pick(func(x CryptoSteps) float64 { return x.SumCounts }),
		DecShares:     pick(func(x CryptoSteps) float64 { return x.DecShares }),
		OpenCounts:    pick(func(x CryptoSteps) float64 { return x.OpenCounts }),
		EncryptValues: pick(func(x CryptoSteps) float64 { return x.EncryptValues }),
		SumValues:     pick(func(x CryptoSteps) float64 { return x.SumValues }),
		KeySwitch:     pick(func(x CryptoSteps) float64 { return x.KeySwitch }),
		Combine:       pick(func(x CryptoSteps) float64 { return x.Combine }),
		Decrypt:       pick(func(x CryptoSteps) float64 { return x.Decrypt }),
		Total:         pick(func(x CryptoSteps) float64 { return x.Total }),
	}
}

func medianComponents(s []Components) Components {
	pick := func(f func(Components) float64) float64 {
		xs := make([]float64, len(s))
		for i, x := range s {
			xs[i] = f(x)
		}
		return median(xs)
	}
	c := Components{
		Policy:  pick(func(x Components) float64 { return x.Policy }),
		Scan:    pick(func(x Components) float64 { return x.Scan }),
		Encrypt: pick(func(x Components) float64 { return x.Encrypt }),
		Sign:    pick(func(x Components) float64 { return x.Sign }),
		Verify:  pick(func(x Components) float64 { return x.Verify }),
		Shares:  pick(func(x Components) float64 { return x.Shares }),
		Open:    pick(func(x Components) float64 { return x.Open }),
	}
	c.Total = c.Policy + c.Scan + c.Encrypt + c.Sign + c.Verify + c.Shares + c.Open
	return c
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// notes explains the method in the report.
func notes(cfg Config) []string {
	out := []string{
		"Latency is measured by the caller around one whole query (sign, coordinator protocol, decrypt); every party runs in this one process and shares its CPUs.",
		"cells = aggregate values per partner (vector length) = group-by cells × 4 (count and three means); 'cts' = ciphertexts per partner in phase 1 + phase 2.",
		"Crypto-only: the same query's Lattigo operations in one process, parties in parallel goroutines with their own (ShallowCopy'd) objects, no network, policy, scan or signatures.",
		"Plaintext: every partner's cohort and aggregation in parallel, the summed counts, the release mask, the masked vectors summed; no encryption, no network.",
		"Node components: one node's work per query measured in process on one goroutine; 'verify' checks every partner's signed receipt and fingerprints and the fingerprints of the sums and spot-checked inputs of both phases; only its signature checks grow with N.",
		"Bytes: measured, the protobuf size of every message (blob chunks included): what nodes send the coordinator, what the coordinator sends each node and, in coord out, the nodes and the querier.",
		"CPU is the whole process (coordinator, every node, querier); peak RSS and heap are the whole process too.",
		"The benchmark federation's policy data relaxes the default bundle's differential-privacy rule (dp.required false): it runs one query many times, which the production daily budget would refuse; the noise shares do not change the encrypted pipeline's cost.",
	}
	if cfg.PaillierBits > 0 {
		out = append(out, fmt.Sprintf("Paillier: textbook %d-bit Paillier (g = n+1, CRT decryption) written with math/big; every partner encrypts its counts and masked vector, the coordinator adds, one key holder decrypts. Measured on %d values per partner (partners in parallel) and extrapolated linearly; measured once per partner count.", cfg.PaillierBits, cfg.PaillierSubset))
	}
	if cfg.MaxDistinctRows > 0 {
		out = append(out, fmt.Sprintf("Partners share generated tables round-robin when N × records exceeds %d rows (column distinct_tables).", cfg.MaxDistinctRows))
	}
	return out
}
