// SPDX-License-Identifier: Apache-2.0

//go:build unix

package k8sauditreceiver

import "syscall"

// defaultMaxConnections is half the process's open-file limit (the
// collector keeps the other half for its files, storage and exporters).
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 4096
	}
	return int(min(rl.Cur/2, 1<<20))
}
