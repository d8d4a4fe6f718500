package coordinator

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedscore/fedscore/internal/telemetry"
)

// Query outcomes, as metrics label them and Status reports them.
const (
	outcomeAnswered = "answered"
	outcomeRefused  = "refused"  // a member refused
	outcomeFailed   = "failed"   // a member left, or a check failed
	outcomeTimeout  = "timeout"  // the query's deadline passed
	outcomeRejected = "rejected" // refused by the coordinator before any member saw it
)

// phaseBuckets span a phase of a query, from milliseconds on loopback to
// minutes across continents.
var phaseBuckets = prometheus.ExponentialBuckets(0.005, 2.5, 12)

// metrics are the coordinator's Prometheus metrics, registered on the
// registry its owner passes in (Config.Metrics).
type metrics struct {
	queries        *prometheus.CounterVec
	refusals       *prometheus.CounterVec
	phases         *prometheus.HistogramVec
	withheld       prometheus.Counter
	reruns         prometheus.Counter
	keyGenerations *prometheus.CounterVec
	refusedClients *prometheus.CounterVec
	bytes          *telemetry.MessageBytes
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_coordinator_queries_total",
			Help: "Queries by outcome: answered, refused (by a member), failed, timeout, rejected (before any member saw it).",
		}, []string{"outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_coordinator_query_refusals_total",
			Help: "Members' refusals of queries, by reason code (ERROR for a failed check without a policy reason).",
		}, []string{"code"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fedscore_coordinator_query_phase_duration_seconds",
			Help:    "Duration of each phase of the completed runs of queries (counts, release_gate, inputs, key_switch, combine, total).",
			Buckets: phaseBuckets,
		}, []string{"phase"}),
		withheld: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedscore_coordinator_withheld_values_total",
			Help: "Values of answered queries that the members' release gates withheld.",
		}),
		reruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedscore_coordinator_query_reruns_total",
			Help: "Runs of queries started again from fresh encryptions after a member left (t-of-N epochs).",
		}),
		keyGenerations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_coordinator_key_generations_total",
			Help: "Collective key generations by outcome (ok, failed).",
		}, []string{"outcome"}),
		refusedClients: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_coordinator_refused_clients_total",
			Help: "Clients refused for their certificate: no_certificate, unknown_authority, expired, invalid_certificate, wrong_role, untrusted, not_tls, handshake.",
		}, []string{"reason"}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return f()
		}
	}
	collectors := []prometheus.Collector{
		m.queries, m.refusals, m.phases, m.withheld, m.reruns, m.keyGenerations, m.refusedClients,
		gauge("fedscore_coordinator_active_queries", "Queries running now.", locked(func() float64 { return float64(len(s.queries)) })),
		gauge("fedscore_coordinator_members", "Members configured.", func() float64 { return float64(len(s.cfg.Members)) }),
		gauge("fedscore_coordinator_attached_members", "Members attached now.", locked(func() float64 { return float64(len(s.nodes)) })),
		gauge("fedscore_coordinator_epoch_key_members", "Members attached now that hold the current epoch's key.",
			locked(func() float64 { return float64(len(s.participantsLocked())) })),
		gauge("fedscore_coordinator_serving", "1 when the coordinator admits queries (the health service's readiness), else 0.",
			locked(func() float64 { return boolValue(s.servingLocked() == nil) })),
		gauge("fedscore_coordinator_epoch_created_timestamp_seconds", "When the current epoch's key generation completed (Unix time; 0 without an epoch or for an epoch of an older coordinator).",
			locked(func() float64 {
				if s.epoch == nil || s.epoch.Created.IsZero() {
					return 0
				}
				return float64(s.epoch.Created.UnixNano()) / 1e9
			})),
	}
	var errs []error
	for _, c := range collectors {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, o := range []string{outcomeAnswered, outcomeRefused, outcomeFailed, outcomeTimeout, outcomeRejected} {
		m.queries.WithLabelValues(o)
	}
	for _, p := range []string{"counts", "release_gate", "inputs", "key_switch", "combine", "total"} {
		m.phases.WithLabelValues(p)
	}
	for _, o := range []string{"ok", "failed"} {
		m.keyGenerations.WithLabelValues(o)
	}
	m.refusedClients.WithLabelValues("no_certificate")
	var err error
	m.bytes, err = telemetry.NewMessageBytes(reg, "fedscore_coordinator_message_bytes_total",
		"Bytes of gRPC messages (payload and gRPC framing) by direction (in, out) and kind (oneof field, chunk/<blob kind>, or message type).")
	return m, err
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// phaseDone records a completed phase of a run: its histogram and one log
// line with the query and its members.
func (s *Server) phaseDone(r *queryRun, phase string, d time.Duration) {
	s.metrics.phases.WithLabelValues(phase).Observe(d.Seconds())
	s.log.Info("query phase done", "query", r.q.id, "run", r.run, "phase", phase,
		"ms", float64(d.Microseconds())/1000, "members", r.participants)
}
