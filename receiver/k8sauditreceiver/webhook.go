// SPDX-License-Identifier: Apache-2.0

package k8sauditreceiver

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/podtrail/podtrail/internal/audit"
)

// webhookHandler serves what the apiserver's audit webhook backend posts, and
// the managed clouds' deliveries: a Pub/Sub push of GKE log entries, a
// CloudWatch Logs awslogs envelope or a Firehose HTTP endpoint delivery of EKS
// audit streams, Azure diagnostic records of AKS.
//
// Answers: 200 once the pipeline accepted every valid event of the body (the
// invalid items of a mixed batch are counted and reported in the answer, not
// retried); 400 for a body that holds no audit event, or that was cut short
// (its complete items are delivered first); 401 for a Firehose delivery
// without the configured access key; 413 past max_request_body_size (or
// max_cloud_body_size for a body decoded whole); 503 with Retry-After when
// the pipeline refuses the batch, or when max_concurrent_requests are being
// answered, so that the sender retries it. A Firehose delivery gets the same
// status codes with the JSON answer Firehose expects
// ({"requestId","timestamp"[,"errorMessage"]}).
//
// A native body (an EventList, or one Event, the apiserver's own) larger
// than its first read is read item by item (audit.ListReader) and handed to
// the pipeline batch_size events at a time: memory holds one batch, not the
// body, and an event over max_event_size becomes a salvaged partial record.
// A refused batch answers 503: the sender posts the body again, and the
// pod_creation processor drops the events it already has (auditID, stage).
type webhookHandler struct {
	r           *auditReceiver
	retryAfter  time.Duration
	form        audit.Form
	firehoseKey string
	slots       chan struct{} // max_concurrent_requests
	maxBody     int64         // max_request_body_size
	maxCloud    int64         // max_cloud_body_size
	maxEvent    int           // max_event_size
	batchSize   int
	timeout     time.Duration // read_timeout: the most a request is read and handed on
}

type webhookAnswer struct {
	Form     audit.Form `json:"form,omitempty"`
	Accepted int        `json:"accepted"`
	Rejected int        `json:"rejected"`
	Skipped  int        `json:"skipped,omitempty"`
	// Unselected counts the events outside the pod-creation selection
	// (events: pod_creation): taken, not handed on.
	Unselected int `json:"unselected,omitempty"`
	// Oversize counts the events over max_event_size, delivered as
	// salvaged partial records (and counted in accepted).
	Oversize int      `json:"oversize,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// firehoseAnswer is the response Kinesis Data Firehose requires of an HTTP
// endpoint: the delivery's requestId, a timestamp in ms and, on failure, an
// errorMessage.
type firehoseAnswer struct {
	RequestID    string `json:"requestId"`
	Timestamp    int64  `json:"timestamp"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

const (
	maxReportedErrors       = 10
	headerFirehoseRequest   = "X-Amz-Firehose-Request-Id"
	headerFirehoseAccessKey = "X-Amz-Firehose-Access-Key"
	// headSize is how much of a body is read before the request takes a
	// place among max_concurrent_requests: enough to tell its form, and
	// the whole of most single events and cloud pushes.
	headSize = 8 << 10
	// batchBytes bounds the events of one batch by their size too.
	batchBytes = 16 << 20
	// arenaSize is the block the events of a streamed body are copied to
	// (the records share it, so it is never reused).
	arenaSize = 1 << 20
)

// errOverloaded is a request beyond max_concurrent_requests.
var errOverloaded = errors.New("too many concurrent requests")

// errRead wraps an error reading a body (a timeout, a connection closed
// early), as opposed to what the body holds.
var errRead = errors.New("reading the body")

// errTooSlow is a body still being read (or inflated) after read_timeout.
var errTooSlow = errors.New("body not read within read_timeout")

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "audit webhook accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	ctx := req.Context()
	started := time.Now()
	firehoseID := req.Header.Get(headerFirehoseRequest)
	if req.ContentLength > h.maxBody {
		// Known to be too large: refused before anything is read or
		// delivered.
		err := &http.MaxBytesError{Limit: h.maxBody}
		h.r.reject(ctx, inputWebhook, "", err, 1)
		h.fail(w, firehoseID, http.StatusRequestEntityTooLarge, "reading body: "+err.Error())
		return
	}
	body := &errReader{r: req.Body}
	head, complete, err := readHead(body, headSize)
	if err != nil {
		h.readFailed(ctx, w, firehoseID, "", readError(err))
		return
	}

	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.r.reject(ctx, inputWebhook, "", errOverloaded, 1)
		h.setRetryAfter(w)
		h.fail(w, firehoseID, http.StatusServiceUnavailable, errOverloaded.Error()+", retry later")
		return
	}
	if lc := limitedConnOf(ctx); lc != nil {
		lc.setBusy(true) // not evicted while the pipeline takes its events
		defer lc.setBusy(false)
	}

	env, detected := audit.DetectEnvelope(head)
	firehose := firehoseID != "" || env == audit.EnvelopeFirehose
	if firehose && h.firehoseKey != "" &&
		subtle.ConstantTimeCompare([]byte(req.Header.Get(headerFirehoseAccessKey)), []byte(h.firehoseKey)) != 1 {
		if firehoseID == "" {
			firehoseID = firehoseRequestID(head)
		}
		h.r.reject(ctx, inputWebhook, detected, errUnauthorized, 1)
		h.fail(w, firehoseID, http.StatusUnauthorized, errUnauthorized.Error())
		return
	}
	if lead := bytes.TrimLeft(head, " \t\r\n"); !complete && len(lead) > 0 && lead[0] == '{' &&
		detected == audit.FormNative && (h.form == audit.FormAuto || h.form == audit.FormNative) {
		h.stream(ctx, w, io.MultiReader(bytes.NewReader(head), body), body, env == audit.EnvelopeEventList, started)
		return
	}
	data := head
	if !complete {
		if data, err = readRest(head, body, h.maxCloud); err != nil {
			h.readFailed(ctx, w, firehoseID, detected, readError(err))
			return
		}
	}
	h.whole(ctx, w, firehoseID, firehose, data)
}

