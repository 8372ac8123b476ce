# Scenarios of the end-to-end test (sourced by e2e/run.sh). What each one
# expects to find in podtrail's records is in cmd/check/main.go.
#
# Before the node is there (scenario_setup): namespaces, RBAC, the system
# workloads and add-ons as their upstream manifests have them (kube-proxy,
# coredns, flannel, metrics-server) and a CronJob that
# fires at the next minute. Before containerd runs for the kubelet
# (scenario_preload): an image imported into containerd, as if pulled long
# ago. With the node Ready (scenario_run): two teams' Deployments (a person
# with kubectl, a CI service account), a person's lookalikes, a Deployment
# and a Job, a static pod, a forbidden create and its allowed retry,
# generateName pods, a pod created and deleted within a second, images by tag
# and by digest, Helm- and Argo-style creates, two pods of the imported image,
# creates impersonating a service account and a user, a pod whose create
# event is over 2 MiB. Phase 2 (scenario_restart): podtrail stopped and
# started again with empty state on the running cluster, traffic of the pods
# it never saw created, new pods, and a pod sandbox run through the CRI
# without the API server.

as_admin() { kubectl --kubeconfig "$PKI/admin.kubeconfig" "$@"; }
as_alice() { kubectl --kubeconfig "$PKI/alice.kubeconfig" "$@"; }
as_bob() { kubectl --kubeconfig "$PKI/bob.kubeconfig" "$@"; }
as_bot() { kubectl --kubeconfig "$PKI/deploy-bot.kubeconfig" "$@"; }
as_erin() { kubectl --kubeconfig "$PKI/erin.kubeconfig" "$@"; }
as_dave() { kubectl --kubeconfig "$PKI/dave.kubeconfig" "$@"; }
# team-b's CI: the service account team-b/ci-deployer with a token of its own
# (TokenRequest), as a pipeline holds one (scenario_setup writes the kubeconfig)
as_ci() { kubectl --kubeconfig "$PKI/ci-deployer.kubeconfig" "$@"; }

# POST a pod as deploy-bot with the user agent of another client (kubectl
# cannot set one): curl_pod NAMESPACE USER_AGENT QUERY < pod.json
curl_pod() {
	curl -fsS -o /dev/null --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$PKI/deploy-bot.token")" \
		-H "Content-Type: application/json" -A "$2" --data-binary @- \
		"https://127.0.0.1:$APISERVER_PORT/api/v1/namespaces/$1/pods$3"
}

IMG_PROXY=registry.k8s.io/kube-proxy:v1.33.13
IMG_DNS=registry.k8s.io/coredns/coredns:v1.12.0
IMG_APP=docker.io/library/nginx:1.27
# imported with ctr before the kubelet's containerd runs: never pulled
IMG_PRELOADED=docker.io/library/preloaded:1.0
# add-ons at the versions the shipped inventory was read from
# (distributions/otelcol-podtrail/rules/inventory.yaml: flannel v0.28.9
# kube-flannel.yml, metrics-server v0.8.1 components.yaml)
IMG_FLANNEL=ghcr.io/flannel-io/flannel:v0.28.9
IMG_METRICS=registry.k8s.io/metrics-server/metrics-server:v0.8.1
# two teams' own images (the registry serves any repository name)
IMG_TEAM_A=docker.io/library/httpd:2.4
IMG_TEAM_B=ghcr.io/example-org/orders-api:1.4.2

scenario_setup() {
	log "scenarios: namespaces, RBAC, kube-proxy DaemonSet, coredns Deployment, CronJob"
	as_admin create namespace apps >/dev/null
	as_admin create namespace team-b >/dev/null
	as_admin create clusterrolebinding alice-admin --clusterrole=cluster-admin --user=alice@example.com >/dev/null
	as_admin -n apps create rolebinding deploy-bot-edit --clusterrole=edit --user=deploy-bot >/dev/null
	as_admin -n kube-system create serviceaccount kube-proxy >/dev/null
	as_admin -n kube-system create serviceaccount coredns >/dev/null
	# erin may create nothing herself, only impersonate the service account
	# apps/builder and the user carol@example.com, who may create pods in apps
	as_admin -n apps create serviceaccount builder >/dev/null
	as_admin -n apps create rolebinding builder-edit --clusterrole=edit --serviceaccount=apps:builder >/dev/null
	as_admin -n apps create rolebinding carol-edit --clusterrole=edit --user=carol@example.com >/dev/null
	as_admin apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-builders}
