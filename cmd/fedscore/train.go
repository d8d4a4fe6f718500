package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fedscore/fedscore/dataset"
	"github.com/fedscore/fedscore/internal/atomicfile"
	"github.com/fedscore/fedscore/scoring"
	"github.com/fedscore/fedscore/scoring/fit"
	"github.com/fedscore/fedscore/train"
)

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "--init MODEL.json --purpose P [--pipia ID] -o TRAINED.json --coordinator ADDR --cert F --key F --ca F", stderr)
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	initPath := fs.String("init", "", "the starting model `file` (e.g. from fedscore model fit on the owner's own data)")
	purpose := fs.String("purpose", "risk_analytics", "the processing `purpose` of every round")
	pipia := fs.String("pipia", "", "the approved impact assessment `id`")
	minPartners := fs.Int("min-partners", 3, "partners every round needs")
	epsilon := fs.Float64("epsilon", 0, "differential-privacy `budget` of every round (0: none)")
	rounds := fs.Int("rounds", 12, "most Newton `rounds`")
	l2 := fs.Float64("l2", 1e-4, "ridge `penalty`")
	out := fs.String("o", "", "output model `file`")
	signKey := fs.String("sign-key", "", "sign the trained model with this private key `file` (PEM)")
	keyID := fs.String("key-id", "regulator", "the signing key's `id`")
	holdout := fs.String("holdout", "", "report the AUC on this local held-out CSV `file`")
	timeout := fs.Duration("timeout", 30*time.Second, "per-round `deadline`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *initPath == "" || *out == "" {
		return errors.New("--init and -o are required")
	}
	init, err := scoring.LoadFile(*initPath)
	if err != nil {
		return err
	}
	c, err := dialQuerier(tf, *cf.addr, *cf.id, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	m, rep, err := train.Run(ctx, c, train.Config{
		Purpose: *purpose, PipiaID: *pipia, MinPartners: *minPartners, Epsilon: *epsilon,
		Init: init, Rounds: *rounds, L2: *l2,
		Progress: func(round int, g float64, n int64) {
			fmt.Fprintf(stdout, "round %2d: %d examples across the partners, gradient norm %.3g\n", round, n, g)
		},
	})
	if err != nil {
		return err
	}
	var doc []byte
	if *signKey != "" {
		priv, err := readPrivateKey(*signKey)
		if err != nil {
			return err
		}
		doc, err = scoring.Sign(m, priv, *keyID)
		if err != nil {
			return err
		}
	} else if doc, err = scoring.Encode(m); err != nil {
		return err
	}
	if err := atomicfile.Write(*out, doc, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %s@%s in %d rounds (converged: %v) on %d examples: %s\n", m.Name, m.Version, rep.Rounds, rep.Converged, rep.Examples, *out)
	if *holdout != "" {
		t, err := dataset.LoadCSVFile(*holdout, dataset.CSVOptions{})
		if err != nil {
			return err
		}
		auc, n, err := fit.Evaluate(m, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "held-out AUC %.4f on %d records\n", auc, n)
	}
	return nil
}
