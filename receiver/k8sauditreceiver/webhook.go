package k8sauditreceiver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/consumer/consumererror"

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
// without the configured access key; 413 past max_request_body_size; 503 with
// Retry-After when the pipeline refuses the batch, so that the sender
// retries it. A Firehose delivery gets the same status codes with the JSON
// answer Firehose expects ({"requestId","timestamp"[,"errorMessage"]}).
type webhookHandler struct {
	r           *auditReceiver
	retryAfter  time.Duration
	form        audit.Form
	firehoseKey string
}

type webhookAnswer struct {
	Form     audit.Form `json:"form,omitempty"`
	Accepted int        `json:"accepted"`
	Rejected int        `json:"rejected"`
	Skipped  int        `json:"skipped,omitempty"`
	Errors   []string   `json:"errors,omitempty"`
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
)

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "audit webhook accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	ctx := req.Context()
	firehoseID := req.Header.Get(headerFirehoseRequest)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		h.r.reject(ctx, inputWebhook, "", err, 1)
		status := http.StatusBadRequest
		if reasonOf(err) == reasonTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		h.fail(w, firehoseID, status, "reading body: "+err.Error())
		return
	}
	if !utf8.Valid(body) {
		// As the file input does: records are shared with the body, and
		// an OTLP exporter cannot marshal a string that is not UTF-8.
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}

	d := decoders.Get().(*audit.Decoder)
	defer decoders.Put(d)
	ld, lrs := newLogs(inputWebhook)
	observed := now()
	// Broken items are counted once the body is known to be authorized.
	var itemErrs []error
	var itemAt []int // their places in the body
	b := d.DecodeBody(body, h.form, func(form audit.Form, it audit.Item) {
		if it.Err != nil {
			itemAt = append(itemAt, lrs.Len()+len(itemErrs))
			itemErrs = append(itemErrs, it.Err)
			return
		}
		appendEvent(lrs, it.Raw, it.Event, form, observed)
	})
	firehose := firehoseID != "" || b.Envelope == audit.EnvelopeFirehose
	if firehoseID == "" {
		firehoseID = b.RequestID
	}
	if firehose && h.firehoseKey != "" &&
		subtle.ConstantTimeCompare([]byte(req.Header.Get(headerFirehoseAccessKey)), []byte(h.firehoseKey)) != 1 {
		h.r.reject(ctx, inputWebhook, b.Form, errUnauthorized, 1)
		h.fail(w, firehoseID, http.StatusUnauthorized, errUnauthorized.Error())
		return
	}

	ans := webhookAnswer{Form: b.Form, Skipped: b.Skipped}
	if b.Err != nil {
		h.r.reject(ctx, inputWebhook, b.Form, b.Err, 1)
		ans.Rejected++
		ans.Errors = append(ans.Errors, b.Err.Error())
	}
	h.r.skip(ctx, inputWebhook, b.Form, b.Skipped)
	for i, err := range itemErrs {
		h.r.reject(ctx, inputWebhook, b.Form, err, 1)
		ans.Rejected++
		if len(ans.Errors) < maxReportedErrors {
			ans.Errors = append(ans.Errors, fmt.Sprintf("item %d: %v", itemAt[i], err))
		}
	}
	ans.Accepted = lrs.Len()

	if err := h.r.consume(ctx, inputWebhook, ld, map[audit.Form]int{b.Form: ans.Accepted}); err != nil {
		if consumererror.IsPermanent(err) {
			h.fail(w, firehoseID, http.StatusInternalServerError, "pipeline rejected the batch: "+err.Error())
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((h.retryAfter+time.Second-1)/time.Second)))
		h.fail(w, firehoseID, http.StatusServiceUnavailable, "pipeline refused the batch, retry later: "+err.Error())
		return
	}

	status := http.StatusOK
	switch {
	case b.Err != nil:
		status = http.StatusBadRequest // not an audit body, or cut short
	case ans.Accepted == 0 && ans.Rejected > 0:
		status = http.StatusBadRequest // nothing in it was an audit event
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
