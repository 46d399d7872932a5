#!/usr/bin/env bash
# tests/run.sh: runs every test of the tree (built by `make test-build`) and ends with
# exactly one line "N passed, N failed". Exit status 1 on any failure.
#   tests/run.sh [unit|fuzz|e2e|tools]...   only those groups
# A test program prints "ok NAME" or "FAIL NAME: why" per case; a program that exits
# non-zero without printing a FAIL line counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export EGRESSD=${EGRESSD:-$PWD/$BUILD/san/egressd}
export EGRESSCTL=${EGRESSCTL:-$PWD/$BUILD/san/egressctl}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(tools unit fuzz e2e)

pass=0
fail=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"

# run NAME CMD...: runs CMD, counts its ok/FAIL lines, shows failures.
run() {
	local name=$1 log="$logdir/${1//\//_}.log" rc p f
	shift
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exit status $rc" >>"$log"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: ran no test case" >>"$log"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		echo "--- $name: $p passed, $f failed (log: $log)"
		grep -E '^FAIL ' "$log" | head -20
		echo "--- last lines:"
		tail -25 "$log"
	else
		echo "$name: $p passed"
	fi
}

# one_case NAME CMD...: CMD is a single check; ok when it exits 0.
one_case() {
	local name=$1
	shift
	if "$@"; then echo "ok $name"; else echo "FAIL $name: exit status $?"; fi
}

for g in "${groups[@]}"; do
	case $g in
	tools)
		for t in tools/check-*.sh; do
			[ -x "$t" ] && run "tools/${t##*/}" one_case "${t##*/}" "$t"
		done
		;;
	unit)
		for t in "$BUILD"/san/unit/test_*; do
			[ -x "$t" ] && run "unit/${t##*/}" "$t"
		done
		;;
	fuzz)
		for t in "$BUILD"/san/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			n=${t##*/}
			run "fuzz/$n" one_case "replay-$n" "$t" "tests/fuzz/corpus/$n"
		done
		;;
	e2e)
		for t in tests/e2e/[0-9]*.sh; do
			[ -f "$t" ] && run "e2e/${t##*/}" bash "$t"
		done
		;;
	*)
		echo "unknown test group $g" >&2
		exit 2
		;;
	esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
