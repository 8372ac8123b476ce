// SPDX-License-Identifier: Apache-2.0

// Command sleeper is the one program of every image the end-to-end test runs:
// the pod sandbox's pause container and the workloads' containers. Static,
// no libc, so an image is this file alone.
//
//	sleeper            wait for SIGTERM or SIGINT, then exit 0
//	sleeper SECONDS    exit 0 after SECONDS (a Job's pod), or at a signal
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var done <-chan time.Time
	if len(os.Args) > 1 {
		s, err := strconv.ParseFloat(os.Args[len(os.Args)-1], 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sleeper: want seconds:", err)
			os.Exit(2)
		}
		done = time.After(time.Duration(s * float64(time.Second)))
	}
	fmt.Println("sleeper: running as", os.Args[0])
	select {
	case s := <-sig:
		fmt.Println("sleeper: got", s)
	case <-done:
		fmt.Println("sleeper: done")
	}
}
