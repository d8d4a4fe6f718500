package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ErrNotLoopback reports a metrics address beyond loopback that the
// operator did not allow.
var ErrNotLoopback = errors.New("telemetry: the metrics listener is plain text without authentication; listening beyond loopback needs an explicit allowance")

// CheckAddr checks a metrics listen address: host:port, whose host must be
// a loopback address or "localhost" unless allowRemote is set. An empty
// host (all interfaces) is not loopback.
func CheckAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("telemetry: metrics address %q: %w", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
}

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// Addr is the host:port to listen on; see CheckAddr.
	Addr        string
	AllowRemote bool
	// Registry is the server's own registry; its metrics are served on
	// /metrics.
	Registry *prometheus.Registry
	// Health is the server's health service.
	Health *Health
	Logger *slog.Logger
}

// Listener serves a server's metrics and health on one plain-text port.
type Listener struct {
	lis  net.Listener
	http *http.Server
	grpc *grpc.Server
	log  *slog.Logger
}

// Listen checks cfg and opens the listener; Serve serves it.
func Listen(cfg ListenerConfig) (*Listener, error) {
	if cfg.Registry == nil || cfg.Health == nil {
		return nil, errors.New("telemetry: a registry and a health service are required")
	}
	if err := CheckAddr(cfg.Addr, cfg.AllowRemote); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, cfg.Health.Service())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{Registry: cfg.Registry}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "SERVING") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := cfg.Health.Ready(); err != nil {
			http.Error(w, "NOT_SERVING: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "SERVING")
	})
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	l := &Listener{lis: lis, grpc: gs, log: cfg.Logger}
	l.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				gs.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		}),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return l, nil
}

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.lis.Addr() }

// Serve serves until ctx ends.
func (l *Listener) Serve(ctx context.Context) error {
	l.log.Info("metrics and health listening", "addr", l.lis.Addr().String())
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.http.Shutdown(sctx)
		l.grpc.Stop()
	})
	defer stop()
	err := l.http.Serve(l.lis)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
