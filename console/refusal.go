package console

import (
	"regexp"
	"strings"
)

// refusal is a partner's refusal of a query, recovered from the
// coordinator's error, which carries the node's reasons as text
// (coordinator.RefusalError).
type refusal struct {
	Node    string   `json:"node"`
	Reasons []reason `json:"reasons"`
	Error   string   `json:"error,omitempty"`
}

type reason struct {
	Code    string `json:"code"`
	Article string `json:"article,omitempty"`
	Message string `json:"message,omitempty"`
}

var (
	refusedPattern = regexp.MustCompile(`node (\S+) refused`)
	reasonStart    = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,}( \(|: |$)`)
)

// parseRefusal reads "node N refused; CODE (ARTICLE): message; ..." or
// "node N refused: error" out of an error message; nil if it is not a
// refusal.
func parseRefusal(msg string) *refusal {
	loc := refusedPattern.FindStringSubmatchIndex(msg)
	if loc == nil {
		return nil
	}
	rf := &refusal{Node: msg[loc[2]:loc[3]], Reasons: []reason{}}
	rest := msg[loc[1]:]
	if e, ok := strings.CutPrefix(rest, ": "); ok {
		rf.Error = e
		return rf
	}
	rest = strings.TrimPrefix(rest, "; ")
	var parts []string
	for _, seg := range strings.Split(rest, "; ") {
		if len(parts) > 0 && !reasonStart.MatchString(seg) {
			parts[len(parts)-1] += "; " + seg
			continue
		}
		parts = append(parts, seg)
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		var r reason
		code, tail, _ := strings.Cut(p, " ")
		if strings.HasSuffix(code, ":") {
			r.Code, r.Message = strings.TrimSuffix(code, ":"), tail
		} else {
			r.Code = code
			if art, ok := strings.CutPrefix(tail, "("); ok {
				if i := strings.Index(art, "): "); i >= 0 {
					r.Article, r.Message = art[:i], art[i+3:]
				} else {
					r.Article = strings.TrimSuffix(art, ")")
				}
			}
		}
		rf.Reasons = append(rf.Reasons, r)
	}
	return rf
}
