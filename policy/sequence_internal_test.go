package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeMark feeds arbitrary bytes to the high-water mark decoder: it
// must never panic, and a mark it accepts must survive a round trip.
func FuzzDecodeMark(f *testing.F) {
	valid, err := json.Marshal(markFile{Version: highWaterVersion, HighWaterMark: HighWaterMark{
		Sequence: 7, Digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Revision: "rev-7", Time: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
	}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(valid), "", "{}", `{"version":1}`, string(valid[:len(valid)/2]), string(valid) + string(valid)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMark(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(markFile{Version: highWaterVersion, HighWaterMark: m})
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeMark(again)
		if err != nil || m2.Sequence != m.Sequence || m2.Digest != m.Digest || m2.Revision != m.Revision || !m2.Time.Equal(m.Time) {
			t.Fatalf("round trip of %+v: %+v, %v", m, m2, err)
		}
	})
}
