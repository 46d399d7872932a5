#!/usr/bin/env bash
# tests/e2e/56-tls-origination.sh: the how-to's scenario 3 with real processes on
# loopback: curl (plain HTTP) -> sidecar egressd -> ISTIO_MUTUAL (the sidecar's workload
# certificate, SNI edition.cnn.com) -> gateway egressd (port 80 -> 8080, Gateway server
# HTTPS ISTIO_MUTUAL) -> TLS originated by the gateway (DR SIMPLE) -> nginx:443 with a
# certificate of a test CA given to the gateway with --ca-bundle. Identities come from
# `egressctl ca init` / `ca issue`. Cases: 200; nginx logged a TLS request from the egress
# prefix; the gateway's access log shows the curl workload's SPIFFE id and the SNI; the
# metrics carry source_principal and connection_security_policy="mutual_tls"; requests
# reuse the pooled mTLS connection; refusals: a plain-text client on the ISTIO_MUTUAL
# port, a client certificate from another CA, a client without certificate, an SNI
# outside the server hosts, an upstream certificate for another name (503 UF with the
# reason), and the sidecar without a workload certificate (503 UF, never plain text).
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/tls_lib.sh
trap tls_cleanup EXIT

ctl ca init >/dev/null || { fail setup "ca init failed"; exit 1; }
ctl ca issue --namespace aks-istio-egress --service-account curl --out "$tmp/sc-certs" >/dev/null &&
	ctl ca issue --namespace aks-istio-egress --service-account asm-egress-test --out "$tmp/gw-certs" >/dev/null ||
	{ fail setup "ca issue failed"; exit 1; }
# a second mesh CA: its certificates must be refused
mkdir -p "$tmp/st2"
"$EGRESSCTL" --store "$tmp/st2" ca init >/dev/null 2>&1 &&
	"$EGRESSCTL" --store "$tmp/st2" ca issue --namespace aks-istio-egress --service-account curl --out "$tmp/foreign" >/dev/null 2>&1 ||
	{ fail setup "foreign ca failed"; exit 1; }
# the gateway's access log also shows the peer identity (DOWNSTREAM_PEER_URI_SAN)
cat >"$tmp/mesh.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-shared-configmap-asm-1-24
  namespace: aks-istio-system
data:
  mesh: |-
    accessLogFile: /dev/stdout
    accessLogFormat: "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %UPSTREAM_LOCAL_ADDRESS% sni=%REQUESTED_SERVER_NAME% from=%DOWNSTREAM_REMOTE_ADDRESS% peer=%DOWNSTREAM_PEER_URI_SAN% details=%CONNECTION_TERMINATION_DETAILS%\n"
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
YAML
ctl apply -f "$tmp/mesh.yaml" >/dev/null || { fail setup "meshconfig apply failed"; exit 1; }
ctl apply -f examples/scenario-tls-origination.yaml >/dev/null || { fail setup "scenario apply failed"; exit 1; }
# a second site whose certificate names another host, reached by TLS origination too
cat >"$tmp/wrong.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wrong, namespace: aks-istio-egress}
spec:
  hosts: [wrong-cert.example]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: wrong-gw, namespace: aks-istio-egress}
spec:
  selector: {istio: asm-egress-test}
  servers:
  - port: {number: 80, name: https-wrong, protocol: HTTPS}
    hosts: [wrong-cert.example]
    tls: {mode: ISTIO_MUTUAL}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wrong, namespace: aks-istio-egress}
