// SPDX-License-Identifier: Apache-2.0

package podcreationprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/podtrail/podtrail/internal/correlate"
	"github.com/podtrail/podtrail/internal/podrecord"
)

// Keys the processor writes beside the correlator's (p/, pi/, o/, oi/; see
// internal/correlate/state.go).
const (
	// stateVersionKey holds the layout version of the state. A state
	// without it was written before versions (the same layout as 1).
	stateVersionKey = "version"
	stateVersion    = "1"
	// outboxKey lists the seqs of the records waiting for delivery;
	// outboxPrefix+seq holds one item's records (JSON list).
	outboxKey    = "qi"
	outboxPrefix = "q/"
)

// guarded runs f with memory faults turned into panics (a storage
// extension that maps a damaged file, as bbolt does, faults on this
// goroutine) and a panic into an error.
func guarded(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage fault: %v", r)
		}
	}()
	return f()
}

// restore reads the state back at start. A state it cannot use (of an
// unknown version, unreadable, or a storage fault) is discarded: logged,
// counted, deleted, and the processor starts empty.
func (p *podCreationProcessor) restore(ctx context.Context) {
	get := func(k string) ([]byte, error) {
		var v []byte
		err := guarded(func() (err error) { v, err = p.client.Get(ctx, k); return err })
		return v, err
	}
	ver, err := get(stateVersionKey)
	switch {
	case err != nil:
		p.discard(ctx, "unreadable", err)
		return
	case ver != nil && string(ver) != stateVersion:
		p.discard(ctx, "unknown_version", fmt.Errorf("state version %.40q, this podtrail reads %s", ver, stateVersion))
		return
	}
	if err := guarded(func() error { return p.corr.Restore(get) }); err != nil {
		p.discard(ctx, "unreadable", err)
		return
	}
	if err := p.restoreOutbox(get); err != nil {
		p.discard(ctx, "unreadable", err)
		return
	}
	p.versionWritten = ver != nil
}

func (p *podCreationProcessor) restoreOutbox(get func(string) ([]byte, error)) error {
	val, err := get(outboxKey)
	if err != nil || val == nil {
		return err
	}
	var seqs []uint64
	if err := json.Unmarshal(val, &seqs); err != nil {
		return fmt.Errorf("correlation state %s: %w", outboxKey, err)
	}
	for _, seq := range seqs {
		key := outboxPrefix + strconv.FormatUint(seq, 10)
		val, err := get(key)
		if err != nil {
			return err
		}
		if val == nil {
			continue
		}
		var recs []*podrecord.Record
		if err := json.Unmarshal(val, &recs); err != nil {
			return fmt.Errorf("correlation state %s: %w", key, err)
		}
		it := &outItem{seq: seq, recs: recs}
		p.out.wait(it)
		p.out.records += len(recs)
		p.out.stored[seq] = true
		p.out.next = max(p.out.next, seq+1)
	}
	return nil
}

// discard drops a state that cannot be used: the correlator and the outbox
// start empty, and the stored keys are deleted so that they never mix with
// the new state.
func (p *podCreationProcessor) discard(ctx context.Context, reason string, cause error) {
	p.corr = correlate.New(p.cfg.Correlation.correlate())
	p.out = newOutbox()
	p.stateDiscarded.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	deleted, err := p.clearState(ctx)
	p.set.Logger.Error("correlation state discarded: starting with empty state (pods pending before the restart may get partial records, late events of pods emitted before it new ones)",
		zap.String("reason", reason), zap.Error(cause), zap.Int("keys_deleted", deleted), zap.NamedError("delete_error", err))
}

// clearState deletes every key of the processor's storage client: all of
// them when the client can list them (file_storage can), else every key
// the indexes name and the indexes.
func (p *podCreationProcessor) clearState(ctx context.Context) (int, error) {
	n := 0
	if w, ok := p.client.(storage.Walker); ok {
		err := guarded(func() error {
			return w.Walk(ctx, func(key string, _ []byte) ([]*storage.Operation, error) {
				n++
				return []*storage.Operation{storage.DeleteOperation(key)}, nil
			})
		})
		return n, err
	}
	var ops []*storage.Operation
	del := func(k string) { ops = append(ops, storage.DeleteOperation(k)) }
	for _, prefix := range []string{"pi/", "oi/"} {
		for s := 0; s < 256; s++ {
			idx := fmt.Sprintf("%s%d", prefix, s)
			del(idx)
			var keys []string
			if err := guarded(func() error {
				v, err := p.client.Get(ctx, idx)
				if err == nil && v != nil {
					err = json.Unmarshal(v, &keys)
				}
				return err
			}); err == nil {
				for _, k := range keys {
					del(strings.TrimSuffix(prefix, "i/") + "/" + k)
				}
			}
		}
	}
	var seqs []uint64
	if err := guarded(func() error {
		v, err := p.client.Get(ctx, outboxKey)
		if err == nil && v != nil {
			err = json.Unmarshal(v, &seqs)
		}
		return err
	}); err == nil {
		for _, seq := range seqs {
			del(outboxPrefix + strconv.FormatUint(seq, 10))
		}
	}
	del(outboxKey)
	del(stateVersionKey)
	return len(ops), guarded(func() error { return p.client.Batch(ctx, ops...) })
}

// persist writes what changed since the last write: the correlator's
// changes, the outbox (records waiting or in flight, so that a state that
// remembers a pod as emitted also holds its record until it is
// delivered) and the version. Called with mu held.
func (p *podCreationProcessor) persist(ctx context.Context) error {
	if p.client == nil {
		return nil
	}
	var ops []*storage.Operation
	if err := p.corr.Persist(func(k string, v []byte) error {
		if v == nil {
			ops = append(ops, storage.DeleteOperation(k))
		} else {
			ops = append(ops, storage.SetOperation(k, v))
		}
		return nil
	}); err != nil {
		return err
	}
	live := p.out.live()
	var added, removed []uint64
	for seq, it := range live {
		if p.out.stored[seq] {
			continue
		}
		val, err := json.Marshal(it.recs)
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation(outboxPrefix+strconv.FormatUint(seq, 10), val))
		added = append(added, seq)
	}
	for seq := range p.out.stored {
		if live[seq] == nil {
			ops = append(ops, storage.DeleteOperation(outboxPrefix+strconv.FormatUint(seq, 10)))
			removed = append(removed, seq)
		}
	}
	if len(added) > 0 || len(removed) > 0 {
		seqs := make([]uint64, 0, len(live))
		for seq := range live {
			seqs = append(seqs, seq)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		if len(seqs) == 0 {
			ops = append(ops, storage.DeleteOperation(outboxKey))
		} else {
			val, _ := json.Marshal(seqs)
			ops = append(ops, storage.SetOperation(outboxKey, val))
		}
	}
	if !p.versionWritten && len(ops) > 0 {
		ops = append(ops, storage.SetOperation(stateVersionKey, []byte(stateVersion)))
	}
	if len(ops) == 0 {
		return nil
	}
	if err := guarded(func() error { return p.client.Batch(ctx, ops...) }); err != nil {
		p.errs.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "state_write")))
		return fmt.Errorf("pod_creation: writing correlation state: %w", err)
	}
	p.versionWritten = true
	for _, seq := range added {
		p.out.stored[seq] = true
	}
	for _, seq := range removed {
		delete(p.out.stored, seq)
	}
	return nil
}

var errShutdownUndelivered = errors.New("pod_creation: records not delivered at shutdown")
