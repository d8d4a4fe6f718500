package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedscore/fedscore/internal/telemetry"
	"github.com/fedscore/fedscore/keystore"
	pb "github.com/fedscore/fedscore/proto/fedscorev1"
)

// healthInterval is how often a node re-evaluates its readiness, which
// depends on time (a bundle expires), and looks for a changed policy
// bundle to report to the coordinator.
const healthInterval = 5 * time.Second

// Health is the node's health service, SERVING when the node is ready
// (see readiness); the telemetry listener serves it.
func (n *Node) Health() *telemetry.Health { return n.health }

// readiness says why the node cannot answer queries now, or returns nil:
// it can when it is attached to the coordinator, holds the epoch the
// coordinator last told it is current (EpochNotice) with its secret-key
// share in its keystore, and its policy bundle has not expired.
func (n *Node) readiness() error {
	n.mu.Lock()
	attached, notice, epoch, share := n.current != nil, n.notice, n.epoch, n.sharePresent
	n.mu.Unlock()
	switch {
	case !attached:
		return fmt.Errorf("not attached to the coordinator at %s", n.cfg.Coordinator)
	case notice == nil:
		return errors.New("attached; waiting for the coordinator's current epoch")
	case notice.Epoch == "":
		return errors.New("the federation has no collective key yet")
	case epoch == nil:
		return fmt.Errorf("the coordinator is at epoch %s; this node holds none yet", notice.Epoch)
	case epoch.ID != notice.Epoch || !bytes.Equal(epoch.PublicKeyDigest, notice.PublicKeyDigest):
		return fmt.Errorf("this node holds epoch %s, the coordinator is at %s", epoch.ID, notice.Epoch)
	case !share:
		return fmt.Errorf("the keystore holds no secret-key share of epoch %s", epoch.ID)
	}
	if b := n.cfg.Policy.Active(); b.Expired(time.Now()) {
		return fmt.Errorf("the policy bundle %s expired at %s", b.Revision, b.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

func (n *Node) updateHealth() { n.health.Set(n.readiness()) }

// watchHealth re-evaluates the node's readiness every healthInterval and
// tells the coordinator of a new policy bundle, until ctx ends.
func (n *Node) watchHealth(ctx context.Context) {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		n.updateHealth()
		n.reportStatus()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noticed records the coordinator's current epoch.
func (n *Node) noticed(e *pb.EpochNotice) {
	n.mu.Lock()
	n.notice = e
	n.mu.Unlock()
	n.updateHealth()
}

// attached records the session the node runs, or nil when it ended.
func (n *Node) attached(s *session) {
	n.mu.Lock()
	n.current = s
	if s == nil {
		n.notice = nil
	}
	n.mu.Unlock()
	n.updateHealth()
}

// selfStatus is what the node reports of itself; it checks the keystore
// for its share of the epoch it holds.
func (n *Node) selfStatus(ctx context.Context) *pb.NodeStatus {
	n.mu.Lock()
	epoch := n.epoch
	n.mu.Unlock()
	share := false
	if epoch != nil {
		name := secretName(epoch.ID)
		if epoch.Threshold > 0 {
			name = thresholdName(epoch.ID)
		}
		_, err := n.cfg.Keys.Get(ctx, name)
		share = err == nil
		if err != nil && !errors.Is(err, keystore.ErrNotFound) {
			n.log.Error("keystore: cannot read the epoch's share", "epoch", epoch.ID, "err", err)
		}
	}
	b := n.cfg.Policy.Active()
	st := &pb.NodeStatus{BundleRevision: b.Revision, BundleSequence: b.Sequence, SharePresent: share}
	if !b.NotAfter.IsZero() {
		st.BundleExpiresUnixNanos = b.NotAfter.UnixNano()
	}
	n.mu.Lock()
	n.sharePresent, n.reported = share, st
	n.mu.Unlock()
	n.updateHealth()
	return st
}

// reportStatus sends the coordinator a NodeStatus when the policy bundle
// changed since the node last reported.
func (n *Node) reportStatus() {
	b := n.cfg.Policy.Active()
	n.mu.Lock()
	s, last := n.current, n.reported
	if s == nil || last == nil || (last.BundleRevision == b.Revision && last.BundleSequence == b.Sequence) {
		n.mu.Unlock()
		return
	}
	st := proto.Clone(last).(*pb.NodeStatus)
	st.BundleRevision, st.BundleSequence, st.BundleExpiresUnixNanos = b.Revision, b.Sequence, 0
	if !b.NotAfter.IsZero() {
		st.BundleExpiresUnixNanos = b.NotAfter.UnixNano()
	}
	n.reported = st
	n.mu.Unlock()
	if err := s.send(&pb.NodeMessage{Body: &pb.NodeMessage_NodeStatus{NodeStatus: st}}); err == nil {
		n.log.Info("reported the new policy bundle to the coordinator", "bundle_revision", b.Revision, "bundle_sequence", b.Sequence)
	}
}
