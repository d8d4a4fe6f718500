package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// runStatus prints the coordinator's Status: the federation, every member
// and the recent queries.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "--coordinator ADDR --cert F --key F --ca F [--json]", stderr)
	tf := addTLSFlags(fs)
	cf := addCoordinatorFlags(fs)
	asJSON := fs.Bool("json", false, "print the Status response as JSON (proto field names)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the coordinator")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := dialQuerier(tf, *cf.addr, *cf.id, *timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Multiline: true}.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	return printStatus(stdout, st, time.Now())
}

// printStatus writes a Status response as tables.
func printStatus(w io.Writer, st *pb.StatusResponse, now time.Time) error {
	state := "not serving"
	if st.Serving {
		state = "serving"
	}
	if st.Ready {
		state += ", every member ready"
	}
	fmt.Fprintf(w, "federation  %s\n", state)
	if e := st.EpochStatus; e != nil {
		quorum := fmt.Sprintf("%d-of-%d", e.Quorum, len(e.Members))
		fmt.Fprintf(w, "epoch       %s (%s, %s, created %s)\nkey digest  %s\n", e.Id, e.Params, quorum,
			timeOrDash(e.CreatedUnixNanos), hex.EncodeToString(e.PublicKeyDigest))
	} else {
		fmt.Fprintf(w, "epoch       none yet (%s)\n", st.Params)
	}
	switch {
	case st.KeyGenerationRunning:
		fmt.Fprintln(w, "key gen     running")
	case st.LastKeyGenerationError != "":
		fmt.Fprintf(w, "key gen     last one failed: %s\n", st.LastKeyGenerationError)
	}

	fmt.Fprintln(w, "\nmembers")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tATTACHED\tSINCE\tLAST SEEN\tEPOCH KEY\tBUNDLE\tEXPIRES\tSHARE\tLAST ERROR")
	for _, m := range st.MemberStatus {
		key := "-"
		switch {
		case m.HoldsEpochKey:
			key = "current"
		case m.Epoch != "":
			key = "other (" + m.Epoch + ")"
		}
		bundle := m.BundleRevision
		if bundle == "" {
			bundle = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, yesNo(m.Attached), timeOrDash(m.AttachedSinceUnixNanos),
			agoOrDash(m.LastSeenUnixNanos, now), key, bundle, timeOrDash(m.BundleExpiresUnixNanos), yesNo(m.SharePresent), orDash(m.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nrecent queries")
	if len(st.RecentQueries) == 0 {
		fmt.Fprintln(w, "  none")
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  QUERY\tQUERIER\tPURPOSE\tSTARTED\tOUTCOME\tMS\tRUNS\tREFUSALS\tPHASES (ms)")
	for _, q := range st.RecentQueries {
		var refusals []string
		for _, r := range q.Refusals {
			refusals = append(refusals, r.Node+": "+strings.Join(r.Codes, ","))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%.0f\t%d\t%s\t%s\n", orDash(q.QueryId), orDash(q.Querier), orDash(q.Purpose),
			timeOrDash(q.StartedUnixNanos), q.Outcome, q.DurationMs, q.Runs, orDash(strings.Join(refusals, "; ")), phases(q.TimingsMs))
	}
	return tw.Flush()
}

// phases lists timings in protocol order: "counts=12 release_gate=3 ...".
func phases(t map[string]float64) string {
	keys := slices.Sorted(maps.Keys(t))
	slices.SortStableFunc(keys, func(a, b string) int { return phaseRank(a) - phaseRank(b) })
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s=%.0f", k, t[k]))
	}
	return orDash(strings.Join(out, " "))
}

func phaseRank(p string) int {
	if i := slices.Index(phaseOrder, p); i >= 0 {
		return i
	}
	return len(phaseOrder)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(unixNanos int64) string {
	if unixNanos == 0 {
		return "-"
	}
	return time.Unix(0, unixNanos).UTC().Format("2006-01-02 15:04:05Z")
}

func agoOrDash(unixNanos int64, now time.Time) string {
	if unixNanos == 0 {
		return "-"
	}
	return now.Sub(time.Unix(0, unixNanos)).Round(time.Second).String() + " ago"
}
