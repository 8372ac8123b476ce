// SPDX-License-Identifier: Apache-2.0

//go:build unix

package correlate

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used (user and system): with
// -cpu 1 a benchmark's events per CPU-second are its throughput on one
// core, whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
