package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fairness"
	"github.com/fedscore/fedscore/scoring/fit"
)

const modelSynopsis = `Usage: fedscore model <subcommand> [flags]

Subcommands:
  fit     fit a logistic scorecard on one partner's own data (local, plaintext)
  sign    sign a model file, like a policy bundle (ES256)
  verify  verify a signed model and print it
  audit   per-group score distributions of a model on local data, for a fairness review

Nodes score their own records with signed models (fedscore node --model FILE);
queries name the model and read its score, propensity and risk_grade columns.
`

func runModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, modelSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "fit":
		return runModelFit(args[1:], stdout, stderr)
	case "sign":
		return runModelSign(args[1:], stdout, stderr)
	case "verify":
		return runModelVerify(args[1:], stdout, stderr)
	case "audit":
		return runModelAudit(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "fedscore model: unknown subcommand %q\n\n%s", args[0], modelSynopsis)
	return errUsage
}

func csvOptions(mapping string) (dataset.CSVOptions, error) {
	opts := dataset.CSVOptions{}
	if mapping != "" {
		m, err := dataset.LoadMapping(mapping)
		if err != nil {
			return opts, err
		}
		opts.Mapping = m
	}
	return opts, nil
}

func runModelFit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model fit", "--data FILE.csv --target COL --features SPEC --name N --version V -o model.json", stderr)
	data := fs.String("data", "", "the partner's records, a CSV `file`")
	mapping := fs.String("mapping", "", "a column `mapping` YAML file")
	config := fs.String("config", "", "a fit configuration JSON `file` (instead of the flags below)")
	target := fs.String("target", "", "the label `column`")
	positive := fs.String("positive", "", "the label `value` of the adverse outcome (default 1 or true)")
	features := fs.String("features", "", "comma-separated feature `specs`: COL[:standardized|woe_bins|categorical[:cuts/..]]")
	name := fs.String("name", "", "model `name`")
	version := fs.String("version", "1", "model `version`")
	l2 := fs.Float64("l2", 1e-4, "ridge `penalty`")
	out := fs.String("o", "", "output model `file` (JSON)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return errors.New("--data and -o are required")
	}
	var cfg *fit.Config
	if *config != "" {
		b, err := os.ReadFile(*config)
		if err != nil {
			return err
		}
		if cfg, err = decodeFitConfig(b); err != nil {
			return err
		}
	} else {
		specs, err := parseFeatureSpecs(*features)
		if err != nil {
			return err
		}
		cfg = &fit.Config{Name: *name, Version: *version, Target: *target, Positive: *positive, Features: specs, L2: *l2}
	}
	opts, err := csvOptions(*mapping)
	if err != nil {
		return err
	}
	t, err := dataset.LoadCSVFile(*data, opts)
	if err != nil {
		return err
	}
	m, rep, err := fit.Fit(t, *cfg)
	if err != nil {
		return err
	}
	b, err := scoring.Encode(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, b, 0o644); err != nil {
		return err
	}
	if err := writeFitReport(stdout, rep); err != nil {
		return err
	}
	if len(m.ProtectedInputs) > 0 {
		fmt.Fprintf(stdout, "note: the model takes protected attributes %v as direct inputs; the default policy allows it only for fairness audits\n", m.ProtectedInputs)
	}
	return nil
}

func runModelSign(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model sign", "--key KEY.pem [--key-id ID] -o signed.json model.json", stderr)
	key := fs.String("key", "", "the signer's private key `file` (PEM, ECDSA P-256)")
	keyID := fs.String("key-id", "regulator", "the signing key's `id`")
	out := fs.String("o", "", "output signed model `file`")
	files, err := parsePositional(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *key == "" || *out == "" {
		return errors.New("--key and -o are required")
	}
	m, err := scoring.LoadFile(files[0])
	if err != nil {
		return err
	}
	priv, err := readPrivateKey(*key)
	if err != nil {
		return err
	}
	signed, err := scoring.Sign(m, priv, *keyID)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s@%s under key %s: %s\n", m.Name, m.Version, *keyID, *out)
	return nil
}

// loadSignedModel verifies a signed model file against a public key file.
func loadSignedModel(path, pubPath, keyID string) (*scoring.Model, error) {
	pub, err := readPublicKey(pubPath)
	if err != nil {
		return nil, err
	}
	return scoring.VerifyFile(path, scoring.VerificationKey{ID: keyID, Key: pub})
}

func runModelVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model verify", "--pub PUB.pem [--key-id ID] signed.json", stderr)
	pub := fs.String("pub", "", "the signer's public key `file` (PEM)")
	keyID := fs.String("key-id", "regulator", "the key `id` the model must be signed under")
	files, err := parsePositional(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *pub == "" {
		return errors.New("--pub is required")
	}
	m, err := loadSignedModel(files[0], *pub, *keyID)
	if err != nil {
		return err
	}
	return writeModelSummary(stdout, m)
}

func runModelAudit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("model audit", "--model M --data FILE.csv --group COL [flags]", stderr)
	modelPath := fs.String("model", "", "the model `file` (signed with --pub, or unsigned)")
	pub := fs.String("pub", "", "verify the model against this public key `file`")
	keyID := fs.String("key-id", "regulator", "the key `id` the model must be signed under")
	data := fs.String("data", "", "the partner's records, a CSV `file`")
	mapping := fs.String("mapping", "", "a column `mapping` YAML file")
	group := fs.String("group", "", "the `column` splitting records into groups (e.g. gender)")
	bands := fs.String("bands", "", "comma-separated band `edges` for a number group column (e.g. 25,35,45)")
	cutoff := fs.Float64("cutoff", 0, "approval `score` for approval-rate parity (default: grade C's minimum)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *data == "" || *group == "" {
		return errors.New("--model, --data and --group are required")
	}
	var m *scoring.Model
	var err error
	if *pub != "" {
		m, err = loadSignedModel(*modelPath, *pub, *keyID)
	} else {
		m, err = scoring.LoadFile(*modelPath)
	}
	if err != nil {
		return err
	}
	cfg := fairness.Config{Group: *group, Cutoff: *cutoff}
	for _, b := range splitList(*bands) {
		v, err := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err != nil {
			return fmt.Errorf("--bands: %w", err)
		}
		cfg.GroupBands = append(cfg.GroupBands, v)
	}
	opts, err := csvOptions(*mapping)
	if err != nil {
		return err
	}
	t, err := dataset.LoadCSVFile(*data, opts)
	if err != nil {
		return err
	}
	rep, err := fairness.AuditWith(m, t, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}
