# make e2e-helm (PODTRAIL_E2E_MODE=helm bash e2e/run.sh): podtrail installed
# into the e2e cluster by helm instead of started as processes. Sourced by
# run.sh, which calls these functions where it would start and stop the
# gateway and agent binaries:
#
#   helm_prepare    the static binary (make dist-binary, or the one
#                   PODTRAIL_DIST_BIN names), the image built
#                   without Docker (tools/image, go-containerregistry) and
#                   pushed to a registry on loopback, helm (make's v3.21.4)
#   helm_install N  namespace podtrail, Secrets podtrail-gateway-tls and
#                   podtrail-agent-token, ConfigMap podtrail-rules, then
#                   `helm install` of the vendored opentelemetry-collector
#                   chart with podtrail's values (distributions/otelcol-podtrail/helm)
#                   and this cluster's overlay (helm/gateway.yaml, helm/agent.yaml):
#                   the gateway StatefulSet, then the agent DaemonSet; phase N's
#                   paths, window and start_at
#   helm_rollout    `helm upgrade` of the gateway with a changed value (a pod
#                   annotation) while pods are created: the StatefulSet's pod
#                   is replaced; the check then asserts one record per pod
#   helm_uninstall  both releases, waiting until their pods are gone
#
# Only run.sh's variables are used (WORK, OUT, LOGS, PKI, KUBECTL, ports).

HELM_CHART=${PODTRAIL_OTEL_CHART:-$(cd "$REPO/.." && pwd)/shared/vendor/helm/opentelemetry-collector-0.170.0}
HELM_VALUES=$REPO/distributions/otelcol-podtrail/helm
PODTRAIL_REGISTRY_PORT=${PODTRAIL_REGISTRY_PORT:-15001}
GATEWAY_METRICS_PORT=${GATEWAY_METRICS_PORT:-18888}
AGENT_METRICS_PORT=${AGENT_METRICS_PORT:-18889}
HELM_NS=podtrail
# rules.yaml and inventory.yaml for the ConfigMap podtrail-rules (the image
# holds them too): the repository's, or those of the tree PODTRAIL_DIST_BIN
# was built from
HELM_RULES=${PODTRAIL_E2E_RULES:-$REPO/distributions/otelcol-podtrail/rules}
IMAGE_REPO=127.0.0.1:$PODTRAIL_REGISTRY_PORT/podtrail/otelcol-podtrail
IMAGE_TAG=e2e

helm_prepare() {
	[[ -d $HELM_CHART ]] || die "no chart at $HELM_CHART (PODTRAIL_OTEL_CHART)"
	log "helm mode: make dist-binary (or PODTRAIL_DIST_BIN), the image (tools/image), helm"
	local dist=${PODTRAIL_DIST_BIN:-$REPO/dist/otelcol-podtrail}
	if [[ -z ${PODTRAIL_DIST_BIN:-} ]]; then
		make -C "$REPO" dist-binary >"$LOGS/make-helm.log" 2>&1 || die "make dist-binary failed: $LOGS/make-helm.log"
	fi
	make -C "$REPO" "$REPO/bin/.helm-v3.21.4" >>"$LOGS/make-helm.log" 2>&1 || die "building helm failed: $LOGS/make-helm.log"
	HELM=$REPO/bin/helm
	(cd "$HERE/tools/image" && go build -o "$WORK/bin/image" .) >>"$LOGS/make-helm.log" 2>&1 ||
		die "building e2e/tools/image failed: $LOGS/make-helm.log"
	start_bg podtrail-registry "$WORK/bin/image" serve -listen "127.0.0.1:$PODTRAIL_REGISTRY_PORT"
	wait_for "podtrail's registry" 10 curl -fsS "http://127.0.0.1:$PODTRAIL_REGISTRY_PORT/v2/"
	IMAGE_DIGEST=$("$WORK/bin/image" build -bin "$dist" -ref "$IMAGE_REPO:$IMAGE_TAG" \
		-config "$REPO/distributions/otelcol-podtrail/config/default.yaml" \
		-rules "$HELM_RULES" 2>>"$LOGS/image.log") ||
		die "building or pushing the image failed: $LOGS/image.log"
	log "image $IMAGE_REPO:$IMAGE_TAG@$IMAGE_DIGEST pushed ($("$HELM" version --short))"
	echo "$IMAGE_REPO $IMAGE_DIGEST" >"$OUT/image.txt"
}

