#!/usr/bin/env bash
# tests/e2e/60-mesh.sh: egressctl mesh, the AKS management plane, the way the how-to uses
# it (../shared/reference/aks-istio-egress-howto.md, "Enable an Istio egress gateway"):
#   - apply gives a StaticGatewayConfiguration its egress prefix (unique, released on
#     delete, the size it asks for);
#   - mesh enable-egress-gateway with az's flags (long, short, -g/-n ignored); then
#     `get svc` prints the how-to's table, the how-to's jq read of the revision and its
#     jsonpath reads of the SGC annotation and of the istio label give what it says;
#   - every refusal exits 1 with the rule's message: the name table (53/54 characters,
#     uppercase, leading/trailing '-', dots, a..b, empty), unique per namespace, missing
#     namespace or SGC; an SGC without prefix is a warning; usage errors exit 2;
#   - mesh show (null, then the gateways); deleting an SGC or namespace in use is refused;
#   - upgrade start/complete/rollback; disable, then enable again;
#   - 500 gateways (two egressctl at a time, all distinct ClusterIPs), the 501st refused.
# Runs from the repository root; the store lives in a mktemp dir (on tmpfs when there is
# one); no process is left behind.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
tmp=$(mktemp -d "$base/eg-e2e-mesh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export EGRESS_STORE=$tmp/store

# the how-to's variables
RESOURCE_GROUP=my-rg
CLUSTER_NAME=local
ISTIO_EGRESS_NAME=asm-egress-test
ISTIO_EGRESS_NAMESPACE=aks-istio-egress
ISTIO_SGC_NAME=asm-egress-test-sgc

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
		echo "FAIL $name: rc=$rc out=[${out:0:400}] err=[${err:0:600}]"
	fi
}

has_line() { grep -qE "$1" <<<"$out"; }

# jq PATH: jq where it is installed, else the same read of a .a.b[0] path in python3.
jq_read() {
	if command -v jq >/dev/null 2>&1; then
		jq "$1"
	else
		python3 -c '
import json, re, sys
v = json.load(sys.stdin)
for key, idx in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", sys.argv[1]):
    v = v[key] if key else v[int(idx)]
print(json.dumps(v))' "$1"
	fi
}

name_msg() {
	echo "error: Istio egress name $1 is invalid. Name must be between 1 and 53 characters, must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character."
}

sgc() { # sgc NAME [NAMESPACE] [extra spec lines]
	cat <<EOF
---
apiVersion: egressgateway.kubernetes.azure.com/v1alpha1
kind: StaticGatewayConfiguration
metadata:
  name: $1
  namespace: ${2:-$ISTIO_EGRESS_NAMESPACE}
spec:
${3:-  gatewayNodepoolName: gatewaypool}
EOF
}

# --- a fresh cluster: no gateway yet ---
run mesh show
expect show-fresh-null test "$rc" = 0 -a "$(jq_read .serviceMeshProfile.istio.components.egressGateways <<<"$out")" = null
expect show-fresh-revision test "$(jq_read '.serviceMeshProfile.istio.revisions[0]' <<<"$out")" = '"asm-1-24"'

# --- the prerequisite: a namespace and a StaticGatewayConfiguration, which gets a prefix ---
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$ISTIO_EGRESS_NAMESPACE"
	sgc "$ISTIO_SGC_NAME"
} >"$tmp/prereq.yaml"
run apply -f "$tmp/prereq.yaml"
expect apply-prereq test "$rc" = 0 -a -z "$err"
run get staticgatewayconfiguration "$ISTIO_SGC_NAME" -n "$ISTIO_EGRESS_NAMESPACE" -o jsonpath={.status.egressIpPrefix}
prefix1=$out
expect sgc-prefix-assigned-from-pool test "$rc" = 0 -a "$out" = 127.0.16.0/28

# --- enable, exactly as the how-to types it ---
run mesh enable-egress-gateway --resource-group $RESOURCE_GROUP --name $CLUSTER_NAME --istio-egressgateway-name $ISTIO_EGRESS_NAME --istio-egressgateway-namespace $ISTIO_EGRESS_NAMESPACE --gateway-configuration-name $ISTIO_SGC_NAME
expect enable-howto test "$rc" = 0 -a -z "$err"
expect enable-prints-gateway test "$(jq_read .name <<<"$out")" = "\"$ISTIO_EGRESS_NAME\"" -a "$(jq_read .gatewayConfigurationName <<<"$out")" = "\"$ISTIO_SGC_NAME\""
expect enable-prints-deployment test "$(jq_read '.deployments[0]' <<<"$out")" = "\"$ISTIO_EGRESS_NAME-asm-1-24\""
cluster_ip=$(jq_read .clusterIP <<<"$out" | tr -d '"')

run get svc $ISTIO_EGRESS_NAME -n $ISTIO_EGRESS_NAMESPACE
# (the CLUSTER-IP column is as wide as the address: 10.0.128.17 gives the how-to's spacing)
expect get-svc-header test "$rc" = 0 -a "$(head -1 <<<"$out" | sed -E 's/CLUSTER-IP +/CLUSTER-IP    /')" = "NAME              TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)                    AGE"
expect get-svc-row has_line "^asm-egress-test   ClusterIP   10\.0\.[0-9]+\.[0-9]+ +<none>        15021/TCP,80/TCP,443/TCP   [0-9]+s$"
expect get-svc-cluster-ip has_line "^asm-egress-test   ClusterIP   ${cluster_ip//./\\.} "
run get svc $ISTIO_EGRESS_NAME -n $ISTIO_EGRESS_NAMESPACE -o jsonpath='{range .spec.ports[*]}{.name}:{.port}->{.targetPort} {end}'
expect svc-target-ports test "$out" = "status-port:15021->15021 http2:80->8080 https:443->8443 "

# the how-to's reads, character for character (mesh show stands in for az aks show)
ASM_REVISION=$(E mesh show -g $RESOURCE_GROUP -n $CLUSTER_NAME | jq_read '.serviceMeshProfile.istio.revisions[0]' | sed 's/"//g')
out=$ASM_REVISION rc=0 err=
expect howto-asm-revision test "$ASM_REVISION" = asm-1-24
out=$(E get deployment $ISTIO_EGRESS_NAME-$ASM_REVISION -n $ISTIO_EGRESS_NAMESPACE -o jsonpath={.spec.template.metadata.annotations."kubernetes\.azure\.com\/static-gateway-configuration"})
rc=$?
expect howto-jsonpath-sgc-annotation test "$rc" = 0 -a "$out" = "$ISTIO_SGC_NAME"
ISTIO_EGRESS_DEPLOYMENT=$ISTIO_EGRESS_NAME-$ASM_REVISION
EGRESS_GTW_SELECTOR=$(E get deployment $ISTIO_EGRESS_DEPLOYMENT -n $ISTIO_EGRESS_NAMESPACE -o jsonpath={.metadata.labels.istio})
out=$EGRESS_GTW_SELECTOR
expect howto-jsonpath-istio-label test "$EGRESS_GTW_SELECTOR" = "$ISTIO_EGRESS_NAME"
run get deployment $ISTIO_EGRESS_DEPLOYMENT -n $ISTIO_EGRESS_NAMESPACE -o jsonpath='{.spec.template.metadata.labels.app} {.spec.template.spec.serviceAccountName} {.spec.template.spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[*].weight}'
expect deployment-labels-sa-affinity test "$out" = "asm-egress-test asm-egress-test 100 50"

run mesh show
expect show-lists-gateway test "$(jq_read .serviceMeshProfile.istio.components.egressGateways <<<"$out" | tr -d ' \n')" = "[{\"enabled\":true,\"name\":\"asm-egress-test\",\"namespace\":\"aks-istio-egress\",\"gatewayConfigurationName\":\"asm-egress-test-sgc\"}]"

# --- the rules, each refusal with its message ---
run mesh enable-egress-gateway --istio-egressgateway-name $ISTIO_EGRESS_NAME --istio-egressgateway-namespace $ISTIO_EGRESS_NAMESPACE --gateway-configuration-name $ISTIO_SGC_NAME
expect unique-per-namespace test "$rc" = 1 -a -z "$out" -a "$err" = "error: Istio egress gateway asm-egress-test already exists in namespace aks-istio-egress: egress gateway names must be unique per namespace"

