package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNetNSUnavailable reports that this machine cannot give the parties
// network namespaces of their own (not root, no ip command, no TUN device).
var ErrNetNSUnavailable = errors.New("cluster: network namespaces unavailable")

// Network puts every party in a Linux network namespace of its own, so
// that coordinator, nodes and querier talk over real TCP across links
// rather than over a shared loopback.
//
// The topology is a star around the coordinator's namespace, as in a
// deployment where every partner dials out to the consortium: link k joins
// party k (the querier is party 1, node i is party i+2) to the coordinator
// through a pair of point-to-point TUN devices, 198.18.k.2 on the party's
// side and 198.18.k.1 on the coordinator's, addresses of the benchmarking
// range (RFC 2544) that exist only inside these namespaces. The launcher
// copies packets between the two devices of a link and holds each one for
// Delay first, so the kernels' TCP stacks see the delay end to end (one way
// Delay, round trip twice Delay) as they would with tc-netem, which many
// kernels (this project's CI machine's among them) are built without.
type Network struct {
	// Delay is how long every packet takes across a link, each way.
	Delay time.Duration
}

const (
	netnsPrefix = "fsc-"
	netnsDir    = "/run/netns"
	// coordinatorPort is where the coordinator listens in its namespace.
	coordinatorPort = 7443
	// queueLen bounds the packets in flight on one direction of a link;
	// beyond it packets are dropped, as a router's queue would, and TCP
	// retransmits.
	queueLen = 8192
)

// network is a running set of namespaces and links.
type network struct {
	id     string
	delay  time.Duration
	spaces []string
	links  []*link

	gwMu    sync.Mutex
	gw      net.Listener
	gwConns map[net.Conn]bool
	gwDone  sync.WaitGroup
}

// link is the pair of TUN devices between a party and the coordinator and
// the two delay lines that copy packets between them.
type link struct {
	party, coord *os.File
	wg           sync.WaitGroup
	drops        atomic.Int64
}

// checkNetNS says why namespaces cannot be used here, if they cannot.
func checkNetNS() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (uid %d)", ErrNetNSUnavailable, os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: no ip command (Debian iproute2): %v", ErrNetNSUnavailable, err)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("%w: no TUN device: %v", ErrNetNSUnavailable, err)
	}
	return nil
}

// newNetwork creates the namespaces of the coordinator, the querier and
// nodes, and the links between them.
func newNetwork(ctx context.Context, cfg *Network, nodes []string) (_ *network, err error) {
	if err := checkNetNS(); err != nil {
		return nil, err
	}
	if len(nodes) > 253 {
		return nil, fmt.Errorf("cluster: at most 253 nodes in namespaces, got %d", len(nodes))
	}
	removeStaleNamespaces()
	n := &network{
		id:    fmt.Sprintf("%s%d-%s-", netnsPrefix, os.Getpid(), randomID(3)),
		delay: cfg.Delay, gwConns: map[net.Conn]bool{},
	}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	parties := append([]string{"coordinator", querierParty}, nodes...)
	for _, p := range parties {
		ns := n.namespace(p)
		if err := runIP(ctx, nil, "netns", "add", ns); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNetNSUnavailable, err)
		}
		n.spaces = append(n.spaces, ns)
	}
	coordNS := n.namespace("coordinator")
	coordCmds := []string{"link set lo up"}
	for i, p := range parties[1:] {
		k := i + 1
		party, coord := fmt.Sprintf("198.18.%d.2", k), fmt.Sprintf("198.18.%d.1", k)
		l := &link{}
		n.links = append(n.links, l)
		if l.party, err = openTUN(n.namespace(p), "fs0"); err != nil {
			return nil, err
		}
		dev := "fs" + strconv.Itoa(k)
		if l.coord, err = openTUN(coordNS, dev); err != nil {
			return nil, err
		}
		script := fmt.Sprintf("link set lo up\naddr add %s peer %s dev fs0\nlink set fs0 up\n", party, coord)
		if err := runIP(ctx, strings.NewReader(script), "-n", n.namespace(p), "-batch", "-"); err != nil {
			return nil, err
		}
		coordCmds = append(coordCmds, fmt.Sprintf("addr add %s peer %s dev %s", coord, party, dev), "link set "+dev+" up")
		l.wg.Add(2)
		go l.carry(l.party, l.coord, n.delay)
		go l.carry(l.coord, l.party, n.delay)
	}
	if err := runIP(ctx, strings.NewReader(strings.Join(coordCmds, "\n")+"\n"), "-n", coordNS, "-batch", "-"); err != nil {
		return nil, err
	}
	return n, nil
}

