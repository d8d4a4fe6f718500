package privacy

import "time"

// MostSpent returns the most ε spent on purpose on now's UTC day by any
// one segment family: what is left of the purpose's daily limit for the
// segmentation closest to it.
func (l *Ledger) MostSpent(purpose string, now time.Time) float64 {
	day := now.UTC().Format(dayLayout)
	l.mu.Lock()
	defer l.mu.Unlock()
	most := 0.0
	for k, v := range l.spent {
		if k.day == day && k.purpose == purpose {
			most = max(most, v)
		}
	}
	return most
}
