//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package loadgen

import "time"

// processCPU is 0 where the load generator does not read its CPU time.
func processCPU() time.Duration { return 0 }
