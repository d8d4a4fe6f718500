package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
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

	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/policy"
)

// defaultPolicyKeyID is the key ID bundles are signed and verified under
// unless --key-id says otherwise.
const defaultPolicyKeyID = "regulator"

type policySubcommand struct {
	name, synopsis, summary string
	run                     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func policySubcommands() []policySubcommand {
	return []policySubcommand{
		{"build", "--revision R --sequence N [--valid-days D | --not-after T] -o bundle.tar.gz [--dir DIR]", "build an unsigned bundle tarball (default: the embedded bundle)", runPolicyBuild},
		{"sign", "--key KEY.pem [--key-id ID] [--previous LAST.tar.gz] -o signed.tar.gz bundle.tar.gz", "sign a bundle tarball (ES256, OPA .signatures.json)", runPolicySign},
		{"verify", "--pub PUB.pem [--key-id ID] [--state-dir NODE-STATE] signed.tar.gz", "verify a signed bundle; exits non-zero unless a node would activate it", runPolicyVerify},
		{"inspect", "bundle.tar.gz|DIR", "print a bundle's manifest, privacy settings, files and signature (unverified)", runPolicyInspect},
		{"test", "[bundle.tar.gz|DIR]", "run a bundle's Rego tests (default: the embedded bundle)", runPolicyTest},
		{"keygen", "-o KEY.pem --pub PUB.pem", "create an ECDSA P-256 bundle signing key pair for development", runPolicyKeygen},
	}
}

// runPolicy implements `fedscore policy <command>`: building, signing,
// verifying, inspecting and testing OPA policy bundles.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		policyUsage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	for _, c := range policySubcommands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "fedscore policy: unknown command %q\n\n", args[0])
	policyUsage(stderr)
	return errUsage
}

func policyUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: fedscore policy <command> [flags]\n\nCommands:")
	for _, c := range policySubcommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'fedscore policy <command> -h' for a command's flags.")
}

func newPolicyFlags(name string, stderr io.Writer) *flag.FlagSet {
	for _, c := range policySubcommands() {
		if c.name == name {
			return newFlags("policy "+name, c.synopsis, stderr)
		}
	}
	panic("unknown policy command " + name)
}

