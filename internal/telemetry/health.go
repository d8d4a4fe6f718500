package telemetry

import (
	"errors"
	"log/slog"
	"sync"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The health services every server reports besides its own service name.
const (
	// LivenessService is SERVING whenever the process runs.
	LivenessService = "liveness"
	// ReadinessService, like the overall service "", is SERVING when the
	// server can do its work.
	ReadinessService = "readiness"
)

// errStarting is a server's readiness before its owner first reports it.
var errStarting = errors.New("starting")

// Health holds a server's health states in the standard health service.
// Its owner calls Set whenever its readiness may have changed; Set takes
// only Health's own lock, so it may be called with the owner's held.
type Health struct {
	srv     *health.Server
	service string
	log     *slog.Logger

	mu   sync.Mutex
	last error
	set  bool
}

// NewHealth returns a health service for a server whose own gRPC service
// is named service (e.g. "fedscore.v1.Coordinator"), not ready until the
// first Set.
func NewHealth(service string, log *slog.Logger) *Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Health{srv: health.NewServer(), service: service, log: log, last: errStarting}
	h.srv.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	h.apply(healthpb.HealthCheckResponse_NOT_SERVING)
	return h
}

// Service is the health service to register on gRPC servers; one Health
// may be registered on several.
func (h *Health) Service() healthpb.HealthServer { return h.srv }

// Set reports the server's readiness: nil for ready, or why not. A
// change is logged.
func (h *Health) Set(notReady error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := !h.set || (h.last == nil) != (notReady == nil)
	h.last, h.set = notReady, true
	if !changed {
		return
	}
	if notReady == nil {
		h.apply(healthpb.HealthCheckResponse_SERVING)
		h.log.Info("ready: serving")
		return
	}
	h.apply(healthpb.HealthCheckResponse_NOT_SERVING)
	h.log.Info("not ready", "reason", notReady.Error())
}

func (h *Health) apply(st healthpb.HealthCheckResponse_ServingStatus) {
	for _, s := range []string{"", ReadinessService, h.service} {
		h.srv.SetServingStatus(s, st)
	}
}

// Ready returns nil if the server is ready, or why not.
func (h *Health) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Shutdown reports every service, liveness too, NOT_SERVING for good: the
// process is stopping.
func (h *Health) Shutdown() { h.srv.Shutdown() }
