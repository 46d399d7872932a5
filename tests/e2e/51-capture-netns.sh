#!/usr/bin/env bash
# tests/e2e/51-capture-netns.sh: transparent capture at the sidecar. In a network namespace
# this test creates (addresses from 198.18.0.0/15 on its loopback), iptables REDIRECTs
# every outbound TCP connection except the proxy's own (uid 1337) to 15001, as Istio's
# init container does. Plain curl (no proxy settings) then reaches:
#   - a ServiceEntry host on port 80: 200 from the backend, routed by the Host header and
#     logged with the original destination as the downstream local address;
#   - an unknown host on port 80 under REGISTRY_ONLY: 502 with x-egressd-deny-reason;
#   - a TCP port without entry: BlackHoleCluster, the connection is closed;
#   - TLS on port 443 to the ServiceEntry host: routed by SNI, bytes relayed untouched.
# Needs root (netns, iptables); prints "skip" otherwise and runs the checks it can.
set -u
cd "$(dirname "$0")/../.."
EGRESSD=${EGRESSD:-$PWD/build/san/egressd}
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
tmp=$(mktemp -d)
chmod 755 "$tmp"
NS=egt51-$$-$RANDOM
pids=()
cleanup() {
	exec 2>/dev/null
	for p in "${pids[@]}"; do kill -TERM "$p"; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -9 "$p"; done
	wait
	ip netns pids "$NS" | xargs -r kill -9
	ip netns del "$NS"
	rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

ST=$tmp/store
ctl() { timeout 30 "$EGRESSCTL" --store "$ST" "$@"; }
"$EGRESSD" --help | grep -q -- '--pod-ip' && ok egressd-help || fail egressd-help "no --pod-ip in --help"

if [ "$(id -u)" != 0 ] || ! command -v iptables >/dev/null || ! ip netns add "$NS" 2>/dev/null; then
	echo "skip 51-capture-netns: needs root, iptables and network namespaces"
	exit 0
fi
B=198.18.$((RANDOM % 250 + 1))
POD=$B.10
SITE=$B.20
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx ip addr add "$POD/32" dev lo
nsx ip addr add "$SITE/32" dev lo
# Istio's outbound capture: everything but the proxy's uid and loopback's 127.0.0.1
nsx iptables -t nat -A OUTPUT -p tcp -m owner --uid-owner 1337 -j RETURN &&
	nsx iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1/32 -j RETURN &&
	nsx iptables -t nat -A OUTPUT -p tcp -j REDIRECT --to-ports 15001 ||
	{ fail iptables "cannot install the capture rules"; exit 0; }

ctl apply -f examples/00-namespace.yaml >/dev/null &&
	ctl apply -f examples/01-meshconfig.yaml >/dev/null &&
	ctl apply -f examples/10-curl.yaml >/dev/null || { fail setup "apply failed"; exit 1; }
cat >"$tmp/se.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: site, namespace: aks-istio-egress}
spec:
  hosts: [site.example]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 443, name: https, protocol: HTTPS}
  resolution: DNS
YAML
ctl apply -f "$tmp/se.yaml" >/dev/null || { fail setup "se apply failed"; exit 1; }
echo "$SITE site.example" >"$tmp/hosts"

mkdir -p "$tmp/ng/html" "$tmp/ng/tmp"
echo "captured hello" >"$tmp/ng/html/index.html"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=site.example \
	-keyout "$tmp/ng/key.pem" -out "$tmp/ng/cert.pem" >/dev/null 2>&1
