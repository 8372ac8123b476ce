// SPDX-License-Identifier: Apache-2.0

// Package noderuntime extracts pod-lifecycle events from Kubernetes node
// logs: the kubelet's klog output and the container runtimes' logs
// (containerd's CRI plugin, CRI-O, the Docker engine, cri-dockerd), as
// journald/syslog deliver them or as the daemons write them.
//
// It knows nothing of the OpenTelemetry Collector and uses only the standard
// library. A receiver tails files or the journal, groups physical lines into
// records with a Joiner (or LineStartPattern), and feeds each record to a
// Parser:
//
//	p := noderuntime.NewParser(noderuntime.Options{Node: nodeName})
//	var evs []noderuntime.Event
//	evs, err := p.ParseAll(record, evs[:0])
//
// A journal entry's MESSAGE, whose daemon, host and time are separate
// fields, goes to ParseMessage with a Meta instead.
//
// Each Event says what happened (Kind: sandbox_requested, container_started,
// image_pulled, ...), when, on which node, by which daemon (Source), to which
// pod (namespace, name, uid), sandbox and container (ids, name, attempt) and
// with which image (reference, image id, repo digest).
//
// Records are recognised per line, with no configuration: journald short,
// short-precise, short-iso, short-full and short-monotonic prefixes (month
// names in English and in the common glibc locales: "Mär", "févr.", "sept.",
// "dic", "9月", ...), RFC 3164/3339/5424 syslog, journalctl "-- ... --"
// marker lines, paste artefacts (indentation, "# ", "> "), then klog (text
// and JSON), logrus text (time="..." level=... msg="..."), logrus TTY
// (INFO[...] msg) and JSON, and `docker events` output. The daemon is told
// by the syslog identifier, else by Options.Format, else by the message.
//
// Timestamps: a payload time with a zone (RFC 3339, CRI-O's
// "2019-12-11 20:59:16.838Z") is used as is. klog and journald stamps have
// no year and no zone: the year comes from Options.Year, else from the last
// full date the parser read (or Options.Reference, or the clock) with
// December/January rollover; the zone is Options.Location, else one named by
// a journalctl header, else UTC. A klog stamp that disagrees with its
// syslog prefix by whole hours (a process in another time zone) is aligned
// to the prefix.
//
// Performance: matching uses prefix tests and byte scans, no regular
// expressions; a record without an event allocates nothing, a record with
// events allocates its owned copy (Event.Line), which the event's other
// strings share.
package noderuntime