rules:
  - {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate], resourceNames: [builder]}
  - {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [carol@example.com]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: erin-impersonate-builders}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-builders}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: erin@example.com}]
YAML
	# the add-ons as their upstream manifests have them (kubeadm v1.33's
	# kube-proxy and CoreDNS, flannel's kube-flannel.yml, metrics-server's
	# components.yaml), applied by the cluster admin as an installer would:
	# names, namespaces, service accounts, labels, images, priority classes,
	# host network, security contexts. Left out: commands and args (every
	# image runs the sleeper), volumes (config maps and host paths the
	# sleeper does not read), flannel's two init containers (they copy the
	# CNI plugin and config onto the node), kube-proxy's privileged: true
	# (this sandbox's root lacks CAP_SYS_RESOURCE); coredns runs 1 replica
	# (kubeadm: 2)
	as_admin apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-proxy, namespace: kube-system, labels: {k8s-app: kube-proxy}}
spec:
  selector: {matchLabels: {k8s-app: kube-proxy}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata: {labels: {k8s-app: kube-proxy}}
    spec:
      serviceAccountName: kube-proxy
      priorityClassName: system-node-critical
      hostNetwork: true
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{operator: Exists}]
      terminationGracePeriodSeconds: 1
      containers: [{name: kube-proxy, image: $IMG_PROXY, imagePullPolicy: IfNotPresent}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{key: CriticalAddonsOnly, operator: Exists}, {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
      terminationGracePeriodSeconds: 1
      containers:
        - name: coredns
          image: $IMG_DNS
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 53, name: dns, protocol: UDP}, {containerPort: 53, name: dns-tcp, protocol: TCP}, {containerPort: 9153, name: metrics, protocol: TCP}]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
            readOnlyRootFilesystem: true
YAML
	as_admin apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: kube-flannel, labels: {k8s-app: flannel, pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: flannel, labels: {k8s-app: flannel}}
rules:
  - {apiGroups: [""], resources: [pods], verbs: [get]}
  - {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
  - {apiGroups: [""], resources: [nodes/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: flannel, labels: {k8s-app: flannel}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: flannel}
subjects: [{kind: ServiceAccount, name: flannel, namespace: kube-flannel}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: flannel, namespace: kube-flannel, labels: {k8s-app: flannel}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel, labels: {tier: node, app: flannel, k8s-app: flannel}}
spec:
  selector: {matchLabels: {app: flannel}}
  template:
    metadata: {labels: {tier: node, app: flannel}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]}]
      hostNetwork: true
      priorityClassName: system-node-critical
      tolerations: [{operator: Exists, effect: NoSchedule}]
      serviceAccountName: flannel
      terminationGracePeriodSeconds: 1
      containers:
        - name: kube-flannel
          image: $IMG_FLANNEL
          resources: {requests: {cpu: 100m, memory: 50Mi}}
          securityContext:
            privileged: false
            capabilities: {add: [NET_ADMIN, NET_RAW]}
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: EVENT_QUEUE_DEPTH, value: "5000"}
            - {name: CONT_WHEN_CACHE_NOT_READY, value: "false"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}
