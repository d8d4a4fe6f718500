package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fedscore/fedscore/internal/telemetry"
)

// opsFlags are the operability flags of the long-running commands:
// structured logs, and the plain-text listener for metrics and health.
type opsFlags struct {
	metricsListen *string
	allowRemote   *bool
	logFormat     *string
	logLevel      *string
}

func addOpsFlags(fs *flag.FlagSet) opsFlags {
	return opsFlags{
		metricsListen: fs.String("metrics-listen", "", "serve Prometheus metrics (/metrics) and the gRPC health service in plain text on this `address` (host:port, loopback unless --metrics-allow-remote); off when empty"),
		allowRemote:   fs.Bool("metrics-allow-remote", false, "allow --metrics-listen on a non-loopback address: the listener has no authentication (it exposes figures, never records or keys)"),
		logFormat:     fs.String("log-format", "text", "log `format`: text (key=value) or json (one object per line)"),
		logLevel:      fs.String("log-level", "info", "log `level`: debug (every query step), info, warn or error"),
	}
}

// logger returns the structured logger the flags ask for, writing to w.
func (o opsFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(*o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", *o.logLevel)
	}
	l, err := telemetry.NewLogger(w, *o.logFormat, level)
	if err != nil {
		return nil, fmt.Errorf("--log-format: %w", err)
	}
	return l, nil
}

// registry returns the registry a server's metrics go on, with the Go
// runtime's and the process's own, or nil when metrics are off.
func (o opsFlags) registry() *prometheus.Registry {
	if *o.metricsListen == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveMetrics opens the metrics listener, if the flags ask for one, and
// returns the function that serves it until ctx ends (nil when off).
func (o opsFlags) serveMetrics(reg *prometheus.Registry, health *telemetry.Health, log *slog.Logger) (func(context.Context) error, error) {
	if reg == nil {
		return nil, nil
	}
	l, err := telemetry.Listen(telemetry.ListenerConfig{
		Addr: *o.metricsListen, AllowRemote: *o.allowRemote, Registry: reg, Health: health, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	return l.Serve, nil
}
