// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"

	"github.com/podtrail/podtrail/internal/noderuntime"
)

// orphans holds node events that name only a sandbox or container id not
// known yet ("StartContainer for <id>" before the line that tied <id> to its
// pod), bounded FIFO. They are replayed when a pod learns the id.
type orphans struct {
	max   int
	n     int
	byID  map[string][]*noderuntime.Event
	order []string
}

func newOrphans(max int) *orphans { return &orphans{max: max, byID: map[string][]*noderuntime.Event{}} }

func (o *orphans) add(ev *noderuntime.Event) {
	// A copy whose strings are copies: an event's are pieces of its line.
	cp := *ev
	cp.Line = ""
	for _, p := range []*string{&cp.Level, &cp.RuntimeVersion, &cp.CRIAPI, &cp.Node, &cp.PodNamespace, &cp.PodName, &cp.PodUID,
		&cp.PodSource, &cp.SandboxID, &cp.ContainerID, &cp.ContainerName, &cp.Image, &cp.ImageID, &cp.RepoDigest, &cp.RequestID, &cp.Error, &cp.Reason} {
		*p = strings.Clone(*p)
	}
	id := cp.ContainerID
	if id == "" {
		id = cp.SandboxID
	}
	o.byID[id] = append(o.byID[id], &cp)
	o.order = append(o.order, id)
	o.n++
	if len(o.order) > 2*o.max+64 {
		live := o.order[:0]
		for _, id := range o.order {
			if len(o.byID[id]) > 0 {
				live = append(live, id)
			}
		}
		o.order = append([]string(nil), live...)
	}
	for o.n > o.max && len(o.order) > 0 {
		old := o.order[0]
		o.order = o.order[1:]
		if evs := o.byID[old]; len(evs) > 0 {
			o.n--
			if len(evs) == 1 {
				delete(o.byID, old)
			} else {
				o.byID[old] = evs[1:]
			}
		}
	}
}

// take returns and forgets the events waiting for id.
func (o *orphans) take(id string) []*noderuntime.Event {
	evs := o.byID[id]
	if len(evs) == 0 {
		return nil
	}
	delete(o.byID, id)
	o.n -= len(evs)
	return evs
}
