//go:build !unix

package bench

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// lifetimePeakRSS is not measured on this platform.
func lifetimePeakRSS() uint64 { return 0 }
