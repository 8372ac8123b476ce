#!/usr/bin/env bash
# podtrail end to end (make e2e): a one-node Kubernetes cluster on this
# machine (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# containerd + runc, a kubelet; v1.33.13 and Debian's containerd 1.6 unless
# PODTRAIL_E2E_K8S=v1.36.3 and PODTRAIL_E2E_CONTAINERD=2.4.2 say otherwise), podtrail as the gateway (k8s_audit webhook
# over mTLS and the audit log file) and as the node agent (node_runtime on the
# kubelet's and containerd's logs), scenarios driven with kubectl and curl, and
# assertions on the exported OTLP JSON (cmd/check). Everything it started is
# stopped and everything the node changed is undone on exit, pass or fail.
# See e2e/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
WORK=${PODTRAIL_E2E_WORK:-/var/lib/podtrail-e2e} # removed at the end
OUT=${PODTRAIL_E2E_OUT:-$REPO/out/e2e}           # records, events, logs: kept
NODE=${PODTRAIL_E2E_NODE:-e2e-node-1}
KEEP=${PODTRAIL_E2E_KEEP:-0} # 1: leave the cluster running until Enter is pressed
# helm (make e2e-helm): podtrail as pods, installed by helm with its values
# into the cluster (e2e/helm.sh); else the collector binary as processes
MODE=${PODTRAIL_E2E_MODE:-binary}
# The apiserver retries an undelivered audit webhook batch 5 times from this
# backoff (factor 1.5): about 13 s with 1s. What the webhook loses while the
# gateway pod rolls (helm mode), the agents' audit log file input brings
# (their disk queue); the apiserver's default 10s (two minutes of retries)
# would redeliver phase 1's batches to phase 2's new installation.
WEBHOOK_BACKOFF=1s
# the pair under test (make e2e-matrix runs four): the Kubernetes version whose
# module is e2e/tools (empty: its go.mod's, v1.33.13) or e2e/tools/<version>,
# and containerd: "debian" (the package, 1.6 on Debian 12) or a 2.x version
# built from github.com/containerd/containerd/v2 (build-containerd.sh)
export PODTRAIL_E2E_K8S=${PODTRAIL_E2E_K8S:-}
CONTAINERD=${PODTRAIL_E2E_CONTAINERD:-debian}
CONTAINERD=${CONTAINERD#v}
case $CONTAINERD in
debian | 2.*) ;;
*)
	echo "e2e: PODTRAIL_E2E_CONTAINERD=$CONTAINERD: want debian or a 2.x version" >&2
	exit 2
	;;
esac

