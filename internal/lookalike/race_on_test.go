// SPDX-License-Identifier: Apache-2.0

//go:build race

package lookalike

// raceEnabled: the race detector allocates, and sync.Pool drops items at
// random under it, so allocation counts mean nothing.
const raceEnabled = true