spec:
  selector: {matchLabels: {k8s-app: metrics-server}}
  strategy: {rollingUpdate: {maxUnavailable: 0}}
  template:
    metadata: {labels: {k8s-app: metrics-server}}
    spec:
      serviceAccountName: metrics-server
      priorityClassName: system-cluster-critical
      nodeSelector: {kubernetes.io/os: linux}
      terminationGracePeriodSeconds: 1
      containers:
        - name: metrics-server
          image: $IMG_METRICS
          imagePullPolicy: IfNotPresent
          ports: [{containerPort: 10250, name: https, protocol: TCP}]
          resources: {requests: {cpu: 100m, memory: 200Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: 1000
            seccompProfile: {type: RuntimeDefault}
YAML
	# two teams: team-a's person applies with kubectl, team-b's CI with a
	# service account token
	as_admin create namespace team-a >/dev/null
	as_admin -n team-a create rolebinding dave-edit --clusterrole=edit --user=dave@example.com >/dev/null
	as_admin -n team-b create serviceaccount ci-deployer >/dev/null
	as_admin -n team-b create rolebinding ci-deployer-edit --clusterrole=edit --serviceaccount=team-b:ci-deployer >/dev/null
	kubectl config --kubeconfig "$PKI/ci-deployer.kubeconfig" set-cluster e2e \
		--server "https://127.0.0.1:$APISERVER_PORT" --certificate-authority "$PKI/ca.crt" >/dev/null
	kubectl config --kubeconfig "$PKI/ci-deployer.kubeconfig" set-credentials ci-deployer \
		--token "$(as_admin -n team-b create token ci-deployer --duration 2h)" >/dev/null
	kubectl config --kubeconfig "$PKI/ci-deployer.kubeconfig" set-context e2e --cluster e2e --user ci-deployer >/dev/null
	kubectl config --kubeconfig "$PKI/ci-deployer.kubeconfig" use-context e2e >/dev/null
	as_alice apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: apps}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers: [{name: report, image: $IMG_APP, args: ["2"]}]
YAML
}

# an image that was on the node before podtrail's agent ran: imported with
# ctr into a containerd whose log the agent never reads (pulled long ago)
scenario_preload() {
	log "scenario: $IMG_PRELOADED imported into containerd (no pull)"
	"$WORK/bin/registry" -bin "$WORK/bin/sleeper" -export "$WORK/preloaded.tar" -name "$IMG_PRELOADED"
	start_bg containerd-preload containerd --config "$WORK/containerd/config.toml"
	wait_for "containerd (preload)" 30 ctr_ version
	ctr_ -n k8s.io images import "$WORK/preloaded.tar" >"$LOGS/ctr-import.log" 2>&1 ||
		die "ctr images import failed: $LOGS/ctr-import.log"
	ctr_ -n k8s.io images ls >>"$LOGS/ctr-import.log" 2>&1
	stop_named containerd-preload
}

# wait_running NS NAME [SECONDS]
wait_running() {
	local i
	for i in $(seq 1 "${3:-60}"); do
		[[ $(as_admin -n "$1" get pod "$2" -o 'jsonpath={.status.phase}' 2>/dev/null) == Running ]] && return 0
		sleep 1
	done
	log "pod $1/$2 not Running after ${3:-60} s"
}

scenario_run() {
	local i
	log "scenario: alice's lookalikes in kube-system"
	# a bare pod named like a DaemonSet pod, without the DaemonSet's labels: it runs
	as_alice -n kube-system run kube-proxy-x7b2q --image "$IMG_PROXY" --restart=Never >/dev/null
	# one with the DaemonSet's labels: the DaemonSet controller adopts it and,
	# as the node has its pod already, deletes it within milliseconds
	as_alice -n kube-system run kube-proxy-m4k9z --image "$IMG_PROXY" --restart=Never --labels k8s-app=kube-proxy >/dev/null

	log "scenario: two teams' workloads (dave with kubectl, team-b's CI service account)"
	as_dave -n team-a apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: storefront, labels: {app.kubernetes.io/name: storefront, team: team-a}}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/name: storefront}}
  template:
    metadata: {labels: {app.kubernetes.io/name: storefront, team: team-a}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: httpd, image: $IMG_TEAM_A, ports: [{containerPort: 80}]}]
YAML
	as_ci -n team-b apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, labels: {app.kubernetes.io/name: orders, team: team-b}}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: orders}}
  template:
    metadata: {labels: {app.kubernetes.io/name: orders, team: team-b}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: api, image: $IMG_TEAM_B, ports: [{containerPort: 8080}]}]
