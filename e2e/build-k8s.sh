#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl from the k8s.io/kubernetes module (e2e/tools/go.mod) into a cache
# outside the repository. A second call finds them there and returns at once.
#
#   e2e/build-k8s.sh                            # v1.33.13 (e2e/tools/go.mod)
#   PODTRAIL_E2E_K8S=v1.36.3 e2e/build-k8s.sh   # e2e/tools/v1.36.3/go.mod
#
# prints the folder holding the binaries. PODTRAIL_E2E_K8S names a version
# whose module is e2e/tools (the default) or e2e/tools/<version>.
# PODTRAIL_E2E_CACHE (default /var/cache/podtrail-e2e) holds bin/<version>-<key>/.
# First build: about 10-15 minutes on 2 cores and about 2.5 GB of memory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pin() { awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$1/go.mod"; }
MODDIR="$HERE/tools"
if [[ -n "${PODTRAIL_E2E_K8S:-}" && "$PODTRAIL_E2E_K8S" != "$(pin "$MODDIR")" ]]; then
	MODDIR="$HERE/tools/$PODTRAIL_E2E_K8S"
	if [[ ! -f "$MODDIR/go.mod" ]]; then
		echo "build-k8s: no module for PODTRAIL_E2E_K8S=$PODTRAIL_E2E_K8S (want $MODDIR/go.mod)" >&2
		exit 2
	fi
fi
K8S_VERSION=$(pin "$MODDIR")
CACHE=${PODTRAIL_E2E_CACHE:-/var/cache/podtrail-e2e}
# the key changes with go.mod, so a new pin builds anew
KEY=$(sha256sum <"$MODDIR/go.mod" | cut -c1-12)
OUT="$CACHE/bin/$K8S_VERSION-$KEY"
CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

have_all() {
	local c
	for c in "${CMDS[@]}"; do [[ -x "$OUT/$c" ]] || return 1; done
}

if have_all; then
	echo "$OUT"
	exit 0
fi

mkdir -p "$CACHE/bin"
# one build per version at a time: a second caller waits for the first
exec 9>"$CACHE/bin/.lock-$K8S_VERSION"
flock 9
if have_all; then
	echo "$OUT"
	exit 0
fi

minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
commit=0000000000000000000000000000000000000000
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
done

tmp="$OUT.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for c in "${CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done

echo "build-k8s: building ${CMDS[*]} $K8S_VERSION into $OUT (10-15 minutes the first time)" >&2
start=$(date +%s)
(
	cd "$MODDIR"
	# -mod=mod only here, in this separate module: go resolves the graph of
	# k8s.io/kubernetes and writes go.sum beside go.mod if it lacks lines.
	CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags notest \
		-ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"
)
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
echo "build-k8s: built in $(($(date +%s) - start)) s" >&2
"$OUT/kubectl" version --client >&2 || true
echo "$OUT"
