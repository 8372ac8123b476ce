#!/usr/bin/env bash
# make e2e-matrix: e2e/run.sh on every pair of {Kubernetes v1.33.13, v1.36.3}
# x {Debian's containerd 1.6, containerd 2.4.2 built from
# github.com/containerd/containerd/v2}, one after the other (one cluster at a
# time: each run takes the e2e lock and releases it when it ends), then a table
# of the assertions passed per pair. Exit 1 when a pair failed.
#
#   bash e2e/matrix.sh                       # the four pairs
#   PODTRAIL_E2E_MATRIX="v1.36.3/2.4.2" bash e2e/matrix.sh   # some of them
#
# Each pair's output (records, check.txt, logs) is kept in
# out/e2e-matrix/<kubernetes>-<containerd>/; the table in out/e2e-matrix/table.txt.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
MOUT=${PODTRAIL_E2E_MATRIX_OUT:-$REPO/out/e2e-matrix}
PAIRS=${PODTRAIL_E2E_MATRIX:-"v1.33.13/debian v1.33.13/2.4.2 v1.36.3/debian v1.36.3/2.4.2"}

log() { printf '%s e2e-matrix: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

mkdir -p "$MOUT"
# each pair's run builds the collector (make build) unless PODTRAIL_BIN names
# one: the gateway reads the rules from the checkout, so a collector built
# once would meet rules changed since in the checkout

rows=()
failed=0
for pair in $PAIRS; do
	k8s=${pair%%/*}
	ctrd=${pair#*/}
	out=$MOUT/$k8s-$ctrd
	log "pair Kubernetes $k8s, containerd $ctrd: e2e/run.sh (output in $out)"
	start=$(date +%s)
	PODTRAIL_E2E_K8S=$k8s PODTRAIL_E2E_CONTAINERD=$ctrd PODTRAIL_E2E_OUT=$out \
		PODTRAIL_E2E_LOCK_WAIT=${PODTRAIL_E2E_LOCK_WAIT:-7200} \
		bash "$HERE/run.sh" >"$MOUT/$k8s-$ctrd.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# the run's own time, from its first line (after the e2e lock was taken)
	# to its last, not the wait for another run's lock
	first=$(awk 'NR == 1 {print $1; exit}' "$MOUT/$k8s-$ctrd.log")
	last=$(awk 'END {print $1}' "$MOUT/$k8s-$ctrd.log")
	if [[ $first =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ && $last =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]]; then
		secs=$((($(date -u -d "$last" +%s) - $(date -u -d "$first" +%s) + 86400) % 86400))
	fi
	passed=- fails=- versions="$k8s / $ctrd"
	if [[ -f $out/check.txt ]]; then
		last=$(tail -1 "$out/check.txt")
		if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
			passed=${BASH_REMATCH[1]}
			fails=${BASH_REMATCH[2]}
		fi
	fi
	if [[ -f $out/pair.txt ]]; then
		versions="$(sed -n 's/^kubernetes=//p' "$out/pair.txt") / $(sed -n 's/^containerd=//p' "$out/pair.txt")"
	fi
	result=pass
	if [[ $rc != 0 ]]; then
		result="FAIL (exit $rc)"
		failed=1
	fi
	log "pair $k8s/$ctrd: $result, $passed passed, $fails failed, $secs s"
	rows+=("$(printf '| %-9s | %-9s | %-40s | %6s | %6s | %-14s | %5s |' "$k8s" "$ctrd" "$versions" "$passed" "$fails" "$result" "$secs")")
done

{
	printf '| %-9s | %-9s | %-40s | %6s | %6s | %-14s | %5s |\n' kubernetes containerd "running (kubelet / containerd)" passed failed result "run s"
	echo '|-----------|-----------|------------------------------------------|-------:|-------:|----------------|------:|'
	for r in "${rows[@]}"; do echo "$r"; done
} >"$MOUT/table.txt"
echo
cat "$MOUT/table.txt"
exit $failed
