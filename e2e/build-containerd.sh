#!/usr/bin/env bash
# Builds containerd, containerd-shim-runc-v2 and ctr from the
# github.com/containerd/containerd/v2 module (pure Go: CGO_ENABLED=0 and the
# tags no_btrfs no_devmapper no_zfs) into a cache outside the repository; runc
# and the CNI plugins stay Debian's. A second call finds them and returns.
#
#   e2e/build-containerd.sh 2.4.2     # prints the folder holding the binaries
#
# PODTRAIL_E2E_CACHE (default /var/cache/podtrail-e2e) holds containerd/<version>/.
# First build: a few minutes (15 on a loaded machine).
set -euo pipefail

VERSION=${1:-${PODTRAIL_E2E_CONTAINERD:-2.4.2}}
VERSION=${VERSION#v}
case $VERSION in
2.*) ;;
*)
	echo "build-containerd: $VERSION: only 2.x builds from github.com/containerd/containerd/v2" >&2
	exit 2
	;;
esac
CACHE=${PODTRAIL_E2E_CACHE:-/var/cache/podtrail-e2e}
OUT="$CACHE/containerd/$VERSION"
CMDS=(containerd containerd-shim-runc-v2 ctr)

have_all() {
	local c
	for c in "${CMDS[@]}"; do [[ -x "$OUT/$c" ]] || return 1; done
}
if have_all; then
	echo "$OUT"
	exit 0
fi
mkdir -p "$CACHE/containerd"
exec 9>"$CACHE/containerd/.lock-$VERSION"
flock 9
if have_all; then
	echo "$OUT"
	exit 0
fi

mod=github.com/containerd/containerd/v2
tmp="$OUT.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "build-containerd: building ${CMDS[*]} v$VERSION into $OUT" >&2
start=$(date +%s)
ldflags="-s -w -X $mod/version.Version=v$VERSION -X $mod/version.Revision=podtrail-e2e -X $mod/version.Package=$mod"
for c in "${CMDS[@]}"; do
	# go install pkg@version: the module's own go.mod and go.sum, no
	# module of ours around it (the v2 module has no replace directives).
	GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS= go install -trimpath \
		-tags "no_btrfs no_devmapper no_zfs" -ldflags "$ldflags" "$mod/cmd/$c@v$VERSION"
done
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
echo "build-containerd: built in $(($(date +%s) - start)) s" >&2
"$OUT/containerd" --version >&2 || true
echo "$OUT"
