package overlap

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/fedscore/fedscore/psi"
	"github.com/fedscore/fedscore/psi/ident"
	"github.com/fedscore/fedscore/psi/wire"
)

// SessionInput is what a signed overlap query's session is derived from.
type SessionInput struct {
	QueryID string
	// Digest is the SHA-256 of the signed query envelope.
	Digest []byte
	Run    uint32
	// Federation is the federation's trust domain.
	Federation string
}

// Session returns the psi.Config of one run of the query: every party and
// the relay derive the same one from the signed query, so none can be
// handed another. The session id binds the query digest and the run, the
// hash domain the federation, the query and the identifier kind; the
// release is private to the comparer, which seals it for the querier.
func (s *Spec) Session(in SessionInput) (psi.Config, error) {
	kind, err := ident.ParseKind(s.Identifier.Kind)
	if err != nil {
		return psi.Config{}, err
	}
	h := sha256.New()
	h.Write([]byte("fedscore/overlap/session/v1"))
	h.Write(in.Digest)
	h.Write(binary.BigEndian.AppendUint32(nil, in.Run))
	var id wire.SessionID
	copy(id[:], h.Sum(nil))
	cfg := psi.Config{
		Session:        id,
		Domain:         ident.Domain{Federation: in.Federation, Query: in.QueryID, Kind: kind},
		Parties:        len(s.Partners),
		GroupBy:        s.GroupByParty(),
		PrivateRelease: true,
	}
	if cfg.GroupBy >= 0 {
		cfg.Segments = s.Segments()
	}
	if s.Epsilon > 0 {
		cfg.DP = &psi.DP{Epsilon: s.Epsilon, Delta: s.Delta}
	}
	if _, err := psi.NewRelay(cfg); err != nil {
		return cfg, fmt.Errorf("overlap session: %w", err)
	}
	return cfg, nil
}
