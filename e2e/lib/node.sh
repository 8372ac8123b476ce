# The node's configuration (sourced by e2e/run.sh): containerd with the CRI
# plugin, a bridge + host-local CNI network, the kubelet, and the cgroup the
# kubelet puts its pods under. Everything lives under $WORK, except what the
# kernel keeps (cgroups, the bridge, network namespaces), which run.sh's
# cleanup removes.

write_node_config() {
	local c=$WORK/containerd
	if [[ ${CONTAINERD:-debian} == debian ]]; then
		write_containerd_v2_config
	else
		write_containerd_v3_config
	fi
	write_cni_and_kubelet_config
}

# Debian's containerd 1.6: a version-2 config, registry mirrors
write_containerd_v2_config() {
	local c=$WORK/containerd
	cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[debug]
  level = "info"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # the sandbox lacks CAP_SYS_RESOURCE: no oom_score_adj below containerd's
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$WORK/cni/net.d"
  # no registry is reachable: the ones the test's images name are served by
  # e2e/cmd/registry on loopback
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = ["http://127.0.0.1:$REGISTRY_PORT"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:$REGISTRY_PORT"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."ghcr.io"]
    endpoint = ["http://127.0.0.1:$REGISTRY_PORT"]
TOML
}

# containerd 2.x: a version-3 config (registry.mirrors is gone: a hosts.toml
# per registry under config_path; the sandbox image is a pinned image)
write_containerd_v3_config() {
	local c=$WORK/containerd r
	cat >"$c/config.toml" <<TOML
version = 3
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[debug]
  level = "info"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$c/certs.d"
[plugins."io.containerd.cri.v1.runtime"]
  # the sandbox lacks CAP_SYS_RESOURCE: no oom_score_adj below containerd's
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$CNI_BIN"]
    conf_dir = "$WORK/cni/net.d"
TOML
	# no registry is reachable: the ones the test's images name are served by
	# e2e/cmd/registry on loopback
	for r in registry.k8s.io docker.io ghcr.io; do
		mkdir -p "$c/certs.d/$r"
		cat >"$c/certs.d/$r/hosts.toml" <<TOML
server = "https://$r"
[host."http://127.0.0.1:$REGISTRY_PORT"]
  capabilities = ["pull", "resolve"]
TOML
	done
}

write_cni_and_kubelet_config() {
	# no gateway on the bridge and no masquerading: the host's forwarding and
	# iptables stay as they are; pods talk to nothing
	cat >"$WORK/cni/net.d/10-$CNI_NET.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "$CNI_NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.0.0/24"}]],
        "dataDir": "$WORK/cni/ipam"
      }
    }
  ]
}
JSON

	cat >"$WORK/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$WORK/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
staticPodPath: $WORK/manifests
fileCheckFrequency: 2s
podLogsDir: $WORK/pod-logs
failSwapOn: false
# this machine has cgroup v1: the kubelet of 1.35 and later refuses it unless
# told (1.33 knows the field; false is its default there)
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
resolvConf: ""
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
YAML
}

# the kubelet wants its cgroup root to exist in every hierarchy
prepare_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/; do
		[[ -d $d ]] || continue
		mkdir -p "$d$CGROUP_ROOT" 2>/dev/null || continue
		if [[ -f ${d}cpuset.cpus ]]; then
			cat "${d}cpuset.cpus" >"$d$CGROUP_ROOT/cpuset.cpus"
			cat "${d}cpuset.mems" >"$d$CGROUP_ROOT/cpuset.mems"
		fi
	done
}
