#!/usr/bin/env bash
# tests/e2e/58-tls-gateway-servers.sh: gateway listeners that change and terminate TLS
# with credentialName Secrets. Cases: a gateway that no Gateway resource selects yet keeps
# running (ready, admin up) and opens its listener when one is applied; the how-to's
# scenario 1 then scenario 3 on the same port (plain text, then ISTIO_MUTUAL) through a
# sidecar whose keep-alive connection predates the switch: the request after it goes over
# mTLS and TLS (nginx sees TLS), never on the old plain connection; a SIMPLE server whose
# certificate comes from a Secret (curl verifies it with the test CA); a MUTUAL server
# (Secret with ca.crt): no client certificate -> refused, one of the test CA -> 200;
# pipelined requests over TLS, one record each, all answered; a
# Secret that does not exist -> the handshake is refused and the reason logged.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/tls_lib.sh
trap tls_cleanup EXIT

ctl ca init >/dev/null || { fail setup "ca init failed"; exit 1; }
ctl ca issue --namespace aks-istio-egress --service-account curl --out "$tmp/sc-certs" >/dev/null &&
	ctl ca issue --namespace aks-istio-egress --service-account asm-egress-test --out "$tmp/gw-certs" >/dev/null ||
	{ fail setup "ca issue failed"; exit 1; }

# 1. no Gateway resource yet: the gateway serves its admin ports and waits
start_gateway --cert-dir "$tmp/gw-certs" --ca-bundle "$tmp/ca-bundle.pem"
start_sidecar --cert-dir "$tmp/sc-certs"
wait_ready "$GW" && ok gateway-without-listener-ready || fail gateway-without-listener-ready "$(tail -5 "$tmp/gw.out")"
sleep 0.5
if kill -0 "$GWPID" 2>/dev/null && curl -s "http://$GW:15000/config_dump" | grep -q '"gateway_name": "asm-egress-test"'; then
	ok gateway-without-listener-keeps-running
else
	fail gateway-without-listener-keeps-running "$(tail -3 "$tmp/gw.out")"
fi
wait_ready "$SC" || fail sidecar-ready "$(tail -5 "$tmp/sc.out")"
ctl apply -f examples/scenario-http.yaml >/dev/null || fail setup "scenario-http apply failed"
wait_port "$GW" 8080 && ok listener-opened-on-reload || fail listener-opened-on-reload "$(tail -3 "$tmp/gw.out")"

# 2. scenario 1 (plain) then scenario 3 (ISTIO_MUTUAL) on the same gateway port
PX=(-x "http://$SC:15001")
out=$(timeout 20 curl -s -o /dev/null -w '%{http_code}' "${PX[@]}" http://edition.cnn.com/plain)
sleep 0.3
if [ "$out" = 200 ] && grep '"GET /plain' "$tmp/ng/access.log" | tail -1 | grep -q ' 200 - -$'; then
	ok scenario-1-plain-200
else
	fail scenario-1-plain-200 "code $out; $(tail -1 "$tmp/ng/access.log")"
fi
ctl delete -f examples/scenario-http.yaml >/dev/null
ctl apply -f examples/scenario-tls-origination.yaml >/dev/null || fail setup "scenario-tls-origination apply failed"
sleep 1.5
out=$(timeout 20 curl -s -o /dev/null -w '%{http_code}' "${PX[@]}" http://edition.cnn.com/switched)
sleep 0.3
ngl=$(grep '"GET /switched' "$tmp/ng/access.log" | tail -1)
if [ "$out" = 200 ] && grep -q ' TLSv1\.[23] edition.cnn.com$' <<<"$ngl" &&
	grep '"GET /switched' "$tmp/gw.log" | tail -1 | grep -q 'outbound|443||edition.cnn.com'; then
	ok plain-to-mtls-switch-no-stale-connection
else
	fail plain-to-mtls-switch-no-stale-connection "code $out; nginx: $ngl; gw: $(grep switched "$tmp/gw.log" | tail -1)"
fi
ctl delete -f examples/scenario-tls-origination.yaml >/dev/null

# 3. SIMPLE and MUTUAL servers with credentialName Secrets in the gateway's namespace
ind() { sed 's/^/      /' "$1"; }
site_cert gw.example "$tmp/gwsite"
site_cert client.example "$tmp/client"
cat >"$tmp/servers.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: site-cred, namespace: aks-istio-egress}
type: kubernetes.io/tls
stringData:
  tls.crt: |
$(ind "$tmp/gwsite.pem")
  tls.key: |
$(ind "$tmp/gwsite.key")
---
apiVersion: v1
kind: Secret
metadata: {name: mtls-cred, namespace: aks-istio-egress}
type: generic
stringData:
  tls.crt: |
$(ind "$tmp/gwsite.pem")
  tls.key: |
$(ind "$tmp/gwsite.key")
  ca.crt: |
$(ind "$tmp/ca.pem")
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn, namespace: aks-istio-egress}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: terminating, namespace: aks-istio-egress}
spec:
  selector: {istio: asm-egress-test}
  servers:
  - port: {number: 443, name: https-simple, protocol: HTTPS}
    hosts: [gw.example]
    tls: {mode: SIMPLE, credentialName: site-cred}
  - port: {number: 9443, name: https-mutual, protocol: HTTPS}
    hosts: [gw.example]
    tls: {mode: MUTUAL, credentialName: mtls-cred}
  - port: {number: 9444, name: https-missing, protocol: HTTPS}
    hosts: [gw.example]
    tls: {mode: SIMPLE, credentialName: no-such-secret}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: terminating, namespace: aks-istio-egress}
