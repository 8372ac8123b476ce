// SPDX-License-Identifier: Apache-2.0

// Command show prints the pod-creation records and findings of an OTLP JSON
// file (as the file exporter writes it) one line each, findings indented
// under the record they belong to.
package main

import (
	"bufio"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: show FILE.json")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	var (
		order    []string              // audit IDs of records, in arrival order
		records  = map[string]string{} // audit ID -> record line
		findings = map[string][]string{}
		nRec     int
		nFind    int
		u        plog.JSONUnmarshaler
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		ld, err := u.UnmarshalLogs(sc.Bytes())
		if err != nil {
			fmt.Fprintln(os.Stderr, "skipping a line that is not OTLP JSON:", err)
			continue
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					id, _ := lr.Attributes().Get(attr.AuditID)
					switch lr.EventName() {
					case attr.EventPodCreation:
						nRec++
						order = append(order, id.Str())
						records[id.Str()] = lr.Body().Str()
					case attr.EventFinding:
						nFind++
						findings[id.Str()] = append(findings[id.Str()], lr.Body().Str())
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, id := range order {
		fmt.Println(records[id])
		for _, f := range findings[id] {
			fmt.Println("    └─", f)
		}
	}
	fmt.Printf("\n%d pod-creation records, %d findings\n", nRec, nFind)
}
