#!/usr/bin/env bash
# tests/e2e/31-analyze.sh: `egressctl analyze` on the fixtures of tests/testdata/analyze.
#   - every NAME.yaml is analysed with -A and compared with NAME.expected (stdout, then
#     stderr, then "exit N"); UPDATE_GOLDEN=1 rewrites the .expected files instead;
#   - a fixture named after a code (ist0101-host, egr0003...) reports that code and
#     nothing else above Info; the how-to's scenarios (howto-*) nothing above Info;
#   - the command line: -n filtering, --output-threshold, stdin, a directory of files,
#     unreadable input, usage errors;
#   - the store: analysed when it exists, an input object replacing the stored one.
# Runs from the repository root; its own store in a temporary directory, no network, no
# process left behind.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
D=tests/testdata/analyze
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# a store that does not exist: the -f inputs are analysed alone (the store cases at the
# end set EGRESS_STORE for themselves)
export EGRESS_STORE=$tmp/no-store

# run_analyze OUT ARGS...: stdout, stderr and "exit N" of one run into OUT.
run_analyze() {
	local out=$1 rc
	shift
	timeout 60 "$EGRESSCTL" analyze "$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	{
		cat "$tmp/stdout" "$tmp/stderr"
		echo "exit $rc"
	} >"$out"
}

# expect NAME COND...: one test case.
expect() {
	local name=$1
	shift
	if "$@"; then
		echo "ok $name"
	else
		echo "FAIL $name"
	fi
}

