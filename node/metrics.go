package node

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedscore/fedscore/audit"
	"github.com/fedscore/fedscore/internal/telemetry"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// How a node's part in a run of a query ends, as fedscore_node_queries_total
// labels it.
const (
	endShared    = "shared"    // it gave its key-switch share
	endComplete  = "complete"  // outside the active set, the run completed
	endRefused   = "refused"   // it refused a step
	endCancelled = "cancelled" // the coordinator cancelled the run
	endExpired   = "expired"   // the query expired before it completed
)

// stepBuckets span one step of a query at a node, from a signature check
// to a scan of millions of records.
var stepBuckets = prometheus.ExponentialBuckets(0.001, 3, 11)

// metrics are the node's Prometheus metrics, registered on the registry
// its owner passes in (Config.Metrics).
type metrics struct {
	steps      *prometheus.HistogramVec
	decisions  *prometheus.CounterVec
	refusals   *prometheus.CounterVec
	ended      *prometheus.CounterVec
	withheld   *prometheus.CounterVec
	spotChecks *prometheus.CounterVec
	bytes      *telemetry.MessageBytes
}

func newMetrics(reg prometheus.Registerer, n *Node) (*metrics, error) {
	m := &metrics{
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fedscore_node_step_duration_seconds",
			Help:    "Time this node spent on each step of a query it takes part in (query_task: admission, cohort, aggregation and encryption; spot_check: the check and the share).",
			Buckets: stepBuckets,
		}, []string{"step"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_node_decisions_total",
			Help: "Decisions appended to the audit log, by kind (admission, cohort, release, key_switch, ...) and result (allow, deny, error).",
		}, []string{"kind", "result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_node_refusals_total",
			Help: "Steps of queries this node refused, by reason code (ERROR for a failed check without a policy reason).",
		}, []string{"code"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_node_queries_total",
			Help: "Runs of queries this node took part in, by how its part ended: shared, complete, refused, cancelled, expired.",
		}, []string{"outcome"}),
		withheld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_node_release_withheld_cells_total",
			Help: "Cells this node's release gate withheld, by reason: primary (below the minimum cell size) or complementary.",
		}, []string{"reason"}),
		spotChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_node_spot_checks_total",
			Help: "Members' inputs spot-checked against their signed fingerprints, by outcome: match, or mismatch (FINGERPRINT_MISMATCH, with evidence kept).",
		}, []string{"outcome"}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	collectors := []prometheus.Collector{
		m.steps, m.decisions, m.refusals, m.ended, m.withheld, m.spotChecks,
		gauge("fedscore_node_attached", "1 while the node's stream to the coordinator is open, else 0.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return boolValue(n.current != nil)
		}),
		gauge("fedscore_node_ready", "1 when the node is ready (the health service's readiness), else 0.", func() float64 {
			return boolValue(n.health.Ready() == nil)
		}),
		gauge("fedscore_node_active_queries", "Runs of queries open at this node.", func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			return float64(len(n.queries))
		}),
		gauge("fedscore_node_share_ledger_entries", "Ciphertexts this node has given a decryption or key-switch share of.", func() float64 {
			return float64(n.ledger.Len())
		}),
		gauge("fedscore_node_audit_log_bytes", "Size of the audit log.", func() float64 { return float64(n.auditLog.Stats().Bytes) }),
		gauge("fedscore_node_audit_log_records", "Records of the audit log, checkpoints included.", func() float64 {
			return float64(n.auditLog.Stats().Records)
		}),
		gauge("fedscore_node_audit_last_checkpoint_timestamp_seconds", "Time of the audit log's last signed checkpoint (Unix time; 0 if none).", func() float64 {
			return unixSeconds(n.auditLog.Stats().LastCheckpoint)
		}),
		gauge("fedscore_node_policy_bundle_sequence", "Sequence of the active policy bundle.", func() float64 {
			return float64(n.cfg.Policy.Active().Sequence)
		}),
		gauge("fedscore_node_policy_bundle_expiry_timestamp_seconds", "When the active policy bundle expires (Unix time; 0 for one that does not).", func() float64 {
			return unixSeconds(n.cfg.Policy.Active().NotAfter)
		}),
		&privacyCollector{n: n},
	}
	var errs []error
	for _, c := range collectors {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, o := range []string{endShared, endComplete, endRefused, endCancelled, endExpired} {
		m.ended.WithLabelValues(o)
	}
	for _, s := range []string{"query_task", "receipt_set", "sum", "seeds", "fingerprints", "resend", "spot_check"} {
		m.steps.WithLabelValues(s)
	}
	for _, r := range []string{"primary", "complementary"} {
		m.withheld.WithLabelValues(r)
	}
	for _, o := range []string{"match", "mismatch"} {
		m.spotChecks.WithLabelValues(o)
	}
	var err error
	m.bytes, err = telemetry.NewMessageBytes(reg, "fedscore_node_message_bytes_total",
		"Bytes of gRPC messages (payload and gRPC framing) to and from the coordinator, by direction (in, out) and kind (oneof field, chunk/<blob kind>, or message type).")
	return m, err
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// stepLabel names a query step ("re-send") as the step histogram labels it.
func stepLabel(what string) string {
	return strings.NewReplacer(" ", "_", "-", "").Replace(what)
}

// refused counts a refusal by its reason codes.
func (m *metrics) refused(rf *pb.Refusal) {
	if len(rf.Reasons) == 0 {
		m.refusals.WithLabelValues("ERROR").Inc()
	}
	for _, r := range rf.Reasons {
		m.refusals.WithLabelValues(r.Code).Inc()
	}
}

// decided counts and logs a decision the node appended to its audit log:
// one line per decision of a query, with the query and the member, and
// never a record value or key material (the entry holds neither).
func (n *Node) decided(e audit.Entry) {
	n.metrics.decisions.WithLabelValues(string(e.Kind), string(e.Result)).Inc()
	attrs := []any{"query", e.QueryID, "kind", e.Kind, "result", e.Result, "decision", e.DecisionID, "bundle_revision", e.BundleRevision}
	if len(e.Reasons) > 0 {
		attrs = append(attrs, "reasons", e.Reasons)
	}
	for _, k := range []string{"phase", "run", "suppressed_cells", "member"} {
		if v, ok := e.Detail[k]; ok {
			attrs = append(attrs, k, v)
		}
	}
	n.log.Info("query decision", attrs...)
}

// privacyCollector reports, per purpose of the active bundle, the daily ε
// limit and what is left of it today for the most-spent segmentation.
type privacyCollector struct{ n *Node }

var (
	epsilonLimitDesc = prometheus.NewDesc("fedscore_node_privacy_epsilon_daily_limit",
		"The active bundle's daily differential-privacy budget (ε) of a purpose, per segmentation.", []string{"purpose"}, nil)
	epsilonRemainingDesc = prometheus.NewDesc("fedscore_node_privacy_epsilon_remaining",
		"What is left today (UTC) of a purpose's daily ε budget for its most-spent segmentation.", []string{"purpose"}, nil)
)

func (p *privacyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- epsilonLimitDesc
	ch <- epsilonRemainingDesc
}

func (p *privacyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	settings, err := p.n.cfg.Policy.PrivacySettings(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(epsilonRemainingDesc, err)
		return
	}
	now := time.Now()
	for _, s := range settings {
		ch <- prometheus.MustNewConstMetric(epsilonLimitDesc, prometheus.GaugeValue, s.DailyEpsilon, s.Purpose)
		left := max(0, s.DailyEpsilon-p.n.privacy.MostSpent(s.Purpose, now))
		ch <- prometheus.MustNewConstMetric(epsilonRemainingDesc, prometheus.GaugeValue, left, s.Purpose)
	}
}
