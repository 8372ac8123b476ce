// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// AKS diagnostic settings categories that hold audit events.
const (
	AKSCategoryAudit      = "kube-audit"
	AKSCategoryAuditAdmin = "kube-audit-admin" // without get and list
)

// errOtherCategory marks an Azure record of another category (kube-apiserver,
// guard, ...): skipped, not an error.
var errOtherCategory = errors.New("not an audit category")

type azureRecord struct {
	ResourceID string `json:"resourceId"`
	Category   string `json:"category"`
	Properties *struct {
		Log json.RawMessage `json:"log"`
	} `json:"properties"`
}

// DecodeAKS decodes one Azure Monitor diagnostic settings record of category
// kube-audit or kube-audit-admin. properties.log holds the audit event as a
// string (or, in some exports, as an object). It returns the event's JSON
// (with a "cloudPrincipal" member added when the user is an Entra ID object id
// that Decode alone would not tell) and the event.
func DecodeAKS(record []byte) (raw []byte, ev *Event, err error) {
	var r azureRecord
	if err := json.Unmarshal(bytes.TrimSpace(record), &r); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, nil, fmt.Errorf("%w: Azure record: %v", ErrEnvelope, err)
		}
		return nil, nil, fmt.Errorf("invalid Azure record JSON: %w", err)
	}
	if r.Category != "" && !strings.EqualFold(r.Category, AKSCategoryAudit) && !strings.EqualFold(r.Category, AKSCategoryAuditAdmin) {
		return nil, nil, fmt.Errorf("%w: Azure record of category %q: %w", ErrNotAuditEvent, r.Category, errOtherCategory)
	}
	if r.Properties == nil || len(r.Properties.Log) == 0 || string(r.Properties.Log) == "null" {
		return nil, nil, fmt.Errorf("%w: Azure record without properties.log", ErrEnvelope)
	}
	raw = r.Properties.Log
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("%w: properties.log: %v", ErrEnvelope, err)
		}
		raw = []byte(strings.TrimSpace(s))
	}
	ev, err = Decode(raw)
	if err != nil {
		return raw, nil, err
	}
	if addAADPrincipal(ev) {
		raw = withPrincipal(raw, ev.CloudPrincipal)
	}
	if c := aksCluster(r.ResourceID); c != nil && ev.Cluster == nil {
		ev.Cluster = c
		raw = withCluster(raw, c)
	}
	return raw, ev, nil
}

// aksCluster is the cluster of a diagnostic record's resourceId
// (/SUBSCRIPTIONS/<id>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name>,
// which Azure Monitor writes in upper case: the name is kept as written);
// nil for another resource.
func aksCluster(resourceID string) *Cluster {
	parts := strings.Split(strings.Trim(resourceID, "/"), "/")
	c := &Cluster{Provider: "azure", ResourceID: resourceID}
	for i := 0; i+1 < len(parts); i++ {
		switch {
		case strings.EqualFold(parts[i], "subscriptions"):
			c.Account = parts[i+1]
		case strings.EqualFold(parts[i], "managedClusters") && i > 0 && strings.EqualFold(parts[i-1], "Microsoft.ContainerService"):
			c.Name = parts[i+1]
		}
	}
	if c.Name == "" {
		return nil
	}
	return c
}

func aksItem(record []byte) (it Item, skip bool) {
	raw, ev, err := DecodeAKS(record)
	if errors.Is(err, errOtherCategory) {
		return Item{}, true
	}
	if err != nil {
		if raw == nil {
			raw = record
		}
		return Item{Raw: raw, Err: err}, false
	}
	return Item{Raw: raw, Event: ev}, false
}

// addAADPrincipal sets the Entra ID principal of an AKS event whose user is
// an object id (a GUID, as AKS names service principals, managed identities
// and guests) or an "aad:" name, when Decode found none. It reports whether
// it set one.
func addAADPrincipal(ev *Event) bool {
	if ev.CloudPrincipal != nil {
		return false
	}
	u := ev.User.Username
	switch {
	case strings.HasPrefix(u, "aad:") && len(u) > len("aad:"):
		ev.CloudPrincipal = &CloudPrincipal{Provider: "azure", ID: strings.TrimPrefix(u, "aad:")}
	case isGUID(u):
		ev.CloudPrincipal = &CloudPrincipal{Provider: "azure", ID: u}
	default:
		return false
	}
	return true
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
