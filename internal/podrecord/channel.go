// SPDX-License-Identifier: Apache-2.0

package podrecord

import "strings"

// Channels.
const (
	ChannelKubectl    = "kubectl"
	ChannelHelm       = "helm"
	ChannelArgoCD     = "argocd"
	ChannelFlux       = "flux"
	ChannelTerraform  = "terraform"
	ChannelController = "controller"
	ChannelKubelet    = "kubelet"
	ChannelCI         = "ci"
	ChannelClient     = "client"
	ChannelUnknown    = "unknown"
)

// ciIdentities are substrings of usernames and user agents of CI systems
// that call the API directly.
var ciIdentities = []string{"gitlab-runner", "github-actions", "jenkins", "tekton", "buildkite", "circleci", "teamcity", "azure-pipelines", "spinnaker"}

// channelOf tells how a create reached the API. Evidence, strongest first: the
// actor (a controller or a node), then the user agent, the fieldManager, the
// managedFields managers, and the labels and annotations tools stamp.
func channelOf(r *Record) string {
	switch r.Actor.Kind {
	case ActorController:
		return ChannelController
	case ActorNode:
		return ChannelKubelet
	}
	ua := strings.ToLower(r.UserAgent)
	fm := strings.ToLower(r.FieldManager)
	has := func(s string) bool { return strings.Contains(ua, s) || strings.Contains(fm, s) || r.managedBy(s) }
	switch {
	case strings.HasPrefix(ua, "kubectl") || strings.HasPrefix(fm, "kubectl"):
		return ChannelKubectl
	case strings.HasPrefix(ua, "helm/") || fm == "helm" || strings.EqualFold(r.Labels["app.kubernetes.io/managed-by"], "Helm") && !has("helm-controller"):
		return ChannelHelm
	case has("argocd") || r.Labels["argocd.argoproj.io/instance"] != "" || r.Annotations["argocd.argoproj.io/tracking-id"] != "":
		return ChannelArgoCD
	case has("kustomize-controller") || has("helm-controller") || hasKeyPrefix(r.Labels, "kustomize.toolkit.fluxcd.io/") || hasKeyPrefix(r.Labels, "helm.toolkit.fluxcd.io/"):
		return ChannelFlux
	case strings.Contains(ua, "terraform"):
		return ChannelTerraform
	}
	user := strings.ToLower(r.Actor.Username)
	for _, ci := range ciIdentities {
		if strings.Contains(user, ci) || strings.Contains(ua, ci) {
			return ChannelCI
		}
	}
	if ua != "" {
		return ChannelClient
	}
	return ChannelUnknown
}

func (r *Record) managedBy(s string) bool {
	for _, m := range r.Managers {
		if strings.Contains(strings.ToLower(m), s) {
			return true
		}
	}
	return false
}

func hasKeyPrefix(m map[string]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