# loopback ports (override when taken)
ETCD_PORT=${ETCD_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
APISERVER_PORT=${APISERVER_PORT:-16443}
REGISTRY_PORT=${REGISTRY_PORT:-15000}
WEBHOOK_PORT=${WEBHOOK_PORT:-18443}
OTLP_PORT=${OTLP_PORT:-14317}
GATEWAY_HEALTH_PORT=${GATEWAY_HEALTH_PORT:-13133}
AGENT_HEALTH_PORT=${AGENT_HEALTH_PORT:-13134}
KUBELET_PORT=${KUBELET_PORT:-20250}
KUBELET_HEALTHZ_PORT=${KUBELET_HEALTHZ_PORT:-20248}

PKI=$WORK/pki
LOGS=$OUT/logs
BRIDGE=pte2e0
CNI_NET=podtrail-e2e
CGROUP_ROOT=podtrail-e2e
START=$(date +%s)

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (the kubelet, containerd and runc need it)"
command -v go >/dev/null || die "go is not on PATH"

# ---- processes and cleanup --------------------------------------------------

PIDS=()   # started daemons, in start order
NAMES=()
start_bg() { # name cmd...: runs cmd with stdout+stderr to $LOGS/name.log (APPEND=1: appended)
	local name=$1
	shift
	if [[ ${APPEND:-0} == 1 ]]; then
		"$@" >>"$LOGS/$name.log" 2>&1 &
	else
		"$@" >"$LOGS/$name.log" 2>&1 &
	fi
	PIDS+=("$!")
	NAMES+=("$name")
	# for a later run, should this one be killed before its cleanup
	echo "$! $1" >>"$WORK/pids"
	log "started $name (pid $!)"
}

stop_pid() { # pid name: TERM, then KILL after 10 s
	local pid=$1 name=$2 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name did not stop in 10 s: KILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

stop_named() { # name: stops the daemon started under that name
	local i
	for i in "${!NAMES[@]}"; do
		if [[ ${NAMES[$i]} == "$1" ]]; then
			stop_pid "${PIDS[$i]}" "$1"
		fi
	done
}

# pids of processes whose command line mentions $1 (our own paths only)
pids_mentioning() {
	local p
	for p in /proc/[0-9]*; do
		[[ -r $p/cmdline ]] || continue
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$1"; then
			echo "${p#/proc/}"
		fi
	done
}

snapshot_host() { # what the node may change, to undo it at the end
	mkdir -p "$WORK/before"
	ls /var/run/netns 2>/dev/null | sort >"$WORK/before/netns" || true
	for t in filter nat mangle; do
		{ iptables -t $t -S 2>/dev/null || true; } | awk '$1=="-N"{print $2}' | sort >"$WORK/before/chains-$t"
		{ ip6tables -t $t -S 2>/dev/null || true; } | awk '$1=="-N"{print $2}' | sort >"$WORK/before/chains6-$t"
	done
	: >"$WORK/before/sysctl"
	for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys \
		kernel.keys.root_maxbytes net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
		v=$(sysctl -n "$s" 2>/dev/null) && echo "$s=$v" >>"$WORK/before/sysctl"
	done
	for d in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /etc/cni /run/containerd /etc/kubernetes /run/netns; do
		[[ -e $d ]] && echo "$d" >>"$WORK/before/paths"
	done
	touch "$WORK/before/paths"
	ls -A /var/log/containers 2>/dev/null | sort >"$WORK/before/log-containers" || true
	ls -A /var/log/pods 2>/dev/null | sort >"$WORK/before/log-pods" || true
}

existed_before() { grep -qxF "$1" "$WORK/before/paths" 2>/dev/null; }

CLEANED=0
cleanup() {
	local rc=$?
	[[ $CLEANED == 1 ]] && return
	CLEANED=1
	set +e
	trap - INT TERM
	log "cleanup (exit code $rc)"
	if [[ $KEEP == 1 && -t 0 ]]; then
		echo "cluster kept: KUBECONFIG=$PKI/admin.kubeconfig; press Enter to tear down" >&2
		read -r _
	fi
	# 1. let the kubelet tear its pods down (CNI DEL, unmounts) while it runs
	if [[ -n ${KUBECTL:-} ]] && running kubelet && running kube-apiserver; then
		rm -f "$WORK/manifests/"*.yaml
		$KUBECTL delete cronjobs,jobs,deployments,daemonsets,statefulsets,replicasets --all -A --wait=false >/dev/null 2>&1
		$KUBECTL delete pods --all -A --grace-period=0 --force --wait=false >/dev/null 2>&1
		for _ in $(seq 1 30); do
			n=$(ctr_ -n k8s.io tasks ls 2>/dev/null | awk 'NR > 1 && $3 == "RUNNING"' | wc -l)
			[[ $n == 0 ]] && break
			sleep 1
		done
	fi
	# 2. stop the daemons, newest first
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		[[ ${NAMES[$i]} == containerd ]] && kill_tasks
		stop_pid "${PIDS[$i]}" "${NAMES[$i]}"
	done
	# shims and containers outlive containerd: end the ones of our containerd
	for p in $(pids_mentioning "$WORK/containerd/containerd.sock"); do
		kill -KILL "$p" 2>/dev/null
	done
	for p in $(pids_mentioning "$WORK/"); do
		[[ $p == $$ || $p == $BASHPID ]] && continue
		kill -KILL "$p" 2>/dev/null
	done
	undo_host
	[[ -d $WORK ]] && cp -f "$WORK/audit/audit.log" "$LOGS/audit.log" 2>/dev/null
	rm -rf "$WORK"
	log "done in $(($(date +%s) - START)) s; records and logs in $OUT"
	exit $rc
}

running() { # name: the daemon started under that name is alive
	local i
	for i in "${!NAMES[@]}"; do
		[[ ${NAMES[$i]} == "$1" ]] && kill -0 "${PIDS[$i]}" 2>/dev/null && return 0
	done
	return 1
}

ctr_() { ctr --address "$WORK/containerd/containerd.sock" "$@"; }

kill_tasks() {
	local t
	for t in $(ctr_ -n k8s.io tasks ls -q 2>/dev/null); do
		ctr_ -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
	done
	sleep 1
}

undo_host() {
	local m n t c d
	# mounts under the work folder and containerd's state (deepest first)
	for _ in 1 2 3; do
		awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null
		done
	done
	# network namespaces the CNI made for our pods
	for n in $(ls /var/run/netns 2>/dev/null); do
		grep -qxF "$n" "$WORK/before/netns" 2>/dev/null && continue
		umount -l "/var/run/netns/$n" 2>/dev/null
		rm -f "/var/run/netns/$n"
	done
	existed_before /run/netns || rmdir /run/netns 2>/dev/null
	ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
	# iptables chains the kubelet added (KUBE-*), with the rules that jump to them
	for t in filter nat mangle; do
		for c in $({ iptables -t $t -S 2>/dev/null || true; } | awk '$1=="-N"{print $2}' | sort | comm -13 "$WORK/before/chains-$t" - 2>/dev/null); do
			iptables -t $t -S 2>/dev/null | grep -E -- "-j $c( |$)" | sed 's/^-A/-D/' | while read -r r; do
				eval "iptables -t $t $r" 2>/dev/null
			done
			iptables -t $t -F "$c" 2>/dev/null
			iptables -t $t -X "$c" 2>/dev/null
		done
		for c in $({ ip6tables -t $t -S 2>/dev/null || true; } | awk '$1=="-N"{print $2}' | sort | comm -13 "$WORK/before/chains6-$t" - 2>/dev/null); do
			ip6tables -t $t -S 2>/dev/null | grep -E -- "-j $c( |$)" | sed 's/^-A/-D/' | while read -r r; do
				eval "ip6tables -t $t $r" 2>/dev/null
			done
			ip6tables -t $t -F "$c" 2>/dev/null
			ip6tables -t $t -X "$c" 2>/dev/null
		done
	done
	# cgroups: everything under <controller>/podtrail-e2e, deepest first, after
	# ending what still runs in them (containers of a run killed before its cleanup)
	for d in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
		[[ -d $d ]] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do
			kill -KILL "$p" 2>/dev/null
		done
	done
	sleep 0.5
	for d in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
		[[ -d $d ]] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
		[[ -d $d ]] && log "cgroup $d still there (a process left in it?)"
	done
	# sysctls the kubelet and the bridge plugin set
	if [[ -f $WORK/before/sysctl ]]; then
		while IFS= read -r kv; do
			sysctl -qw "$kv" >/dev/null 2>&1
		done <"$WORK/before/sysctl"
	fi
	# the kubelet's pod logs and their links: the entries made during the run
	for d in containers pods; do
		[[ -d /var/log/$d && -f $WORK/before/log-$d ]] || continue
		ls -A "/var/log/$d" | sort | comm -13 "$WORK/before/log-$d" - | while read -r n; do
			rm -rf "/var/log/$d/$n"
		done
	done
	for d in /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /etc/cni /etc/kubernetes /run/containerd; do
		if [[ -e $d ]] && ! existed_before "$d"; then
			log "removing $d, made during the run"
			rm -rf "$d"
		fi
	done
	# CNI results cache of our network
	rm -f /var/lib/cni/results/"$CNI_NET"-* 2>/dev/null
	# the Debian packages this run installed
	if [[ ${PODTRAIL_E2E_KEEP_PACKAGES:-0} != 1 && -s $WORK/before/packages ]]; then
		local pkgs
		pkgs=$(dpkg-query -W -f '${Package}\n' 2>/dev/null | sort | comm -13 "$WORK/before/packages" -)
		if [[ -n $pkgs ]]; then
			log "purging the packages this run installed: $(echo $pkgs)"
			# shellcheck disable=SC2086
			DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >>"$LOGS/apt.log" 2>&1 ||
				log "apt-get purge failed: $LOGS/apt.log"
		fi
	fi
}

# one run at a time, before any cleanup can run: a second run would take the
# first's work folder for a killed run's, end its processes and undo its node
CACHE=${PODTRAIL_E2E_CACHE:-/var/cache/podtrail-e2e}
mkdir -p "$CACHE"
exec 8>"$CACHE/run.lock"
# PODTRAIL_E2E_LOCK_WAIT=seconds: wait that long for a run in progress to end
flock -w "${PODTRAIL_E2E_LOCK_WAIT:-0}" 8 || die "another make e2e is running (lock $CACHE/run.lock)"

trap cleanup EXIT
trap 'exit 130' INT TERM

# what the podtrail configs (e2e/config) and lib/pki.sh read
export PODTRAIL_HOME=$REPO E2E_PKI=$PKI E2E_OUT=$OUT E2E_LOGS=$LOGS E2E_NODE=$NODE
export E2E_WEBHOOK=127.0.0.1:$WEBHOOK_PORT E2E_OTLP=127.0.0.1:$OTLP_PORT
export E2E_GATEWAY_HEALTH=127.0.0.1:$GATEWAY_HEALTH_PORT E2E_AGENT_HEALTH=127.0.0.1:$AGENT_HEALTH_PORT
export E2E_AUDIT_LOG=$WORK/audit/audit.log
# phase 1: podtrail from the cluster's start; phase 2 changes these (scenario_phase2)
export E2E_RECORDS=$OUT/records.json E2E_EVENTS=$OUT/events.json
export E2E_AUDIT_START_AT=beginning E2E_NODE_START_AT=beginning E2E_WINDOW=60s E2E_CREATE_WAIT=3m

# ---- 0. a clean start ------------------------------------------------------

if [[ -d $WORK ]]; then
	log "$WORK is left from an earlier run: cleaning it"
	while read -r p cmd; do
		# still the process that run started (its pid not reused)?
		if [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "$cmd "* ]]; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done <"$WORK/pids" 2>/dev/null || true
	for p in $(pids_mentioning "$WORK/"); do kill -KILL "$p" 2>/dev/null || true; done
	sleep 1
	WORK_OLD=1
fi
rm -rf "$OUT"
mkdir -p "$OUT" "$LOGS"
if [[ ${WORK_OLD:-0} == 1 ]]; then
	(undo_host) || true
	rm -rf "$WORK"
fi
mkdir -p "$WORK"/{pki,etcd,audit,manifests,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,bin}
snapshot_host

# ---- 1. binaries -----------------------------------------------------------

log "Kubernetes binaries (cached; the first build takes 10-15 minutes)"
"$HERE/build-k8s.sh" >"$WORK/k8s-bin" 2>"$LOGS/build-k8s.log" &
BUILD_PID=$!
CTRD_PID=
if [[ $CONTAINERD != debian ]]; then
	log "containerd $CONTAINERD (cached; the first build takes a few minutes)"
	"$HERE/build-containerd.sh" "$CONTAINERD" >"$WORK/containerd-bin" 2>"$LOGS/build-containerd.log" &
	CTRD_PID=$!
fi

# the Debian packages installed here are purged at the end (their list:
# $WORK/before/packages); PODTRAIL_E2E_KEEP_PACKAGES=1 keeps them for the next run
dpkg-query -W -f '${Package}\n' 2>/dev/null | sort >"$WORK/before/packages" || true
need=()
command -v etcd >/dev/null || need+=(etcd-server)
[[ $CONTAINERD != debian ]] || command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || need+=(containernetworking-plugins)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v iptables >/dev/null || need+=(iptables)
if ((${#need[@]})); then
	log "installing ${need[*]}"
	apt-get update -qq >"$LOGS/apt.log" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$LOGS/apt.log" 2>&1 ||
		die "apt-get install failed: $LOGS/apt.log"
fi
CNI_BIN=/usr/lib/cni

if [[ -n ${PODTRAIL_BIN:-} ]]; then
	log "podtrail: $PODTRAIL_BIN (PODTRAIL_BIN)"
else
	log "podtrail: make build"
	make -C "$REPO" build >"$LOGS/make-build.log" 2>&1 || die "make build failed: $LOGS/make-build.log"
	PODTRAIL_BIN=$REPO/bin/otelcol-podtrail
fi
(
	cd "$HERE"
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$WORK/bin/sleeper" ./cmd/sleeper
	go build -o "$WORK/bin/registry" ./cmd/registry
	go build -o "$WORK/bin/check" ./cmd/check
	go build -o "$WORK/bin/cri" ./cmd/cri
) >"$LOGS/go-build-e2e.log" 2>&1 || die "building e2e/cmd failed: $LOGS/go-build-e2e.log"

# the audit policy exactly as README.md documents it ("Pointing a
# kube-apiserver at podtrail"): the e2e runs what a user would copy
awk '/^Audit policy \(`--audit-policy-file`\)/ {f = 1} f && /^```yaml/ {p = 1; next} p && /^```/ {exit} p' \
	"$REPO/README.md" >"$WORK/audit-policy.yaml"
grep -q '^kind: Policy' "$WORK/audit-policy.yaml" || die "no audit policy in README.md"
cp "$WORK/audit-policy.yaml" "$LOGS/audit-policy.yaml"

# ---- 2. certificates -------------------------------------------------------

log "certificates"
# shellcheck source=e2e/lib/pki.sh
source "$HERE/lib/pki.sh"
(make_pki "$PKI" "$NODE" "$APISERVER_PORT") >"$LOGS/pki.log" 2>&1 || die "certificates: $LOGS/pki.log"

wait "$BUILD_PID" || die "building Kubernetes failed: $LOGS/build-k8s.log"
K8S_BIN=$(tail -1 "$WORK/k8s-bin")
log "Kubernetes binaries in $K8S_BIN"
KUBECTL="$K8S_BIN/kubectl --kubeconfig $PKI/admin.kubeconfig"
export PATH="$K8S_BIN:$PATH"
if [[ -n $CTRD_PID ]]; then
	wait "$CTRD_PID" || die "building containerd $CONTAINERD failed: $LOGS/build-containerd.log"
	CTRD_BIN=$(tail -1 "$WORK/containerd-bin")
	# containerd, its runc shim and ctr from the build; runc stays Debian's
	export PATH="$CTRD_BIN:$PATH"
fi
CONTAINERD_VERSION=$(containerd --version | awk '{print $3}')
K8S_VERSION=$(kubelet --version | awk '{print $2}')
log "pair: Kubernetes $K8S_VERSION, containerd $CONTAINERD_VERSION ($(command -v containerd)), runc $(runc --version | awk 'NR==1{print $3}')"
printf 'kubernetes=%s\ncontainerd=%s\n' "$K8S_VERSION" "$CONTAINERD_VERSION" >"$OUT/pair.txt"

# ---- 3. podtrail: gateway ------------------------------------------------------

wait_for() { # what seconds command...
	local what=$1 secs=$2 i
	shift 2
	for i in $(seq 1 $((secs * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "$what not up after $secs s"
}
healthy() { curl -fsS "http://$1/" >/dev/null; }
if [[ $MODE == helm ]]; then
	# shellcheck source=e2e/helm.sh
	source "$HERE/helm.sh"
	helm_prepare # the image and its registry; installed once the node is Ready
else
	start_bg podtrail-gateway "$PODTRAIL_BIN" --config "$HERE/config/gateway.yaml"
	wait_for "podtrail gateway" 60 healthy "$E2E_GATEWAY_HEALTH"
fi

# ---- 4. control plane ------------------------------------------------------

log "etcd"
start_bg etcd etcd --name e2e --data-dir "$WORK/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
	--initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

log "kube-apiserver"
# its audit backends (the webhook to podtrail, the log file podtrail tails);
# start_apiserver noaudit starts it without them (lineage.sh)
APISERVER_AUDIT=(--audit-policy-file "$WORK/audit-policy.yaml"
	--audit-log-path "$E2E_AUDIT_LOG" --audit-log-format json --audit-log-maxsize 0
	--audit-webhook-config-file "$PKI/audit-webhook.kubeconfig"
	--audit-webhook-mode batch --audit-webhook-batch-max-wait 1s --audit-webhook-initial-backoff "$WEBHOOK_BACKOFF")
start_apiserver() {
	local audit=("${APISERVER_AUDIT[@]}")
	[[ ${1:-} != noaudit ]] || audit=()
	start_bg kube-apiserver kube-apiserver \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--endpoint-reconciler-type none \
		--service-cluster-ip-range 10.96.0.0/16 \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--token-auth-file "$PKI/tokens.csv" \
		--authorization-mode Node,RBAC \
		--enable-admission-plugins NodeRestriction \
		--allow-privileged=true \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--kubelet-client-certificate "$PKI/apiserver-kubelet.crt" --kubelet-client-key "$PKI/apiserver-kubelet.key" \
		"${audit[@]}" \
		--profiling=false --v 1
}
start_apiserver
wait_for kube-apiserver 90 $KUBECTL get --raw /readyz

log "kube-controller-manager, kube-scheduler"
start_bg kube-controller-manager kube-controller-manager \
	--kubeconfig "$PKI/controller-manager.kubeconfig" \
	--authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
	--authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port 0 \
	--use-service-account-credentials \
	--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
	--cluster-name podtrail-e2e --leader-elect=false --v 1
start_bg kube-scheduler kube-scheduler \
	--kubeconfig "$PKI/scheduler.kubeconfig" \
	--authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
	--authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
	--bind-address 127.0.0.1 --secure-port 0 --leader-elect=false --v 1
wait_for "the default service account" 60 $KUBECTL -n default get serviceaccount default
# every pod the API server has during the run, also the ones deleted at once:
# the check fails on a record of a pod the API never had
start_bg pod-watch sh -c "exec $KUBECTL get pods -A --watch --output-watch-events -o json 2>>'$LOGS/pod-watch.err'"
log "control plane up: $($KUBECTL version 2>/dev/null | tr '\n' ' ')"

# scenarios that take a while start before the node is there
# shellcheck source=e2e/scenarios.sh
source "$HERE/scenarios.sh"
# (helm mode: once podtrail's pods run, see below: its gateway cannot run
# before the node does, and workloads created before it would reach it out of
# order, the webhook's retried batches before the audit log file's lines)
[[ $MODE == helm ]] || scenario_setup

# ---- 5. node ---------------------------------------------------------------

log "registry (loopback) for the node's images"
start_bg registry "$WORK/bin/registry" -listen "127.0.0.1:$REGISTRY_PORT" -bin "$WORK/bin/sleeper"
wait_for registry 10 curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"

# shellcheck source=e2e/lib/node.sh
source "$HERE/lib/node.sh"
write_node_config
scenario_preload

log "containerd"
start_bg containerd containerd --config "$WORK/containerd/config.toml"
wait_for containerd 30 ctr_ version

if [[ $MODE != helm ]]; then
	log "podtrail node agent"
	start_bg podtrail-agent "$PODTRAIL_BIN" --config "$HERE/config/agent.yaml"
	wait_for "podtrail agent" 60 healthy "$E2E_AGENT_HEALTH"
fi

log "kubelet"
prepare_cgroups
start_kubelet() {
	start_bg kubelet kubelet --config "$WORK/kubelet/config.yaml" \
		--kubeconfig "$PKI/kubelet.kubeconfig" --root-dir "$WORK/kubelet/root" \
		--hostname-override "$NODE" --v 2
}
start_kubelet
node_ready() { $KUBECTL get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
wait_for "node $NODE Ready" 120 node_ready
log "node $NODE Ready"
if [[ $MODE == helm ]]; then
	helm_install 1
	scenario_setup
fi
# the kubelet stopped and started again, logging on to the same file
restart_kubelet() {
	log "restarting the kubelet"
	stop_named kubelet
	APPEND=1 start_kubelet
	wait_for "kubelet after its restart" 60 curl -fsS "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
}

# ---- 6. scenarios ------------------------------------------------------------

CHECK=("$WORK/bin/check" -repo "$REPO" -node "$NODE" -records "$OUT/records.json" -records2 "$OUT/records-2.json"
	-events "$OUT/events.json" -events2 "$OUT/events-2.json" -pods "$OUT/pods.json" -pods2 "$OUT/pods-2.json"
	-watch "$LOGS/pod-watch.log" -cri "$OUT/cri-1.json" -cri2 "$OUT/cri-2.json" -digests "$OUT/digests.txt"
	-audit-log "$E2E_AUDIT_LOG" -registry-log "$LOGS/registry.log" -bypass "$OUT/bypass.txt" -images "$OUT/images.txt")
cri_dump() { "$WORK/bin/cri" -sock "$WORK/containerd/containerd.sock" containers >"$1" 2>>"$LOGS/cri.log" || log "cri containers failed"; }

scenario_run
[[ $MODE != helm ]] || helm_rollout
log "phase 1: waiting for the records (correlation window)"
"${CHECK[@]}" -wait 1 -timeout 150s
cri_dump "$OUT/cri-1.json"
ctr_ -n k8s.io images ls >"$OUT/images.txt" 2>>"$LOGS/cri.log" || log "ctr images ls failed"

# ---- 7. phase 2: podtrail started anew on the running cluster -----------------

log "phase 2: podtrail stopped (what it holds is emitted) and started with empty state"
export E2E_RECORDS=$OUT/records-2.json E2E_EVENTS=$OUT/events-2.json
export E2E_AUDIT_START_AT=end E2E_NODE_START_AT=end E2E_WINDOW=20s E2E_CREATE_WAIT=20s
if [[ $MODE == helm ]]; then
	helm_uninstall
	helm_install 2 # a new installation: empty state, the files from their ends
else
	stop_named podtrail-agent
	stop_named podtrail-gateway
	start_bg podtrail-gateway-2 "$PODTRAIL_BIN" --config "$HERE/config/gateway.yaml"
	wait_for "podtrail gateway (phase 2)" 60 healthy "$E2E_GATEWAY_HEALTH"
	start_bg podtrail-agent-2 "$PODTRAIL_BIN" --config "$HERE/config/agent.yaml"
	wait_for "podtrail agent (phase 2)" 60 healthy "$E2E_AGENT_HEALTH"
fi
sleep 1 # the file inputs' first poll: from there on, start_at end reads every new line

scenario_phase2
log "phase 2: waiting for the records (correlation window)"
"${CHECK[@]}" -wait 2 -timeout 120s
cri_dump "$OUT/cri-2.json"
# what the gateway still holds is emitted at shutdown: the check sees it too
if [[ $MODE == helm ]]; then
	helm_uninstall
else
	stop_named podtrail-agent-2
	stop_named podtrail-gateway-2
fi

# ---- 7b. phase 3: image lineage and provenance, blind spots (e2e/lineage.sh) ----

if [[ $MODE != helm && ${PODTRAIL_E2E_LINEAGE:-1} == 1 ]]; then
	# shellcheck source=e2e/lineage.sh
	source "$HERE/lineage.sh"
	lineage_phase
	CHECK+=(-records3 "$OUT/records-3.json" -lineage-images "$LOGS/lineage-images.txt")
fi

# ---- 8. assertions ------------------------------------------------------------

log "checking the records"
set +e
"${CHECK[@]}" | tee "$OUT/check.txt"
rc=${PIPESTATUS[0]}
set -e
log "assertions: $(tail -1 "$OUT/check.txt")"
[[ $MODE != helm ]] || helm_summary
exit "$rc"