spec:
  hosts: [wrong-cert.example]
  gateways: [wrong-gw]
  http:
  - route: [{destination: {host: wrong-cert.example, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wrong, namespace: aks-istio-egress}
spec:
  host: wrong-cert.example
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE}
YAML
ctl apply -f "$tmp/wrong.yaml" >/dev/null || { fail setup "wrong-cert apply failed"; exit 1; }

start_gateway --cert-dir "$tmp/gw-certs" --ca-bundle "$tmp/ca-bundle.pem"
start_sidecar --cert-dir "$tmp/sc-certs"
wait_ready "$GW" && ok gateway-ready || fail gateway-ready "$(tail -5 "$tmp/gw.out")"
wait_ready "$SC" && ok sidecar-ready || fail sidecar-ready "$(tail -5 "$tmp/sc.out")"
wait_port "$NG" 443 || fail nginx-up "nginx is not listening"
SPIFFE=spiffe://cluster.local/ns/aks-istio-egress/sa/curl

PX=(-x "http://$SC:15001")
cu() { timeout 20 curl -sS "$@"; }

# 1. curl http://edition.cnn.com/politics: sidecar -> mTLS -> gateway -> TLS -> nginx
out=$(cu -i "${PX[@]}" http://edition.cnn.com/politics 2>&1)
if grep -q '^HTTP/1.1 200' <<<"$out" && grep -q 'hello from edition.cnn.com https' <<<"$out"; then
	ok origination-200
else
	fail origination-200 "$(head -5 <<<"$out"); gw: $(tail -2 "$tmp/gw.out")"
fi
sleep 0.5
ngl=$(grep '"GET /politics' "$tmp/ng/access.log" | tail -1)
if grep -q ' TLSv1\.[23] edition.cnn.com$' <<<"$ngl" && in_prefix "${ngl%% *}"; then
	ok nginx-saw-tls-from-egress-prefix
else
	fail nginx-saw-tls-from-egress-prefix "nginx: $ngl"
fi
gl=$(grep '"GET /politics' "$tmp/gw.log" | tail -1)
if grep -q " 200 - via_upstream .* outbound|443||edition.cnn.com \"*$NG:443\"* .* sni=edition.cnn.com from=$SC:[0-9]* peer=$SPIFFE " <<<"$gl"; then
	ok gateway-log-shows-spiffe-id
else
	fail gateway-log-shows-spiffe-id "got: $gl"
fi
sl=$(grep '"GET /politics' "$tmp/sc.log" | tail -1)
grep -q "outbound|80|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local \"*$GW:8080" <<<"$sl" && ok sidecar-log-line || fail sidecar-log-line "got: $sl"
m=$(curl -s "http://$GW:15090/stats/prometheus")
if grep -q "^istio_requests_total{.*source_principal=\"$SPIFFE\".*connection_security_policy=\"mutual_tls\".*response_code=\"200\".*} [1-9]" <<<"$m" ||
	grep "^istio_requests_total{" <<<"$m" | grep "source_principal=\"$SPIFFE\"" | grep -q 'connection_security_policy="mutual_tls"'; then
	ok metrics-peer-principal-mutual-tls
else
	fail metrics-peer-principal-mutual-tls "$(grep '^istio_requests_total' <<<"$m" | head -2)"
fi

# 2. keep-alive: ten requests, the gateway accepts fewer mTLS connections than that
before=$(grep -c . "$tmp/gw.log")
for _ in $(seq 10); do cu -o /dev/null "${PX[@]}" http://edition.cnn.com/k; done
sleep 0.3
reqs=$(tail -n +$((before + 1)) "$tmp/gw.log" | grep -c '"GET /k.* 200 ')
conns=$(tail -n +$((before + 1)) "$tmp/gw.log" | grep '"GET /k' | grep -o 'from=[^ ]*' | sort -u | wc -l)
if [ "$reqs" = 10 ] && [ "$conns" -lt 10 ]; then
	ok mtls-connections-pooled
else
	fail mtls-connections-pooled "$reqs requests answered 200 on $conns mTLS connections"
fi
ngk=$(grep '"GET /k' "$tmp/ng/access.log" | awk '{print $2}' | sort -u | wc -l)
[ "$ngk" -lt 10 ] && ok origination-connections-pooled || fail origination-connections-pooled "nginx saw $ngk connections for 10 requests"

# 3. refusals at the ISTIO_MUTUAL port (gateway 8080)
out=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -H 'Host: edition.cnn.com' "http://$GW:8080/" 2>&1)
sleep 0.3
if [ "$out" = 000 ] && tail -1 "$tmp/gw.log" | grep -q 'details=not_tls'; then ok plain-text-client-refused-logged; else fail plain-text-client-refused-logged "code $out; $(tail -1 "$tmp/gw.log")"; fi
out=$("${TLSC[@]}" --to "$GW:8080" --cert "$tmp/foreign/cert.pem" --key "$tmp/foreign/key.pem" --path /politics)
sleep 0.3
if grep -q '^error' <<<"$out" && tail -1 "$tmp/gw.log" | grep -q 'certificate verify failed'; then
	ok foreign-ca-client-refused
else
	fail foreign-ca-client-refused "client: $out; log: $(tail -1 "$tmp/gw.log")"
fi
out=$("${TLSC[@]}" --to "$GW:8080" --path /politics)
sleep 0.3
if grep -q '^error' <<<"$out" && tail -1 "$tmp/gw.log" | grep -q 'peer did not return a certificate'; then
	ok client-without-certificate-refused
else
	fail client-without-certificate-refused "client: $out; log: $(tail -1 "$tmp/gw.log")"
fi
out=$("${TLSC[@]}" --to "$GW:8080" --sni not-a-server-host.example --cert "$tmp/sc-certs/cert.pem" --key "$tmp/sc-certs/key.pem")
sleep 0.3
if grep -qi 'unrecognized.name' <<<"$out" && tail -1 "$tmp/gw.log" | grep -q 'sni=not-a-server-host.example .*details=filter_chain_not_found'; then
	ok sni-outside-server-hosts-refused
else
	fail sni-outside-server-hosts-refused "client: $out; log: $(tail -1 "$tmp/gw.log")"
fi
# a valid mesh client straight at the gateway works (and is identified)
out=$("${TLSC[@]}" --to "$GW:8080" --cert "$tmp/sc-certs/cert.pem" --key "$tmp/sc-certs/key.pem" --path /direct)
grep -q '^status 200' <<<"$out" && ok mesh-client-accepted || fail mesh-client-accepted "$out"

# 4. origination to a site whose certificate is for another name: 503 UF with the reason
# (a mesh client straight at the gateway's ISTIO_MUTUAL server for wrong-cert.example)
out=$("${TLSC[@]}" --to "$GW:8080" --sni wrong-cert.example --host wrong-cert.example --cert "$tmp/sc-certs/cert.pem" --key "$tmp/sc-certs/key.pem")
sleep 0.3
gl=$(grep 'outbound|443||wrong-cert.example' "$tmp/gw.log" | tail -1)
if grep -q '^status 503' <<<"$out" && grep -q ' 503 UF[, ].*"certificate verify failed: hostname mismatch"' <<<"$gl"; then
	ok upstream-wrong-name-503-UF-reason
else
	fail upstream-wrong-name-503-UF-reason "client: $(head -1 <<<"$out"); log: $gl"
fi

# 5. a sidecar without a workload certificate never falls back to plain text: 503 UF
kill -TERM "$SCPID"; wait "$SCPID" 2>/dev/null
SC=$NET.11
start_sidecar
wait_ready "$SC" || fail sidecar2-ready "$(tail -3 "$tmp/sc.out")"
out=$(cu -o /dev/null -w '%{http_code}' -x "http://$SC:15001" http://edition.cnn.com/nocert 2>&1)
sleep 0.3
if [ "$out" = 503 ] && grep '"GET /nocert' "$tmp/sc.log" | tail -1 | grep -q ' 503 UF .*ISTIO_MUTUAL needs'; then
	ok no-identity-503-never-plain
else
	fail no-identity-503-never-plain "code $out; $(grep nocert "$tmp/sc.log" | tail -1)"
fi

stop_ok "$SCPID" && ok sidecar-clean-exit || fail sidecar-clean-exit "exit status $?"
stop_ok "$GWPID" && ok gateway-clean-exit || fail gateway-clean-exit "exit status $?"
no_sanitizer_reports
