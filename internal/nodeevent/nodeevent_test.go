// SPDX-License-Identifier: Apache-2.0

package nodeevent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/attr"
	"github.com/podtrail/podtrail/internal/noderuntime"
)

// TestRoundTrip: Decode(Append(ev)) is ev, for every kind and every field,
// with the image forms a runtime logs.
func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 22, 0, 0, 123456789, time.UTC)
	full := noderuntime.Event{
		Time: at, Source: noderuntime.SourceContainerd, Level: "info", RuntimeVersion: "1.6.20", CRIAPI: "v1", Node: "node-a",
		PodNamespace: "shop", PodName: "cart-6f7d9c8b4-ttp4z", PodUID: "0c6c3c4e-4d6a-4b1e-9b3e-5d1f2a3b4c5d", PodSource: "api",
		SandboxID: "4f1e", ContainerID: "9a8b", ContainerName: "cart", Attempt: 2,
		Image: "ghcr.io/acme/cart:1.2.0", ImageID: "sha256:aaaa", RepoDigest: "ghcr.io/acme/cart@sha256:bbbb", RequestID: "r1",
		Error: "failed to pull \"x\"", Reason: "ErrImagePull",
		Line: `time="2026-12-06T22:00:00Z" level=info msg="..."`,
	}
	var tests []struct {
		name string
		ev   noderuntime.Event
		want noderuntime.Event // zero: ev
	}
	for _, k := range Kinds {
		ev := full
		ev.Kind = k
		tests = append(tests, struct {
			name     string
			ev, want noderuntime.Event
		}{name: string(k), ev: ev})
	}
	minimal := noderuntime.Event{Kind: noderuntime.KindSandboxReady, Line: "x"}
	registryPort := full
	registryPort.Kind, registryPort.Image = noderuntime.KindImagePulled, "localhost:5000/app:v1"
	untagged := full
	untagged.Kind, untagged.Image = noderuntime.KindImagePulled, "registry.k8s.io/pause"
	byDigest := full
	byDigest.Kind, byDigest.Image = noderuntime.KindImagePulled, "localhost:5000/app@sha256:cccc"
	byDigestBack := byDigest
	byDigestBack.Image = "localhost:5000/app"
	newKind := full
	newKind.Kind = "volume_mounted" // a kind a later noderuntime adds
	badUTF8 := minimal
	badUTF8.PodName, badUTF8.Line = "web\xff", "line\xfe"
	badUTF8Back := badUTF8
	badUTF8Back.PodName, badUTF8Back.Line = "web\uFFFD", "line\uFFFD"
	tests = append(tests, []struct {
		name     string
		ev, want noderuntime.Event
	}{
		{name: "minimal", ev: minimal},
		{name: "registry with a port", ev: registryPort},
		{name: "no tag", ev: untagged},
		{name: "by digest: the repository comes back", ev: byDigest, want: byDigestBack},
		{name: "a kind this version does not list", ev: newKind},
		{name: "invalid UTF-8 replaced", ev: badUTF8, want: badUTF8Back},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lrs := plog.NewLogRecordSlice()
			lr := Append(lrs, &tt.ev, pcommon.NewTimestampFromTime(at), "shop/cart")
			assert.Equal(t, attr.EventNodePrefix+string(tt.ev.Kind), lr.EventName())
			key, _ := lr.Attributes().Get(attr.AffinityKey)
			assert.Equal(t, "shop/cart", key.Str())
			got, ok := Decode(lr)
			assert.True(t, ok)
			want := tt.want
			if want.Kind == "" {
				want = tt.ev
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestDecodeNotANodeEvent: a record with neither a node event name nor a
// kind attribute is not one.
func TestDecodeNotANodeEvent(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.SetEventName(attr.EventAudit)
	_, ok := Decode(lr)
	assert.False(t, ok)
}