# helm_values phase: the overlays with this run's paths and ports
helm_values() {
	local phase=$1 f
	mkdir -p "$WORK/helm"
	for f in gateway agent; do
		sed -e "s|@IMAGE_REPO@|$IMAGE_REPO|g" -e "s|@IMAGE_TAG@|$IMAGE_TAG|g" \
			-e "s|@STATE@|$WORK/helm-state-$phase|g" -e "s|@OUT@|$OUT|g" -e "s|@LOGS@|$LOGS|g" \
			-e "s|@AUDIT_DIR@|$(dirname "$E2E_AUDIT_LOG")|g" \
			-e "s|@OTLP_PORT@|$OTLP_PORT|g" -e "s|@WEBHOOK_PORT@|$WEBHOOK_PORT|g" \
			-e "s|@GATEWAY_HEALTH_PORT@|$GATEWAY_HEALTH_PORT|g" -e "s|@AGENT_HEALTH_PORT@|$AGENT_HEALTH_PORT|g" \
			-e "s|@GATEWAY_METRICS_PORT@|$GATEWAY_METRICS_PORT|g" -e "s|@AGENT_METRICS_PORT@|$AGENT_METRICS_PORT|g" \
			-e "s|@WINDOW@|$E2E_WINDOW|g" -e "s|@CREATE_WAIT@|$E2E_CREATE_WAIT|g" -e "s|@RECORDS@|$E2E_RECORDS|g" -e "s|@EVENTS@|$E2E_EVENTS|g" \
			-e "s|@NODE_START_AT@|$E2E_NODE_START_AT|g" -e "s|@AUDIT_START_AT@|$E2E_AUDIT_START_AT|g" \
			"$HERE/helm/$f.yaml" >"$WORK/helm/$f-$phase.yaml"
	done
	cp "$WORK/helm/"*-"$phase".yaml "$LOGS/"
}

helm_() { "$HELM" --kubeconfig "$PKI/admin.kubeconfig" "$@"; }

pods_ready() { # selector: every pod of it Ready, at least one
	local out
	out=$($KUBECTL -n "$HELM_NS" get pods -l "$1" -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null)
	[[ -n $out ]] && ! grep -qv '^True$' <<<"$out"
}

helm_install() {
	local phase=$1
	helm_values "$phase"
	if ! $KUBECTL get namespace "$HELM_NS" >/dev/null 2>&1; then
		$KUBECTL create namespace "$HELM_NS" >/dev/null
		# the gateway's certificate and key (signed by podtrail-ca, names
		# 127.0.0.1), and ca.crt: the CA of the apiserver's client certificate
		# (the cluster's) and the CA the agents check the gateway with
		cat "$PKI/ca.crt" "$PKI/podtrail-ca.crt" >"$WORK/helm/ca-bundle.crt"
		$KUBECTL -n "$HELM_NS" create secret generic podtrail-gateway-tls --from-file=tls.crt="$PKI/podtrail.crt" \
			--from-file=tls.key="$PKI/podtrail.key" --from-file=ca.crt="$WORK/helm/ca-bundle.crt" >/dev/null
		$KUBECTL -n "$HELM_NS" create secret generic podtrail-agent-token \
			--from-literal=token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
		$KUBECTL -n "$HELM_NS" create configmap podtrail-rules \
			--from-file="$HELM_RULES/rules.yaml" --from-file="$HELM_RULES/inventory.yaml" >/dev/null
	fi
	# the gateway writes its state and the records as its non-root user
	# (10001); fsGroup, which makes a PersistentVolume its own, does not
	# apply to hostPath volumes
	mkdir -p "$WORK/helm-state-$phase/gateway"
	touch "$E2E_RECORDS" "$E2E_EVENTS"
	chown 10001:10001 "$WORK/helm-state-$phase/gateway" "$E2E_RECORDS" "$E2E_EVENTS"
	log "helm install podtrail-gateway (phase $phase)"
	helm_ install podtrail-gateway "$HELM_CHART" -n "$HELM_NS" \
		-f "$HELM_VALUES/values-gateway.yaml" -f "$WORK/helm/gateway-$phase.yaml" >>"$LOGS/helm.log" 2>&1 ||
		die "helm install podtrail-gateway failed: $LOGS/helm.log"
	wait_for "podtrail gateway pod Ready" 120 pods_ready app.kubernetes.io/instance=podtrail-gateway
	log "helm install podtrail-agent (phase $phase)"
	helm_ install podtrail-agent "$HELM_CHART" -n "$HELM_NS" \
		-f "$HELM_VALUES/values-agent.yaml" -f "$WORK/helm/agent-$phase.yaml" >>"$LOGS/helm.log" 2>&1 ||
		die "helm install podtrail-agent failed: $LOGS/helm.log"
	wait_for "podtrail agent pod Ready" 120 pods_ready app.kubernetes.io/instance=podtrail-agent
	$KUBECTL -n "$HELM_NS" get pods -o wide >&2
}