n53=a2345678901234567890123456789012345678901234567890123
n54=${n53}4
for bad in "$n54" Asm-egress asm-EGRESS -asm asm- .asm asm. a..b a_b ''; do
	run mesh enable-egress-gateway --istio-eg-gtw-name="$bad" --gtw-config-name $ISTIO_SGC_NAME
	expect "name-invalid[${bad}]" test "$rc" = 1 -a -z "$out" -a "$err" = "$(name_msg "$bad")"
done
run mesh disable-egress-gateway --istio-egressgateway-name a..b
expect name-invalid-on-disable test "$rc" = 1 -a "$err" = "$(name_msg a..b)"
run mesh enable-egress-gateway --istio-eg-gtw-name $n53 --istio-eg-gtw-ns $ISTIO_EGRESS_NAMESPACE --gtw-config-name $ISTIO_SGC_NAME
expect name-53-characters test "$rc" = 0
run get deploy $n53-asm-1-24 -n $ISTIO_EGRESS_NAMESPACE -o name
expect name-53-deployment test "$out" = "deployment.apps/$n53-asm-1-24"
run mesh enable-egress-gateway --istio-eg-gtw-name gw.with.dots --gtw-config-name $ISTIO_SGC_NAME
expect name-dots-cannot-name-service test "$rc" = 1 -a "$err" = "error: Istio egress name gw.with.dots cannot name the gateway's Service: a Service name must be a DNS-1123 label (no '.')"

run mesh enable-egress-gateway --istio-eg-gtw-name gw2 --istio-eg-gtw-ns nowhere --gtw-config-name $ISTIO_SGC_NAME
expect namespace-must-exist test "$rc" = 1 -a "$err" = "error: namespaces \"nowhere\" not found: the egress gateway's namespace must exist (create it, and the StaticGatewayConfiguration in it, first)"
run mesh enable-egress-gateway --istio-eg-gtw-name gw2 --gtw-config-name no-such-sgc
expect sgc-must-exist test "$rc" = 1 -a "$err" = "error: StaticGatewayConfiguration \"no-such-sgc\" not found in namespace aks-istio-egress: the gateway configuration must exist in the egress gateway's namespace"
run get svc gw2 -n $ISTIO_EGRESS_NAMESPACE
expect refused-wrote-nothing test "$rc" = 1

# an SGC asking for more than the pool holds gets no prefix: apply warns, enable warns
sgc big-sgc "" "  gatewayVmssProfile:
    vmssResourceGroup: rg
    vmssName: vmss
    publicIpPrefixSize: 16" >"$tmp/big.yaml"
run apply -f "$tmp/big.yaml"
expect sgc-unassignable-warns test "$rc" = 0 -a "$err" = "warning: StaticGatewayConfiguration aks-istio-egress/big-sgc: status.egressIpPrefix: a /16 prefix does not fit in the egress pool 127.0.16.0/20; left unassigned"
run mesh enable-egress-gateway --istio-eg-gtw-name gw-waiting --gtw-config-name big-sgc
expect sgc-without-prefix-warns test "$rc" = 0 -a "$err" = "warning: StaticGatewayConfiguration aks-istio-egress/big-sgc has no status.egressIpPrefix yet: the gateway's pods wait for it (enable the gateway once the prefix is assigned)"

run mesh enable-egress-gateway --istio-eg-gtw-name gw2
expect usage-missing-sgc test "$rc" = 2
run mesh enable-egress-gateway --gtw-config-name x
expect usage-missing-name test "$rc" = 2
run mesh frobnicate
expect usage-unknown-subcommand test "$rc" = 2
run mesh upgrade start
expect usage-upgrade-needs-revision test "$rc" = 2
run mesh --help
expect help test "$rc" = 0 -a -n "$out"