YAML

	log "scenario: a Deployment and a Job (alice)"
	as_alice -n apps create deployment web --image "$IMG_APP" --replicas 2 >/dev/null
	as_alice -n apps create job migrate --image "$IMG_APP" -- /sleeper 2 >/dev/null

	log "scenario: a static pod from the kubelet's manifest folder"
	# written beside and moved in: the kubelet must not read half a file
	cat >"$WORK/manifests/.static-web.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: default}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: web, image: $IMG_APP}]
YAML
	mv "$WORK/manifests/.static-web.yaml" "$WORK/manifests/static-web.yaml"

	log "scenario: bob's forbidden create, a role, and his retry"
	if as_bob -n team-b run probe --image "$IMG_APP" --restart=Never >/dev/null 2>"$OUT/bob-forbidden.txt"; then
		die "bob's create was allowed before he had a role"
	fi
	as_admin -n team-b create rolebinding bob-edit --clusterrole=edit --user=bob@example.com >/dev/null
	for i in $(seq 1 50); do
		[[ $(as_bob -n team-b auth can-i create pods) == yes ]] && break
		sleep 0.2
	done
	as_bob -n team-b run probe --image "$IMG_APP" --restart=Never >/dev/null

	log "scenario: generateName pods"
	for i in 1 2; do
		as_alice -n apps create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {generateName: gen-, namespace: apps}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: $IMG_APP}]
YAML
	done

	log "scenario: a pod created and deleted within a second"
	as_alice -n kube-system run blink --image "$IMG_APP" --restart=Never >/dev/null
	as_alice -n kube-system delete pod blink --grace-period=0 --force >/dev/null 2>&1

	log "scenario: images by tag and by digest"
	as_alice -n apps run img-tag --image "$IMG_APP" --restart=Never >/dev/null
	as_alice -n apps run img-digest --image "docker.io/library/busybox@$(digest_of docker.io/library/busybox)" \
		--restart=Never >/dev/null

	log "scenario: Helm- and Argo-style creates (deploy-bot)"
	as_bot -n apps create --field-manager=helm -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: chart-kubectl
  labels: {app.kubernetes.io/managed-by: Helm, helm.sh/chart: web-1.0.0, app.kubernetes.io/instance: web}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: $IMG_APP}]
YAML
	curl_pod apps "Helm/3.17.3" "?fieldManager=helm" <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"chart-helm","labels":{"app.kubernetes.io/managed-by":"Helm","helm.sh/chart":"web-1.0.0","app.kubernetes.io/instance":"web"}},
 "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"app","image":"$IMG_APP"}]}}
JSON
	curl_pod apps "argocd-application-controller/v2.14.9" "?fieldManager=argocd-controller" <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"guestbook","labels":{"app.kubernetes.io/instance":"guestbook","argocd.argoproj.io/instance":"guestbook"}},
 "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"app","image":"$IMG_APP"}]}}
