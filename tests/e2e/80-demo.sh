#!/usr/bin/env bash
# tests/e2e/80-demo.sh: `make demo` (scripts/demo) passes with the sanitized binaries, in
# loopback mode always and in netns mode when root, and leaves nothing running.
set -u
cd "$(dirname "$0")/../.."
export EGRESSCTL EGRESSD

check_nothing_left() {
	local name=$1 left
	left=$(pgrep -f "$EGRESSD .*--store /tmp/egressd-demo\." || true)
	if [ -n "$left" ]; then
		echo "FAIL $name-leaves-nothing: egressd still running: $left"
		return
	fi
	if ip netns list 2>/dev/null | grep -q '^egd-'; then
		echo "FAIL $name-leaves-nothing: network namespaces left: $(ip netns list | grep '^egd-' | head -3)"
		return
	fi
	echo "ok $name-leaves-nothing"
}

run_demo() {
	local mode=$1 log
	log=$(mktemp)
	if timeout 170 scripts/demo --mode "$mode" >"$log" 2>&1; then
		if grep -q 'Scenario 3' "$log" && grep -q 'demo passed' "$log"; then
			echo "ok demo-$mode"
		else
			echo "FAIL demo-$mode: passed without the TLS scenarios"
			tail -5 "$log"
		fi
	else
		echo "FAIL demo-$mode: exit status $?"
		tail -30 "$log"
	fi
	rm -f "$log"
	check_nothing_left "demo-$mode"
}

run_demo loopback
if [ "$(id -u)" -eq 0 ]; then
	run_demo netns
else
	echo "skip demo-netns: needs root"
fi
