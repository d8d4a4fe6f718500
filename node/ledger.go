package node

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
)

// ErrAlreadyShared reports a second request for a key-switch share of the
// same ciphertext. Answering it with fresh noise would leak key material.
var ErrAlreadyShared = errors.New("a key-switch share was already produced for this ciphertext")

// Ledger is the node's persistent record of every ciphertext it produced a
// key-switch share for. It is append-only and synced before a share leaves.
type Ledger struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

// OpenLedger opens (or creates) the ledger file at path.
func OpenLedger(path string) (*Ledger, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open share ledger: %w", err)
	}
	l := &Ledger{f: f, seen: map[string]bool{}}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		d := sc.Text()
		if _, err := hex.DecodeString(d); err != nil || len(d) != 64 {
			f.Close()
			return nil, fmt.Errorf("share ledger %s line %d: not a digest", path, line)
		}
		l.seen[d] = true
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("read share ledger: %w", err)
	}
	return l, nil
}

// Claim records the digests, all or none. It fails with ErrAlreadyShared if
// any was claimed before or is named twice; the record is on disk when
// Claim returns nil.
func (l *Ledger) Claim(digests ...[]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf []byte
	claimed := map[string]bool{}
	for _, d := range digests {
		h := hex.EncodeToString(d)
		if len(d) != 32 {
			return fmt.Errorf("share ledger: %d-byte digest", len(d))
		}
		// The same digest twice in one claim would be two shares of one
		// ciphertext just as surely as two claims.
		if l.seen[h] || claimed[h] {
			return fmt.Errorf("%w (digest %s)", ErrAlreadyShared, h[:16])
		}
		claimed[h] = true
		buf = append(buf, h...)
		buf = append(buf, '\n')
	}
	if _, err := l.f.Write(buf); err != nil {
		return fmt.Errorf("write share ledger: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync share ledger: %w", err)
	}
	for _, d := range digests {
		l.seen[hex.EncodeToString(d)] = true
	}
	return nil
}

// Len counts the digests claimed.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// Close closes the ledger file.
func (l *Ledger) Close() error { return l.f.Close() }
