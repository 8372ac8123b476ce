// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/podtrail/podtrail/internal/lookalike"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// SuppressionConfig collapses repeated findings: the same rule for the same
// actor and the same owner (or, for pods without one, the same namespace)
// within Window is one finding with a count. A crash-looping DaemonSet, a
// Job retried every minute or a busy CI pipeline then sends the SIEM two
// findings a window, not one per pod.
type SuppressionConfig struct {
	// Window is how long after a finding goes out the same rule for the
	// same actor and owner is counted instead of sent. 0: off.
	Window time.Duration
	// MaxKeys bounds the (rule, actor, owner) keys remembered; when full,
	// the oldest key's window ends early (its summary goes out). 0 means
	// DefaultSuppressionKeys.
	MaxKeys int
	// ActorKinds are the kinds of actor (podrecord: controller,
	// service_account, node, system, user) whose findings are collapsed.
	// Nil means DefaultSuppressedActorKinds: machines repeat, a person's
	// every create is reported. Records without an actor (pods a node ran
	// without an API create) are never collapsed.
	ActorKinds []string
}

// DefaultSuppressionKeys is SuppressionConfig.MaxKeys when 0.
const DefaultSuppressionKeys = 10000

// DefaultSuppressedActorKinds are the actor kinds whose findings are
// collapsed when SuppressionConfig.ActorKinds is nil.
var DefaultSuppressedActorKinds = []string{podrecord.ActorController, podrecord.ActorServiceAccount,
	podrecord.ActorNode, podrecord.ActorSystem}

var actorKinds = []string{podrecord.ActorUser, podrecord.ActorServiceAccount, podrecord.ActorController,
	podrecord.ActorNode, podrecord.ActorSystem}

