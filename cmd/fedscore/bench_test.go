package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchQuick runs the --quick configuration end to end: a real
// loopback federation, the baselines, and every output.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a federation")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"bench", "--quick", "--json", "--out", dir, "--paillier-bits", "1024"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	var rep struct {
		Results []struct {
			Nodes    int                             `json:"nodes"`
			Cells    int                             `json:"cells"`
			Records  int                             `json:"records_per_node"`
			Queries  int                             `json:"queries"`
			Verified bool                            `json:"verified"`
			Error    string                          `json:"error"`
			Latency  struct{ P50, P95, P99 float64 } `json:"latency_ms"`
			Phases   map[string]float64              `json:"phase_medians_ms"`
			Bytes    struct {
				PerNodeSent float64 `json:"per_node_sent"`
			} `json:"bytes_per_query"`
			CPU       float64 `json:"cpu_ms_per_query"`
			Baselines struct {
				CryptoOnly float64 `json:"crypto_only"`
				Plaintext  float64 `json:"plaintext"`
				Paillier   float64 `json:"paillier"`
			} `json:"baselines_ms"`
			Components struct{ Scan, Total float64 } `json:"node_components_ms"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	switch {
	case r.Error != "":
		t.Fatalf("configuration failed: %s", r.Error)
	case r.Nodes != 3 || r.Cells != 512 || r.Records != 20000 || r.Queries != 5:
		t.Errorf("ran N=%d cells=%d records=%d queries=%d, want the quick configuration", r.Nodes, r.Cells, r.Records, r.Queries)
	case !r.Verified:
		t.Error("the answer was not checked against plaintext")
	case !(r.Latency.P50 > 0 && r.Latency.P50 <= r.Latency.P95 && r.Latency.P95 <= r.Latency.P99):
		t.Errorf("latency percentiles out of order: %+v", r.Latency)
	case r.Phases["counts"] <= 0 || r.Phases["key_switch"] <= 0:
		t.Errorf("coordinator phases missing: %v", r.Phases)
	case r.Bytes.PerNodeSent < 256<<10:
		t.Errorf("a node sent %.0f bytes per query, less than one ciphertext", r.Bytes.PerNodeSent)
	case r.Baselines.CryptoOnly <= 0 || r.Baselines.Plaintext <= 0 || r.Baselines.Paillier <= 0:
		t.Errorf("baselines missing: %+v", r.Baselines)
	case r.Components.Scan <= 0 || r.Components.Total < r.Components.Scan:
		t.Errorf("node components missing: %+v", r.Components)
	}
	for _, name := range []string{"bench.txt", "bench.json", "bench.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v (%d bytes)", name, err, len(b))
		}
		switch name {
		case "bench.txt":
			if !strings.Contains(string(b), "p50 ms") || !strings.Contains(string(b), "crypto ms") {
				t.Errorf("table lacks its header:\n%s", b)
			}
		case "bench.svg":
			dec := xml.NewDecoder(bytes.NewReader(b))
			for {
				if _, err := dec.Token(); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("bench.svg is not well-formed: %v", err)
				}
			}
		}
	}
	if !strings.Contains(stderr.String(), "queries done") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestBenchFlags(t *testing.T) {
	var l intList
	if err := l.Set("3, 10,100k,1M"); err != nil || l.String() != "3,10,100000,1000000" {
		t.Errorf("intList = %v, %v", l.String(), err)
	}
	for _, bad := range []string{"", "x", "0", "-3", "1.5k"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("intList accepted %q", bad)
		}
	}
	ctx := context.Background()
	for _, args := range [][]string{
		{"bench", "--nodes", "2"},
		{"bench", "--cells", "40000"},
		{"bench", "--queries", "0"},
		{"bench", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
