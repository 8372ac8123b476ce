package k8sauditreceiver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/podtrail/podtrail/internal/audit"
)

// webhookHandler serves what the apiserver's audit webhook backend posts.
//
// Answers: 200 once the pipeline accepted every valid event of the body (the
// invalid items of a mixed batch are counted and reported in the answer, not
// retried); 400 for a body that holds no audit event, or that was cut short
// (its complete items are delivered first); 413 past max_request_body_size;
// 503 with Retry-After when the pipeline refuses the batch, so that the
// apiserver retries it.
type webhookHandler struct {
	r          *auditReceiver
	retryAfter time.Duration
}

type webhookAnswer struct {
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
	Errors   []string `json:"errors,omitempty"`
}

const maxReportedErrors = 10

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "audit webhook accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	ctx := req.Context()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		h.r.reject(ctx, inputWebhook, err, 1)
		status := http.StatusBadRequest
		if reasonOf(err) == reasonTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "reading body: "+err.Error(), status)
		return
	}

	var ans webhookAnswer
	items, splitErr := audit.SplitBody(body)
	if splitErr != nil {
		h.r.reject(ctx, inputWebhook, splitErr, 1)
		ans.Rejected++
		ans.Errors = append(ans.Errors, splitErr.Error())
	}
	ld, lrs := newLogs(inputWebhook)
	observed := now()
	for i, it := range items {
		ev, err := audit.Decode(it)
		if err != nil {
			h.r.reject(ctx, inputWebhook, err, 1)
			ans.Rejected++
			if len(ans.Errors) < maxReportedErrors {
				ans.Errors = append(ans.Errors, fmt.Sprintf("item %d: %v", i, err))
			}
			continue
		}
		appendEvent(lrs, it, ev, observed)
	}
	ans.Accepted = lrs.Len()

	if err := h.r.consume(ctx, inputWebhook, ld); err != nil {
		if consumererror.IsPermanent(err) {
			http.Error(w, "pipeline rejected the batch: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((h.retryAfter+time.Second-1)/time.Second)))
		http.Error(w, "pipeline refused the batch, retry later: "+err.Error(), http.StatusServiceUnavailable)
		return
	}

	status := http.StatusOK
	switch {
	case splitErr != nil:
		status = http.StatusBadRequest // not an audit body, or cut short
	case ans.Accepted == 0 && ans.Rejected > 0:
		status = http.StatusBadRequest // nothing in it was an audit event
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ans)
}
