// SPDX-License-Identifier: Apache-2.0

package registrytest

import (
	"io"
	"log"
)

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }
