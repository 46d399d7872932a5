#!/usr/bin/env bash
# tests/e2e/50-http-egress.sh: the how-to's HTTP scenario through real processes on
# loopback: curl -> sidecar egressd (explicit proxy, 15001) -> gateway egressd (8080) ->
# nginx standing in for edition.cnn.com (a hosts file maps the name), plus a small Python
# backend for slow, echo and upload endpoints. Every process listens on random 127.N.M.x
# addresses; the store is a fresh mktemp dir filled with `egressctl apply`.
# Cases: 200 and body; nginx sees a client address inside the SGC prefix; the gateway's
# access log line; keep-alive reuse towards nginx; pipelined requests; Expect:
# 100-continue; chunked upload; REGISTRY_ONLY 502 with x-egressd-deny-reason; CONNECT to a
# denied host -> 403 with no DNS query; CONNECT to an allowed host; ServiceEntry applied
# under load flips 502 -> 200 with no other status; ALLOW_ANY -> PassthroughCluster;
# upstream down -> 503 UF; upstream slower than the VS timeout -> 504 UT; metrics move;
# an invalid configuration leaves the gateway serving and is logged; SIGTERM drains a slow
# request in flight. Binding nginx on port 80 needs root: without it only the checks that
# need no port 80 run (and the others print "skip").
set -u
cd "$(dirname "$0")/../.."
EGRESSD=${EGRESSD:-$PWD/build/san/egressd}
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
NGPID=
cleanup() {
	exec 2>/dev/null # no "Killed" job notices
	# nginx: TERM lets the master take its worker with it
	[ -n "$NGPID" ] && kill -TERM "$NGPID" 2>/dev/null
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$NGPID" ] && for _ in $(seq 50); do kill -0 "$NGPID" 2>/dev/null || break; sleep 0.1; done
	[ -n "$NGPID" ] && kill -9 "$NGPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
check() { # check NAME CONDITION-CMD...
	local n=$1
	shift
	if "$@"; then ok "$n"; else fail "$n" "check failed: $*"; fi
}

ST=$tmp/store
ctl() { timeout 30 "$EGRESSCTL" --store "$ST" "$@"; }

# --- checks that need no privileged port ---
if "$EGRESSD" --version | grep -q '^egressd '; then ok egressd-version; else fail egressd-version "no version line"; fi
"$EGRESSD" --role nope --store "$tmp/x" --namespace a >/dev/null 2>&1
[ $? = 2 ] && ok egressd-bad-usage-exit-2 || fail egressd-bad-usage-exit-2 "expected exit status 2"

N=$((RANDOM % 200 + 30))
M=$((RANDOM % 250 + 1))
NET=127.$N.$M
GW=$NET.2          # gateway pod
SC=$NET.10         # sidecar (curl pod)
NG=$NET.20         # nginx: edition.cnn.com
PY=$NET.21         # python backend: slow/echo/drain/flip/passthru
DOWN=$NET.250      # nothing listens here

ctl apply -f examples/00-namespace.yaml >/dev/null &&
	ctl apply -f examples/01-meshconfig.yaml >/dev/null &&
	ctl apply -f examples/02-static-gateway-config.yaml >/dev/null &&
	ctl apply -f examples/10-curl.yaml >/dev/null || { fail setup "egressctl apply failed"; exit 1; }
cat >"$tmp/gateway.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: asm-egress-test-asm-1-24
  namespace: aks-istio-egress
  labels: {app: asm-egress-test, istio: asm-egress-test, istio.io/rev: asm-1-24}
spec:
  replicas: 1
  selector:
    matchLabels: {app: asm-egress-test, istio: asm-egress-test}
  template:
    metadata:
      labels: {app: asm-egress-test, istio: asm-egress-test, istio.io/rev: asm-1-24}
      annotations:
        kubernetes.azure.com/static-gateway-configuration: asm-egress-test-sgc
        egressd.io/pod-addresses: "$GW"
    spec:
      serviceAccountName: asm-egress-test
      containers:
      - name: istio-proxy
        image: egressd
---
apiVersion: v1
kind: Service
metadata:
  name: asm-egress-test
  namespace: aks-istio-egress
  labels: {app: asm-egress-test, istio: asm-egress-test}
spec:
  type: ClusterIP
  clusterIP: $NET.3
  selector: {app: asm-egress-test, istio: asm-egress-test}
  ports:
  - {name: status-port, port: 15021, targetPort: 15021, protocol: TCP}
  - {name: http2, port: 80, targetPort: 8080, protocol: TCP}
  - {name: https, port: 443, targetPort: 8443, protocol: TCP}
YAML
ctl apply -f "$tmp/gateway.yaml" >/dev/null || { fail setup "gateway apply failed"; exit 1; }
# the SGC prefix: the cluster hands one out; set it the way the cluster does when not
prefix=$(ctl get staticgatewayconfiguration asm-egress-test-sgc -n aks-istio-egress -o jsonpath='{.status.egressIpPrefix}' 2>/dev/null)
if [ -z "$prefix" ]; then
	prefix=127.$N.$((M ^ 1)).0/30
	f=$(ls "$ST"/objects/staticgatewayconfigurations*/aks-istio-egress/asm-egress-test-sgc)
	flock "$ST/lock" sh -c "printf 'status:\n  egressIpPrefix: %s\n' '$prefix' >>'$f'"
fi
case $prefix in 127.*) ;; *) fail setup "egress prefix $prefix is not on loopback"; exit 1 ;; esac