n=0
for f in "$D"/*.yaml; do
	name=$(basename "$f" .yaml)
	out=$tmp/$name.out
	n=$((n + 1))
	run_analyze "$out" -A -f "$f"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$out" "$D/$name.expected"
	fi
	if [ ! -f "$D/$name.expected" ]; then
		echo "FAIL golden-$name: $D/$name.expected is missing (UPDATE_GOLDEN=1 writes it)"
	elif diff -u "$D/$name.expected" "$out" >"$tmp/diff"; then
		echo "ok golden-$name"
	else
		echo "FAIL golden-$name: output differs from $D/$name.expected:"
		cat "$tmp/diff"
	fi
	# what the fixture is for, independently of the golden file
	above=$(grep -E '^(Error|Warning) \[' "$out")
	case $name in
	howto-*)
		expect "clean-$name" test -z "$above" -a "$(tail -1 "$out")" = "exit 0"
		;;
	ist[0-9]* | egr[0-9]*)
		code=$(echo "${name%%-*}" | tr a-z A-Z)
		others=$(grep -E '^(Error|Warning) \[' "$out" | grep -v "\[$code\]")
		expect "only-$name" test -z "$others"
		expect "fires-$name" grep -q "^[A-Za-z]* \[$code\] " "$out"
		;;
	esac
done
expect "fixtures-found" test "$n" -ge 20

# -n: messages about other namespaces are left out; MeshConfig findings are mesh-wide
run_analyze "$tmp/ns" -n aks-istio-egress -f "$D/egr0004.yaml"
expect "namespace-keeps-mesh-wide" grep -q 'ConfigMap aks-istio-system/istio-shared-configmap-asm-1-24' "$tmp/ns"
expect "namespace-keeps-own" grep -q 'Sidecar aks-istio-egress/curl' "$tmp/ns"
run_analyze "$tmp/ns" -f "$D/ist0109.yaml"
expect "namespace-default-filters" diff - "$tmp/ns" <<'EOF'
✔ No validation issues found when analyzing namespace: default.
exit 0
EOF
run_analyze "$tmp/ns" -n aks-istio-egress -f "$D/ist0109.yaml"
expect "namespace-closing-line" grep -qx 'Error: Analyzers found issues when analyzing namespace: aks-istio-egress.' "$tmp/ns"

# --output-threshold hides lines, not the verdict
run_analyze "$tmp/thr" --output-threshold Error -A -f "$D/ist0129.yaml"
expect "threshold-hides-warnings" diff - "$tmp/thr" <<'EOF'
Error: Analyzers found issues when analyzing all namespaces.
exit 1
EOF
run_analyze "$tmp/thr" --output-threshold warning -A -f "$D/ist0129.yaml"
expect "threshold-keeps-warnings" test "$(grep -c '^Warning \[IST0129\]' "$tmp/thr")" = 1 -a \
	"$(grep -c '^Info ' "$tmp/thr")" = 0

# stdin, and --use-kube=false (istioctl's way of saying "files only")
run_analyze "$tmp/stdin" -A --use-kube=false -f - <"$D/ist0134.yaml"
expect "stdin" grep -q '^Warning \[IST0134\] (ServiceEntry aks-istio-egress/postgres <stdin>:29) ' "$tmp/stdin"

# a directory: its files are analysed together (the ServiceEntry of one file resolves
# the destination of the other)
mkdir "$tmp/dir"
cp "$D/ist0101-host.yaml" "$tmp/dir/a.yaml"
cat >"$tmp/dir/b.yml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api
  namespace: aks-istio-egress
spec:
  hosts:
  - api.example.com
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: DNS
EOF
echo 'not: [yaml' >"$tmp/dir/ignored.txt"
run_analyze "$tmp/dirout" -A -f "$tmp/dir"
expect "directory-merged" diff - "$tmp/dirout" <<'EOF'
✔ No validation issues found when analyzing all namespaces.
exit 0
EOF

# an object given twice is reported, not silently replaced
run_analyze "$tmp/dup" -A -f "$D/ist0134.yaml" -f "$D/ist0134.yaml"
expect "duplicate-object" grep -q '^Error \[IST0106\] (ServiceEntry aks-istio-egress/postgres .*defined twice in the input' "$tmp/dup"

# unreadable inputs: reported on stderr, the rest still analysed, exit 1
printf 'a: [\n' >"$tmp/broken.yaml"
run_analyze "$tmp/bad" -A -f "$tmp/broken.yaml" -f "$tmp/missing.yaml" -f "$D/howto-http.yaml"
expect "unreadable-reported" grep -q "broken.yaml:2:1: error: invalid YAML" "$tmp/bad"
expect "missing-reported" grep -q "missing.yaml: error: cannot open" "$tmp/bad"
expect "unreadable-exit" grep -qx 'exit 1' "$tmp/bad"
expect "unreadable-closing" grep -q '^Error: some input could not be read' "$tmp/bad"

# usage errors exit 2 (no store and no input is one)
run_analyze "$tmp/u" -A
expect "usage-no-input" grep -qx 'exit 2' "$tmp/u"
run_analyze "$tmp/u" -A -n x -f "$D/howto-http.yaml"
expect "usage-A-and-n" grep -qx 'exit 2' "$tmp/u"
run_analyze "$tmp/u" --output-threshold loud -f "$D/howto-http.yaml"
expect "usage-threshold" grep -qx 'exit 2' "$tmp/u"
run_analyze "$tmp/u" -n 'Not_A_Namespace' -f "$D/howto-http.yaml"
expect "usage-namespace" grep -qx 'exit 2' "$tmp/u"
run_analyze "$tmp/u" --help
expect "help" grep -q '^usage: egressctl analyze ' "$tmp/u"

# the store: analysed when it exists; an input object replaces the stored one
store=$tmp/store
EGRESS_STORE=$store timeout 60 "$EGRESSCTL" apply -f "$D/howto-http.yaml" >"$tmp/apply" 2>&1
expect "store-apply" grep -q 'virtualservice.networking.istio.io/direct-cnn-through-egress-gateway created' "$tmp/apply"
# apply keeps no input status, but gives the StaticGatewayConfiguration its egress prefix
# (docs/reference/mesh.md), so the stored how-to has no EGR0006 and nothing else either
EGRESS_STORE=$store run_analyze "$tmp/st" -A
expect "store-only" diff - "$tmp/st" <<'EOF'
✔ No validation issues found when analyzing all namespaces.
exit 0
EOF
# the stored VirtualService with a mistyped gateway: the file's copy replaces it (no
# IST0109 between the two) and its messages point into the file
sed 's/istio-egressgateway$/istio-egresgateway/' "$D/howto-http.yaml" |
	awk '/^---/ { keep = 0 } /^kind: VirtualService/ { keep = 1; print "apiVersion: networking.istio.io/v1" } keep' >"$tmp/vs.yaml"
EGRESS_STORE=$store run_analyze "$tmp/st" -A -f "$tmp/vs.yaml"
expect "store-file-replaces" test "$(grep -c "^Error \[IST0101\] (VirtualService aks-istio-egress/direct-cnn-through-egress-gateway $tmp/vs.yaml:[0-9]*) Referenced gateway not found: \"istio-egresgateway\"" "$tmp/st")" = 2
expect "store-file-replaces-only" test "$(grep -E '^(Error|Warning) \[' "$tmp/st" | grep -vc EGR0006)" = 2
# a message about a stored object has no location
EGRESS_STORE=$store timeout 60 "$EGRESSCTL" apply -f "$D/ist0134.yaml" >"$tmp/apply" 2>&1
EGRESS_STORE=$store run_analyze "$tmp/st" -n aks-istio-egress
expect "store-object-no-location" grep -qx 'Warning \[IST0134\] (ServiceEntry aks-istio-egress/postgres) ServiceEntry addresses are required for this protocol.' "$tmp/st"
EGRESS_STORE=$store run_analyze "$tmp/st" -n default
expect "store-namespace-filter" diff - "$tmp/st" <<'EOF'
✔ No validation issues found when analyzing namespace: default.
exit 0
EOF
# --use-kube=false: the store is left out, so the file's references dangle
EGRESS_STORE=$store run_analyze "$tmp/st" -A --use-kube=false -f "$tmp/vs.yaml"
expect "use-kube-false" grep -q 'Referenced host not found: "edition.cnn.com"' "$tmp/st"
