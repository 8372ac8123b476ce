// SPDX-License-Identifier: Apache-2.0

package correlate

import "github.com/podtrail/podtrail/internal/podrecord"

// fifo is a queue of entries read from head. An entry emitted while queued
// (done) stays until it reaches the head, where it is skipped: nothing is
// searched or removed from the middle.
type fifo struct {
	q    []*entry
	head int
}

func (f *fifo) push(e *entry) { f.q = append(f.q, e) }

// live returns the entries from the head on.
func (f *fifo) live() []*entry { return f.q[f.head:] }

// pop removes and returns the head, nil when empty.
func (f *fifo) pop() *entry {
	if f.head == len(f.q) {
		return nil
	}
	e := f.q[f.head]
	f.q[f.head] = nil
	f.head++
	return e
}

// popUndone pops until an entry not emitted yet, nil when none is left.
func (f *fifo) popUndone() *entry {
	for e := f.pop(); e != nil; e = f.pop() {
		if !e.done {
			return e
		}
	}
	return nil
}

// popDue pops the head when it is done or due (due(e) true for an entry
// not done); nil when the queue is empty or its head is not due.
func (f *fifo) popDue(due func(*entry) bool) *entry {
	if f.head == len(f.q) {
		return nil
	}
	if e := f.q[f.head]; !e.done && !due(e) {
		return nil
	}
	return f.pop()
}

// compact drops the popped slots once they are more than min and half the
// slice, so that the queue's memory follows its length.
func (f *fifo) compact(min int) {
	if f.head > min && f.head > len(f.q)/2 {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q = f.q[:n]
		f.head = 0
	}
}

// expire pops from q the entries due and emits them as partial (reason,
// see partialReason), unless take (nil: none) takes one elsewhere.
func (c *Correlator) expire(q *fifo, due func(*entry) bool, reason string, take func(*entry) bool, out []*podrecord.Record) []*podrecord.Record {
	for e := q.popDue(due); e != nil; e = q.popDue(due) {
		if e.done || take != nil && take(e) {
			continue
		}
		c.open(e)
		out = append(out, c.emit(e, c.partialReason(e, reason))...)
		c.settleSome()
	}
	return out
}