gateway_uid() { $KUBECTL -n "$HELM_NS" get pod podtrail-gateway-0 -o 'jsonpath={.metadata.uid}' 2>/dev/null; }

# The gateway rolled by a changed value while pods are created: the pods the
# old gateway holds (file_storage on the hostPath), the audit events and node
# events sent while no gateway runs (the agent's disk queue, the apiserver's
# retries, the audit log file) must give one record each, none twice. The
# pods listed for the check (pods.json) are listed again after the rollout,
# so that the check waits for the records of the pods made during it.
helm_rollout() {
	local before after i
	before=$(gateway_uid)
	log "rollout: helm upgrade podtrail-gateway with a changed value (gateway pod uid $before)"
	helm_ upgrade podtrail-gateway "$HELM_CHART" -n "$HELM_NS" \
		-f "$HELM_VALUES/values-gateway.yaml" -f "$WORK/helm/gateway-1.yaml" \
		--set-string 'podAnnotations.podtrail\.io/e2e-rollout=1' >>"$LOGS/helm.log" 2>&1 ||
		die "helm upgrade podtrail-gateway failed: $LOGS/helm.log"
	# pods created while the gateway is replaced
	for i in 1 2 3; do
		as_alice -n apps run "during-rollout-$i" --image "$IMG_APP" --restart=Never >/dev/null || log "could not create during-rollout-$i"
		sleep 1
	done
	wait_for "the rolled gateway" 120 sh -c "[ \"\$($KUBECTL -n $HELM_NS get pod podtrail-gateway-0 -o 'jsonpath={.metadata.uid}' 2>/dev/null)\" != '$before' ]"
	wait_for "the rolled gateway Ready" 120 pods_ready app.kubernetes.io/instance=podtrail-gateway
	after=$(gateway_uid)
	for i in 1 2 3; do wait_running apps "during-rollout-$i"; done
	# the API's pods at the end of phase 1 are these too: the check waits for
	# and asserts their records (one each) as for the scenarios' pods
	$KUBECTL get pods -A -o json >"$OUT/pods.json"
	log "rollout: gateway pod uid $before -> $after, revision $(helm_ history podtrail-gateway -n "$HELM_NS" --max 1 -o json | tr -d '[]{}"' | tr ',' ' ')"
	echo "$before $after" >"$OUT/rollout.txt"
}

helm_uninstall() {
	# the gateway's metrics (the names the PrometheusRule uses) and both
	# pods' logs, before they go
	HELM_INSTALLATION=$((${HELM_INSTALLATION:-0} + 1))
	curl -fsS "http://127.0.0.1:$GATEWAY_METRICS_PORT/metrics" >"$OUT/gateway-metrics-$HELM_INSTALLATION.txt" 2>/dev/null ||
		log "could not scrape the gateway's metrics"
	mkdir -p "$LOGS/podtrail-pods"
	cp -r "$WORK/pod-logs/"podtrail_* "$LOGS/podtrail-pods/" 2>/dev/null || true
	log "helm uninstall podtrail-agent podtrail-gateway"
	helm_ uninstall podtrail-agent -n "$HELM_NS" --wait --timeout 60s >>"$LOGS/helm.log" 2>&1 || log "helm uninstall podtrail-agent failed"
	helm_ uninstall podtrail-gateway -n "$HELM_NS" --wait --timeout 60s >>"$LOGS/helm.log" 2>&1 || log "helm uninstall podtrail-gateway failed"
	wait_for "podtrail's pods gone" 60 sh -c "[ -z \"\$($KUBECTL -n $HELM_NS get pods -o name 2>/dev/null)\" ]"
}

# helm_summary prints what the rollout shows: the gateway pod replaced, and
# the check's verdicts on the pods created while it was (one record each) and
# on duplicates, from check.txt.
helm_summary() {
	local before after
	read -r before after <"$OUT/rollout.txt" 2>/dev/null || true
	log "helm: image $(cat "$OUT/image.txt" 2>/dev/null)"
	log "helm: rollout replaced the gateway pod $before by $after (helm upgrade, a changed pod annotation)"
	grep -E "during-rollout-[0-9] \(uid|podtrail/podtrail-(gateway|agent)|no pod uid in two records|^[0-9]+ passed" "$OUT/check.txt" | sed 's/^/  /' >&2 || true
}
