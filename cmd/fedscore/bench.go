package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/internal/bench"
)

// intList is a comma-separated list of counts; "100k" and "1M" are
// accepted.
type intList []int

func (l *intList) String() string {
	parts := make([]string, len(*l))
	for i, v := range *l {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}

func (l *intList) Set(v string) error {
	var out []int
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"), strings.HasSuffix(f, "K"):
			mult, f = 1000, f[:len(f)-1]
		case strings.HasSuffix(f, "M"), strings.HasSuffix(f, "m"):
			mult, f = 1_000_000, f[:len(f)-1]
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n*mult)
	}
	*l = out
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "[--quick] [--nodes 3,10,30] [--cells 512,8192,32768] [--records 100k,1M] [--queries 20] [--json] [-o FILE] [--out DIR]", stderr)
	def := bench.DefaultConfig()
	nodes, cells, records := intList(def.Nodes), intList(def.Cells), intList(def.Records)
	fs.Var(&nodes, "nodes", "partner counts, comma-separated (3 to 64 each)")
	fs.Var(&cells, "cells", "query sizes in aggregate values per partner, comma-separated (at most 32768 for bgv13)")
	fs.Var(&records, "records", "records per partner, comma-separated (100k and 1M accepted)")
	queries := fs.Int("queries", def.Queries, "measured queries per configuration")
	warmup := fs.Int("warmup", def.Warmup, "warm-up queries per configuration (the first is checked against plaintext)")
	baselineRuns := fs.Int("baseline-runs", def.BaselineRuns, "runs of each baseline per configuration (medians are reported)")
	paillierBits := fs.Int("paillier-bits", def.PaillierBits, "Paillier modulus size; 0 skips the Paillier baseline")
	paillierSubset := fs.Int("paillier-subset", def.PaillierSubset, "values per partner the Paillier baseline measures before extrapolating")
	params := fs.String("params", "", "crypto parameter set (bgv13, bgv14); default bgv13")
	seed := fs.Uint64("seed", def.Seed, "seed for the generated data")
	maxRows := fs.Int("max-distinct-rows", def.MaxDistinctRows, "generated rows per records size; partners share tables beyond it")
	timeout := fs.Duration("timeout", def.QueryTimeout, "bound on each query")
	stateDir := fs.String("state-dir", "", "parent `dir` of the federations' state (PKI, keystores, audit logs); default: the system temp dir")
	noVerify := fs.Bool("no-verify", false, "do not check an answer per configuration against plaintext")
	quick := fs.Bool("quick", false, "a small run for smoke tests: 3 nodes, 512 cells, 20k records, 5 queries (explicit flags still apply)")
	asJSON := fs.Bool("json", false, "print the JSON report instead of the table")
	jsonFile := fs.String("o", "", "also write the JSON report to `file`")
	outDir := fs.String("out", "", "write bench.txt, bench.json and bench.svg into `dir`")
	svgFile := fs.String("svg", "", "write the latency plot to `file` (SVG)")
	profileDir := fs.String("cpuprofile-dir", "", "write a CPU profile of each configuration's measured queries into `dir` (go tool pprof)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}

	cfg := def
	if *quick {
		cfg = bench.QuickConfig()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := func(name string, f func()) {
		if set[name] {
			f()
		}
	}
	apply("nodes", func() { cfg.Nodes = nodes })
	apply("cells", func() { cfg.Cells = cells })
	apply("records", func() { cfg.Records = records })
	apply("queries", func() { cfg.Queries = *queries })
	apply("warmup", func() { cfg.Warmup = *warmup })
	apply("baseline-runs", func() { cfg.BaselineRuns = *baselineRuns })
	apply("paillier-bits", func() { cfg.PaillierBits = *paillierBits })
	apply("paillier-subset", func() { cfg.PaillierSubset = *paillierSubset })
	apply("seed", func() { cfg.Seed = *seed })
	apply("max-distinct-rows", func() { cfg.MaxDistinctRows = *maxRows })
	apply("timeout", func() { cfg.QueryTimeout = *timeout })
	cfg.Params, cfg.StateDir, cfg.ProfileDir = *params, *stateDir, *profileDir
	if *noVerify {
		cfg.Verify = false
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	for _, d := range []string{*outDir, *profileDir} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
		}
	}

	start := time.Now()
	rep, runErr := bench.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	writes := map[string]func(io.Writer) error{}
	if *jsonFile != "" {
		writes[*jsonFile] = rep.WriteJSON
	}
	if *svgFile != "" {
		writes[*svgFile] = func(w io.Writer) error { return bench.WriteSVG(w, rep.Results) }
	}
	if *outDir != "" {
		writes[filepath.Join(*outDir, "bench.txt")] = rep.WriteTable
		writes[filepath.Join(*outDir, "bench.json")] = rep.WriteJSON
		writes[filepath.Join(*outDir, "bench.svg")] = func(w io.Writer) error { return bench.WriteSVG(w, rep.Results) }
	}
	for path, write := range writes {
		if err := writeFile(path, write); err != nil {
			return err
		}
		if !*quiet {
			fmt.Fprintf(stderr, "bench: wrote %s\n", path)
		}
	}
	if !*quiet {
		fmt.Fprintf(stderr, "bench: done in %s\n", time.Since(start).Round(time.Second))
	}
	if runErr != nil {
		return runErr
	}
	failed := 0
	for _, r := range rep.Results {
		if r.Error != "" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d configurations failed", failed, len(rep.Results))
	}
	return nil
}

// writeFile writes what write produces to path, atomically.
func writeFile(path string, write func(io.Writer) error) error {
	var b strings.Builder
	if err := write(&b); err != nil {
		return err
	}
	if err := atomicfile.Write(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
