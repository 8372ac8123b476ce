#!/bin/sh
# splice-results.sh README: puts the latest testbed results (testbed/results/*.md,
# written by make bench) between the README's "<!-- bench:start -->" and
# "<!-- bench:end -->" lines, so the README always shows the last run.
set -eu
readme=$1
dir=$(dirname "$0")/results
block=$(mktemp)
{
	cat "$dir/machine.md"
	for f in audit runtime latency memory; do
		[ -f "$dir/$f.md" ] || continue
		echo
		sed 's/^###/####/' "$dir/$f.md"
		if [ -f "$dir/$f.png" ]; then
			echo
			echo "![$f](testbed/results/$f.png)"
		fi
	done
} > "$block"
awk -v block="$block" '
	/<!-- bench:start -->/ { print; while ((getline l < block) > 0) print l; skip = 1; next }
	/<!-- bench:end -->/ { skip = 0 }
	!skip { print }
' "$readme" > "$readme.new"
mv "$readme.new" "$readme"
rm -f "$block"
