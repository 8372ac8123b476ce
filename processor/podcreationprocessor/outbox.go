// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"sort"
	"time"

	"github.com/podtrail/podtrail/internal/podrecord"
	"github.com/podtrail/podtrail/internal/rules"
)

// The outbox holds the records the correlator emitted until the next
// consumer accepts them (design.md, "Delivery"). The correlator marks a pod
// emitted when it hands its record over; the record stays here until a
// delivery succeeds, so a refused batch loses nothing and a re-delivered
// event (a webhook retry, a file read again) makes no second record: its
// pod is a tombstone, its record waits here. Every field is guarded by the
// processor's mu; an item in flight belongs to the one goroutine delivering
// it, which alone touches its findings.

// Delivery bounds.
const (
	// maxSend is how many waiting records one delivery takes besides its
	// own (a batch the size of a whole outage is not sent at once).
	maxSend = 1000
	// minBackoff and maxBackoff bound the wait before waiting records are
	// tried again after a refusal.
	minBackoff = expireEvery
	maxBackoff = 10 * time.Second
)

// outItem is the records of one correlator call, delivered together.
type outItem struct {
	seq  uint64
	recs []*podrecord.Record
	// evaluated: the rules ran (findings) and the records were counted, by
	// the first delivery attempt.
	evaluated bool
	findings  [][]rules.Finding
}

type outbox struct {
	waiting  []*outItem // not in flight, by seq
	inflight map[uint64]*outItem
	next     uint64 // seq of the next item
	records  int    // in waiting and in flight
	backoff  time.Duration
	retryAt  time.Time // waiting records are not sent before
	// stored are the items written to the storage (q/<seq>), as of the
	// last state write.
	stored map[uint64]bool
}

func newOutbox() *outbox {
	return &outbox{inflight: map[uint64]*outItem{}, stored: map[uint64]bool{}}
}

// add makes an item of recs (nil for none), not yet waiting or in flight.
func (o *outbox) add(recs []*podrecord.Record) *outItem {
	if len(recs) == 0 {
		return nil
	}
	it := &outItem{seq: o.next, recs: recs}
	o.next++
	o.records += len(recs)
	return it
}

// wait puts items in the waiting list, in seq order.
func (o *outbox) wait(items ...*outItem) {
	for _, it := range items {
		if it != nil {
			o.waiting = append(o.waiting, it)
		}
	}
	sort.Slice(o.waiting, func(i, j int) bool { return o.waiting[i].seq < o.waiting[j].seq })
}

// take claims own (may be nil) and, when the backoff allows it (or always:
// force), the oldest waiting items up to maxSend records, for one delivery.
func (o *outbox) take(own *outItem, now time.Time, force bool) []*outItem {
	var items []*outItem
	if force || !now.Before(o.retryAt) {
		n, k := 0, 0
		for k < len(o.waiting) && (k == 0 || n+len(o.waiting[k].recs) <= maxSend) {
			n += len(o.waiting[k].recs)
			k++
		}
		items = append(items, o.waiting[:k]...)
		o.waiting = append(o.waiting[:0], o.waiting[k:]...)
	}
	if own != nil {
		items = append(items, own)
	}
	for _, it := range items {
		o.inflight[it.seq] = it
	}
	return items
}

// delivered settles items after a successful delivery.
func (o *outbox) delivered(items []*outItem) {
	for _, it := range items {
		delete(o.inflight, it.seq)
		o.records -= len(it.recs)
	}
	o.backoff, o.retryAt = 0, time.Time{}
}

// refused puts items back to wait, with a longer backoff.
func (o *outbox) refused(items []*outItem, now time.Time) {
	for _, it := range items {
		delete(o.inflight, it.seq)
	}
	o.wait(items...)
	o.backoff = min(max(2*o.backoff, minBackoff), maxBackoff)
	o.retryAt = now.Add(o.backoff)
}

// drop forgets items (delivered in part, or never deliverable) and returns
// how many records they held.
func (o *outbox) drop(items []*outItem) int {
	n := 0
	for _, it := range items {
		delete(o.inflight, it.seq)
		n += len(it.recs)
	}
	o.records -= n
	return n
}

// trim drops the oldest waiting items while more than max records wait
// (or are in flight) and returns how many records it dropped.
func (o *outbox) trim(max int) int {
	n := 0
	for o.records > max && len(o.waiting) > 0 {
		it := o.waiting[0]
		o.waiting = o.waiting[1:]
		o.records -= len(it.recs)
		n += len(it.recs)
	}
	return n
}

// live returns the items waiting and in flight.
func (o *outbox) live() map[uint64]*outItem {
	m := make(map[uint64]*outItem, len(o.waiting)+len(o.inflight))
	for _, it := range o.waiting {
		m[it.seq] = it
	}
	for seq, it := range o.inflight {
		m[seq] = it
	}
	return m
}
