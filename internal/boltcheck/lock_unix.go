// SPDX-License-Identifier: Apache-2.0

//go:build unix

package boltcheck

import (
	"errors"
	"os"
	"syscall"
)

// lockShared takes a shared lock as bbolt's read-only open does; a writer
// (bbolt holds an exclusive lock while open for writing) makes it fail with
// ErrLocked instead of waiting.
func lockShared(f *os.File) (func(), error) {
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, err
	}
	return func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }, nil
}
