package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fedscore/fedscore/pki"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

const keysSynopsis = `Usage: fedscore keys <subcommand> --coordinator ADDR --cert F --key F --ca F

Subcommands:
  status     print the federation's epoch, members and key digest
  ceremony   wait until every member has joined the key generation of an epoch, then print it
  rotate     start a new epoch: fresh secret-key shares everywhere; old ciphertexts can no longer be opened

The coordinator runs the key generation itself whenever all configured members are
attached and hold no common epoch (first start, a member joining or leaving); rotate
needs an operator certificate.
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, keysSynopsis)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub != "status" && sub != "ceremony" && sub != "rotate" {
		fmt.Fprintf(stderr, "fedscore keys: unknown subcommand %q\n\n%s", sub, keysSynopsis)
		return errUsage
	}
	fs := newFlags("keys "+sub, "--coordinator ADDR --cert F --key F --ca F", stderr)
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cred, roots, err := tf.load()
	if err != nil {
		return err
	}
	cid, err := coordinatorIdentity(cred, *cf.id)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*cf.addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientTLSConfig(cred, roots, cid))))
	if err != nil {
		return err
	}
	defer conn.Close()
	api := pb.NewCoordinatorClient(conn)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var st *pb.StatusResponse
	switch sub {
	case "status":
		st, err = api.Status(ctx, &pb.StatusRequest{})
	case "ceremony":
		for {
			if st, err = api.Status(ctx, &pb.StatusRequest{}); err != nil || st.Ready {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("epoch not ready: attached %v of %v: %w", st.Attached, st.Members, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	case "rotate":
		if st, err = api.Status(ctx, &pb.StatusRequest{}); err == nil {
			if st.Epoch == "" {
				return errors.New("the federation has no epoch yet; run the ceremony first")
			}
			st, err = api.Rotate(ctx, &pb.RotateRequest{Epoch: st.Epoch})
		}
	}
	if err != nil {
		return pki.ExplainRefusal(err, cred.Certificate)
	}
	fmt.Fprintf(stdout, "epoch      %s\nparams     %s\nmembers    %s\nattached   %s\nready      %v\nkey digest %s\n",
		st.Epoch, st.Params, strings.Join(st.Members, ", "), strings.Join(st.Attached, ", "), st.Ready, hex.EncodeToString(st.PublicKeyDigest))
	return nil
}