// querierParty names the querier's namespace.
const querierParty = "querier"

// namespace is the name of a party's namespace.
func (n *network) namespace(party string) string { return n.id + party }

// coordinatorAddr is the coordinator's address as party k sees it.
func (n *network) coordinatorAddr(party int) string {
	return net.JoinHostPort(fmt.Sprintf("198.18.%d.1", party), strconv.Itoa(coordinatorPort))
}

// carry copies packets from one device of a link to the other, each one
// Delay after it was read.
func (l *link) carry(from, to *os.File, delay time.Duration) {
	defer l.wg.Done()
	type packet struct {
		due time.Time
		b   []byte
	}
	q := make(chan packet, queueLen)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range q {
			time.Sleep(time.Until(p.due))
			to.Write(p.b) // a packet lost on a closing link is lost
		}
	}()
	buf := make([]byte, 65536)
	for {
		n, err := from.Read(buf)
		if err != nil {
			break
		}
		select {
		case q <- packet{time.Now().Add(delay), slices.Clone(buf[:n])}:
		default:
			l.drops.Add(1)
		}
	}
	close(q)
	<-done
}

func (l *link) close() {
	for _, f := range []*os.File{l.party, l.coord} {
		if f != nil {
			f.Close()
		}
	}
	l.wg.Wait()
}

// gateway returns a loopback address in this process's namespace whose
// connections are made from the querier's namespace to the coordinator,
// so that an in-process querier crosses the querier's link like any party.
func (n *network) gateway() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	n.gw = lis
	target := n.coordinatorAddr(1)
	ns := n.namespace(querierParty)
	n.gwDone.Add(1)
	go func() {
		defer n.gwDone.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			n.gwDone.Add(1)
			go func() {
				defer n.gwDone.Done()
				n.relay(c, ns, target)
			}()
		}
	}()
	return lis.Addr().String(), nil
}

// relay joins a gateway connection to a connection to target made in ns.
func (n *network) relay(c net.Conn, ns, target string) {
	var up net.Conn
	err := inNetNS(ns, func() error {
		var err error
		up, err = net.DialTimeout("tcp", target, 10*time.Second)
		return err
	})
	if err != nil {
		c.Close()
		return
	}
	n.gwMu.Lock()
	n.gwConns[c], n.gwConns[up] = true, true
	n.gwMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range [][2]net.Conn{{up, c}, {c, up}} {
		wg.Go(func() {
			io.Copy(p[0], p[1])
			p[0].(*net.TCPConn).CloseWrite()
		})
	}
	wg.Wait()
	c.Close()
	up.Close()
	n.gwMu.Lock()
	delete(n.gwConns, c)
	delete(n.gwConns, up)
	n.gwMu.Unlock()
}

// close removes everything newNetwork made. The parties' processes must
// have exited: a namespace lives on while a process runs in it.
func (n *network) close() error {
	if n.gw != nil {
		n.gw.Close()
		n.gwMu.Lock()
		for c := range n.gwConns {
			c.Close()
		}
		n.gwMu.Unlock()
		n.gwDone.Wait()
	}
	for _, l := range n.links {
		l.close()
	}
	var errs []error
	for _, ns := range n.spaces {
		if err := runIP(context.Background(), nil, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	n.spaces = nil
	return errors.Join(errs...)
}

// drops counts the packets the links dropped from full queues.
func (n *network) drops() int64 {
	var d int64
	for _, l := range n.links {
		d += l.drops.Load()
	}
	return d
}

// removeStaleNamespaces deletes the namespaces of launcher processes that
// died without removing theirs (killed by a test timeout, say).
func removeStaleNamespaces() {
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		runIP(context.Background(), nil, "netns", "del", e.Name())
	}
}

// openTUN creates a point-to-point TUN device (IP packets, no header) in
// namespace ns. The device lives in ns; its file works from anywhere.
func openTUN(ns, name string) (*os.File, error) {
	var f *os.File
	err := inNetNS(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: TUN device %s in %s: %w", name, ns, err)
	}
	return f, nil
}

// inNetNS runs fn on an OS thread of its own that has entered namespace
// ns. Sockets and devices fn creates stay in ns. If the thread cannot
// return to its namespace it is discarded with its goroutine.
func inNetNS(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// runIP runs the ip command.
func runIP(ctx context.Context, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