chmod -R 755 "$tmp/ng"
cat >"$tmp/ng/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $tmp/ng/nginx.pid;
error_log $tmp/ng/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $tmp/ng/tmp; proxy_temp_path $tmp/ng/tmp; fastcgi_temp_path $tmp/ng/tmp;
  uwsgi_temp_path $tmp/ng/tmp; scgi_temp_path $tmp/ng/tmp;
  server { listen $SITE:80; root $tmp/ng/html; }
  server { listen $SITE:443 ssl; ssl_certificate $tmp/ng/cert.pem; ssl_certificate_key $tmp/ng/key.pem; root $tmp/ng/html; }
  server { listen $SITE:9000; return 200 "port 9000\n"; }
}
NGX
# nginx's master runs as root (uid 0): its replies are not outbound connections
nsx nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" >/dev/null 2>&1 &
pids+=($!)
chmod 755 "$EGRESSD" 2>/dev/null
chmod -R a+rwX "$tmp"
nsx setpriv --reuid=1337 --regid=1337 --clear-groups "$EGRESSD" --store "$ST" --role sidecar \
	--namespace aks-istio-egress --service-account curl --pod-ip "$POD" --workers 1 \
	--hosts-file "$tmp/hosts" --dns-servers 127.0.0.1:9 --access-log "$tmp/sc.log" >"$tmp/sc.out" 2>&1 &
SCPID=$!
pids+=($SCPID)
for _ in $(seq 100); do
	[ "$(nsx curl -s -o /dev/null -w '%{http_code}' "http://$POD:15021/healthz/ready")" = 200 ] && break
	sleep 0.1
done

# curl as root: captured (only uid 1337 is let through)
out=$(nsx timeout 10 curl -s -i http://site.example/ --resolve "site.example:80:$SITE")
sleep 0.3
if grep -q '^HTTP/1.1 200' <<<"$out" && grep -q 'captured hello' <<<"$out" &&
	grep -q "\"site.example\" \"$SITE:80\" outbound|80||site.example .* $SITE:80 " "$tmp/sc.log"; then
	ok captured-http-routed
else
	fail captured-http-routed "$(head -1 <<<"$out"); $(tail -1 "$tmp/sc.log"); $(tail -3 "$tmp/sc.out")"
fi
out=$(nsx timeout 10 curl -s -i http://other.example/ --resolve "other.example:80:$SITE")
if grep -q '^HTTP/1.1 502' <<<"$out" && grep -q '^x-egressd-deny-reason: other.example: not in the service registry' <<<"$out"; then
	ok captured-http-denied-502
else
	fail captured-http-denied-502 "$(head -3 <<<"$out")"
fi
# a port without entry: HTTP meets the listener's catch-all table, other bytes the
# TCP fallback (BlackHoleCluster: closed, nothing relayed)
out=$(nsx timeout 10 curl -s -o /dev/null -w '%{http_code}' "http://$SITE:9000/")
[ "$out" = 502 ] && ok captured-unknown-port-http-502 || fail captured-unknown-port-http-502 "got $out"
out=$(nsx timeout 10 bash -c "exec 3<>/dev/tcp/$SITE/9000 && printf 'hello\\r\\n' >&3 && cat <&3")
sleep 0.3
if [ -z "$out" ] && grep -q "\"- - -\" 0 UH .* BlackHoleCluster - $SITE:9000 " "$tmp/sc.log"; then
	ok captured-tcp-blackholed
else
	fail captured-tcp-blackholed "out '$out'; $(tail -1 "$tmp/sc.log")"
fi
out=$(nsx timeout 10 curl -s -k https://site.example/ --resolve "site.example:443:$SITE")
sleep 0.3
if [ "$out" = "captured hello" ] && grep -q "outbound|443||site.example .* $SITE:443 .* site.example -$" "$tmp/sc.log"; then
	ok captured-tls-routed-by-sni
else
	fail captured-tls-routed-by-sni "got '$out'; $(tail -1 "$tmp/sc.log")"
fi
# `ip netns exec` may fork: signal egressd itself, found among the namespace's processes
egpid=
for p in $(ip netns pids "$NS"); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = egressd ] && egpid=$p
done
[ -n "$egpid" ] && kill -TERM "$egpid"
wait "$SCPID"
rc=$?
[ "$rc" = 0 ] && ok sidecar-clean-exit || fail sidecar-clean-exit "exit $rc; $(grep -A5 Sanitizer "$tmp/sc.out" | head -8)"