// whole decodes a body held whole: a cloud delivery, or a native body that
// fits in its first read.
func (h *webhookHandler) whole(ctx context.Context, w http.ResponseWriter, firehoseID string, firehose bool, body []byte) {
	if !utf8.Valid(body) {
		// As the file input does: records are shared with the body, and
		// an OTLP exporter cannot marshal a string that is not UTF-8.
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	d := decoders.Get().(*audit.Decoder)
	defer decoders.Put(d)
	d.SelectPodCreation = h.r.cfg.selects()
	bt := h.newBatcher(ctx)
	var ans webhookAnswer
	unsel := map[audit.Form]int{}
	items := 0
	b := d.DecodeBody(body, h.form, func(form audit.Form, it audit.Item) {
		items++
		if bt.err != nil {
			return // a batch was refused: the body is posted again
		}
		if notSelected(d.SelectPodCreation, it) {
			unsel[form]++
			ans.Unselected++
			return
		}
		if it.Err != nil {
			h.itemRejected(ctx, &ans, form, items-1, it.Err)
			return
		}
		bt.add(it.Raw, it.Event, form)
		ans.Accepted++
		if bt.full() {
			bt.flush()
		}
	})
	if firehoseID == "" {
		firehoseID = b.RequestID
	}
	ans.Form, ans.Skipped = b.Form, b.Skipped
	var status int
	if b.Err != nil {
		h.r.reject(ctx, inputWebhook, b.Form, b.Err, 1)
		ans.Rejected++
		ans.Errors = append([]string{b.Err.Error()}, ans.Errors...)
		status = http.StatusBadRequest // not an audit body, or cut short
	}
	h.r.skip(ctx, inputWebhook, b.Form, b.Skipped)
	h.r.unselected(ctx, inputWebhook, unsel)
	h.answer(w, firehoseID, firehose || b.Envelope == audit.EnvelopeFirehose, bt, &ans, status)
}

// stream reads a native body item by item and hands its events on in
// batches; body is the request's body under r, to tell its read errors.
func (h *webhookHandler) stream(ctx context.Context, w http.ResponseWriter, r io.Reader, body *errReader, list bool, started time.Time) {
	d := decoders.Get().(*audit.Decoder)
	defer decoders.Put(d)
	d.SelectPodCreation = h.r.cfg.selects()
	lr := audit.NewListReader(r, list, h.maxEvent)
	bt := h.newBatcher(ctx)
	ans := webhookAnswer{Form: audit.FormNative}
	var bodyErr error
	for n := 0; ; n++ {
		it, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			bodyErr = err
			if body.err != nil && body.err != io.EOF {
				bodyErr = readError(body.err) // too large, a timeout, a reset
			}
			break
		}
		if it.Oversize {
			if bt.addOversize(it) {
				ans.Accepted++
				ans.Oversize++
			} else {
				ans.Rejected++
			}
		} else {
			var ev *audit.Event
			err := audit.ErrNotSelected
			if d.SelectPodCreation {
				// Told in the reader's buffer: only a selected event
				// (or a broken one, to be told as before) is copied.
				_, err = d.Decode(it.Raw)
			}
			var raw []byte
			if !errors.Is(err, audit.ErrNotSelected) || !d.SelectPodCreation {
				raw = bt.own(it.Raw)
				ev, err = d.Decode(raw)
			}
			if errors.Is(err, audit.ErrNotSelected) {
				ans.Unselected++
			} else if err != nil {
				h.itemRejected(ctx, &ans, audit.FormNative, n, err)
			} else {
				bt.add(raw, ev, audit.FormNative)
				ans.Accepted++
			}
		}
		if bt.full() {
			if bt.flush(); bt.err != nil {
				break
			}
		}
		if h.timeout > 0 && n%256 == 255 && time.Since(started) > h.timeout {
			bodyErr = errTooSlow
			break
		}
	}
	h.r.unselected(ctx, inputWebhook, map[audit.Form]int{audit.FormNative: ans.Unselected})
	status := 0
	if bodyErr != nil && bt.err == nil {
		h.r.reject(ctx, inputWebhook, audit.FormNative, bodyErr, 1)
		ans.Rejected++
		ans.Errors = append([]string{bodyErr.Error()}, ans.Errors...)
		switch reasonOf(bodyErr) {
		case reasonTooLarge:
			status = http.StatusRequestEntityTooLarge
		case reasonReadError:
			status = http.StatusRequestTimeout
		default:
			status = http.StatusBadRequest // not an audit body, or cut short
		}
	}
	h.answer(w, "", false, bt, &ans, status)
}