"$EGRESSD" --store "$ST" --role gateway --name asm-egress-test --namespace aks-istio-egress --validate >"$tmp/validate.out" 2>&1
[ $? = 0 ] && grep -q 'is valid' "$tmp/validate.out" && ok egressd-validate || fail egressd-validate "$(cat "$tmp/validate.out")"

if [ "$(id -u)" != 0 ]; then
	echo "skip 50-http-egress: needs root (nginx binds port 80)"
	exit 0
fi

# --- peers ---
mkdir -p "$tmp/ng/html" "$tmp/ng/tmp"
echo "hello from edition.cnn.com" >"$tmp/ng/html/index.html"
echo "first" >"$tmp/ng/html/a.txt"
echo "second" >"$tmp/ng/html/b.txt"
chmod -R 755 "$tmp/ng"
cat >"$tmp/ng/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $tmp/ng/nginx.pid;
error_log $tmp/ng/error.log;
events { worker_connections 256; }
http {
  log_format x '\$remote_addr \$connection \$request \$status';
  access_log $tmp/ng/access.log x;
  client_body_temp_path $tmp/ng/tmp; proxy_temp_path $tmp/ng/tmp; fastcgi_temp_path $tmp/ng/tmp;
  uwsgi_temp_path $tmp/ng/tmp; scgi_temp_path $tmp/ng/tmp;
  keepalive_timeout 60s;
  server { listen $NG:80; root $tmp/ng/html; }
  server { listen $NG:443 ssl; ssl_certificate $tmp/ng/cert.pem; ssl_certificate_key $tmp/ng/key.pem; root $tmp/ng/html; }
}
NGX
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=edition.cnn.com \
	-keyout "$tmp/ng/key.pem" -out "$tmp/ng/cert.pem" >/dev/null 2>&1 || fail setup "openssl req failed"
nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" >/dev/null 2>&1 &
NGPID=$!
cat >"$tmp/backend.py" <<'PYEOF'
import hashlib, http.server, socketserver, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""): pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))
    def reply(self, code, text):
        b = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        if self.path.startswith("/partial"):
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"12345")
            self.wfile.flush()
            time.sleep(3)
            self.wfile.write(b"67890")
            return
        if self.path.startswith("/hdr"):
            self.reply(200, "x-test=%s x-drop=%s\n" % (self.headers.get("X-Test"), self.headers.get("X-Drop")))
            return
        if self.path.startswith("/slow"): time.sleep(3)
        if self.path.startswith("/drain"): time.sleep(2)
        self.reply(200, "backend %s %s\n" % (self.headers.get("Host"), self.path))
    def do_POST(self):
        d = self.body()
        self.reply(200, "got %d %s expect=%s\n" % (len(d), hashlib.sha256(d).hexdigest(), self.headers.get("Expect")))
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    def handle_error(self, *a): pass  # the proxy closing a timed-out request is expected
    allow_reuse_address = True
S((sys.argv[1], 80), H).serve_forever()
PYEOF
python3 "$tmp/backend.py" "$PY" >"$tmp/backend.out" 2>&1 &
pids+=($!)
# a DNS "server" that records every query it gets: a denied CONNECT must send none
cat >"$tmp/dns.py" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(4096)
    with open(sys.argv[3], "ab") as f:
        f.write(b"query %d bytes\n" % len(data))
PYEOF
DNSPORT=$((RANDOM % 30000 + 20000))
: >"$tmp/dns.log"
python3 "$tmp/dns.py" "$NET.53" "$DNSPORT" "$tmp/dns.log" >/dev/null 2>&1 &
pids+=($!)
cat >"$tmp/hosts" <<HOSTS
$NG edition.cnn.com
$PY slow.example drain.example echo.example flip.example passthru.example
$DOWN down.example
HOSTS

# --- configuration of the scenario ---
ctl apply -f examples/scenario-http.yaml >/dev/null || { fail setup "scenario apply failed"; exit 1; }
cat >"$tmp/extra.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backends, namespace: aks-istio-egress}
spec:
  hosts: [slow.example, drain.example, echo.example, down.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: aks-istio-egress}
