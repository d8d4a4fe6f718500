//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import "os"

// lockFile is a no-op where flock(2) is unavailable; callers must then not
// open one log twice.
func lockFile(*os.File) error { return nil }
