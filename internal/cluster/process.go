package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotRunning reports a signal to a process that has exited.
var ErrNotRunning = errors.New("cluster: process is not running")

// stopGrace is how long Stop waits after SIGTERM before it kills.
const stopGrace = 10 * time.Second

// Process is one party of a cluster, the coordinator or a node, run as a
// child process in a process group of its own. Its stdout and stderr go,
// line by line, to its log file (Dir/logs/NAME.log), to its in-memory log
// and to the cluster's watchers. A Process can be stopped and started again
// any number of times; it keeps its arguments and state directory.
type Process struct {
	c        *Cluster
	name     string
	node     bool
	args     []string // fedscore's arguments
	netns    string   // the namespace it runs in, if any
	stateDir string
	logPath  string
	metrics  string // the metrics listener's address, with Config.Metrics

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when the current run has exited and its output is read
	err   error         // how the last run ended
	runs  int
	lines []string // every line of every run
	first int      // index in lines of the current run's first line
	grew  chan struct{}
}

func newProcess(c *Cluster, name string, node bool, stateDir string, args []string) *Process {
	p := &Process{c: c, name: name, node: node, args: args, stateDir: stateDir,
		logPath: c.path("logs", name+".log"), grew: make(chan struct{})}
	if c.net != nil {
		p.netns = c.net.namespace(name)
	}
	return p
}

// Name is the party's name: "coordinator" or the node's.
func (p *Process) Name() string { return p.name }

// StateDir is the directory the party keeps its state in (--state-dir).
func (p *Process) StateDir() string { return p.stateDir }

// LogPath is the file that collects the output of every run.
func (p *Process) LogPath() string { return p.logPath }

// Namespace is the network namespace the party runs in, or "" on loopback.
func (p *Process) Namespace() string { return p.netns }

// MetricsAddr is the address of the party's metrics and health listener
// (plain text: /metrics and the gRPC health service), or "" without
// Config.Metrics. It stays the same across restarts.
func (p *Process) MetricsAddr() string { return p.metrics }

// listenMetrics gives the party a metrics listener on a free loopback
// port, with Config.Metrics.
func (p *Process) listenMetrics() error {
	if !p.c.cfg.Metrics {
		return nil
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p.metrics = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.args = append(p.args, "--metrics-listen", p.metrics)
	return nil
}

// Args are the fedscore arguments the process runs with.
func (p *Process) Args() []string { return p.args }

// PID is the current run's process id, or 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process runs.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *Process) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited is closed when the current run has ended.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// ExitErr is how the last run ended: nil for exit status 0.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Start runs the process (again) with its arguments and state directory.
// It returns once the process is started, not when it is ready; see
// Cluster.WaitReady.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		return fmt.Errorf("cluster: %s is running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	name, args := p.c.bin, p.args
	if p.netns != "" {
		name, args = "ip", append([]string{"netns", "exec", p.netns, p.c.bin}, p.args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = p.c.dir
	// Its own process group, so that a signal reaches all of it; and it
	// dies with the launcher even when the launcher cannot clean up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		logFile.Close()
		return fmt.Errorf("cluster: start %s: %w", p.name, err)
	}
	p.runs++
	p.cmd, p.err = cmd, nil
	done := make(chan struct{})
	p.done = done
	marker := fmt.Sprintf("=== cluster: run %d of %s, pid %d: %s", p.runs, p.name, cmd.Process.Pid, strings.Join(cmd.Args, " "))
	fmt.Fprintln(logFile, marker)
	p.first = len(p.lines)
	p.lines = append(p.lines, marker)
	copied := make(chan struct{})
	go p.copyOutput(r, logFile, copied)
	go func() {
		err := cmd.Wait()
		<-copied
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// copyOutput reads the process's output line by line.
func (p *Process) copyOutput(r io.ReadCloser, logFile *os.File, done chan<- struct{}) {
	defer close(done)
	defer logFile.Close()
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			logFile.WriteString(line)
			line = strings.TrimRight(line, "\n")
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
			p.c.notify(p, line)
		}
		if err != nil {
			return
		}
	}
}

// Kill sends SIGKILL to the process group and waits until the process is
// gone. For a node it then waits (up to 10 s) until the coordinator has
// noticed, so that Cluster.WaitReady after a restart waits for the new run.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for the process to exit, killing it after
// 10 s. It returns the exit error when the process did not exit cleanly.
func (p *Process) Stop() error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.ExitErr(); err != nil {
		return fmt.Errorf("cluster: %s exited with %w after SIGTERM", p.name, err)
	}
	return nil
}

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	running := p.runningLocked()
	p.mu.Unlock()
	if !running {
		return fmt.Errorf("%w: %s", ErrNotRunning, p.name)
	}
	pid := cmd.Process.Pid
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cluster: signal %s: %w", p.name, err)
	}
	select {
	case <-done:
	case <-time.After(stopGrace):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	if p.node {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.c.waitDetached(ctx, p.name)
	}
	return nil
}

// Log returns everything the process wrote in all its runs.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Tail returns the last n lines the process wrote.
func (p *Process) Tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// WaitLine waits until the current run writes a line matching re (or has
// written one) and returns it.
func (p *Process) WaitLine(ctx context.Context, re *regexp.Regexp) (string, error) {
	p.mu.Lock()
	i := p.first
	p.mu.Unlock()
	for {
		p.mu.Lock()
		lines, grew, done := p.lines[i:], p.grew, p.done
		p.mu.Unlock()
		for _, l := range lines {
			if re.MatchString(l) {
				return l, nil
			}
		}
		i += len(lines)
		select {
		case <-grew:
		case <-done:
			p.mu.Lock()
			rest := len(p.lines) - i
			p.mu.Unlock()
			if rest == 0 {
				return "", fmt.Errorf("cluster: %s exited (%v) without a line matching %q", p.name, p.ExitErr(), re)
			}
		case <-ctx.Done():
			return "", fmt.Errorf("cluster: %s wrote no line matching %q: %w", p.name, re, ctx.Err())
		}
	}
}