spec:
  hosts: [slow.example]
  http:
  - timeout: 1s
    route: [{destination: {host: slow.example, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: aks-istio-egress}
spec:
  hosts: [echo.example]
  http:
  - headers:
      request:
        set: {x-test: from-vs}
        remove: [x-drop]
      response:
        add: {x-resp: added}
    route: [{destination: {host: echo.example, port: {number: 80}}}]
YAML
ctl apply -f "$tmp/extra.yaml" >/dev/null || { fail setup "extra apply failed"; exit 1; }

"$EGRESSD" --store "$ST" --role gateway --name asm-egress-test --namespace aks-istio-egress \
	--pod-ip "$GW" --workers 2 --hosts-file "$tmp/hosts" --dns-servers "$NET.53:$DNSPORT" \
	--access-log "$tmp/gw.log" >"$tmp/gw.out" 2>&1 &
GWPID=$!
pids+=($GWPID)
"$EGRESSD" --store "$ST" --role sidecar --namespace aks-istio-egress --service-account curl \
	--pod-ip "$SC" --workers 2 --hosts-file "$tmp/hosts" --dns-servers "$NET.53:$DNSPORT" \
	--access-log "$tmp/sc.log" >"$tmp/sc.out" 2>&1 &
SCPID=$!
pids+=($SCPID)

# wait_ready ADDR: /healthz/ready answers 200 (at most 10 s)
wait_ready() {
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1:15021/healthz/ready")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
wait_port() { # wait_port ADDR PORT
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
wait_ready "$GW" && ok gateway-ready || fail gateway-ready "$(tail -5 "$tmp/gw.out")"
wait_ready "$SC" && ok sidecar-ready || fail sidecar-ready "$(tail -5 "$tmp/sc.out")"
wait_port "$NG" 80 || fail nginx-up "nginx is not listening"
wait_port "$PY" 80 || fail backend-up "backend is not listening"

PX=(-x "http://$SC:15001")
cu() { timeout 20 curl -sS "$@"; }

# 1. through sidecar and gateway to nginx
out=$(cu -i "${PX[@]}" http://edition.cnn.com/)
if grep -q '^HTTP/1.1 200' <<<"$out" && grep -q 'hello from edition.cnn.com' <<<"$out"; then
	ok http-through-gateway-200
else
	fail http-through-gateway-200 "$(head -3 <<<"$out")"
fi
sleep 0.3
last=$(tail -1 "$tmp/ng/access.log")
client=${last%% *}
if python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_address('$client') in ipaddress.ip_network('$prefix') else 1)"; then
	ok nginx-sees-egress-prefix-source
else
	fail nginx-sees-egress-prefix-source "client $client not in $prefix"
fi
gl=$(grep '"edition.cnn.com"' "$tmp/gw.log" | tail -1)
p4=${prefix%/*}
want_re="\"GET / HTTP/1.1\" 200 - via_upstream - \"-\" 0 27 [0-9]+ [0-9]+ \"$SC\" \"curl/[^\"]*\" \"[0-9a-f-]{36}\" \"edition.cnn.com\" \"$NG:80\" outbound\|80\|\|edition.cnn.com ${p4%.*}\.[0-9]+:[0-9]+ $GW:8080 $SC:[0-9]+ - default"
if grep -Eq "$want_re" <<<"$gl"; then ok gateway-access-log-line; else fail gateway-access-log-line "got: $gl"; fi
sl=$(grep '"edition.cnn.com"' "$tmp/sc.log" | tail -1)
if grep -q 'outbound|80|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local' <<<"$sl" && grep -q "\"$GW:8080\"" <<<"$sl"; then
	ok sidecar-access-log-line
else
	fail sidecar-access-log-line "got: $sl"
fi

# 2. keep-alive reuse: 6 requests, nginx sees fewer connections
before=$(wc -l <"$tmp/ng/access.log")
for _ in 1 2 3 4 5 6; do cu -o /dev/null "${PX[@]}" http://edition.cnn.com/a.txt; done
sleep 0.3
conns=$(tail -n +$((before + 1)) "$tmp/ng/access.log" | awk '{print $2}' | sort -u | wc -l)
reqs=$(tail -n +$((before + 1)) "$tmp/ng/access.log" | wc -l)
if [ "$reqs" = 6 ] && [ "$conns" -lt 6 ]; then ok upstream-keepalive-reuse; else fail upstream-keepalive-reuse "$reqs requests on $conns connections"; fi

# 3. pipelined requests on one connection to the gateway come back in order
python3 - "$GW" >"$tmp/pipe.out" 2>&1 <<'PYEOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 8080), timeout=10)
s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: edition.cnn.com\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
sys.stdout.write(data.decode())
PYEOF
order=$(grep -E '^(first|second)$' "$tmp/pipe.out" | tr '\n' ' ')
if [ "$order" = "first second first " ] && [ "$(grep -c '^HTTP/1.1 200' "$tmp/pipe.out")" = 3 ]; then
	ok pipelined-in-order
else
	fail pipelined-in-order "got: $order"
fi

# 4. Expect: 100-continue and a chunked upload, through the sidecar
head -c 200000 /dev/urandom >"$tmp/up.bin"
sum=$(sha256sum "$tmp/up.bin" | cut -d' ' -f1)
out=$(cu "${PX[@]}" -H 'Expect: 100-continue' --data-binary @"$tmp/up.bin" http://echo.example/up 2>&1)
if grep -q "got 200000 $sum expect=None" <<<"$out"; then ok expect-100-continue; else fail expect-100-continue "got: $out"; fi
out=$(cu -v "${PX[@]}" -H 'Expect: 100-continue' --data-binary @"$tmp/up.bin" http://echo.example/up 2>&1)
if grep -q '< HTTP/1.1 100 Continue' <<<"$out"; then ok expect-100-interim-sent; else fail expect-100-interim-sent "no 100 Continue seen"; fi
out=$(cu "${PX[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/up.bin" http://echo.example/chunked 2>&1)
if grep -q "got 200000 $sum" <<<"$out"; then ok chunked-upload; else fail chunked-upload "got: $out"; fi

# a large head (50 KB field) followed by a body: the head stays buffered while the body
# streams behind it
big=$(head -c 50000 /dev/zero | tr '\0' 'a')
out=$(cu "${PX[@]}" -H "X-Big: $big" --data-binary @"$tmp/up.bin" http://echo.example/bighead 2>&1)
if grep -q "got 200000 $sum" <<<"$out"; then ok large-head-with-body; else fail large-head-with-body "got: ${out:0:200}"; fi

# VirtualService header operations: request set/remove, response add
out=$(cu -i "${PX[@]}" -H 'X-Test: client' -H 'X-Drop: 1' http://echo.example/hdr)
if grep -q '^x-test=from-vs x-drop=None' <<<"$out" && grep -qi '^x-resp: added' <<<"$out"; then
	ok vs-header-operations
else
	fail vs-header-operations "$(tr '\r\n' '  ' <<<"$out")"
fi

# 5. REGISTRY_ONLY: a host outside the registry gets 502 with the reason
out=$(cu -i "${PX[@]}" http://unknown.example.org/x)
if grep -q '^HTTP/1.1 502' <<<"$out" &&
	grep -q '^x-egressd-deny-reason: unknown.example.org: not in the service registry (outboundTrafficPolicy REGISTRY_ONLY, MeshConfig ConfigMap aks-istio-system/istio-shared-configmap-asm-1-24)' <<<"$out"; then
	ok registry-only-502-with-reason
else
	fail registry-only-502-with-reason "$(head -5 <<<"$out")"
fi
sleep 0.3
if grep -q '"unknown.example.org" "-" BlackHoleCluster .* block_all$' "$tmp/sc.log"; then ok deny-logged; else fail deny-logged "$(tail -2 "$tmp/sc.log")"; fi

# 6. CONNECT to a denied host: 403 with the reason, and no DNS query at all
out=$(cu -i -p "${PX[@]}" https://denied.example.net/ 2>&1)
sleep 0.5
if grep -q '403' <<<"$out" && grep -q 'x-egressd-deny-reason: denied.example.net: not in the service registry' <<<"$out" && [ ! -s "$tmp/dns.log" ]; then
	ok connect-denied-403-no-dns
else
	fail connect-denied-403-no-dns "dns log: $(cat "$tmp/dns.log"); out: $(grep -i 'HTTP/\|deny' <<<"$out" | head -3)"
fi
# CONNECT to an allowed HTTP host: the tunnelled request is routed like a captured one
out=$(cu -p "${PX[@]}" http://edition.cnn.com/b.txt)
[ "$out" = second ] && ok connect-tunnel-routed || fail connect-tunnel-routed "got: $out"

# CONNECT to port 443: the tunnel's ClientHello is routed by SNI, bytes relayed untouched
out=$(cu -k -p "${PX[@]}" https://edition.cnn.com/a.txt)
[ "$out" = first ] && ok connect-tls-sni-routed || fail connect-tls-sni-routed "got: $out"
sleep 0.3
if grep -q ' outbound|443||edition.cnn.com .* edition.cnn.com -$' "$tmp/sc.log"; then ok tls-tunnel-logged-with-sni; else fail tls-tunnel-logged-with-sni "$(tail -1 "$tmp/sc.log")"; fi
# an allowed CONNECT whose SNI names another host meets the BlackHole: alert, closed
cu -k -p "${PX[@]}" --connect-to evil.example:443:edition.cnn.com:443 https://evil.example/ >/dev/null 2>&1
crc=$?
sleep 0.3
if [ "$crc" != 0 ] && grep -q '"- - -" 0 UH .* BlackHoleCluster .* evil.example -$' "$tmp/sc.log"; then
	ok tls-unknown-sni-blackholed
else
	fail tls-unknown-sni-blackholed "curl rc $crc; $(tail -1 "$tmp/sc.log")"
fi

# 7. metrics
prom() { curl -s "http://$1:15090/stats/prometheus"; }
m=$(prom "$SC")
if grep -q '^istio_requests_total{reporter="source".*response_code="502".*} [1-9]' <<<"$m" &&
	grep -q '^egressd_denied_total{host="unknown.example.org",reason="registry_only"} 1' <<<"$m"; then
	ok metrics-requests-and-denies
else
	fail metrics-requests-and-denies "$(grep -E '^(istio_requests_total|egressd_denied)' <<<"$m" | head -5)"
fi
count200() { prom "$GW" | awk '/^istio_requests_total\{/ && /destination_service="edition.cnn.com"/ && /response_code="200"/ {s += $NF} END {print s + 0}'; }
c1=$(count200)
cu -o /dev/null "${PX[@]}" http://edition.cnn.com/
c2=$(count200)
[ $((c2 - c1)) = 1 ] && ok metrics-counter-moves || fail metrics-counter-moves "$c1 -> $c2"

# 8. upstream down -> 503 UF; slower than the VS timeout -> 504 UT
out=$(cu -o /dev/null -w '%{http_code}' "${PX[@]}" http://down.example/)
sleep 0.3
if [ "$out" = 503 ] && grep -q '"down.example" .* 503 UF' "$tmp/sc.log"; then ok upstream-down-503-UF; else
	grep -q '" 503 UF' "$tmp/sc.log" && [ "$out" = 503 ] && ok upstream-down-503-UF || fail upstream-down-503-UF "code $out; $(grep down.example "$tmp/sc.log" | tail -1)"
fi
t0=$(date +%s%N)
out=$(cu -o /dev/null -w '%{http_code}' "${PX[@]}" http://slow.example/slow)
t1=$(date +%s%N)
sleep 0.3
if [ "$out" = 504 ] && [ $(((t1 - t0) / 1000000)) -lt 2500 ] && grep '"slow.example"' "$tmp/sc.log" | tail -1 | grep -q '" 504 UT '; then
	ok upstream-timeout-504-UT
else
	fail upstream-timeout-504-UT "code $out after $(((t1 - t0) / 1000000)) ms; $(grep slow.example "$tmp/sc.log" | tail -1)"
fi

# the route timeout after the response started: the client sees a cut response, no 504
out=$(cu "${PX[@]}" http://slow.example/partial 2>/dev/null)
crc=$?
sleep 0.3
if [ "$crc" = 18 ] && [ "$out" = 12345 ] && grep '"slow.example"' "$tmp/sc.log" | tail -1 | grep -q '"GET /partial HTTP/1.1" 200 UT '; then
	ok route-timeout-after-response-started
else
	fail route-timeout-after-response-started "curl rc $crc, body '$out'; $(grep partial "$tmp/sc.log" | tail -1)"
fi

# 9. a ServiceEntry applied while a load runs flips 502 -> 200, nothing else
cat >"$tmp/flip.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: flip, namespace: aks-istio-egress}
spec:
  hosts: [flip.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
YAML
(
	end=$((SECONDS + 5))
	while [ $SECONDS -lt $end ]; do
		curl -s -o /dev/null -m 5 -w '%{http_code} %header{x-egressd-deny-reason}\n' -x "http://$SC:15001" http://flip.example/f
	done
) >"$tmp/load.out" 2>&1 &
loadpid=$!
sleep 1.5
ctl apply -f "$tmp/flip.yaml" >/dev/null
wait $loadpid
total=$(wc -l <"$tmp/load.out")
n502=$(grep -c '^502 flip.example: not in the service registry' "$tmp/load.out")
n200=$(grep -c '^200 $' "$tmp/load.out")
firstok=$(grep -n '^200' "$tmp/load.out" | head -1 | cut -d: -f1)
last502=$(grep -n '^502' "$tmp/load.out" | tail -1 | cut -d: -f1)
if [ "$total" -gt 5 ] && [ $((n502 + n200)) = "$total" ] && [ "$n502" -gt 0 ] && [ "$n200" -gt 0 ] && [ "${last502:-0}" -lt "${firstok:-0}" ]; then
	ok serviceentry-flip-under-load
else
	fail serviceentry-flip-under-load "$total requests: $n502 x 502, $n200 x 200; others: $(grep -v -e '^502 flip' -e '^200 $' "$tmp/load.out" | sort | uniq -c | head -3)"
fi

# 10. ALLOW_ANY: an unknown host goes straight out, logged as PassthroughCluster
cat >"$tmp/allow.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-shared-configmap-asm-1-24
  namespace: aks-istio-system
data:
  mesh: |-
    accessLogFile: /dev/stdout
    accessLogEncoding: JSON
    outboundTrafficPolicy:
      mode: ALLOW_ANY
YAML
ctl apply -f "$tmp/allow.yaml" >/dev/null
out=
for _ in $(seq 50); do
	out=$(cu -s -w '%{http_code}' "${PX[@]}" http://passthru.example/p 2>&1 | tr -d '\n')
	grep -q '200$' <<<"$out" && break
	sleep 0.1
done
sleep 0.3
# (the same reload switched the access log to JSON)
if [ "$out" = "backend passthru.example /p200" ] &&
	grep '"passthru.example"' "$tmp/sc.log" | tail -1 | python3 -c '
import json, sys
e = json.loads(sys.stdin.read())
ok = (e["upstream_cluster"] == "PassthroughCluster" and e["route_name"] == "allow_any"
      and e["response_code"] == 200 and e["upstream_host"] == sys.argv[1] + ":80"
      and e["authority"] == "passthru.example" and e["method"] == "GET")
sys.exit(0 if ok else 1)' "$PY"; then
	ok allow-any-passthrough-json-log
else
	fail allow-any-passthrough-json-log "got: $out; $(grep passthru "$tmp/sc.log" | tail -1)"
fi

# 11. an invalid configuration: logged, the last good snapshot keeps serving
# (a hand-edited object that no longer parses, then the change signal, as a writer makes it)
mkdir -p "$ST/objects/configmaps/default"
flock "$ST/lock" sh -c "printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n  namespace: default\ndata: [unclosed\n' >'$ST/objects/configmaps/default/broken'"
gen=$(cat "$ST/generation")
echo $((gen + 1)) >"$ST/generation.tmp" && mv "$ST/generation.tmp" "$ST/generation"
sleep 1
out=$(cu -s -o /dev/null -w '%{http_code}' -H 'Host: edition.cnn.com' "http://$GW:8080/")
if [ "$out" = 200 ] && grep -q 'error' "$tmp/gw.out" &&
	curl -s "http://$GW:15090/stats/prometheus" | grep -q '^egressd_reloads_total{result="failed"} [1-9]'; then
	ok invalid-config-keeps-serving
else
	fail invalid-config-keeps-serving "code $out; $(tail -3 "$tmp/gw.out")"
fi
rm -f "$ST/objects/configmaps/default/broken"

# 12. listeners follow the Gateway servers: a new port opens, a removed one closes, and
# a listener that stays keeps its socket (a keep-alive connection survives the reload)
cat >"$tmp/alt.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: alt, namespace: aks-istio-egress}
spec:
  selector: {istio: asm-egress-test}
  servers:
  - port: {number: 8000, name: http-alt, protocol: HTTP}
    hosts: [alt.example]
YAML
sed 's/^  - {name: https, port: 443, targetPort: 8443, protocol: TCP}$/&\n  - {name: http-alt, port: 8000, targetPort: 9000, protocol: TCP}/' "$tmp/gateway.yaml" >"$tmp/gateway-alt.yaml"
python3 - "$GW" "$tmp/alt.yaml" "$tmp/gateway-alt.yaml" "$EGRESSCTL" "$ST" >"$tmp/keep.out" 2>&1 <<'PYEOF'
import socket, subprocess, sys, time
gw, alt, gwalt, ctl, st = sys.argv[1:6]
def get(s):
    s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\n")
    data = b""
    while b"first\n" not in data:
        b = s.recv(65536)
        if not b: break
        data += b
    return data.split(b"\r\n")[0].decode()
s = socket.create_connection((gw, 8080), timeout=10)
print("before", get(s))
for f in (gwalt, alt):
    subprocess.run([ctl, "--store", st, "apply", "-f", f], check=True, capture_output=True)
for _ in range(50):
    try:
        c = socket.create_connection((gw, 9000), timeout=2)
        c.sendall(b"GET / HTTP/1.1\r\nHost: nothing.example\r\nConnection: close\r\n\r\n")
        print("alt", c.recv(4096).split(b"\r\n")[0].decode())
        break
    except OSError:
        time.sleep(0.1)
print("after", get(s))
subprocess.run([ctl, "--store", st, "delete", "gateway", "alt", "-n", "aks-istio-egress"], check=True, capture_output=True)
for _ in range(50):
    try:
        socket.create_connection((gw, 9000), timeout=2).close()
        time.sleep(0.1)
    except OSError:
        print("alt closed")
        break
print("still", get(s))
PYEOF
if grep -q '^before HTTP/1.1 200' "$tmp/keep.out" && grep -q '^alt HTTP/1.1 404' "$tmp/keep.out" &&
	grep -q '^after HTTP/1.1 200' "$tmp/keep.out" && grep -q '^alt closed' "$tmp/keep.out" &&
	grep -q '^still HTTP/1.1 200' "$tmp/keep.out"; then
	ok listeners-reconciled-on-reload
else
	fail listeners-reconciled-on-reload "$(tr '\n' ';' <"$tmp/keep.out")"
fi

# 13. admin: config_dump of the active snapshot
if curl -s "http://$GW:15000/config_dump" | grep -q '"gateway_name": "asm-egress-test"'; then ok admin-config-dump; else fail admin-config-dump "no dump"; fi

# 14. SIGTERM drains: a slow request in flight completes, readiness turns 503, exit 0
cu -o "$tmp/drain.out" "${PX[@]}" http://drain.example/drain &
cpid=$!
sleep 0.7
kill -TERM "$SCPID"
sleep 0.2
rd=$(curl -s -o /dev/null -w '%{http_code}' "http://$SC:15021/healthz/ready")
wait $cpid
crc=$?
for _ in $(seq 80); do kill -0 "$SCPID" 2>/dev/null || break; sleep 0.1; done
wait "$SCPID"
src=$?
if [ "$crc" = 0 ] && grep -q 'backend drain.example /drain' "$tmp/drain.out" && [ "$rd" = 503 ] && [ "$src" = 0 ]; then
	ok sigterm-drains
else
	fail sigterm-drains "curl rc $crc ($(cat "$tmp/drain.out")), ready $rd, egressd exit $src"
fi
kill -TERM "$GWPID"
wait "$GWPID"
rc=$?
[ "$rc" = 0 ] && ok gateway-clean-exit || fail gateway-clean-exit "exit status $rc; $(grep -i 'error\|sanitizer' "$tmp/gw.out" | head -3)"
if grep -q 'Sanitizer' "$tmp/gw.out" "$tmp/sc.out"; then fail sanitizers "$(grep -h -A5 Sanitizer "$tmp/gw.out" "$tmp/sc.out" | head -20)"; else ok no-sanitizer-reports; fi
