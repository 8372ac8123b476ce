#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl from the k8s.io/kubernetes module (e2e/tools/go.mod) into a cache
# outside the repository. A second call finds them there and returns at once.
#
#   e2e/build-k8s.sh            # prints the folder holding the binaries
#
# PODTRAIL_E2E_CACHE (default /var/cache/podtrail-e2e) holds bin/<version>/.
# First build: about 10-15 minutes on 2 cores and about 2.5 GB of memory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$HERE/tools/go.mod")
CACHE=${PODTRAIL_E2E_CACHE:-/var/cache/podtrail-e2e}
# the key changes with go.mod, so a new pin builds anew
KEY=$(sha256sum <"$HERE/tools/go.mod" | cut -c1-12)
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
# one build at a time: a second caller waits for the first
exec 9>"$CACHE/bin/.lock"
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
	cd "$HERE/tools"
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
