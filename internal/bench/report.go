package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a Run.
type Report struct {
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"duration_seconds"`
	Env             Env       `json:"environment"`
	Config          Config    `json:"config"`
	Results         []Result  `json:"results"`
	// Notes explain how the figures were obtained.
	Notes []string `json:"notes"`
}

// Env describes the machine and the run.
type Env struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Params     string `json:"params"`
	Slots      int    `json:"slots"`
	// LoadStart and LoadEnd are the 1, 5 and 15 minute load averages at
	// the start and end of the run: other processes share the machine.
	LoadStart []float64 `json:"load_average_start,omitempty"`
	LoadEnd   []float64 `json:"load_average_end,omitempty"`
}

// Result is one configuration's measurements.
type Result struct {
	Nodes   int `json:"nodes"`
	Cells   int `json:"cells"`
	Records int `json:"records_per_node"`
	// GroupCells and VectorLen describe the query; CountCiphertexts and
	// ValueCiphertexts are the ciphertexts per partner of each phase.
	GroupCells       int `json:"group_cells"`
	VectorLen        int `json:"vector_len"`
	CountCiphertexts int `json:"count_ciphertexts"`
	ValueCiphertexts int `json:"value_ciphertexts"`
	// DistinctTables is how many different tables the partners share.
	DistinctTables int `json:"distinct_tables"`
	// SetupSeconds is the federation's start-up (PKI, nodes, collective
	// key), shared by the configurations run on it.
	SetupSeconds float64 `json:"setup_seconds"`
	Queries      int     `json:"queries"`
	// Latency is the end-to-end query latency seen by the querier, in ms.
	Latency Summary `json:"latency_ms"`
	// Phases holds the medians of the coordinator's phase timings and the
	// querier's (sign, decrypt, end_to_end), in ms.
	Phases map[string]float64 `json:"phase_medians_ms"`
	// Components is one node's work per query, measured in process.
	Components Components `json:"node_components_ms"`
	Bytes      Bytes      `json:"bytes_per_query"`
	// CPUPerQuery is the process CPU time (every party) per query, in ms,
	// and CPUUtilization that over wall time and GOMAXPROCS.
	CPUPerQuery    float64 `json:"cpu_ms_per_query"`
	CPUUtilization float64 `json:"cpu_utilization"`
	// PeakRSS is the process's peak resident set during the measured
	// queries (the lifetime peak where it cannot be reset); PeakHeap the
	// largest Go heap sampled.
	PeakRSS      uint64 `json:"peak_rss_bytes"`
	PeakRSSReset bool   `json:"peak_rss_reset"`
	PeakHeap     uint64 `json:"peak_heap_bytes"`
	// Baselines and Ratios compare with the same query without the
	// federation.
	Baselines Baselines `json:"baselines_ms"`
	Ratios    Ratios    `json:"ratios"`
	// Verified says one answer matched the plaintext computation.
	Verified bool   `json:"verified"`
	Error    string `json:"error,omitempty"`
}

// Ratios compare the end-to-end median with the baselines.
type Ratios struct {
	// Efficiency is crypto-only ÷ end-to-end: 1 would mean the network,
	// protocol checks and policy cost nothing.
	Efficiency float64 `json:"efficiency"`
	// PaillierSpeedup is Paillier ÷ end-to-end.
	PaillierSpeedup float64 `json:"paillier_speedup"`
	// PlaintextOverhead is end-to-end ÷ plaintext.
	PlaintextOverhead float64 `json:"plaintext_overhead"`
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write json: %w", err)
	}
	return nil
}

// phaseColumns are the coordinator and querier timings shown, in order.
func phaseColumns() []string {
	return []string{"counts", "release_gate", "inputs", "key_switch", "combine", "decrypt"}
}

// WriteTable writes r as text tables: latency, baselines, bytes and
// resources; then the phase and node component breakdown.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "fedscore bench: %s, %d CPUs (GOMAXPROCS %d), %s, %d slots; %d queries per configuration after %d warm-up\n",
		r.Env.GoVersion, r.Env.CPUs, r.Env.GOMAXPROCS, r.Env.Params, r.Env.Slots, r.Config.Queries, r.Config.Warmup)
	if len(r.Env.LoadStart) == 3 {
		fmt.Fprintf(w, "load average at start %.2f %.2f %.2f", r.Env.LoadStart[0], r.Env.LoadStart[1], r.Env.LoadStart[2])
		if len(r.Env.LoadEnd) == 3 {
			fmt.Fprintf(w, ", at end %.2f %.2f %.2f", r.Env.LoadEnd[0], r.Env.LoadEnd[1], r.Env.LoadEnd[2])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tcells\trecords\tcts\tp50 ms\tp95 ms\tp99 ms\tcrypto ms\teff\tpaillier s\tx faster\tplain ms\tx plain\tsent/node\tinto node\tcoord in\tcoord out\tcpu ms/q\trss\theap\t")
	for _, res := range r.Results {
		if res.Error != "" && res.Latency.Count == 0 {
			fmt.Fprintf(tw, "%d\t%d\t%s\t-\tfailed: %s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", res.Nodes, res.Cells, count(res.Records), res.Error)
			continue
		}
		b := res.Baselines
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d+%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%s\t%s\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t\n",
			res.Nodes, res.Cells, count(res.Records), res.CountCiphertexts, res.ValueCiphertexts,
			res.Latency.P50, res.Latency.P95, res.Latency.P99,
			b.CryptoOnly, res.Ratios.Efficiency, paillierSeconds(b.Paillier), times(res.Ratios.PaillierSpeedup),
			b.Plaintext, res.Ratios.PlaintextOverhead,
			size(res.Bytes.PerNodeSent), size(res.Bytes.PerNodeReceived), size(res.Bytes.CoordinatorReceived), size(res.Bytes.CoordinatorSent),
			res.CPUPerQuery, size(float64(res.PeakRSS)), size(float64(res.PeakHeap)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	fmt.Fprintln(w, "\nphase medians (ms; coordinator phases, querier decrypt) and one node's work per query (ms, in process):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"N", "cells", "records"}
	head = append(head, phaseColumns()...)
	head = append(head, "|", "policy", "scan", "encrypt", "sign", "verify", "shares", "open", "node total")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, res := range r.Results {
		if res.Latency.Count == 0 {
			continue
		}
		row := []string{fmt.Sprint(res.Nodes), fmt.Sprint(res.Cells), count(res.Records)}
		for _, k := range phaseColumns() {
			row = append(row, fmt.Sprintf("%.1f", res.Phases[k]))
		}
		c := res.Components
		row = append(row, "|")
		for _, v := range []float64{c.Policy, c.Scan, c.Encrypt, c.Sign, c.Verify, c.Shares, c.Open, c.Total} {
			row = append(row, fmt.Sprintf("%.1f", v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	return nil
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func size(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2fG", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fM", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0fK", b/(1<<10))
	}
	return fmt.Sprintf("%.0fB", b)
}

func times(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fx", x)
}

func paillierSeconds(msv float64) string {
	if msv == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", msv/1000)
}
