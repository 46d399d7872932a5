#!/usr/bin/env bash
# tests/e2e/20-apply-get-delete.sh: the resource commands on a fresh store:
#   - every file of examples/ applies in order, reads back with `get -o yaml` to the same
#     object (re-applying what get printed, and the file itself, is "unchanged"; with
#     PyYAML at hand the specs are also compared independently), and a golden spec;
#   - get tables (Istio's print columns, Service, Deployment, Namespace, ConfigMap),
#     -A, -o name, jsonpath reads as the how-to writes them;
#   - label (with and without --overwrite, removal), delete KIND NAME, delete -f,
#     --ignore-not-found, deleting a Namespace with its objects, NotFound and Forbidden;
#   - usage errors exit 2, --help exits 0.
# Runs from the repository root; store in a mktemp dir; no process left behind.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EGRESS_STORE=$tmp/store
NS=aks-istio-egress

E() { timeout 60 "$EGRESSCTL" "$@"; }

# run ARGS...: egressctl with stdout, stderr and exit status in $out, $err, $rc.
run() {
	E "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect NAME COND...: one test case, ok when COND succeeds.
expect() {
	local name=$1
	shift
	if "$@"; then
		echo "ok $name"
	else
		echo "FAIL $name: rc=$rc out=[${out:0:400}] err=[${err:0:400}]"
	fi
}

# every line of $out matches the regex $1 (and there is at least one line)
all_lines() {
	[ -n "$out" ] && ! grep -qvE "$1" <<<"$out"
}
has_line() { grep -qE "$1" <<<"$out"; }
err_has() { grep -qE "$1" <<<"$err"; }

# --- a fresh store ---
run get ns -o name
expect fresh-store-namespaces test "$rc" = 0 -a "$out" = "$(printf 'namespace/aks-istio-system\nnamespace/default\nnamespace/kube-system')"
run get se -n "$NS"
expect empty-list-message test "$rc" = 0 -a -z "$out" -a "$err" = "No resources found in $NS namespace."

# --- every example applies, in order; the scenarios one at a time further down ---
for f in examples/[0-9]*.yaml; do
	n=$(basename "$f" .yaml)
	run apply -f "$f"
	expect "apply-$n" test "$rc" = 0
	expect "apply-$n-created" all_lines ' created$'
	cp "$tmp/out" "$tmp/applied-$n"
done

# roundtrip FILE NAME: the objects FILE created read back to the same thing
roundtrip() {
	local f=$1 n=$2 ns kind obj i=0
	ns=$(awk '/^  namespace:/ { print $2; exit }' "$f")
	mkdir -p "$tmp/rt-$n" "$tmp/rtj-$n"
	while read -r line; do
		obj=${line%% *}
		kind=${obj%%/*}
		i=$((i + 1))
		E get "$kind" "${obj#*/}" -n "${ns:-default}" -o yaml >"$tmp/rt-$n/$i.yaml" || return 1
		E get "$kind" "${obj#*/}" -n "${ns:-default}" -o json >"$tmp/rtj-$n/$i.json" || return 1
	done <"$tmp/applied-$n"
	[ "$i" -gt 0 ] || return 1
	# what get printed, applied again, changes nothing (compared as parsed objects)
	run apply -f "$tmp/rt-$n"
	[ "$rc" = 0 ] && all_lines ' unchanged$' && [ "$(wc -l <<<"$out")" = "$i" ] || return 1
	# nor does the file itself
	run apply -f "$f"
	[ "$rc" = 0 ] && all_lines ' unchanged$' || return 1
	if python3 -c 'import yaml' 2>/dev/null; then
		# an independent reading of both sides: every field but metadata/status equal,
		# and the labels and annotations of the file present
		python3 - "$f" "$tmp/rtj-$n" <<-'EOF' || return 1
			import json, sys, glob, yaml
			docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
			got = [json.load(open(p)) for p in glob.glob(sys.argv[2] + "/*.json")]
			def key(o): return (o["kind"], o["metadata"]["name"])
			got = {key(o): o for o in got}
			for d in docs:
			    o = got[key(d)]
			    for k, v in d.items():
			        if k in ("metadata", "status"):
			            continue
			        assert o[k] == v, (key(d), k, o[k], v)
			    for m in ("labels", "annotations"):
			        for k, v in (d["metadata"].get(m) or {}).items():
			            assert o["metadata"][m][k] == v, (key(d), m, k)
			    assert set(o) - {"metadata", "status"} == set(d) - {"metadata", "status"}
		EOF
	fi
	return 0
}

for f in examples/[0-9]*.yaml; do
	n=$(basename "$f" .yaml)
	rc=0 out= err=
	expect "roundtrip-$n" roundtrip "$f" "$n"
done

# --- labels ---
run label namespace "$NS" istio.io/rev=asm-1-24
expect label-set test "$rc" = 0 -a "$out" = "namespace/$NS labeled"
run get ns "$NS" -o 'jsonpath={.metadata.labels.istio\.io/rev}'
expect label-read test "$rc" = 0 -a "$out" = asm-1-24
run label namespace "$NS" istio.io/rev=asm-1-25
expect label-needs-overwrite test "$rc" = 1 -a -z "$out"
expect label-needs-overwrite-message err_has "^error: 'istio.io/rev' already has a value \(asm-1-24\), and --overwrite is false$"
run label namespace "$NS" istio.io/rev=asm-1-24
expect label-same-value test "$rc" = 0 -a "$out" = "namespace/$NS not labeled"
run label ns "$NS" istio.io/rev=asm-1-25 team=a --overwrite
expect label-overwrite test "$rc" = 0 -a "$out" = "namespace/$NS labeled"
run label ns "$NS" team-
expect label-remove test "$rc" = 0 -a "$out" = "namespace/$NS unlabeled"
run get ns "$NS" -o jsonpath='{.metadata.labels}'
expect label-result test "$out" = "{\"istio.io/rev\":\"asm-1-25\",\"kubernetes.io/metadata.name\":\"$NS\"}"
# a re-apply of the namespace file keeps the label (kubectl's three-way merge)
run apply -f examples/00-namespace.yaml
expect label-survives-apply test "$rc" = 0 -a "$out" = "namespace/$NS unchanged"
run label ns no-such-ns a=b
expect label-not-found test "$rc" = 1 -a "$err" = 'Error from server (NotFound): namespaces "no-such-ns" not found'
run label ns "$NS" 'bad key=x'
expect label-invalid-key test "$rc" = 1 -a -z "$out"

# --- tables ---
run get svc curl -n "$NS"
expect table-service test "$rc" = 0 -a "$(head -1 <<<"$out")" = "NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE"
expect table-service-row has_line '^curl   ClusterIP   <none>       <none>        80/TCP    [0-9]+s$'
run get svc -n "$NS" -o wide
expect table-service-wide has_line '^curl +ClusterIP +<none> +<none> +80/TCP +[0-9]+s +app=curl$'
run get deploy -n "$NS"
expect table-deployment has_line '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$'
expect table-deployment-row has_line '^curl +0/1 +0 +0 +[0-9]+s$'
run get deployments.apps -A -o wide
expect table-deployment-wide has_line "^$NS +curl +0/1 +0 +0 +[0-9]+s +curl +curlimages/curl +app=curl$"
run get namespaces
expect table-namespace has_line "^$NS +Active +[0-9]+s$"
run get cm -n aks-istio-system
expect table-configmap has_line '^istio-shared-configmap-asm-1-24 +1 +[0-9]+s$'
run get sgc -n "$NS"
expect table-sgc test "$rc" = 0 -a "$(tail -1 <<<"$out" | awk '{print $1}')" = asm-egress-test-sgc
run get sa curl -n "$NS" -o name
expect get-name test "$out" = serviceaccount/curl

# --- jsonpath, as the how-to writes it ---
run get deploy -n "$NS" -o jsonpath={.items..metadata.name}
expect jsonpath-items test "$rc" = 0 -a "$out" = curl
run get sgc asm-egress-test-sgc -n "$NS" -o jsonpath={.spec.gatewayNodepoolName}
expect jsonpath-spec test "$out" = gatewaypool
# (status.egressIpPrefix is not missing: apply assigns it, docs/reference/mesh.md)
run get sgc asm-egress-test-sgc -n "$NS" -o jsonpath={.spec.publicIpPrefixId}
expect jsonpath-missing-is-empty test "$rc" = 0 -a -z "$out"
# the gateway Deployment `mesh enable-egress-gateway` creates, as the how-to reads it
cat >"$tmp/gw-deploy.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: asm-egress-test-asm-1-24
  namespace: $NS
  labels:
    app: asm-egress-test
    istio: asm-egress-test
spec:
  selector:
    matchLabels:
      istio: asm-egress-test
  template:
    metadata:
      annotations:
        kubernetes.azure.com/static-gateway-configuration: asm-egress-test-sgc
      labels:
        istio: asm-egress-test
    spec:
      containers:
      - name: istio-proxy
        image: egressd
EOF
run apply -f "$tmp/gw-deploy.yaml"
expect apply-gateway-deployment test "$out" = "deployment.apps/asm-egress-test-asm-1-24 created"
run get deployment asm-egress-test-asm-1-24 -n $NS -o jsonpath={.spec.template.metadata.annotations."kubernetes\.azure\.com\/static-gateway-configuration"}
expect jsonpath-howto-annotation test "$rc" = 0 -a "$out" = asm-egress-test-sgc
run get deployment asm-egress-test-asm-1-24 -n $NS -o 'jsonpath={.spec.template.metadata.annotations."kubernetes\.azure\.com\/static-gateway-configuration"}'
expect jsonpath-howto-annotation-quoted test "$rc" = 0 -a "$out" = asm-egress-test-sgc
run get deployment asm-egress-test-asm-1-24 -n $NS -o jsonpath={.metadata.labels.istio}
expect jsonpath-howto-selector test "$out" = asm-egress-test
run get deploy -n "$NS" -l istio=asm-egress-test -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
expect jsonpath-range-selector test "$rc" = 0 -a "$out" = asm-egress-test-asm-1-24
run get deploy -n "$NS" -l 'istio!=asm-egress-test' -o name
expect selector-not-equal test "$rc" = 0 -a "$out" = deployment.apps/curl
run get deploy -n "$NS" -o 'jsonpath={.items[0'
expect jsonpath-bad-template test "$rc" = 1 -a -z "$out"

# --- the three scenarios, one at a time: apply, read, delete ---
golden_se='{"hosts": ["edition.cnn.com"], "ports": [{"name": "http-port", "number": 80, "protocol": "HTTP"}, {"name": "https", "number": 443, "protocol": "HTTPS"}], "resolution": "DNS"}'
for f in examples/scenario-*.yaml; do
	n=$(basename "$f" .yaml)
	run apply -f "$f"
	expect "apply-$n" test "$rc" = 0
	expect "apply-$n-created" all_lines ' created$'
	cp "$tmp/out" "$tmp/applied-$n"
	rc=0 out= err=
	expect "roundtrip-$n" roundtrip "$f" "$n"
	run get se -n "$NS"
	expect "table-se-$n" test "$(head -1 <<<"$out")" = "NAME   HOSTS                 LOCATION   RESOLUTION   AGE"
	expect "table-se-$n-row" has_line '^cnn    \["edition.cnn.com"\]              DNS          [0-9]+s$'
	run get vs -n "$NS"
	expect "table-vs-$n" has_line '^direct-cnn-through-egress-gateway +\["(istio-egressgateway","mesh|mesh","istio-egressgateway)"\] +\["edition.cnn.com"\] +[0-9]+s$'
	run get dr egressgateway-for-cnn -n "$NS"
	expect "table-dr-$n" has_line '^egressgateway-for-cnn +asm-egress-test.aks-istio-egress.svc.cluster.local +[0-9]+s$'
	run get gw -n "$NS"
	expect "table-gw-$n" test "$(wc -l <<<"$out")" = 2 -a "$(head -1 <<<"$out")" = "NAME                  AGE"
	expect "table-gw-$n-row" has_line '^istio-egressgateway   [0-9]+s$'
	if [ "$n" = scenario-http ]; then
		run get se cnn -n "$NS" -o json
		expect golden-spec-scenario-http python3 -c '
import json, sys
got = json.load(open(sys.argv[1]))["spec"]
assert got == json.loads(sys.argv[2]), got' "$tmp/out" "$golden_se"
	fi
	run delete -f "$f"
	expect "delete-$n" test "$rc" = 0 -a "$(wc -l <<<"$out")" = "$(grep -c '^kind:' "$f")"
	expect "delete-$n-lines" all_lines '^[a-z.]+ "[a-z0-9.-]+" deleted$'
	run get se -n "$NS"
	expect "deleted-$n" test "$rc" = 0 -a -z "$out" -a "$err" = "No resources found in $NS namespace."
	run delete -f "$f"
	expect "delete-again-$n" test "$rc" = 1 -a -z "$out"
	expect "delete-again-$n-message" err_has '^Error from server \(NotFound\): serviceentries.networking.istio.io "cnn" not found$'
	run delete -f "$f" --ignore-not-found
	expect "delete-ignore-not-found-$n" test "$rc" = 0 -a -z "$out" -a -z "$err"
done

# --- get and delete by name, errors ---
run get se nope -n "$NS"
expect get-not-found test "$rc" = 1 -a "$err" = 'Error from server (NotFound): serviceentries.networking.istio.io "nope" not found'
run get deploy nope -n "$NS" --ignore-not-found
expect get-ignore-not-found test "$rc" = 0 -a -z "$out" -a -z "$err"
run get frobnicators
expect get-unknown-kind test "$rc" = 1 -a "$err" = 'error: the server doesn'"'"'t have a resource type "frobnicators"'
run delete configmap istio-shared-configmap-asm-1-24 -n aks-istio-system
expect delete-by-name test "$rc" = 0 -a "$out" = 'configmap "istio-shared-configmap-asm-1-24" deleted'
run delete ns default
expect delete-forbidden test "$rc" = 1 -a "$err" = 'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted'
run delete namespace "$NS"
expect delete-namespace test "$rc" = 0 -a "$out" = "namespace \"$NS\" deleted"
for k in deploy sa svc sgc; do
	run get $k -n "$NS"
	expect "namespace-took-$k" test "$rc" = 0 -a -z "$out"
done
gen=$(cat "$EGRESS_STORE/generation")
run apply -f examples/10-curl.yaml
expect apply-missing-namespace test "$rc" = 1 -a -z "$out"
expect apply-missing-namespace-message err_has "^Error from server \(NotFound\): namespaces \"$NS\" not found$"
expect apply-missing-namespace-wrote-nothing test "$(cat "$EGRESS_STORE/generation")" = "$gen"
run apply -f examples/10-curl.yaml -f examples/00-namespace.yaml
expect apply-creates-its-namespace test "$rc" = 0 -a "$(grep -c ' created$' <<<"$out")" = 4

# --- usage ---
for args in "get" "apply" "apply -f" "delete" "delete se" "label" "label ns $NS" "get se -o xml" "apply -f x y"; do
	# shellcheck disable=SC2086
	run $args
	expect "usage-exit-2-${args// /_}" test "$rc" = 2 -a -z "$out"
	expect "usage-line-${args// /_}" err_has '^usage: egressctl '
done
for v in apply get delete label; do
	run "$v" --help
	expect "help-$v" test "$rc" = 0 -a "$(head -1 <<<"$out" | cut -d' ' -f1-3)" = "usage: egressctl $v"
done
