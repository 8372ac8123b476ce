// SPDX-License-Identifier: Apache-2.0

package correlate

import (
	"strings"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
)

// denials remembers recent forbidden pod creates by actor, so that an
// allowed create by the same actor soon after can say it followed them
// (Record.DeniedBefore). Bounded: at most perActor denials per actor (the
// newest), at most max actors (the least recently denied go first).
// Times are the requests' own, so a replayed log joins as a live one.
type denials struct {
	max, perActor int
	window        time.Duration
	byActor       map[string][]podrecord.Denial
	// order is the actors in the order of their denials, least recent
	// first, with repeats; queued counts each actor's places in it.
	order  []string
	queued map[string]int
}

func newDenials(max int, window time.Duration) *denials {
	return &denials{max: max, perActor: 5, window: window, byActor: map[string][]podrecord.Denial{}, queued: map[string]int{}}
}

func (d *denials) add(r *podrecord.Record) {
	if r.Actor.Username == "" || d.window <= 0 {
		return
	}
	// Copies: the record's strings may be pieces of its event's whole JSON.
	name := strings.Clone(r.Name)
	if name == "" && r.GenerateName != "" {
		name = r.GenerateName + "*"
	}
	actor := strings.Clone(r.Actor.Username)
	ds := append(d.byActor[actor], podrecord.Denial{AuditID: strings.Clone(r.AuditID), Namespace: strings.Clone(r.Namespace), Name: name,
		At: r.RequestedAt, Code: r.Code, Reason: strings.Clone(r.Reason)})
	if len(ds) > d.perActor {
		ds = ds[len(ds)-d.perActor:]
	}
	d.byActor[actor] = ds
	d.order = append(d.order, actor)
	d.queued[actor]++
	for len(d.byActor) > d.max {
		a := d.order[0]
		d.order = d.order[1:]
		if d.queued[a]--; d.queued[a] == 0 {
			delete(d.queued, a)
			delete(d.byActor, a) // its last denial was the least recent
		}
	}
	if len(d.order) > 2*d.max+16 {
		d.compact()
	}
}

// compact keeps each actor's last place in order only.
func (d *denials) compact() {
	kept := make([]string, 0, len(d.byActor))
	for _, a := range d.order {
		if d.queued[a]--; d.queued[a] == 0 {
			kept = append(kept, a)
		}
	}
	for _, a := range kept {
		d.queued[a] = 1
	}
	d.order = kept
}

// before returns the actor's denials within the window before at.
func (d *denials) before(actor string, at time.Time) []podrecord.Denial {
	var out []podrecord.Denial
	for _, x := range d.byActor[actor] {
		if !x.At.After(at) && at.Sub(x.At) <= d.window {
			out = append(out, x)
		}
	}
	return out
}