// itemRejected counts an item that is not an audit event and reports it in
// the answer (the first few).
func (h *webhookHandler) itemRejected(ctx context.Context, ans *webhookAnswer, form audit.Form, at int, err error) {
	h.r.reject(ctx, inputWebhook, form, err, 1)
	ans.Rejected++
	if len(ans.Errors) < maxReportedErrors {
		ans.Errors = append(ans.Errors, fmt.Sprintf("item %d: %v", at, err))
	}
}

// answer hands the last batch on and answers: the pipeline's refusal
// first, then status if set, else 200 (400 when nothing was an audit
// event).
func (h *webhookHandler) answer(w http.ResponseWriter, firehoseID string, firehose bool, bt *batcher, ans *webhookAnswer, status int) {
	bt.flush()
	if err := bt.err; err != nil {
		if consumererror.IsPermanent(err) {
			h.fail(w, firehoseID, http.StatusInternalServerError, "pipeline rejected the batch: "+err.Error())
			return
		}
		h.setRetryAfter(w)
		h.fail(w, firehoseID, http.StatusServiceUnavailable, "pipeline refused the batch, retry later: "+err.Error())
		return
	}
	if status == 0 {
		status = http.StatusOK
		if ans.Accepted == 0 && ans.Unselected == 0 && ans.Rejected > 0 {
			status = http.StatusBadRequest // nothing in it was an audit event
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if firehose {
		fa := firehoseAnswer{RequestID: firehoseID, Timestamp: time.Now().UnixMilli()}
		if status != http.StatusOK {
			fa.ErrorMessage = strings.Join(ans.Errors, "; ")
		}
		_ = json.NewEncoder(w).Encode(fa)
		return
	}
	_ = json.NewEncoder(w).Encode(ans)
}

func (h *webhookHandler) setRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int((h.retryAfter+time.Second-1)/time.Second)))
}

