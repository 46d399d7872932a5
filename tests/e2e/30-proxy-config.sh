#!/usr/bin/env bash
# tests/e2e/30-proxy-config.sh: egressctl proxy-config on the how-to's scenarios, from -f
# files and from a store: the routes issue 3 asks for (curl sidecar -> egress gateway
# subset cnn; gateway -> edition.cnn.com), listeners per outbound policy, valid JSON, the
# store generation as the snapshot version, and usage errors.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
D=tests/testdata/compile
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
# check NAME CMD...: ok when CMD exits 0
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name" "$*"; fi
}

sidecar=(--role sidecar --namespace aks-istio-egress --service-account curl --labels app=curl)
gateway=(--role gateway --name asm-egress-test --namespace aks-istio-egress)
http_files=(-f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-http.yaml")

# --- from files ---
"$EGRESSCTL" proxy-config routes "${sidecar[@]}" "${http_files[@]}" >"$tmp/sc-routes" 2>"$tmp/err"
check sidecar_routes_exit test $? -eq 0
check sidecar_route_to_gateway_subset \
	grep -Eq '^80 +edition\.cnn\.com:80 +edition\.cnn\.com +/\* +direct-cnn-through-egress-gateway\.aks-istio-egress +outbound\|80\|cnn\|asm-egress-test\.aks-istio-egress\.svc\.cluster\.local$' "$tmp/sc-routes"
check sidecar_block_all grep -Eq '^80 +block_all +\* +/\* +direct response 502$' "$tmp/sc-routes"
check sidecar_no_warnings test ! -s "$tmp/err"

"$EGRESSCTL" proxy-config routes "${gateway[@]}" "${http_files[@]}" >"$tmp/gw-routes" 2>&1
check gateway_route_to_site \
	grep -Eq '^http\.8080 +edition\.cnn\.com:80 +edition\.cnn\.com +/\* +direct-cnn-through-egress-gateway\.aks-istio-egress +outbound\|80\|\|edition\.cnn\.com$' "$tmp/gw-routes"
check gateway_has_no_mesh_rule bash -c "! grep -q 'outbound|80|cnn|' '$tmp/gw-routes'"

"$EGRESSCTL" proxy-config listeners "${gateway[@]}" "${http_files[@]}" >"$tmp/gw-l" 2>&1
check gateway_listens_on_target_port grep -Eq '^0\.0\.0\.0 +8080 +ALL +Route: http\.8080$' "$tmp/gw-l"

"$EGRESSCTL" proxy-config listeners "${gateway[@]}" -f "$D/base.yaml" -f "$D/scenario-https.yaml" >"$tmp/gw-tls" 2>&1
check gateway_passthrough_sni \
	grep -Eq '^0\.0\.0\.0 +8443 +SNI: edition\.cnn\.com +Cluster: outbound\|443\|\|edition\.cnn\.com$' "$tmp/gw-tls"

"$EGRESSCTL" proxy-config clusters "${sidecar[@]}" -f "$D/base.yaml" -f "$D/scenario-tls-origination.yaml" >"$tmp/sc-cl" 2>&1
check sidecar_cluster_table \
	grep -Eq '^asm-egress-test\.aks-istio-egress\.svc\.cluster\.local +80 +cnn +outbound +EDS +egressgateway-for-cnn\.aks-istio-egress$' "$tmp/sc-cl"

"$EGRESSCTL" proxy-config all -o json "${sidecar[@]}" -f "$D/base.yaml" -f "$D/scenario-tls-origination.yaml" >"$tmp/all.json" 2>&1
check json_is_valid_and_has_istio_mutual python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = {k["name"]: k for k in d["clusters"]}
k = c["outbound|80|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local"]
assert k["tls"]["mode"] == "ISTIO_MUTUAL" and k["tls"]["sni"] == "edition.cnn.com", k["tls"]
assert k["lb_policy"] == "LEAST_REQUEST"  # port level settings do not inherit
assert d["outbound_traffic_policy"]["mode"] == "ALLOW_ANY"  # no MeshConfig given
' "$tmp/all.json"

"$EGRESSCTL" proxy-config clusters -o json "${gateway[@]}" "${http_files[@]}" >"$tmp/cl.json" 2>&1
check json_part_is_an_array python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and "outbound|80||edition.cnn.com" in [c["name"] for c in d]
' "$tmp/cl.json"

# --- from a store: the version is the store generation; a policy change shows ---
store=$tmp/store
export EGRESS_STORE=$store
if "$EGRESSCTL" apply -f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-http.yaml" >"$tmp/apply" 2>&1; then
	"$EGRESSCTL" proxy-config routes "${sidecar[@]}" >"$tmp/st-routes" 2>&1
	check store_sidecar_route grep -q 'outbound|80|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local' "$tmp/st-routes"
	"$EGRESSCTL" proxy-config listeners "${sidecar[@]}" >"$tmp/st-l1" 2>&1
	check store_registry_only_blackhole grep -Eq '15001 +ALL \(other ports\) +Cluster: BlackHoleCluster$' "$tmp/st-l1"
	"$EGRESSCTL" proxy-config all -o json "${sidecar[@]}" >"$tmp/st.json" 2>&1
	gen=$(cat "$store/generation" 2>/dev/null || echo missing)
	check store_version_is_generation python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert str(d["version"]) == sys.argv[2].strip(), (d["version"], sys.argv[2])
' "$tmp/st.json" "$gen"
	"$EGRESSCTL" apply -f "$D/mesh-allow-any.yaml" >>"$tmp/apply" 2>&1
	"$EGRESSCTL" proxy-config listeners "${sidecar[@]}" >"$tmp/st-l2" 2>&1
	check store_allow_any_passthrough grep -Eq '15001 +ALL \(other ports\) +Cluster: PassthroughCluster$' "$tmp/st-l2"
else
	fail store_apply "$(tail -3 "$tmp/apply")"
fi
unset EGRESS_STORE

# --- usage ---
"$EGRESSCTL" proxy-config routes --namespace x -f "$D/base.yaml" >/dev/null 2>&1
check usage_missing_role test $? -eq 2
"$EGRESSCTL" proxy-config endpoints "${sidecar[@]}" -f "$D/base.yaml" >/dev/null 2>&1
check usage_unknown_view test $? -eq 2
"$EGRESSCTL" proxy-config routes --role gateway --namespace x -f "$D/base.yaml" >/dev/null 2>&1
check usage_gateway_needs_name test $? -eq 2
"$EGRESSCTL" proxy-config routes "${sidecar[@]}" -f "$tmp/does-not-exist.yaml" >/dev/null 2>&1
check unreadable_input_refused test $? -eq 1
