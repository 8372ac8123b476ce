// SPDX-License-Identifier: Apache-2.0

package audit

import "strings"

// principalFromUser reads the cloud identity an authenticator put in the
// user's extra: aws-iam-authenticator (EKS) sets arn, canonicalArn,
// sessionName and accessKeyId; Entra ID (AKS) sets oid.
func principalFromUser(u *UserInfo) *CloudPrincipal {
	if len(u.Extra) == 0 {
		return nil
	}
	arn, canonical := extra(u, "arn"), extra(u, "canonicalArn")
	if arn != "" || canonical != "" {
		p := &CloudPrincipal{Provider: "aws", ID: canonical, Session: extra(u, "sessionName"), AccessKeyID: extra(u, "accessKeyId")}
		if p.ID == "" {
			p.ID = IAMARN(arn)
		}
		if p.Session == "" {
			p.Session = assumedRoleSession(arn)
		}
		return p
	}
	if oid := extra(u, "oid"); oid != "" {
		return &CloudPrincipal{Provider: "azure", ID: oid}
	}
	return nil
}

// extra is the first value of an extra key; the apiserver lowercases keys
// that came through impersonation headers, so both spellings are read.
func extra(u *UserInfo, key string) string {
	v := u.Extra[key]
	if len(v) == 0 {
		v = u.Extra[strings.ToLower(key)]
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// IAMARN maps an STS assumed-role ARN
// (arn:aws:sts::<account>:assumed-role/<role>/<session>) to the IAM role's
// ARN (arn:aws:iam::<account>:role/<role>), as aws-iam-authenticator's
// canonicalArn does; other ARNs are returned as they are.
func IAMARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	if role == "" {
		return arn
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}

func assumedRoleSession(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return ""
	}
	_, session, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return session
}
