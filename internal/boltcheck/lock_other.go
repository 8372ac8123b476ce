//go:build !unix

package boltcheck

import "os"

// lockShared: no advisory locks to honour here.
func lockShared(*os.File) (func(), error) { return func() {}, nil }
