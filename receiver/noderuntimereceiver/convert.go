// SPDX-License-Identifier: Apache-2.0

package noderuntimereceiver

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/nodeevent"
	"github.com/podtrail/podtrail/internal/noderuntime"
	"github.com/podtrail/podtrail/receiver/noderuntimereceiver/internal/metadata"
)

const (
	inputFile     = "file"
	inputJournald = "journald"
)

// nKinds is the number of kinds nodeevent knows; a batch counts its events
// by kind index, nKinds for a kind added to noderuntime later.
const nKinds = len(nodeevent.Kinds)

func kindIndex(k noderuntime.Kind) int {
	for i, kk := range nodeevent.Kinds {
		if kk == k {
			return i
		}
	}
	return nKinds // a kind added to noderuntime later
}

// newLogs starts a plog.Logs for one batch of events from input.
func newLogs(input string) (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().Attributes().PutStr(attr.NodeInput, input)
	return ld, sl.LogRecords()
}

func now() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }
