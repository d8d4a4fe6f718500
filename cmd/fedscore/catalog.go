package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/fedscore/fedscore/catalog"
	"github.com/fedscore/fedscore/internal/sandbox"
	"github.com/fedscore/fedscore/policy"
	"github.com/fedscore/fedscore/query"
)

const catalogSynopsis = `Usage: fedscore catalog [show|check|schema] [flags]

  show   [--bundle F [--bundle-key PUB.pem]] [--policy-data F] [--schema F|sandbox] [--json]
         the purposes, their columns, types and requirements, privacy settings
  check  -f SPEC.yaml [same flags]
         check a query spec against the catalogue before signing it
  schema [--rows N]
         print the column schema the sandbox publishes for its synthetic data
`

// runCatalog prints the federation's catalogue or checks a spec against it.
func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := "show"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "show":
		return runCatalogShow(args, stdout, stderr)
	case "check":
		return runCatalogCheck(args, stdout, stderr)
	case "schema":
		return runCatalogSchema(args, stdout, stderr)
	case "help":
		fmt.Fprint(stderr, catalogSynopsis)
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "fedscore catalog: unknown subcommand %q\n\n%s", sub, catalogSynopsis)
	return errUsage
}

// catalogFlags are the flags naming the bundle and the schema.
type catalogFlags struct {
	bundle, bundleKey, keyID, schema, policyData *string
}

func addCatalogFlags(fs *flag.FlagSet) catalogFlags {
	return catalogFlags{
		bundle:     fs.String("bundle", "", "policy bundle `file` (.tar.gz) or directory; default: the bundle built into fedscore"),
		bundleKey:  fs.String("bundle-key", "", "regulator public key `PEM`: verify the bundle's signature first"),
		keyID:      fs.String("key-id", defaultPolicyKeyID, "`ID` the bundle key signs under"),
		schema:     fs.String("schema", "", "published column schema `file` (YAML/JSON), or \"sandbox\" for the sandbox's synthetic schema"),
		policyData: fs.String("policy-data", "", "a JSON `file` merged over the bundle's data first, as `fedscore sandbox --policy-data` does"),
	}
}

// given reports whether the flags name a bundle or a schema.
func (f catalogFlags) given() bool { return *f.bundle != "" || *f.schema != "" || *f.policyData != "" }

// load builds the catalogue the flags name.
func (f catalogFlags) load() (*catalog.Catalog, error) {
	var fsys fs.FS = policy.DefaultBundle()
	if *f.bundle != "" {
		if *f.bundleKey != "" {
			pub, err := readPublicKey(*f.bundleKey)
			if err != nil {
				return nil, err
			}
			if fsys, err = policy.LoadSignedBundle(*f.bundle, policy.VerificationKey{ID: *f.keyID, Key: pub}); err != nil {
				return nil, fmt.Errorf("%s: %w", *f.bundle, err)
			}
		} else {
			var err error
			if fsys, err = policy.OpenBundle(*f.bundle); err != nil {
				return nil, err
			}
		}
	}
	if *f.policyData != "" {
		overrides, err := loadJSONObject(*f.policyData)
		if err != nil {
			return nil, fmt.Errorf("--policy-data: %w", err)
		}
		tarball, err := policy.BuildBundleWithData(fsys, "", overrides)
		if err != nil {
			return nil, err
		}
		if fsys, err = policy.OpenBundleTarball(tarball); err != nil {
			return nil, err
		}
	}
	var schema *catalog.Schema
	switch *f.schema {
	case "":
	case "sandbox":
		ps, err := sandbox.GeneratePartners(sandbox.DefaultPartnerNames(), 2000, 1)
		if err != nil {
			return nil, err
		}
		schema = sandbox.Schema(ps)
	default:
		var err error
		if schema, err = catalog.LoadSchema(*f.schema); err != nil {
			return nil, err
		}
	}
	return catalog.FromBundle(fsys, schema)
}

func runCatalogShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("catalog show", "[flags]", stderr)
	cf := addCatalogFlags(fs)
	asJSON := fs.Bool("json", false, "print the catalogue as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := cf.load()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	return writeCatalog(stdout, c)
}

func writeCatalog(w io.Writer, c *catalog.Catalog) error {
	fmt.Fprintf(w, "policy revision %s", c.Revision)
	if c.Schema != "" {
		fmt.Fprintf(w, ", schema %q", c.Schema)
	}
	p := c.Privacy
	fmt.Fprintf(w, "\nmin_partners >= %d; minimum cell size %d; children under %d excluded\n", c.MinPartners, p.MinCellSize, p.MinAge)
	fmt.Fprintf(w, "differential privacy: required %v, epsilon <= %v per query, %v per purpose and segmentation per day\n", p.DPRequired, p.MaxEpsilonPerQuery, p.DailyEpsilonPerPurpose)
	fmt.Fprintf(w, "cross-border provision allowed: %v; provision to others needs separate consent: %v\n", p.CrossBorderAllowed, p.ProvisionConsent)
	fmt.Fprintf(w, "identifiers (never queryable): %s\n", strings.Join(c.Identifiers, ", "))
	for _, pu := range c.Purposes {
		fmt.Fprintf(w, "\n%s — %s\n", pu.Name, pu.Description)
		var pipias []string
		for _, a := range pu.PIPIAs {
			pipias = append(pipias, a.ID+" ("+strings.Join(a.Covers, ", ")+")")
		}
		fmt.Fprintf(w, "  legal basis %s; consent column %s; requires PIPIA %v; automated decision %v; approved PIPIAs: %s\n",
			pu.LegalBasis, pu.ConsentColumn, pu.RequiresPIPIA, pu.AutomatedDecision, dash(strings.Join(pipias, "; ")))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  COLUMN\tTYPE\tUNIT\tCLASS\tREQUIRES\tBINS OR VALUES")
		for _, col := range pu.Columns {
			typ := col.Type
			if !col.Published {
				typ = "(unpublished)"
			}
			var shape string
			switch {
			case len(col.Bins) > 0:
				shape = strings.Trim(fmt.Sprint(col.Bins), "[]")
			case len(col.Values) > 0:
				shape = strings.Join(col.Values, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", col.Name, typ, dash(col.Unit), col.Class, dash(strings.Join(col.Requires, ", ")), dash(shape))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runCatalogCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("catalog check", "-f SPEC.yaml [flags]", stderr)
	cf := addCatalogFlags(fs)
	file := fs.String("f", "", "the query spec `file` (YAML or JSON, required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "f"); err != nil {
		return err
	}
	c, err := cf.load()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	spec, err := query.Parse(b)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if err := checkSpec(stdout, c, spec, *file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK against policy revision %s\n", *file, c.Revision)
	return nil
}

// checkSpec checks spec against the catalogue and prints each problem on
// its own line, field first.
func checkSpec(w io.Writer, c *catalog.Catalog, spec *query.Spec, name string) error {
	err := c.Check(spec)
	var ve *query.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintf(w, "%s: %s\n", p.Field, p.Msg)
		}
		return fmt.Errorf("%s: %d problems against the catalogue of policy revision %s", name, len(ve.Problems), c.Revision)
	}
	return err
}

func runCatalogSchema(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("catalog schema", "[--rows N]", stderr)
	rows := fs.Int("rows", 2000, "generated records per partner the schema is derived from")
	if err := parse(fs, args); err != nil {
		return err
	}
	ps, err := sandbox.GeneratePartners(sandbox.DefaultPartnerNames(), *rows, 1)
	if err != nil {
		return err
	}
	b, err := sandbox.Schema(ps).Marshal()
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
