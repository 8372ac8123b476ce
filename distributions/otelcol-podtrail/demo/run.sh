#!/usr/bin/env bash
# Runs the built collector on the bundled demo audit log, stops it when the
# output stops growing, and prints the records and findings it exported.
set -euo pipefail
home=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${PODTRAIL_BIN:-$home/bin/otelcol-podtrail}
out=${PODTRAIL_OUT:-$home/out/demo-records.json}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"

PODTRAIL_HOME=$home PODTRAIL_OUT=$out PODTRAIL_STATE=$state \
  "$bin" --config "$home/distributions/otelcol-podtrail/config/demo.yaml" &
pid=$!

# The demo is done when the output file exists and has not grown for 4 s
# (longer than the correlation window of config/demo.yaml).
last=-1 still=0
for _ in $(seq 1 600); do
  sleep 0.1
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "otelcol-podtrail exited early" >&2
    wait "$pid" || true
    exit 1
  fi
  size=$(stat -c %s "$out" 2>/dev/null || echo 0)
  if [ "$size" -gt 0 ] && [ "$size" -eq "$last" ]; then
    still=$((still + 1))
    [ "$still" -ge 40 ] && break
  else
    still=0
  fi
  last=$size
done
kill -TERM "$pid"
wait "$pid" || true

go run "$home/distributions/otelcol-podtrail/demo/show" "$out"
echo "OTLP JSON written to $out"
