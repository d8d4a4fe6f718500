package audit

import "time"

// Stats describes a log for monitoring.
type Stats struct {
	// Records counts the log's records, checkpoints included (the last
	// seq), and Bytes its size.
	Records uint64
	Bytes   int64
	// LastCheckpoint is the time of the last signed checkpoint; zero if
	// there is none.
	LastCheckpoint time.Time
}

// Stats describes the log now.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Records: l.seq, Bytes: l.size, LastCheckpoint: l.lastCheckpoint}
}