spec:
  hosts: [gw.example]
  gateways: [terminating]
  http:
  - route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]
YAML
ctl apply -f "$tmp/servers.yaml" >/dev/null || { fail setup "servers apply failed: $(ctl apply -f "$tmp/servers.yaml" 2>&1 | head -3)"; exit 1; }
wait_port "$GW" 9443 || fail listener-9443 "not listening"
cuc() { timeout 20 curl -sS --cacert "$tmp/ca.pem" "$@" 2>&1; }
out=$(cuc --resolve "gw.example:8443:$GW" https://gw.example:8443/simple)
if grep -q 'hello from edition.cnn.com http ' <<<"$out"; then ok simple-server-from-secret; else fail simple-server-from-secret "$out"; fi
# pipelined requests over TLS, each in its own record: all answered, in order
out=$(timeout 20 python3 - "$GW" "$tmp/ca.pem" <<'PYEOF' 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], 8443), timeout=10), server_hostname="gw.example")
for i, last in ((1, False), (2, False), (3, True)):
    s.sendall(("GET /p%d HTTP/1.1\r\nHost: gw.example\r\n%s\r\n" % (i, "Connection: close\r\n" if last else "")).encode())
data = b""
while True:
    try:
        b = s.recv(65536)
    except ssl.SSLError:
        break
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200"))
PYEOF
)
[ "$out" = 3 ] && ok pipelined-requests-over-tls || fail pipelined-requests-over-tls "$out"
out=$(cuc --resolve "gw.example:9443:$GW" https://gw.example:9443/nocert)
sleep 0.3
if ! grep -q 'hello from' <<<"$out" && tail -1 "$tmp/gw.log" | grep -q 'peer did not return a certificate'; then
	ok mutual-server-refuses-no-certificate
else
	fail mutual-server-refuses-no-certificate "client: $out; log: $(tail -1 "$tmp/gw.log")"
fi
out=$(cuc --resolve "gw.example:9443:$GW" --cert "$tmp/client.pem" --key "$tmp/client.key" https://gw.example:9443/withcert)
grep -q 'hello from edition.cnn.com' <<<"$out" && ok mutual-server-accepts-client-of-its-ca || fail mutual-server-accepts-client-of-its-ca "$out"
out=$(cuc --resolve "gw.example:9444:$GW" https://gw.example:9444/missing)
sleep 0.3
if ! grep -q 'hello from' <<<"$out" && grep -q 'Secret aks-istio-egress/no-such-secret not found' "$tmp/gw.out"; then
	ok missing-secret-refused-and-logged
else
	fail missing-secret-refused-and-logged "client: $out; $(grep -i secret "$tmp/gw.out" | tail -2)"
fi

stop_ok "$SCPID" && ok sidecar-clean-exit || fail sidecar-clean-exit "exit status $?"
stop_ok "$GWPID" && ok gateway-clean-exit || fail gateway-clean-exit "exit status $?"
no_sanitizer_reports
