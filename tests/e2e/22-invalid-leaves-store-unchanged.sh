#!/usr/bin/env bash
# tests/e2e/22-invalid-leaves-store-unchanged.sh: `egressctl apply` of an invalid input
# exits 1, prints diagnostics, prints no "created/configured" line, and leaves the store
# byte for byte as it was (a hash of every path, type, mode and content). Inputs: every
# tests/testdata/invalid/*.yaml, plus mixes this script makes: a valid document beside an
# invalid one (in one file, in two -f files, on stdin), a valid object in a namespace that
# does not exist, and a 50 MiB document. Also: an invalid input does not create a store
# that does not exist yet.
# Runs from the repository root; store in a mktemp dir; no process left behind.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EGRESS_STORE=$tmp/store

# tree_hash DIR: one hash over every entry's type, mode, path and content
tree_hash() {
	(
		cd "$1" || exit 1
		find . -printf '%y %m %p\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	) | sha256sum | cut -d' ' -f1
}

# refused NAME ARGS...: apply ARGS (run in $RUN_DIR) exits 1, says why on stderr, stores
# nothing
RUN_DIR=.
refused() {
	local name=$1 before after rc
	shift
	before=$(tree_hash "$EGRESS_STORE")
	(cd "$RUN_DIR" && timeout 60 "$EGRESSCTL" apply "$@" >"$tmp/out" 2>"$tmp/err")
	rc=$?
	after=$(tree_hash "$EGRESS_STORE")
	if [ "$rc" != 1 ]; then
		echo "FAIL $name: exit status $rc, expected 1"
	elif [ ! -s "$tmp/err" ]; then
		echo "FAIL $name: no diagnostic on stderr"
	elif grep -qE ' (created|configured)$' "$tmp/out"; then
		echo "FAIL $name: claims a change: $(head -3 "$tmp/out")"
	elif [ "$before" != "$after" ]; then
		echo "FAIL $name: the store changed"
	else
		echo "ok $name"
	fi
}

# an invalid input does not even create the store
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n' >"$tmp/bad-name.yaml"
timeout 60 "$EGRESSCTL" apply -f "$tmp/bad-name.yaml" >/dev/null 2>&1
if [ $? = 1 ] && [ ! -e "$EGRESS_STORE" ]; then
	echo "ok invalid-creates-no-store"
else
	echo "FAIL invalid-creates-no-store"
fi

# a store with something in it
for f in examples/00-namespace.yaml examples/01-meshconfig.yaml examples/02-static-gateway-config.yaml \
	examples/10-curl.yaml examples/scenario-http.yaml; do
	timeout 60 "$EGRESSCTL" apply -f "$f" >/dev/null || echo "FAIL setup-apply-$f"
done
timeout 60 "$EGRESSCTL" label ns aks-istio-egress istio.io/rev=asm-1-24 >/dev/null ||
	echo "FAIL setup-label"

# every invalid fixture, run from its directory so that the diagnostics name the file as
# the .expected files do: apply prints exactly what validate prints
n=0
RUN_DIR=tests/testdata/invalid
for f in tests/testdata/invalid/*.yaml; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .yaml)
	case $name in warn-*) continue ;; esac # valid with warnings: those apply
	n=$((n + 1))
	refused "testdata-$name" -f "$name.yaml"
	exp=tests/testdata/invalid/$name.expected
	if [ ! -f "$exp" ]; then
		:
	elif cmp -s "$tmp/err" "$exp"; then
		echo "ok testdata-$name-diagnostics"
	else
		echo "FAIL testdata-$name-diagnostics: $(diff "$exp" "$tmp/err" | head -10 | tr '\n' ' ')"
	fi
done
RUN_DIR=.
echo "# $n files of tests/testdata/invalid"

valid_cm='apiVersion: v1
kind: ConfigMap
metadata:
  name: would-be-created
  namespace: aks-istio-egress
data:
  a: "1"'
changed_se='apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
  namespace: aks-istio-egress
spec:
  hosts:
  - edition.cnn.com
  ports:
  - number: 8080
    name: http-alt
    protocol: HTTP
  resolution: DNS'

printf '%s\n---\n%s\n' "$valid_cm" 'apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  a: [1, 2]' >"$tmp/mixed.yaml"
refused valid-beside-invalid-one-file -f "$tmp/mixed.yaml"

printf '%s\n' "$changed_se" >"$tmp/changed-se.yaml"
printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n  servers: []\n  bogus: 1\n' >"$tmp/bad-gw.yaml"
refused valid-beside-invalid-two-files -f "$tmp/changed-se.yaml" -f "$tmp/bad-gw.yaml"

refused valid-beside-invalid-stdin -f - <<EOF
$changed_se
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: dr
  namespace: aks-istio-egress
spec:
  host: "*.*.example.com"
EOF

refused syntax-error-after-valid -f - <<EOF
$valid_cm
---
apiVersion: v1
kind: ConfigMap
metadata: {name: x
EOF

refused duplicate-in-one-file -f - <<EOF
$valid_cm
---
$valid_cm
EOF

printf '%s\n' "$valid_cm" >"$tmp/cm.yaml"
sed 's/aks-istio-egress/no-such-namespace/' "$tmp/cm.yaml" >"$tmp/cm-missing-ns.yaml"
refused namespace-not-found -f "$tmp/cm.yaml" -f "$tmp/cm-missing-ns.yaml"
if grep -qx 'Error from server (NotFound): namespaces "no-such-namespace" not found' "$tmp/err"; then
	echo "ok namespace-not-found-message"
else
	echo "FAIL namespace-not-found-message: $(head -3 "$tmp/err")"
fi

refused namespace-flag-mismatch -n default -f "$tmp/cm.yaml"
refused no-objects -f /dev/null
refused unreadable-file -f "$tmp/does-not-exist.yaml"

# 50 MiB in one document: refused by the size limit before anything is parsed
{
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  a: "'
	head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	printf '"\n'
} >"$tmp/huge.yaml"
refused document-50MiB -f "$tmp/huge.yaml"
rm -f "$tmp/huge.yaml"

# and after all that, a valid apply still works and changes the store
before=$(tree_hash "$EGRESS_STORE")
out=$(timeout 60 "$EGRESSCTL" apply -f "$tmp/cm.yaml" 2>&1)
if [ "$out" = "configmap/would-be-created created" ] && [ "$(tree_hash "$EGRESS_STORE")" != "$before" ]; then
	echo "ok valid-apply-still-works"
else
	echo "FAIL valid-apply-still-works: $out"
fi
