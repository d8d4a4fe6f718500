package telemetry

import (
	"fmt"
	"io"
	"log/slog"
)

// LogFormats are the formats NewLogger writes.
var LogFormats = []string{"text", "json"}

// NewLogger returns a structured logger writing records at level and
// above to w in format "text" (key=value pairs) or "json" (one object per
// line).
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
