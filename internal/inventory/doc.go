// SPDX-License-Identifier: Apache-2.0

// Package inventory is what the security team approved: the workloads that
// may run, the images they may run, the system namespaces, who may create
// pods where, the trusted CI/CD identities and the image signing keys. It
// reads and checks inventory files (Load, Parse, Decode), merges them in
// order (Merge, Finish), answers the inventory's questions one record at a
// time (ImageApproved, CreatorAllowed, Imitates: the reference the rule
// functions' indexes are tested against) and learns a proposal from the
// records it observes (Learner). internal/rules indexes it for the rule
// functions and evaluates rules against it.
package inventory
