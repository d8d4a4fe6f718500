package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/query"
)

// partnerFlags collects repeated --partner NAME=FILE.csv flags.
type partnerFlags []string

func (p *partnerFlags) String() string     { return strings.Join(*p, ",") }
func (p *partnerFlags) Set(v string) error { *p = append(*p, v); return nil }

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sandbox", "[--partner NAME=FILE.csv ...] [--mapping FILE] [--encoding ENC] [--query FILE] [--json] [--console]", stderr)
	var partners partnerFlags
	fs.Var(&partners, "partner", "a partner `NAME=FILE.csv` (repeatable); default: 3 partners with generated data")
	mapping := fs.String("mapping", "", "a column `mapping` YAML file applied to every partner CSV")
	encoding := fs.String("encoding", "", "the partner CSVs' character `encoding`: utf-8 (default), gb18030 or gbk")
	queryFile := fs.String("query", "", "the query spec `file` (YAML or JSON); default: the built-in segment query")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	rows := fs.Int("rows", 20000, "generated records per partner")
	seed := fs.Uint64("seed", 1, "seed for the generated data")
	params := fs.String("params", "", "crypto parameter set (bgv13, bgv14); default bgv13")
	policyData := fs.String("policy-data", "", "a JSON `file` merged over the policy bundle's data (e.g. examples/bank-marketing/policy-data.json)")
	verbose := fs.Bool("v", false, "log protocol events to stderr")
	writeData := fs.String("write-data", "", "write the generated partner data as CSV files into `dir` and exit")
	withConsole := fs.Bool("console", false, "keep the federation running and serve the web console instead of running one query")
	consoleListen := fs.String("console-listen", "127.0.0.1:8080", "`address` of the console (loopback)")
	if err := parse(fs, args); err != nil {
		return err
	}

	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	spec, err := sandbox.DefaultQuery()
	if *queryFile != "" {
		spec, err = query.ReadFile(*queryFile)
	}
	if err != nil {
		return err
	}
	t0 := time.Now()
	var ps []sandbox.Partner
	if len(partners) == 0 {
		if ps, err = sandbox.GeneratePartners(sandbox.DefaultPartnerNames(), *rows, *seed); err != nil {
			return err
		}
	} else {
		if ps, err = loadPartners(partners, *mapping, *encoding); err != nil {
			return err
		}
	}
	dataMs := msSince(t0)
	if *writeData != "" {
		return writePartners(stdout, *writeData, ps)
	}

	overrides, err := loadJSONObject(*policyData)
	if err != nil {
		return fmt.Errorf("--policy-data: %w", err)
	}
	cfg := sandbox.Config{Partners: ps, Params: *params, Logger: logger, PolicyData: overrides}
	t1 := time.Now()
	fed, err := sandbox.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer fed.Close()
	setupMs := msSince(t1)
	if *withConsole {
		fmt.Fprintf(stdout, "fedscore sandbox: coordinator %s, %d partner nodes (%s), collective key ready\n", fed.Addr(), len(ps), partnerSummary(ps))
		return sandboxConsole(ctx, fed, *consoleListen, spec, stdout)
	}

	if !*asJSON {
		fmt.Fprintf(stdout, "fedscore sandbox: coordinator %s, %d partner nodes (%s), collective key ready\n\n", fed.Addr(), len(ps), partnerSummary(ps))
	}
	ans, err := fed.Query(ctx, spec, nil)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	ans.TimingsMs["load_data"] = dataMs
	ans.TimingsMs["setup_pki_keygen"] = setupMs
	verr := fed.Verify(ctx, spec, ans.Result)
	check := "OK"
	if verr != nil {
		check = "MISMATCH: " + verr.Error()
	}
	if *asJSON {
		if err := printAnswer(stdout, ans, true, map[string]any{"verified_against_plaintext": verr == nil}); err != nil {
			return err
		}
	} else {
		if err := printAnswer(stdout, ans, false, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nverified against plaintext: %s\n", check)
	}
	return verr
}

func partnerSummary(ps []sandbox.Partner) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s: %d records", p.Name, p.Data.Rows())
	}
	return strings.Join(parts, ", ")
}

func loadPartners(flags []string, mappingPath, encoding string) ([]sandbox.Partner, error) {
	opts := dataset.CSVOptions{Encoding: encoding}
	if mappingPath != "" {
		m, err := dataset.LoadMapping(mappingPath)
		if err != nil {
			return nil, err
		}
		opts.Mapping = m
	}
	var out []sandbox.Partner
	for _, f := range flags {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--partner %q: want NAME=FILE.csv", f)
		}
		t, err := dataset.LoadCSVFile(path, opts)
		if err != nil {
			return nil, fmt.Errorf("partner %s: %w", name, err)
		}
		p := sandbox.Partner{Name: name, Data: t}
		if opts.Mapping != nil {
			p.Roles = opts.Mapping.Roles
		}
		out = append(out, p)
	}
	return out, nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// writePartners writes each partner's records to DIR/NAME.csv.
func writePartners(stdout io.Writer, dir string, ps []sandbox.Partner) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, p := range ps {
		path := filepath.Join(dir, p.Name+".csv")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		err = dataset.WriteCSV(f, p.Data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "%s\t%d records\n", path, p.Data.Rows())
	}
	return nil
}
