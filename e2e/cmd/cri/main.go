// SPDX-License-Identifier: Apache-2.0

// Command cri is the end-to-end test's CRI client (what crictl does, for the
// two things the test needs), in the standard library only: gRPC is HTTP/2
// without TLS (net/http's unencrypted HTTP/2) over containerd's socket, and
// the few CRI messages are written and read as protobuf by hand (field
// numbers of k8s.io/cri-api runtime/v1 api.proto).
//
//	cri -sock S containers
//	    the runtime's sandboxes and containers as JSON: for each container the
//	    image reference the runtime resolved (ContainerStatus.image_ref, the
//	    repo digest the kubelet reports as imageID, as crictl inspect shows it)
//	cri -sock S run -name N -namespace NS -uid U -image IMG -cgroup-parent P -log-dir D
//	    a pod sandbox and one container started through the CRI, not the API
//	    server (a node-level bypass); prints the sandbox id, then the container
//	    id if the container started
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// ---- protobuf, by hand --------------------------------------------------------

type pb []byte

func (b pb) varint(v uint64) pb { return binary.AppendUvarint(b, v) }

func (b pb) tag(field, wire int) pb { return b.varint(uint64(field)<<3 | uint64(wire)) }

func (b pb) bytes(field int, v []byte) pb {
	return append(b.tag(field, 2).varint(uint64(len(v))), v...)
}

func (b pb) str(field int, s string) pb {
	if s == "" {
		return b
	}
	return b.bytes(field, []byte(s))
}

func (b pb) msg(field int, m pb) pb { return b.bytes(field, m) }

func (b pb) entry(field int, k, v string) pb { return b.msg(field, pb(nil).str(1, k).str(2, v)) }

type pfield struct {
	num  int
	wire int
	n    uint64 // varint value
	b    []byte // length-delimited value
}

