package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/node"
	"github.com/fedscore/fedscore/pki"
)

const auditSynopsis = `Usage: fedscore audit <subcommand> FILE [flags]

Subcommands:
  verify FILE [--ca ca.pem | --cert node.pem] [--require-checkpoint] [--anchor SEQ:HASH]
               check the hash chain and checkpoint signatures; names the first bad line
  show FILE [--query ID] [--since T] [--until T] [--kind K[,K]] [--result R] [--json]
               list entries (after checking the chain)
  subject --state DIR --data FILE.csv --id ID [--id-column C] [--since T] [--until T]
               which joint queries used one data subject's record

Run 'fedscore audit <subcommand> -h' for its flags.
`

// runAudit verifies and inspects a node's audit log.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditSynopsis)
		return errUsage
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "show":
		return runAuditShow(ctx, args[1:], stdout, stderr)
	case "subject":
		return runAuditSubject(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, auditSynopsis)
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "fedscore audit: unknown subcommand %q\n\n%s", args[0], auditSynopsis)
	return errUsage
}

func runAuditVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", "FILE [flags]", stderr)
	caPath := fs.String("ca", "", "federation CA `file`: verify each checkpoint's embedded certificate chain (at the checkpoint's time) and signature")
	certPath := fs.String("cert", "", "node certificate `file`: verify every checkpoint signature under this certificate")
	signer := fs.String("signer", "", "expected signer `identity` (spiffe://...); default: the first checkpoint's, which all must share")
	requireCP := fs.Bool("require-checkpoint", false, "fail unless the log ends with a checkpoint (a cleanly closed log); detects removed tail entries")
	anchor := fs.String("anchor", "", "`SEQ:HASH` of a record known from outside the log (e.g. a reported checkpoint); fail if it is missing or differs")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	file, err := auditArgs(fs, args)
	if err != nil {
		return err
	}
	opts := audit.VerifyOptions{Signer: *signer, RequireFinalCheckpoint: *requireCP}
	if *certPath != "" {
		if opts.Cert, err = auditLoadCert(*certPath); err != nil {
			return err
		}
	}
	if *caPath != "" {
		if opts.Roots, err = pki.LoadCertPool(*caPath); err != nil {
			return err
		}
	}
	if *anchor != "" {
		seqStr, hash, ok := strings.Cut(*anchor, ":")
		seq, perr := strconv.ParseUint(seqStr, 10, 64)
		if !ok || perr != nil || seq == 0 || len(hash) != 64 {
			return fmt.Errorf("--anchor %q: want SEQ:HASH with a 64-digit hex hash", *anchor)
		}
		opts.Anchor = &audit.Anchor{Seq: seq, Hash: strings.ToLower(hash)}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, verr := audit.Verify(f, opts)
	if *asJSON {
		doc := map[string]any{
			"file": file, "ok": verr == nil, "entries": rep.Entries, "checkpoints": rep.Checkpoints,
			"last_seq": rep.LastSeq, "last_hash": rep.LastHash,
			"last_checkpoint_seq": rep.LastCheckpointSeq, "entries_after_checkpoint": rep.EntriesAfterCheckpoint,
			"signatures_verified": rep.SignaturesVerified, "signer": rep.Signer,
		}
		if verr != nil {
			doc["error"] = verr.Error()
			var ve *audit.VerifyError
			if errors.As(verr, &ve) {
				doc["line"], doc["seq"] = ve.Line, ve.Seq
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	}
	if verr != nil {
		return fmt.Errorf("%s: %w", file, verr)
	}
	if *asJSON {
		return nil
	}
	fmt.Fprintf(stdout, "%s: OK\n", file)
	fmt.Fprintf(stdout, "  %d entries and %d checkpoints; last seq %d, head %s\n", rep.Entries, rep.Checkpoints, rep.LastSeq, rep.LastHash)
	switch {
	case rep.Checkpoints == 0:
		fmt.Fprintln(stdout, "  no checkpoints: nothing in this log is signed")
	case rep.SignaturesVerified:
		fmt.Fprintf(stdout, "  checkpoint signatures verified; signer %s\n", rep.Signer)
	default:
		fmt.Fprintln(stdout, "  checkpoint signatures NOT verified (pass --ca or --cert)")
	}
	if rep.LastCheckpointSeq > 0 {
		fmt.Fprintf(stdout, "  last checkpoint: seq %d (line %d)\n", rep.LastCheckpointSeq, rep.LastCheckpointLine)
	}
	if rep.EntriesAfterCheckpoint > 0 {
		fmt.Fprintf(stdout, "  %d entries after the last checkpoint are not covered by a signature; removal of such tail entries is detectable only with --require-checkpoint or --anchor\n", rep.EntriesAfterCheckpoint)
	}
	return nil
}

func runAuditShow(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit show", "FILE [flags]", stderr)
	query := fs.String("query", "", "only entries of this query `id`")
	since := fs.String("since", "", "only entries at or after `T` (RFC 3339, YYYY-MM-DD in UTC, or a duration such as 24h before now)")
	until := fs.String("until", "", "only entries before `T` (same forms as --since)")
	kinds := fs.String("kind", "", "only entries of these `kinds` (comma-separated: admission, cohort, release, key_switch, setup, bundle, recovery)")
	result := fs.String("result", "", "only entries with this `result` (allow, deny, error)")
	asJSON := fs.Bool("json", false, "print entries as JSON lines")
	force := fs.Bool("force", false, "show entries even if the log does not verify")
	file, err := auditArgs(fs, args)
	if err != nil {
		return err
	}
	now := time.Now()
	filter := audit.FilterOptions{QueryID: *query, Result: audit.Result(*result)}
	if filter.Since, err = auditParseTime("--since", *since, now); err != nil {
		return err
	}
	if filter.Until, err = auditParseTime("--until", *until, now); err != nil {
		return err
	}
	switch filter.Result {
	case "", audit.ResultAllow, audit.ResultDeny, audit.ResultError:
	default:
		return fmt.Errorf("--result %q: want allow, deny or error", *result)
	}
	for _, k := range strings.Split(*kinds, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		switch kind := audit.Kind(k); kind {
		case audit.KindAdmission, audit.KindCohort, audit.KindRelease, audit.KindKeySwitch, audit.KindSetup, audit.KindBundle, audit.KindRecovery, audit.KindOverlap:
			filter.Kinds = append(filter.Kinds, kind)
		default:
			return fmt.Errorf("--kind: unknown kind %q", k)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, verr := audit.Verify(f, audit.VerifyOptions{}); verr != nil {
		if !*force {
			return fmt.Errorf("%s does not verify: %w (run 'fedscore audit verify'; --force shows it anyway)", file, verr)
		}
		fmt.Fprintf(stderr, "WARNING: %s does not verify: %v\n", file, verr)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	entries, err := audit.Filter(f, filter)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for i := range entries {
			if err := enc.Encode(&entries[i]); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tQUERY\tRESULT\tREASONS\tDECISION\tBUNDLE\tQUERY DIGEST")
	for _, e := range entries {
		qd := e.QueryDigest
		if len(qd) > 16 {
			qd = qd[:16] + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Kind,
			auditDash(e.QueryID), e.Result, auditDash(strings.Join(e.Reasons, ",")), auditDash(e.DecisionID), auditDash(e.BundleRevision), auditDash(qd))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d entries\n", len(entries))
	return nil
}

// auditArgs parses flags that may come before or after the single FILE
// argument.
func auditArgs(fs *flag.FlagSet, args []string) (string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintf(fs.Output(), "want exactly one log FILE, got %d\n", len(files))
		fs.Usage()
		return "", errUsage
	}
	return files[0], nil
}

// auditLoadCert reads the first certificate of a PEM file.
func auditLoadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", path)
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c, nil
		}
	}
}

// auditParseTime accepts RFC 3339, a date (midnight UTC), or a duration
// meaning that long before now. An empty string is the zero time.
func auditParseTime(flagName, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want RFC 3339 (2026-03-01T09:00:00Z), a date (2026-03-01) or a duration (24h)", flagName, s)
}

func auditDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runAuditSubject answers a data subject's "which joint queries used my
// data?" from the node's own query archive and records.
func runAuditSubject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit subject", "--state DIR --data FILE.csv --id ID [flags]", stderr)
	stateDir := fs.String("state", "", "the node's state `directory`")
	data := fs.String("data", "", "the node's records, a CSV `file`")
	mapping := fs.String("mapping", "", "a column `mapping` YAML file")
	id := fs.String("id", "", "the data subject's `identifier`")
	idColumn := fs.String("id-column", "customer_id", "the `column` holding identifiers")
	since := fs.String("since", "", "only queries at or after `T`")
	until := fs.String("until", "", "only queries before `T`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *stateDir == "" || *data == "" || *id == "" {
		return errors.New("--state, --data and --id are required")
	}
	now := time.Now()
	from, err := auditParseTime("--since", *since, now)
	if err != nil {
		return err
	}
	to, err := auditParseTime("--until", *until, now)
	if err != nil {
		return err
	}
	opts := dataset.CSVOptions{}
	if *mapping != "" {
		if opts.Mapping, err = dataset.LoadMapping(*mapping); err != nil {
			return err
		}
	}
	table, err := dataset.LoadCSVFile(*data, opts)
	if err != nil {
		return err
	}
	col, ok := table.Column(*idColumn)
	if !ok || col.Kind != dataset.KindCategory {
		return fmt.Errorf("--id-column %q: no such identifier column in %s", *idColumn, *data)
	}
	code := col.Code(*id)
	row := slices.Index(col.Codes, code)
	if code < 0 || row < 0 {
		return fmt.Errorf("no record with %s %q", *idColumn, *id)
	}
	uses, err := node.SubjectQueries(ctx, filepath.Join(*stateDir, node.QueryArchiveFile), table, row, from, to)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tQUERY\tQUERIER\tUSED\tCELL OR REASON")
	used := 0
	for _, u := range uses {
		detail := u.Reason
		if u.Used {
			detail = u.Cell
			used++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.Query.Time.UTC().Format(time.RFC3339), u.Query.QueryID, u.Query.Querier, u.Used, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d of %d admitted queries used the record of %s %q\n", used, len(uses), *idColumn, *id)
	return nil
}