# --- deleting what a gateway uses is refused ---
run delete staticgatewayconfiguration $ISTIO_SGC_NAME -n $ISTIO_EGRESS_NAMESPACE
expect delete-sgc-in-use-refused test "$rc" = 1 -a -z "$out" -a "$err" = "error: StaticGatewayConfiguration aks-istio-egress/asm-egress-test-sgc is used by the Istio egress gateway $n53: disable the gateway first (egressctl mesh disable-egress-gateway --istio-egressgateway-name $n53 --istio-egressgateway-namespace aks-istio-egress)"
run get sgc $ISTIO_SGC_NAME -n $ISTIO_EGRESS_NAMESPACE -o name
expect delete-sgc-in-use-kept test "$rc" = 0
run delete namespace $ISTIO_EGRESS_NAMESPACE
expect delete-namespace-in-use-refused test "$rc" = 1 -a "${err%%: disable*}" = "error: namespace aks-istio-egress holds the Istio egress gateway $n53 and its StaticGatewayConfiguration asm-egress-test-sgc"

# --- canary upgrade: a second Deployment behind the same Service ---
run mesh upgrade start --revision asm-1-25 -g $RESOURCE_GROUP -n $CLUSTER_NAME
expect upgrade-start test "$rc" = 0 -a "$(jq_read '.serviceMeshProfile.istio.revisions[1]' <<<"$out")" = '"asm-1-25"'
run get deploy -n $ISTIO_EGRESS_NAMESPACE -l istio=$ISTIO_EGRESS_NAME -o name
expect upgrade-two-deployments test "$out" = "$(printf 'deployment.apps/asm-egress-test-asm-1-24\ndeployment.apps/asm-egress-test-asm-1-25')"
run get deploy asm-egress-test-asm-1-25 -n $ISTIO_EGRESS_NAMESPACE -o 'jsonpath={.spec.template.metadata.labels.istio}'
expect upgrade-same-selector-label test "$out" = asm-egress-test
run mesh upgrade start --revision asm-1-26
expect upgrade-in-progress-refused test "$rc" = 1 -a "$err" = "error: an upgrade from asm-1-24 to asm-1-25 is in progress: complete or roll it back first"
run mesh upgrade rollback --yes
expect upgrade-rollback test "$rc" = 0 -a "$(jq_read .serviceMeshProfile.istio.revisions <<<"$out" | tr -d ' \n')" = '["asm-1-24"]'
run get deploy -n $ISTIO_EGRESS_NAMESPACE -l istio=$ISTIO_EGRESS_NAME -o name
expect upgrade-rollback-removed-new test "$out" = deployment.apps/asm-egress-test-asm-1-24
run mesh upgrade start --revision asm-1-25
run mesh upgrade complete --yes
expect upgrade-complete test "$rc" = 0 -a "$(jq_read .serviceMeshProfile.istio.revisions <<<"$out" | tr -d ' \n')" = '["asm-1-25"]'
run get deploy -n $ISTIO_EGRESS_NAMESPACE -l istio=$ISTIO_EGRESS_NAME -o name
expect upgrade-complete-removed-old test "$out" = deployment.apps/asm-egress-test-asm-1-25
run get cm egressd-cluster -n kube-system -o jsonpath={.data.revisions}
expect settings-configmap test "$out" = asm-1-25
run mesh upgrade complete
expect upgrade-complete-without-upgrade test "$rc" = 1

# --- disable, then enable again ---
run mesh disable-egress-gateway --resource-group $RESOURCE_GROUP --name $CLUSTER_NAME --istio-egressgateway-name $ISTIO_EGRESS_NAME --istio-egressgateway-namespace $ISTIO_EGRESS_NAMESPACE
expect disable-howto test "$rc" = 0 -a "$(jq_read .enabled <<<"$out")" = false
run get svc $ISTIO_EGRESS_NAME -n $ISTIO_EGRESS_NAMESPACE
expect disable-removed-service test "$rc" = 1 -a "$err" = "Error from server (NotFound): services \"asm-egress-test\" not found"
run get deploy -n $ISTIO_EGRESS_NAMESPACE -l istio=$ISTIO_EGRESS_NAME -o name
expect disable-removed-deployments test "$rc" = 0 -a -z "$out"
run mesh disable-egress-gateway --istio-egressgateway-name $ISTIO_EGRESS_NAME --istio-egressgateway-namespace $ISTIO_EGRESS_NAMESPACE
expect disable-twice-refused test "$rc" = 1 -a "$err" = "error: Istio egress gateway asm-egress-test is not enabled in namespace aks-istio-egress: nothing to disable"
run mesh enable-egress-gateway --istio-egressgateway-name $ISTIO_EGRESS_NAME --gateway-configuration-name $ISTIO_SGC_NAME
expect enable-again test "$rc" = 0
run get deploy $ISTIO_EGRESS_NAME-asm-1-25 -n $ISTIO_EGRESS_NAMESPACE -o name
expect enable-again-current-revision test "$rc" = 0
for g in $ISTIO_EGRESS_NAME $n53 gw-waiting; do
	E mesh disable-egress-gateway --istio-eg-gtw-name $g >/dev/null 2>&1