func decode(b []byte) ([]pfield, error) {
	var out []pfield
	for len(b) > 0 {
		t, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		f := pfield{num: int(t >> 3), wire: int(t & 7)}
		switch f.wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			f.n, b = v, b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("short fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("short fixed32")
			}
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("bad length")
			}
			f.b, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

// msgOf is a decoded message: fields by number.
type msgOf map[int][]pfield

func parse(b []byte) msgOf {
	fs, err := decode(b)
	m := msgOf{}
	if err != nil {
		return m
	}
	for _, f := range fs {
		m[f.num] = append(m[f.num], f)
	}
	return m
}

func (m msgOf) str(n int) string {
	if l := m[n]; len(l) > 0 {
		return string(l[len(l)-1].b)
	}
	return ""
}

func (m msgOf) uint(n int) uint64 {
	if l := m[n]; len(l) > 0 {
		return l[len(l)-1].n
	}
	return 0
}

func (m msgOf) sub(n int) msgOf {
	if l := m[n]; len(l) > 0 {
		return parse(l[len(l)-1].b)
	}
	return msgOf{}
}

func (m msgOf) all(n int) []msgOf {
	var out []msgOf
	for _, f := range m[n] {
		out = append(out, parse(f.b))
	}
	return out
}

func (m msgOf) strMap(n int) map[string]string {
	out := map[string]string{}
	for _, e := range m.all(n) {
		out[e.str(1)] = e.str(2)
	}
	return out
}

// ---- gRPC over HTTP/2 without TLS ---------------------------------------------

type client struct{ hc *http.Client }

func newClient(sock string) *client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &client{hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (c *client) call(method string, req pb) (msgOf, error) {
	body := make([]byte, 5, 5+len(req))
	binary.BigEndian.PutUint32(body[1:5], uint32(len(req)))
	body = append(body, req...)
	hr, err := http.NewRequest(http.MethodPost, "http://cri/runtime.v1.RuntimeService/"+method, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/grpc")
	hr.Header.Set("TE", "trailers")
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	st, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if st == "" {
		st, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if resp.StatusCode != http.StatusOK || st != "0" {
		return nil, fmt.Errorf("%s: HTTP %d grpc-status %q %s", method, resp.StatusCode, st, msg)
	}
	if len(data) < 5 {
		return msgOf{}, nil
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if int(n) > len(data)-5 {
		return nil, fmt.Errorf("%s: short message", method)
	}
	return parse(data[5 : 5+n]), nil
}

// ---- commands -----------------------------------------------------------------

type sandbox struct {
	ID        string `json:"id"`
	PodName   string `json:"pod_name"`
	PodUID    string `json:"pod_uid"`
	Namespace string `json:"pod_namespace"`
	Attempt   uint64 `json:"attempt"`
	State     string `json:"state"`
}

type container struct {
	ID        string `json:"id"`
	SandboxID string `json:"sandbox_id"`
	Name      string `json:"name"`
	Attempt   uint64 `json:"attempt"`
	PodName   string `json:"pod_name"`
	PodUID    string `json:"pod_uid"`
	Namespace string `json:"pod_namespace"`
	State     string `json:"state"`
	Image     string `json:"image"`     // as the container was created with
	ImageRef  string `json:"image_ref"` // ContainerStatus.image_ref: repo@sha256:<manifest> when known
	ImageID   string `json:"image_id"`  // ContainerStatus.image_id (CRI 1.31+), else empty
}

var sandboxStates = []string{"ready", "notready"}
var containerStates = []string{"created", "running", "exited", "unknown"}

func state(names []string, v uint64) string {
	if v < uint64(len(names)) {
		return names[v]
	}
	return strconv.FormatUint(v, 10)
}

func list(c *client) error {
	out := struct {
		Sandboxes  []sandbox   `json:"sandboxes"`
		Containers []container `json:"containers"`
	}{Sandboxes: []sandbox{}, Containers: []container{}}
	sbs, err := c.call("ListPodSandbox", nil)
	if err != nil {
		return err
	}
	for _, s := range sbs.all(1) {
		md := s.sub(2)
		out.Sandboxes = append(out.Sandboxes, sandbox{ID: s.str(1), PodName: md.str(1), PodUID: md.str(2),
			Namespace: md.str(3), Attempt: md.uint(4), State: state(sandboxStates, s.uint(3))})
	}
	bySandbox := map[string]sandbox{}
	for _, sb := range out.Sandboxes {
		bySandbox[sb.ID] = sb
	}
	cs, err := c.call("ListContainers", nil)
	if err != nil {
		return err
	}
	for _, m := range cs.all(1) {
		md, labels := m.sub(3), m.strMap(8)
		ct := container{ID: m.str(1), SandboxID: m.str(2), Name: md.str(1), Attempt: md.uint(2),
			PodName: labels["io.kubernetes.pod.name"], PodUID: labels["io.kubernetes.pod.uid"],
			Namespace: labels["io.kubernetes.pod.namespace"], State: state(containerStates, m.uint(6)),
			Image: m.sub(4).str(1), ImageRef: m.str(5)}
		if sb, ok := bySandbox[ct.SandboxID]; ok && ct.PodUID == "" { // not made by a kubelet: no labels
			ct.PodName, ct.PodUID, ct.Namespace = sb.PodName, sb.PodUID, sb.Namespace
		}
		st, err := c.call("ContainerStatus", pb(nil).str(1, ct.ID))
		if err == nil {
			s := st.sub(1)
			if r := s.str(9); r != "" {
				ct.ImageRef = r
			}
			if img := s.sub(8).str(1); img != "" {
				ct.Image = img
			}
			ct.ImageID = s.str(17)
		} else {
			fmt.Fprintln(os.Stderr, "cri:", err)
		}
		out.Containers = append(out.Containers, ct)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func run(c *client, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	name := fs.String("name", "", "pod name")
	ns := fs.String("namespace", "default", "pod namespace")
	uid := fs.String("uid", "", "pod uid")
	image := fs.String("image", "", "container image (present on the node)")
	cgroup := fs.String("cgroup-parent", "", "cgroup parent of the sandbox")
	logDir := fs.String("log-dir", "", "sandbox log directory")
	_ = fs.Parse(args)
	md := pb(nil).str(1, *name).str(2, *uid).str(3, *ns)
	cfg := pb(nil).msg(1, md).str(2, *name).str(3, *logDir).
		msg(8, pb(nil).str(1, *cgroup))
	r, err := c.call("RunPodSandbox", pb(nil).msg(1, cfg))
	if err != nil {
		return err
	}
	sb := r.str(1)
	fmt.Println(sb)
	ccfg := pb(nil).msg(1, pb(nil).str(1, "shell")).msg(2, pb(nil).str(1, *image)).
		str(11, "shell.log")
	r, err = c.call("CreateContainer", pb(nil).str(1, sb).msg(2, ccfg).msg(3, cfg))
	if err != nil {
		return err
	}
	ctr := r.str(1)
	if _, err := c.call("StartContainer", pb(nil).str(1, ctr)); err != nil {
		return err
	}
	fmt.Println(ctr)
	return nil
}

func main() {
	sock := flag.String("sock", "/run/containerd/containerd.sock", "the runtime's CRI socket")
	flag.Parse()
	c := newClient(*sock)
	var err error
	switch flag.Arg(0) {
	case "containers":
		err = list(c)
	case "run":
		err = run(c, flag.Args()[1:])
	default:
		err = errors.New("usage: cri -sock S containers | run -name N -namespace NS -uid U -image IMG")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cri:", err)
		os.Exit(1)
	}
}