// parsePositional parses flags that may come before or after the positional
// arguments, and checks that there are between min and max of those.
func parsePositional(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		fmt.Fprintf(fs.Output(), "wrong number of arguments: %q\n", pos)
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// required reports the first missing required flag as a usage error.
func required(fs *flag.FlagSet, flags ...string) error {
	for _, name := range flags {
		if fs.Lookup(name).Value.String() == "" {
			fmt.Fprintf(fs.Output(), "flag -%s is required\n", name)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

func runPolicyBuild(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("build", stderr)
	dir := fs.String("dir", "", "bundle `directory` (default: the bundle embedded in fedscore)")
	revision := fs.String("revision", "", "bundle `revision` written to the manifest (required)")
	sequence := fs.Uint64("sequence", 0, "the bundle's `number` in the signer's series, above every bundle signed before it (required unless the manifest has one)")
	validDays := fs.Int("valid-days", int(policy.DefaultValidity/(24*time.Hour)), "`days` from now until the bundle expires")
	notAfter := fs.String("not-after", "", "expiry `time` (RFC 3339), instead of --valid-days")
	out := fs.String("o", "", "output `file` (.tar.gz, required)")
	if _, err := parsePositional(fs, args, 0, 0); err != nil {
		return err
	}
	if err := required(fs, "revision", "o"); err != nil {
		return err
	}
	opts := policy.BuildOptions{Revision: *revision, Sequence: *sequence, ValidFor: time.Duration(*validDays) * 24 * time.Hour}
	switch {
	case *notAfter != "":
		t, err := time.Parse(time.RFC3339, *notAfter)
		if err != nil {
			return fmt.Errorf("--not-after: %w", err)
		}
		if !t.After(time.Now()) {
			return fmt.Errorf("--not-after %s is not in the future", *notAfter)
		}
		opts.NotAfter = t
	case *validDays < 1:
		return fmt.Errorf("--valid-days %d: a bundle must be valid for at least a day", *validDays)
	}
	src := policy.DefaultBundle()
	if *dir != "" {
		src = os.DirFS(*dir)
	}
	tarball, err := policy.BuildBundle(src, opts)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, tarball, 0o644); err != nil {
		return err
	}
	built, err := policy.OpenBundle(*out)
	if err != nil {
		return err
	}
	info, err := policy.InspectBundle(built)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s: %s, %d files, unsigned\n", *out, bundleVersion(info), len(info.Files))
	return nil
}

func runPolicySign(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("sign", stderr)
	keyPath := fs.String("key", "", "ECDSA P-256 private key `PEM` file (required)")
	keyID := fs.String("key-id", defaultPolicyKeyID, "key `ID` recorded in the signature (JWT kid)")
	previous := fs.String("previous", "", "the last bundle `file` signed in this series: refuse unless this bundle's sequence is above its")
	out := fs.String("o", "", "output `file` for the signed bundle (required)")
	pos, err := parsePositional(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := required(fs, "key", "key-id", "o"); err != nil {
		return err
	}
	key, err := readPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	unsigned, err := openBundleInfo(pos[0])
	if err != nil {
		return err
	}
	if !unsigned.NotAfter.IsZero() && !time.Now().Before(unsigned.NotAfter) {
		return fmt.Errorf("%s: %w: it was valid until %s; rebuild it", pos[0], policy.ErrExpired, unsigned.NotAfter.Format(time.RFC3339))
	}
	if *previous != "" {
		prev, err := openBundleInfo(*previous)
		if err != nil {
			return fmt.Errorf("--previous: %w", err)
		}
		if err := policy.CheckSuccessor(prev, unsigned); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
	}
	tarball, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	signed, err := policy.SignBundle(tarball, key, *keyID)
	if err != nil {
		return err
	}
	info, err := policy.VerifyBundle(signed, policy.VerificationKey{ID: *keyID, Key: &key.PublicKey})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed %s: %s, %d files, key id %s, ES256\n", *out, bundleVersion(info), len(info.Files), info.KeyID)
	return nil
}

func runPolicyVerify(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("verify", stderr)
	pubPath := fs.String("pub", "", "trusted ECDSA P-256 public key `PEM` file (required)")
	keyID := fs.String("key-id", defaultPolicyKeyID, "`ID` the trusted key signs under")
	stateDir := fs.String("state-dir", "", "a node's state `directory`: also check the bundle against the newest bundle that node ran")
	pos, err := parsePositional(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if err := required(fs, "pub", "key-id"); err != nil {
		return err
	}
	pub, err := readPublicKey(*pubPath)
	if err != nil {
		return err
	}
	tarball, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	info, err := policy.VerifyBundle(tarball, policy.VerificationKey{ID: *keyID, Key: pub})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	fmt.Fprintf(stdout, "%s: signature OK\n", pos[0])
	fmt.Fprintf(stdout, "revision:      %s\n", info.Manifest.Revision)
	fmt.Fprintf(stdout, "sequence:      %d\n", info.Sequence)
	fmt.Fprintf(stdout, "not after:     %s\n", expiry(info.NotAfter))
	fmt.Fprintf(stdout, "signer key id: %s (ES256, key %s)\n", info.KeyID, keyFingerprint(pub))
	fmt.Fprintf(stdout, "bundle digest: %s\n", info.Digest)
	printBundleFiles(stdout, info)
	if !time.Now().Before(info.NotAfter) {
		return fmt.Errorf("%s: %w: it was valid until %s; a node refuses it", pos[0], policy.ErrExpired, info.NotAfter.Format(time.RFC3339))
	}
	if *stateDir != "" {
		marks, err := policy.OpenSequenceStore(filepath.Join(*stateDir, policy.HighWaterFile))
		if err != nil {
			return err
		}
		if err := marks.Check(info); err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		if m, ok := marks.Mark(); ok {
			fmt.Fprintf(stdout, "node state:    newest bundle run is sequence %d (revision %s); this one may follow it\n", m.Sequence, m.Revision)
		} else {
			fmt.Fprintln(stdout, "node state:    the node has run no bundle yet")
		}
	}
	return nil
}

func runPolicyInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("inspect", stderr)
	pos, err := parsePositional(fs, args, 1, 1)
	if err != nil {
		return err
	}
	fsys, err := policy.OpenBundle(pos[0])
	if err != nil {
		return err
	}
	info, err := policy.InspectBundle(fsys)
	if err != nil {
		return err
	}
	manifest, err := json.MarshalIndent(info.Manifest, "  ", "  ")
	if err != nil {
		return err
	}
	var roots []string
	if info.Manifest.Roots != nil {
		roots = *info.Manifest.Roots
	}
	fmt.Fprintf(stdout, "bundle:    %s\n", pos[0])
	fmt.Fprintf(stdout, "revision:  %s\n", info.Manifest.Revision)
	if info.Sequence > 0 {
		fmt.Fprintf(stdout, "sequence:  %d\n", info.Sequence)
	} else {
		fmt.Fprintln(stdout, "sequence:  none (cannot be signed: build it with --sequence)")
	}
	fmt.Fprintf(stdout, "not after: %s\n", expiry(info.NotAfter))
	fmt.Fprintf(stdout, "roots:     %s\n", strings.Join(roots, ", "))
	if info.Signed {
		fmt.Fprintf(stdout, "signature: present, key id %q (NOT verified; use 'fedscore policy verify')\n", info.KeyID)
	} else {
		fmt.Fprintln(stdout, "signature: none (unsigned: a node will not activate it)")
	}
	fmt.Fprintf(stdout, "digest:    %s\n", info.Digest)
	settings, err := policy.BundlePrivacy(ctx, fsys)
	if err != nil {
		return err
	}
	printPrivacy(stdout, settings)
	fmt.Fprintf(stdout, "manifest:\n  %s\n", manifest)
	printBundleFiles(stdout, info)
	return nil
}

// printPrivacy prints the privacy settings in force per purpose.
func printPrivacy(w io.Writer, settings []policy.PurposePrivacy) {
	fmt.Fprintln(w, "privacy (per purpose; epsilon per day is per node, purpose and segmentation):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  purpose\tDP noise\tepsilon/query\tepsilon/day\tmin cell size\tcomplementary suppression")
	for _, p := range settings {
		dp := "required"
		if !p.DPRequired {
			dp = "OPTIONAL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", p.Purpose, dp, limit(p.MaxEpsilonPerQuery), limit(p.DailyEpsilon), p.MinCellSize, "always")
	}
	tw.Flush()
}

// limit formats an epsilon limit; 0 is unset, and the purpose admits no query.
func limit(eps float64) string {
	if eps <= 0 {
		return "UNSET (refused)"
	}
	return strconv.FormatFloat(eps, 'g', -1, 64)
}

// expiry formats a bundle's not_after.
func expiry(t time.Time) string {
	switch {
	case t.IsZero():
		return "none (cannot be signed: build it with an expiry)"
	case !time.Now().Before(t):
		return t.UTC().Format(time.RFC3339) + " (EXPIRED: a node refuses it)"
	}
	return t.UTC().Format(time.RFC3339) + fmt.Sprintf(" (in %.0f days)", time.Until(t).Hours()/24)
}

// bundleVersion is "revision R, sequence N, valid until T".
func bundleVersion(info *policy.BundleInfo) string {
	return fmt.Sprintf("revision %s, sequence %d, valid until %s", info.Manifest.Revision, info.Sequence, info.NotAfter.UTC().Format(time.RFC3339))
}

// openBundleInfo describes the bundle at path without verifying it.
func openBundleInfo(path string) (*policy.BundleInfo, error) {
	fsys, err := policy.OpenBundle(path)
	if err != nil {
		return nil, err
	}
	return policy.InspectBundle(fsys)
}

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("test", stderr)
	pos, err := parsePositional(fs, args, 0, 1)
	if err != nil {
		return err
	}
	fsys, name := policy.DefaultBundle(), "embedded bundle"
	if len(pos) == 1 {
		if fsys, err = policy.OpenBundle(pos[0]); err != nil {
			return err
		}
		name = pos[0]
	}
	results, err := policy.BundleTests(ctx, fsys)
	if err != nil {
		return err
	}
	slices.SortStableFunc(results, func(a, b policy.TestResult) int {
		return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Name, b.Name))
	})
	var passed, failed, skipped int
	for _, r := range results {
		test := r.Package + "." + r.Name
		switch {
		case r.Skip:
			skipped++
			fmt.Fprintf(stdout, "SKIP  %s\n", test)
		case r.Pass:
			passed++
			fmt.Fprintf(stdout, "PASS  %s (%s)\n", test, r.Duration.Round(time.Microsecond))
		default:
			failed++
			if r.Err != nil {
				fmt.Fprintf(stdout, "FAIL  %s: %v\n", test, r.Err)
			} else {
				fmt.Fprintf(stdout, "FAIL  %s\n", test)
			}
		}
	}
	fmt.Fprintf(stdout, "%s: %d passed, %d failed, %d skipped\n", name, passed, failed, skipped)
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d tests failed", failed, len(results))
	case passed == 0:
		return fmt.Errorf("%s has no passing tests", name)
	}
	return nil
}

func runPolicyKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newPolicyFlags("keygen", stderr)
	out := fs.String("o", "", "private key `file` to create (PKCS#8 PEM, mode 0600, required)")
	pubOut := fs.String("pub", "", "public key `file` to create (PKIX PEM, required)")
	if _, err := parsePositional(fs, args, 0, 0); err != nil {
		return err
	}
	if err := required(fs, "o", "pub"); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	keyPEM, err := policy.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	pubPEM, err := policy.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writeNewFile(*out, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNewFile(*pubOut, pubPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (private, 0600) and %s; key %s\n", *out, *pubOut, keyFingerprint(&key.PublicKey))
	fmt.Fprintln(stdout, "for development only: a regulator keeps its signing key in an HSM or Vault transit (ecdsa-p256)")
	return nil
}

func printBundleFiles(w io.Writer, info *policy.BundleInfo) {
	fmt.Fprintf(w, "files (%d, SHA-256):\n", len(info.Files))
	for _, f := range info.Files {
		fmt.Fprintf(w, "  %s %7d  %s\n", f.SHA256, f.Size, f.Path)
	}
}

// keyFingerprint is "SHA256:" and the hex SHA-256 of the key's PKIX DER, to
// compare a key with its owner out of band.
func keyFingerprint(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "(invalid key)"
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// writeNewFile creates path with perm, refusing to overwrite a file.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