// Validate checks the configuration.
func (c SuppressionConfig) Validate() error {
	var errs []error
	if c.Window < 0 {
		errs = append(errs, errors.New("window must not be negative (0 turns suppression off)"))
	}
	if c.MaxKeys < 0 {
		errs = append(errs, errors.New("max_keys must not be negative"))
	}
	for _, k := range c.ActorKinds {
		if !slices.Contains(actorKinds, k) {
			errs = append(errs, fmt.Errorf("actor_kinds: %q is not one of %s", k, strings.Join(actorKinds, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Suppressor collapses repeated findings (SuppressionConfig). The first
// finding of a key goes out at once; the next ones within the window are
// counted and kept back; when the window ends, one summary finding goes out
// with the last of them (its record and output) and Count, how many were
// kept back. A key with nothing kept back ends without a summary. Safe for
// concurrent use; memory is bounded by MaxKeys (each key holds the last
// record it kept back).
type Suppressor struct {
	cfg   SuppressionConfig
	kinds []string

	mu      sync.Mutex
	keys    map[suppressKey]*suppressed
	queue   []*suppressed // by window start, which is by deadline
	head    int
	pending []Summary // windows ended early (evicted), for Due
	stats   SuppressionStats
}

type suppressKey struct{ rule, actor, namespace, owner string }

type suppressed struct {
	key      suppressKey
	start    time.Time
	deadline time.Time
	count    int
	last     time.Time
	rec      *podrecord.Record
	finding  Finding
	done     bool // removed from keys (evicted or ended)
}

// Summary is a finding that stands for Finding.Count findings of one key,
// kept back in the window Finding.Since–Finding.Until; Record is the last
// of them.
type Summary struct {
	Record  *podrecord.Record
	Finding Finding
}

// SuppressionStats are a Suppressor's counters.
type SuppressionStats struct {
	Suppressed uint64 // findings kept back, counted into summaries
	Summaries  uint64 // summaries made
	Evicted    uint64 // windows ended early because MaxKeys keys were held
	Dropped    uint64 // summaries dropped: more than MaxKeys waited after refused deliveries
	Keys       int    // keys held now
}

// NewSuppressor returns a Suppressor; with Window 0 it passes every
// finding through.
func NewSuppressor(cfg SuppressionConfig) *Suppressor {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultSuppressionKeys
	}
	kinds := cfg.ActorKinds
	if kinds == nil {
		kinds = DefaultSuppressedActorKinds
	}
	return &Suppressor{cfg: cfg, kinds: kinds, keys: map[suppressKey]*suppressed{}}
}

// Window is the configured window (0: off).
func (s *Suppressor) Window() time.Duration { return s.cfg.Window }

// ownerKey names what a pod belongs to for suppression: the top of its
// owner chain (Deployment, CronJob), else its owner with the controller's
// suffix cut (a ReplicaSet's template hash, a Job's schedule time), so that
// a rollout or the next run of a CronJob is the same key; "" for a pod
// without an owner (the key is then its namespace).
func ownerKey(r *podrecord.Record) string {
	if n := len(r.Chain); n > 0 {
		return r.Chain[n-1]
	}
	switch r.Owner.Kind {
	case "":
		return ""
	case "ReplicaSet", "Job":
		return r.Owner.Kind + "/" + lookalike.BaseName(r.Owner.Name)
	}
	return r.Owner.Kind + "/" + r.Owner.Name
}

// Filter returns the findings of r, made at now, that go out now: those
// not subject to suppression and the first of each key in its window. The
// others are counted for the key's summary (Due). fs is reused.
func (s *Suppressor) Filter(r *podrecord.Record, fs []Finding, now time.Time) []Finding {
	if s == nil || s.cfg.Window <= 0 || len(fs) == 0 || !slices.Contains(s.kinds, r.Actor.Kind) {
		return fs
	}
	owner := ownerKey(r)
	out := fs[:0]
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fs {
		k := suppressKey{rule: f.RuleID, actor: r.Actor.Username, namespace: r.Namespace, owner: owner}
		e := s.keys[k]
		if e != nil && !now.Before(e.deadline) {
			s.end(e) // its window is over: this finding opens the next one
			e = nil
		}
		if e == nil {
			s.open(k, now)
			out = append(out, f)
			continue
		}
		e.count++
		e.last, e.rec, e.finding = now, r, f
		s.stats.Suppressed++
	}
	return out
}

// open starts a window for k, ending the oldest when MaxKeys are held.
func (s *Suppressor) open(k suppressKey, now time.Time) {
	for len(s.keys) >= s.cfg.MaxKeys {
		e := s.queue[s.head]
		s.dequeue()
		if e.done {
			continue
		}
		s.stats.Evicted++
		s.end(e)
	}
	k = suppressKey{strings.Clone(k.rule), strings.Clone(k.actor), strings.Clone(k.namespace), strings.Clone(k.owner)}
	e := &suppressed{key: k, start: now, deadline: now.Add(s.cfg.Window)}
	s.keys[k] = e
	s.queue = append(s.queue, e)
}

func (s *Suppressor) dequeue() {
	s.queue[s.head] = nil
	s.head++
	if s.head > 1024 && s.head*2 > len(s.queue) {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
}

// end closes e's window: its summary, if it kept anything back, is
// pending.
func (s *Suppressor) end(e *suppressed) {
	if e.done {
		return
	}
	e.done = true
	delete(s.keys, e.key)
	if e.count == 0 {
		return
	}
	f := e.finding
	f.Count, f.Since, f.Until = e.count, e.start, e.last
	s.pending = append(s.pending, Summary{Record: e.rec, Finding: f})
	s.stats.Summaries++
	e.rec = nil
}

// Due returns the summaries of the windows that ended by now (and of those
// ended early), oldest first.
func (s *Suppressor) Due(now time.Time) []Summary {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.head < len(s.queue) {
		e := s.queue[s.head]
		if !e.done && now.Before(e.deadline) {
			break
		}
		s.dequeue()
		s.end(e)
	}
	out := s.pending
	s.pending = nil
	return out
}

// Requeue puts summaries a delivery refused back for the next Due, keeping
// at most MaxKeys waiting (the oldest are dropped).
func (s *Suppressor) Requeue(sums []Summary) {
	if s == nil || len(sums) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(sums, s.pending...)
	if n := len(s.pending) - s.cfg.MaxKeys; n > 0 {
		s.pending = append(s.pending[:0], s.pending[n:]...)
		s.stats.Dropped += uint64(n)
	}
}

// Flush ends every window now (at shutdown) and returns the summaries.
func (s *Suppressor) Flush() []Summary {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	for s.head < len(s.queue) {
		e := s.queue[s.head]
		s.dequeue()
		s.end(e)
	}
	s.mu.Unlock()
	return s.Due(time.Time{})
}

// Stats returns the counters.
func (s *Suppressor) Stats() SuppressionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Keys = len(s.keys)
	return st
}
