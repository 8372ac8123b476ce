// SPDX-License-Identifier: Apache-2.0

// Package audit decodes kube-apiserver audit events (audit.k8s.io/v1 and
// v1beta1) as the log backend writes them and as the webhook backend posts
// them (EventList batches or single events), and as the managed clouds export
// them (DecodeBody, DetectForm): GKE Cloud Audit Logs entries, bare or in a
// Pub/Sub push (DecodeGKE, UnwrapPubSub); EKS CloudWatch Logs audit streams
// in an awslogs envelope, a subscription payload, a Firehose HTTP endpoint
// delivery or an export line (UnwrapAWSLogs, DecodeEKS); AKS diagnostic
// settings records (DecodeAKS). Every form decodes to the same Event, with the
// cloud identity behind the user in Event.CloudPrincipal. ListReader splits a
// native body of any length item by item from a reader; Salvage makes a
// minimal event of one too large to take whole. It knows nothing of the
// collector: the k8s_audit receiver and the pod_creation processor use it.
package audit