JSON

	log "scenario: two pods of an image imported before (no pull)"
	as_alice -n apps run preloaded-1 --image "$IMG_PRELOADED" --image-pull-policy IfNotPresent --restart=Never >/dev/null
	wait_running apps preloaded-1
	as_alice -n apps run preloaded-2 --image "$IMG_PRELOADED" --image-pull-policy IfNotPresent --restart=Never >/dev/null

	log "scenario: erin impersonating a service account and a user"
	as_erin -n apps --as=system:serviceaccount:apps:builder run imp-sa --image "$IMG_APP" --restart=Never >/dev/null
	as_erin -n apps --as=carol@example.com run imp-user --image "$IMG_APP" --restart=Never >/dev/null

	log "scenario: a pod whose create event is over 2 MiB"
	# 10 env values of 120,000 bytes: 1.2 MB in the request (the apiserver takes
	# 3 MiB) and in etcd (1.5 MiB), under execve's 128 KiB per string; the audit
	# event has it twice (requestObject and responseObject): about 2.4 MB
	local blob env=""
	blob=$(printf '%*s' 120000 '' | tr ' ' 'x')
	for i in $(seq 0 9); do
		env+="${env:+,}{\"name\":\"BLOB_$i\",\"value\":\"$blob\"}"
	done
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big-env","namespace":"apps"},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"app","image":"%s","env":[%s]}]}}' \
		"$IMG_APP" "$env" >"$WORK/big-env.json"
	as_alice create -f "$WORK/big-env.json" >/dev/null

	log "waiting for the pods to run and for the CronJob's first pod"
	for i in $(seq 1 120); do
		local pending cron
		pending=$(as_admin get pods -A --no-headers 2>/dev/null | awk '$4 != "Running" && $4 != "Completed"' | wc -l)
		cron=$(as_admin -n apps get pods --no-headers 2>/dev/null | grep -c '^report-' || true)
		[[ $pending == 0 && $cron -ge 1 ]] && break
		sleep 1
	done
	as_admin patch cronjob -n apps report -p '{"spec":{"suspend":true}}' >/dev/null
	as_admin get pods -A -o wide >&2 || true
	as_admin get pods -A -o json >"$OUT/pods.json"
	for r in registry.k8s.io/pause registry.k8s.io/kube-proxy registry.k8s.io/coredns/coredns \
		ghcr.io/flannel-io/flannel registry.k8s.io/metrics-server/metrics-server \
		docker.io/library/httpd ghcr.io/example-org/orders-api \
		docker.io/library/nginx docker.io/library/busybox docker.io/library/preloaded; do
		echo "$r $(digest_of $r)"
	done >"$OUT/digests.txt"
}

digest_of() { "$WORK/bin/registry" -bin "$WORK/bin/sleeper" -digest "$1"; }

# Phase 2: podtrail was stopped and started again with empty state (run.sh):
# traffic of pods it never saw created (a label patch, a container killed and
# restarted by the kubelet, a delete, a kubelet restart that syncs every pod),
# new pods (a Deployment's replacement, a bare pod), and a pod sandbox run
# through the CRI without the API server (the node-level bypass the
# node-only finding is for).
scenario_phase2() {
	local web1 web2 cid uid out i
	log "phase 2: traffic of the pods podtrail never saw created"
	read -r web1 web2 < <(as_admin -n apps get pods -l app=web -o 'jsonpath={.items[*].metadata.name}{"\n"}')
	as_alice -n apps label pod img-tag reviewed=yes >/dev/null
	cid=$(as_admin -n apps get pod "$web1" -o 'jsonpath={.status.containerStatuses[0].containerID}')
	ctr_ -n k8s.io tasks kill -s SIGKILL "${cid#containerd://}" >/dev/null 2>&1 || log "could not kill $web1's container"
	as_alice -n apps delete pod img-tag --wait=false >/dev/null
	restart_kubelet

	log "phase 2: new pods: a Deployment's replacement, a bare pod"
	as_alice -n apps delete pod "$web2" --wait=false >/dev/null
	as_alice -n apps run after-restart --image "$IMG_APP" --restart=Never >/dev/null

	log "phase 2: a pod sandbox run through the CRI, not the API server"
	uid=$(cat /proc/sys/kernel/random/uuid)
	mkdir -p "$WORK/pod-logs/bypass"
	out=$("$WORK/bin/cri" -sock "$WORK/containerd/containerd.sock" run -name debug-shell -namespace kube-system \
		-uid "$uid" -image "$IMG_APP" -cgroup-parent "/$CGROUP_ROOT/bypass" -log-dir "$WORK/pod-logs/bypass" \
		2>"$LOGS/cri-run.log") || log "cri run: $(cat "$LOGS/cri-run.log")"
	# namespace name uid sandbox [container]
	echo "kube-system debug-shell $uid" $out >"$OUT/bypass.txt"

	wait_running apps after-restart
	for i in $(seq 1 60); do
		[[ $(as_admin -n apps get pods -l app=web --no-headers 2>/dev/null | awk '$3 == "Running"' | wc -l) -ge 2 ]] && break
		sleep 1
	done
	as_admin get pods -A -o wide >&2 || true
	as_admin get pods -A -o json >"$OUT/pods-2.json"
}
