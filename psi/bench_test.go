package psi

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/fedscore/fedscore/psi/blind"
	"github.com/fedscore/fedscore/psi/ident"
)

// Flags of BenchmarkLarge (defaults keep `go test -bench .` short).
var (
	largeA       = flag.Int("psi.a", 20_000, "BenchmarkLarge: identifiers of party 0")
	largeB       = flag.Int("psi.b", 20_000, "BenchmarkLarge: identifiers of party 1")
	largeOverlap = flag.Int("psi.overlap", 10_000, "BenchmarkLarge: identifiers both hold")
	largeDP      = flag.Bool("psi.dp", false, "BenchmarkLarge: with DP (ε = 1, δ = 1e-9)")
	largeMemory  = flag.Int("psi.memory", 32<<20, "BenchmarkLarge: spool buffer per list, bytes")
	largeDir     = flag.String("psi.dir", "", "BenchmarkLarge: spool directory (default: a temporary one)")
)

// synthSource yields mobile numbers lo, lo+1, ..., hi−1 without holding
// them: a party's set streamed from its data source.
type synthSource struct{ next, hi int }

func (s *synthSource) Next() (ident.Record, error) {
	if s.next >= s.hi {
		return ident.Record{}, io.EOF
	}
	s.next++
	return ident.Record{ID: phone(s.next - 1)}, nil
}

// opCosts measures one hash to the group and one scalar multiplication on
// one goroutine locked to its thread, in thread CPU time, so that other
// load on the machine does not inflate it: medians of 5 rounds.
func opCosts() (hash, mul time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	dst := []byte(blind.DST)
	g := group.Ristretto255
	msg := []byte("fedscore/psi/v1 prefix of a typical length 8613800138000")
	e := g.HashToElement(msg, dst)
	s := g.HashToScalar([]byte("k"), dst)
	median := func(n int, f func()) time.Duration {
		var ts []time.Duration
		for r := 0; r < 5; r++ {
			start := threadCPU()
			for i := 0; i < n; i++ {
				f()
			}
			ts = append(ts, (threadCPU()-start)/time.Duration(n))
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		return ts[2]
	}
	hash = median(20_000, func() { g.HashToElement(msg, dst) })
	mul = median(4000, func() { e.Mul(e, s) })
	return hash, mul
}

// heapPeak samples the Go heap until stopped.
func heapPeak(interval time.Duration) (stop func() uint64) {
	var peak uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// BenchmarkLarge runs one two-party session end to end in process (both
// parties and the relay, every frame encoded, sealed and routed) and
// reports its time, bytes, peak memory and the ratio to the bound set by
// the group operations alone:
//
//	go test -run '^$' -bench BenchmarkLarge -benchtime 1x ./psi/ -psi.a 1000000 -psi.b 1000000 -psi.overlap 500000
//	go test -run '^$' -bench BenchmarkLarge -benchtime 1x -timeout 2h ./psi/ -psi.a 10000000 -psi.b 1000000 -psi.overlap 500000
func BenchmarkLarge(b *testing.B) {
	nA, nB, ov := *largeA, *largeB, *largeOverlap
	cores := runtime.GOMAXPROCS(0)
	hashes := float64(nA + nB)
	muls := 2 * float64(nA+nB)
	var bound time.Duration
	costs := func(when string) {
		hashCost, mulCost := opCosts()
		bound = time.Duration((hashes*float64(hashCost) + muls*float64(mulCost)) / float64(cores))
		b.Logf("measured %s (thread CPU time): hash to group %v, scalar multiplication %v; %d cores", when, hashCost, mulCost, cores)
		b.Logf("bound: (%.0f hashes × hash + %.0f multiplications × multiplication) / %d cores = %v", hashes, muls, cores, bound.Round(time.Millisecond))
	}
	costs("before")
	dir := *largeDir
	if dir == "" {
		dir = b.TempDir()
	}
	for b.Loop() {
		cfg := testConfig(2)
		cfg.MaxList = uint64(max(nA, nB))
		if *largeDP {
			cfg.DP = &DP{Epsilon: 1, Delta: 1e-9}
		}
		l, err := NewLocal(cfg, Options{TempDir: dir, Memory: *largeMemory})
		if err != nil {
			b.Fatal(err)
		}
		var before syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		resetRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
		load := loadAverage()
		stopHeap := heapPeak(50 * time.Millisecond)
		start := time.Now()
		res, err := l.Run(context.Background(), []ident.Source{&synthSource{0, nA}, &synthSource{nA - ov, nA - ov + nB}})
		elapsed := time.Since(start)
		heap := stopHeap()
		if err != nil {
			b.Fatal(err)
		}
		var after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		got := res[0].Intersection(Mask(0, 1), -1)
		if !*largeDP && got != int64(ov) {
			b.Fatalf("intersection %d, want %d", got, ov)
		}
		st := l.Relay.Stats()
		costs("after")
		rss := "lifetime"
		if resetRSS {
			rss = "this run"
		}
		b.Logf("%d × %d (overlap %d, dp %v): %v wall, %v CPU, %.1f MiB through the relay, intersection %d, union %d",
			nA, nB, ov, *largeDP, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(st.Bytes)/(1<<20), got, res[0].Union())
		b.Logf("load average before %s, after %s", load, loadAverage())
		b.Logf("ratio to the bound: wall %.2f, CPU %.2f (CPU time over the bound's %d core-seconds)", float64(elapsed)/float64(bound), float64(cpu)/float64(bound*time.Duration(cores)), cores)
		b.Logf("peak RSS %.0f MiB (%s), peak Go heap %.0f MiB", float64(peakRSS())/(1<<20), rss, float64(heap)/(1<<20))
		b.ReportMetric(elapsed.Seconds(), "s/run")
		b.ReportMetric(float64(elapsed)/float64(bound), "x-bound")
		b.ReportMetric(float64(st.Bytes)/(1<<20), "MiB-relayed")
	}
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	var a, c, d float64
	fmt.Sscanf(string(b), "%f %f %f", &a, &c, &d)
	return fmt.Sprintf("%.1f/%.1f/%.1f", a, c, d)
}

// peakRSS is VmHWM from /proc/self/status, or the lifetime peak.
func peakRSS() uint64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		var kb uint64
		for _, line := range splitLines(string(b)) {
			if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
				return kb << 10
			}
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return uint64(ru.Maxrss) << 10
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// BenchmarkSession is a small two-party session per iteration, for
// benchstat comparisons of the protocol code.
func BenchmarkSession(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		for _, dp := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/dp=%v", n, dp), func(b *testing.B) {
				cfg := testConfig(2)
				if dp {
					cfg.DP = &DP{Epsilon: 1, Delta: 1e-9}
				}
				dir := b.TempDir()
				for b.Loop() {
					l, err := NewLocal(cfg, Options{TempDir: dir})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := l.Run(context.Background(), []ident.Source{&synthSource{0, n}, &synthSource{n / 2, n/2 + n}}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*n), "ns/element")
			})
		}
	}
}