// readFailed answers a body that could not be read: 413 past the size
// limit, 408 for a timeout or a broken connection.
func (h *webhookHandler) readFailed(ctx context.Context, w http.ResponseWriter, firehoseID string, form audit.Form, err error) {
	h.r.reject(ctx, inputWebhook, form, err, 1)
	status := http.StatusBadRequest
	switch reasonOf(err) {
	case reasonTooLarge:
		status = http.StatusRequestEntityTooLarge
	case reasonReadError:
		status = http.StatusRequestTimeout
	}
	h.fail(w, firehoseID, status, "reading body: "+err.Error())
}

// batcher gathers the events of a body into batches of batch_size events
// (or batchBytes) and hands each to the pipeline; after a refusal it keeps
// the error and hands nothing more on.
type batcher struct {
	h        *webhookHandler
	ctx      context.Context
	observed pcommon.Timestamp
	ld       plog.Logs
	lrs      plog.LogRecordSlice
	forms    map[audit.Form]int
	bytes    int
	arena    []byte
	err      error
}

func (h *webhookHandler) newBatcher(ctx context.Context) *batcher {
	bt := &batcher{h: h, ctx: ctx, observed: now(), forms: map[audit.Form]int{}}
	bt.ld, bt.lrs = newLogs(inputWebhook)
	return bt
}

// own copies a streamed item (the reader reuses its buffer) to memory the
// records may share, with bytes that are not UTF-8 replaced.
func (bt *batcher) own(raw []byte) []byte {
	if !utf8.Valid(raw) {
		return bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if len(raw) > cap(bt.arena)-len(bt.arena) {
		if len(raw) > arenaSize/4 {
			return bytes.Clone(raw)
		}
		bt.arena = make([]byte, 0, arenaSize)
	}
	n := len(bt.arena)
	bt.arena = append(bt.arena, raw...)
	return bt.arena[n:len(bt.arena):len(bt.arena)]
}

func (bt *batcher) add(raw []byte, ev *audit.Event, form audit.Form) {
	appendEvent(bt.lrs, raw, ev, form, bt.observed)
	bt.forms[form]++
	bt.bytes += len(raw)
}

// addOversize adds the salvaged record of an event over max_event_size.
func (bt *batcher) addOversize(it audit.ListItem) bool {
	if !bt.h.r.appendOversize(bt.ctx, bt.lrs, inputWebhook, audit.FormNative, it.Head, it.Tail, it.Size, bt.observed) {
		return false
	}
	bt.forms[audit.FormNative]++
	return true
}

func (bt *batcher) full() bool {
	return bt.lrs.Len() >= bt.h.batchSize || bt.bytes >= batchBytes
}

// flush hands the gathered events to the pipeline.
func (bt *batcher) flush() {
	if bt.err != nil || bt.lrs.Len() == 0 {
		return
	}
	bt.err = bt.h.r.consume(bt.ctx, inputWebhook, bt.ld, bt.forms)
	bt.ld, bt.lrs = newLogs(inputWebhook)
	bt.forms = map[audit.Form]int{}
	bt.bytes = 0
}

// readError marks an error of the body's reader (errRead); the size limit's
// keeps its own type (413).
func readError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	return fmt.Errorf("%w: %w", errRead, err)
}

// errReader keeps the error its reader returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// readHead reads the first n bytes of a body (fewer when it ends: complete),
// in a buffer that grows with what arrives: a client that sends nothing
// holds 512 bytes.
func readHead(r io.Reader, n int) (head []byte, complete bool, err error) {
	buf := make([]byte, 0, 512)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), n-cap(buf)))...)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// readRest reads the rest of a body to be decoded whole, up to limit bytes
// in all.
func readRest(head []byte, r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(head)
	if _, err := buf.ReadFrom(io.LimitReader(r, limit-int64(len(head))+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return buf.Bytes(), nil
}

// firehoseRequestID is the requestId at the top of a Firehose delivery's
// beginning, "" when it is not there.
func firehoseRequestID(head []byte) string {
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		if t == "requestId" {
			var id string
			if dec.Decode(&id) != nil {
				return ""
			}
			return id
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

// fail answers an error: as Firehose expects it for a Firehose delivery, as
// text otherwise.
func (h *webhookHandler) fail(w http.ResponseWriter, firehoseID string, status int, msg string) {
	if firehoseID == "" {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(firehoseAnswer{RequestID: firehoseID, Timestamp: time.Now().UnixMilli(), ErrorMessage: msg})
}
