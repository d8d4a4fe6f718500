package console

import (
	"encoding/json"
	"net/http"

	"google.golang.org/protobuf/encoding/protojson"
)

// handleStatus relays the coordinator's Status RPC as JSON with the proto
// field names, so that fields the RPC gains appear without a change here,
// together with this console's own recent queries.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Status == nil {
		writeError(w, http.StatusServiceUnavailable, "this console is not connected to a coordinator")
		return
	}
	st, err := s.cfg.Status(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, "coordinator status: "+err.Error())
		return
	}
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(st)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.mu.Lock()
	recent := []jobSummary{}
	for i := len(s.order) - 1; i >= 0 && len(recent) < 20; i-- {
		recent = append(recent, s.jobs[s.order[i]].summary())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": json.RawMessage(raw), "console_queries": recent})
}