done
run mesh show
expect show-null-again test "$(jq_read .serviceMeshProfile.istio.components.egressGateways <<<"$out")" = null
run delete staticgatewayconfiguration $ISTIO_SGC_NAME -n $ISTIO_EGRESS_NAMESPACE
expect delete-sgc-after-disable test "$rc" = 0

# --- prefixes: unique, of the size asked for, released on delete ---
{
	sgc sgc-a
	sgc sgc-b "" "  gatewayVmssProfile:
    vmssResourceGroup: rg
    vmssName: vmss
    publicIpPrefixSize: 30"
	sgc sgc-c
} >"$tmp/three.yaml"
run apply -f "$tmp/three.yaml"
run get sgc -n $ISTIO_EGRESS_NAMESPACE -o jsonpath='{range .items[*]}{.metadata.name}={.status.egressIpPrefix} {end}'
expect prefixes-unique-and-sized test "$out" = "big-sgc= sgc-a=127.0.16.0/28 sgc-b=127.0.16.16/30 sgc-c=127.0.16.32/28 "
run delete sgc sgc-a -n $ISTIO_EGRESS_NAMESPACE
sgc sgc-d >"$tmp/d.yaml"
run apply -f "$tmp/d.yaml"
run get sgc sgc-d -n $ISTIO_EGRESS_NAMESPACE -o jsonpath={.status.egressIpPrefix}
expect prefix-released-and-reused test "$out" = "$prefix1"

# --- 500 per cluster: two egressctl at a time, then the 501st ---
export EGRESS_STORE=$tmp/big
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: big\n'
	sgc sgc big
} >"$tmp/bigns.yaml"
E apply -f "$tmp/bigns.yaml" >/dev/null
start=$(date +%s)
seq 1 500 | xargs -P 2 -I{} timeout 60 "$EGRESSCTL" mesh enable-egress-gateway --istio-eg-gtw-name gw-{} --istio-eg-gtw-ns big --gtw-config-name sgc >/dev/null 2>"$tmp/bulk.err"
rc=$?
secs=$(($(date +%s) - start))
echo "# 500 enables (2 at a time) in ${secs}s"
out=$(head -c 400 "$tmp/bulk.err")
expect limit-500-enabled test "$rc" = 0 -a ! -s "$tmp/bulk.err"
expect limit-500-fast test "$secs" -lt 120
run get svc -n big -o 'jsonpath={range .items[*]}{.spec.clusterIP}{"\n"}{end}'
expect limit-500-distinct-cluster-ips test "$(sort -u <<<"$out" | grep -c .)" = 500
run mesh enable-egress-gateway --istio-eg-gtw-name gw-501 --istio-eg-gtw-ns big --gtw-config-name sgc
expect limit-501st-refused test "$rc" = 1 -a "$err" = "error: cannot enable Istio egress gateway big/gw-501: the cluster has 500 Istio egress gateways, and at most 500 are allowed per cluster"
run mesh show
expect limit-500-show test "$(jq_read .serviceMeshProfile.istio.components.egressGateways <<<"$out" | grep -c '"name"')" = 500
run mesh disable-egress-gateway --istio-eg-gtw-name gw-250 --istio-eg-gtw-ns big
run mesh enable-egress-gateway --istio-eg-gtw-name gw-501 --istio-eg-gtw-ns big --gtw-config-name sgc
expect limit-room-after-disable test "$rc" = 0
