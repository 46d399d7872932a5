#!/usr/bin/env bash
# tests/e2e/10-validate.sh: `egressctl validate` against the model's fixtures.
#   tests/testdata/invalid/NAME.yaml: exit status 1 and stderr exactly NAME.expected (run from
#     that directory, so diagnostics name just NAME.yaml). warn-*.yaml are valid inputs that
#     Istio warns about: exit status 0 and exactly the expected warnings.
#   tests/testdata/valid/*.yaml: exit status 0 and nothing on stderr, one by one and all at once.
#   Generated in a temp dir: a 50 MiB document, 10,000-deep nesting, 100,000 keys, 10,001
#     documents: a diagnostic, exit status 1 (not a crash), within a time bound.
# Prints "ok NAME" / "FAIL NAME: why" per case.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-build/san/egressctl}
case $EGRESSCTL in /*) ;; *) EGRESSCTL=$PWD/$EGRESSCTL ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
# bounded run: no input may keep the validator busy for long, even under ASan
run() { timeout 120 "$@"; }

# --- invalid inputs: exact diagnostics ---
n=0
for f in tests/testdata/invalid/*.yaml; do
	name=$(basename "$f" .yaml)
	exp=tests/testdata/invalid/$name.expected
	want=1
	case $name in warn-*) want=0 ;; esac
	n=$((n + 1))
	if [ ! -f "$exp" ]; then
		fail "invalid/$name" "no $exp"
		continue
	fi
	(cd tests/testdata/invalid && run "$EGRESSCTL" validate -q -f "$name.yaml" >"$T/out" 2>"$T/err")
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "invalid/$name" "exit status $rc, want $want; stderr: $(head -c 2000 "$T/err")"
	elif ! cmp -s "$T/err" "$exp"; then
		fail "invalid/$name" "stderr differs from $exp: $(diff "$exp" "$T/err" | head -20)"
	elif [ -s "$T/out" ]; then
		fail "invalid/$name" "unexpected stdout: $(head -c 500 "$T/out")"
	else
		ok "invalid/$name"
	fi
done
if [ "$n" -ge 45 ]; then ok "invalid-count-$n"; else fail invalid-count "only $n cases"; fi

# --- valid inputs: exit 0, silent stderr ---
for f in tests/testdata/valid/*.yaml; do
	name=$(basename "$f" .yaml)
	run "$EGRESSCTL" validate -f "$f" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
		fail "valid/$name" "exit status $rc: $(head -c 2000 "$T/err")"
	elif ! grep -qE '^[0-9]+ objects? valid$' "$T/out"; then
		fail "valid/$name" "stdout: $(cat "$T/out")"
	else
		ok "valid/$name"
	fi
done
# the whole directory in one input: no object defined twice across files
run "$EGRESSCTL" validate -f tests/testdata/valid >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ]; then ok valid/all-at-once; else
	fail valid/all-at-once "exit status $rc: $(head -c 2000 "$T/err")"
fi
# stdin works the same, and names <stdin>
run "$EGRESSCTL" validate -f - <tests/testdata/invalid/se-star-host.yaml >/dev/null 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q '^<stdin>:7:11: error: ServiceEntry apps/star: spec.hosts\[0\]: invalid host \*$' "$T/err"; then
	ok stdin
else
	fail stdin "exit status $rc: $(cat "$T/err")"
fi

# --- generated inputs: diagnostics, exit 1, no crash, quickly ---
# gen_case NAME FILE SUBSTRING MAX_SECONDS
gen_case() {
	local name=$1 file=$2 sub=$3 max=$4 start rc took
	start=$(date +%s)
	run "$EGRESSCTL" validate -q -f "$file" >/dev/null 2>"$T/err"
	rc=$?
	took=$(($(date +%s) - start))
	if [ "$rc" -ne 1 ]; then
		fail "$name" "exit status $rc (a crash is >1): $(head -c 1000 "$T/err")"
	elif ! grep -qF -- "$sub" "$T/err"; then
		fail "$name" "no \"$sub\" in: $(head -c 1000 "$T/err")"
	elif [ "$took" -gt "$max" ]; then
		fail "$name" "took ${took}s, more than ${max}s"
	else
		ok "$name"
	fi
}

{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: apps\ndata:\n  big: "'
	head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	printf '"\n'
} >"$T/big.yaml"
gen_case generated/50MiB "$T/big.yaml" "big.yaml: error: input is larger than the limit of 8388608 bytes" 30

{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: '
	head -c 10000 /dev/zero | tr '\0' '['
	head -c 10000 /dev/zero | tr '\0' ']'
	printf '\n'
} >"$T/deep.yaml"
gen_case generated/deep-10000 "$T/deep.yaml" "deep.yaml:4:70: error: nesting deeper than 64 levels" 30

awk 'BEGIN { print "apiVersion: v1"; print "kind: ConfigMap"; print "metadata: {name: keys, namespace: apps}";
	for (i = 0; i < 100000; i++) printf "key%d: value%d\n", i, i }' >"$T/keys.yaml"
gen_case generated/100000-keys "$T/keys.yaml" 'keys.yaml:4:1: error: ConfigMap apps/keys: key0: unknown field "key0"' 60
if [ "$(wc -l <"$T/err")" -eq 1001 ] && tail -1 "$T/err" | grep -q '^error: too many problems'; then
	ok generated/100000-keys-capped
else
	fail generated/100000-keys-capped "$(wc -l <"$T/err") lines; last: $(tail -1 "$T/err")"
fi

# 100,000 keys with a duplicate at the end: found without quadratic time
awk 'BEGIN { print "apiVersion: v1"; print "kind: ConfigMap"; print "metadata: {name: dups, namespace: apps}";
	print "data:"; for (i = 0; i < 100000; i++) printf "  k%d: v\n", i; print "  k7: again" }' >"$T/dups.yaml"
gen_case generated/100000-keys-duplicate "$T/dups.yaml" 'dups.yaml:100005:3: error: duplicate key "k7" (first at line 12, column 3)' 60

awk 'BEGIN { for (i = 0; i <= 10000; i++) printf "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d}\n", i }' >"$T/docs.yaml"
gen_case generated/10001-documents "$T/docs.yaml" "error: more than 10000 documents in one input" 60

exit 0
