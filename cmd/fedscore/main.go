package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"sandbox", "run a coordinator and partner nodes on loopback and a joint query", runSandbox},
		{"coordinator", "serve the coordinator", runCoordinator},
		{"node", "run a partner node beside its data", runNode},
		{"query", "submit a signed joint query and print the decrypted result", runQuery},
		{"overlap", "size the partners' shared audience by private set intersection: a signed overlap query", runOverlap},
		{"policy", "build, sign, verify, inspect and test policy bundles", runPolicy},
		{"catalog", "the purposes, columns and settings a query is checked against", runCatalog},
		{"console", "serve the web console for analysts, regulators and operators", runConsole},
		{"audit", "verify and read a node's audit log", runAudit},
		{"keys", "key ceremony, status and rotation of the federation's epochs", runKeys},
		{"status", "print the federation's members, epoch and recent queries from the coordinator", runStatus},
		{"model", "fit, sign, verify and audit scoring models", runModel},
		{"train", "train a scorecard across partners through the encrypted pipeline", runTrain},
		{"pki", "create a development PKI and signed policy bundle; issue certificates through Vault", runPKI},
		{"bench", "benchmark loopback federations: latency, bytes, CPU and memory against baselines", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(stderr, "fedscore %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "fedscore: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports bad flags; the flag package has already said why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "fedscore: privacy-preserving federated scoring\n\nUsage: fedscore <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'fedscore <command> -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fedscore "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fedscore %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fedscore %s\n", version)
	return nil
}
