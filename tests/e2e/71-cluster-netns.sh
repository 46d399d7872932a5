#!/usr/bin/env bash
# tests/e2e/71-cluster-netns.sh: the local cluster in netns mode (root): pods as network
# namespaces on a bridge, transparent capture of a workload's TCP to its sidecar (uid 1337
# exempt), gateway pods owning their egress prefix, the internet namespace whose firewall
# accepts only egress prefixes, `cluster internet`, restarts, and a `cluster down` (also
# after the supervisor was SIGKILLed) that leaves no namespace, link, rule or process.
# Pods run a stand-in egressd (python: /healthz/ready, and an answer on its proxy port), so
# the topology is tested on its own; the real egressd joins when it serves.
set -u
cd "$(dirname "$0")/../.."
E=${EGRESSCTL:-$PWD/${BUILD:-build}/san/egressctl}
D=${EGRESSD:-$PWD/${BUILD:-build}/san/egressd}
W=$(mktemp -d)
S=$W/store
P=n$(printf '%04x' $((RANDOM % 65536))) # our namespace prefix: parallel runs differ
ec() { "$E" --store "$S" "$@"; }
SITE=
cleanup() {
	[ -n "$SITE" ] && kill "$SITE" 2>/dev/null
	ec cluster down >/dev/null 2>&1
	# belt and braces: nothing of ours may survive a failed test
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf /etc/netns/"$P"-* "$W"
}
trap cleanup EXIT
pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
wait_for() {
	local n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
# ms_until SECONDS CMD...: how many ms until CMD first succeeds (polled every 50 ms,
# bounded); prints nothing and fails when it never does
ms_until() {
	local t0 n=$(($1 * 20))
	shift
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		if "$@" >/dev/null 2>&1; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	return 1
}
pods() { ec get pods -n "${1:-demo}" 2>/dev/null; }
pod_count() { [ "$(pods "$2" | grep -c "$3")" -eq "$1" ]; }
state_pid() { awk -v p="$1" '$1 == "pod" && $3 == p {print $5}' "$S/cluster/state"; }

if [ "$(id -u)" -ne 0 ]; then
	out=$("$E" --store "$S" cluster up --mode netns 2>&1)
	[ $? -eq 1 ] && grep -q "netns mode needs root" <<<"$out" && pass netns-refused-without-root ||
		fail netns-refused-without-root "$out"
	exit 0
fi
out=$(ec cluster up --egressd "$D" --prefix "$P" 2>&1) # $W is still 0700
[ $? -eq 1 ] && grep -qF "runs as uid 1337 and must read the store (chmod o+x $W)" <<<"$out" &&
	pass store-must-be-readable-by-1337 || fail store-must-be-readable-by-1337 "$out"
chmod 755 "$W" # egressd runs as uid 1337 and reads the store

cat >"$W/fake-egressd" <<'EOF'
#!/usr/bin/python3
# stand-in egressd: /healthz/ready on 15021; on 15001 (sidecar) or 8080 (gateway) it
# answers every request with who it is and the original destination it was sent to
import os, socket, struct, sys, threading
a = sys.argv[1:]
ip = a[a.index('--pod-ip') + 1]
role = a[a.index('--role') + 1]
print('stand-in egressd uid=%d %s' % (os.getuid(), ' '.join(a)), flush=True)
def serve(port, text):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            dst = '-'
            if port == 15001:
                try:
                    raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
                    dst = '%s:%d' % (socket.inet_ntoa(raw[4:8]), struct.unpack('!H', raw[2:4])[0])
                except OSError:
                    pass
            line = c.recv(4096).decode('latin1').split('\r\n')[0]
            print('request %s original-dst %s' % (line, dst), flush=True)
            body = '%s dst=%s\n' % (text, dst)
            c.sendall(('HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'
                       % (len(body), body)).encode())
        except OSError:
            pass
        finally:
            c.close()
port = 15001 if role == 'sidecar' else 8080
threading.Thread(target=serve, args=(port, '%s of %s' % (role, os.environ['POD_NAME'])),
                 daemon=True).start()
serve(15021, 'ready')
EOF
chmod 755 "$W/fake-egressd"
printf '198.19.0.10 edition.cnn.com\n198.19.0.11 other.example.com\n' >"$W/hosts"

cat >"$W/app.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels:
    istio.io/rev: asm-1-24
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: curl
  namespace: demo
spec:
  replicas: REPLICAS
  selector:
    matchLabels:
      app: curl
  template:
    metadata:
      labels:
        app: curl
    spec:
      serviceAccountName: curl
      containers:
      - name: curl
        image: curlimages/curl
---
apiVersion: v1
kind: Namespace
metadata:
  name: aks-istio-egress
---
apiVersion: egressgateway.kubernetes.azure.com/v1alpha1
kind: StaticGatewayConfiguration
metadata:
  name: asm-egress-sgc
  namespace: aks-istio-egress
spec:
  gatewayNodepoolName: gwpool
EOF
app() { sed "s/REPLICAS/$1/" "$W/app.yaml" | ec apply -f - >/dev/null; }
app 1

out=$(ec cluster up --egressd "$W/fake-egressd" --prefix "$P" --hosts-file "$W/hosts" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "cluster started: netns mode" <<<"$out"; then
	pass netns-is-default-as-root
else
	fail netns-is-default-as-root "rc=$rc: $out"
	cat "$S/cluster/supervisor.log" 2>/dev/null
	exit 0
fi
SUP=$(cut -d' ' -f1 "$S/cluster/supervisor.pid")
ip netns list | grep -q "^$P-rtr" && ip netns list | grep -q "^$P-inet" &&
	pass router-and-internet-namespaces || fail router-and-internet-namespaces "$(ip netns list)"
mkdir -m 755 "$W/store2"
out=$("$E" --store "$W/store2" cluster up --egressd "$W/fake-egressd" --prefix "$P" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -qF "prefix $P is in use by the cluster of $S " <<<"$out" &&
	ip netns list | grep -q "^$P-rtr" && pass prefix-owned-by-one-cluster ||
	fail prefix-owned-by-one-cluster "rc=$rc: $out"
pfx=$(ec get sgc asm-egress-sgc -n aks-istio-egress -o 'jsonpath={.status.egressIpPrefix}')
[[ "$pfx" == 198.18.24[0-9].* || "$pfx" == 198.18.25[0-5].* ]] && pass netns-egress-pool ||
	fail netns-egress-pool "'$pfx' (expected from 198.18.240.0/20)"
ec mesh enable-egress-gateway --istio-egressgateway-name asm-egress-test \
	--gateway-configuration-name asm-egress-sgc >/dev/null 2>&1

if wait_for 8 pod_count 1 demo "2/2 *Running" && wait_for 5 pod_count 1 aks-istio-egress "1/1 *Running"; then
	pass pods-running
else
	fail pods-running "$(pods; pods aks-istio-egress; tail -20 "$S/cluster/supervisor.log")"
fi
POD=$(ec get pods -n demo -l app=curl -o 'jsonpath={.items..metadata.name}')
NS=$(ec get pod "$POD" -n demo -o 'jsonpath={.metadata.annotations.egressd\.io/netns}')
IP=$(ec get pod "$POD" -n demo -o 'jsonpath={.status.podIP}')
GW=$(ec get pods -n aks-istio-egress -l istio=asm-egress-test -o 'jsonpath={.items..metadata.name}')
GWNS=$(ec get pod "$GW" -n aks-istio-egress -o 'jsonpath={.metadata.annotations.egressd\.io/netns}')
GWIP=$(ec get pod "$GW" -n aks-istio-egress -o 'jsonpath={.status.podIP}')
[ "$NS" = "$P-$POD" ] && ip netns list | grep -q "^$NS" && [[ "$IP" == 198.18.* ]] &&
	pass pod-namespace || fail pod-namespace "ns=$NS ip=$IP"
grep -q "^198.19.0.10 edition.cnn.com" "/etc/netns/$NS/hosts" &&
	grep -q "options timeout:1 attempts:1" "/etc/netns/$NS/resolv.conf" &&
	pass pod-hosts-and-resolv || fail pod-hosts-and-resolv "$(cat /etc/netns/$NS/* 2>&1)"
t0=$(date +%s%N)
ec exec -n demo deploy/curl -- getent hosts nonexistent.example >/dev/null 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -lt 3000 ] && pass unknown-name-fails-fast || fail unknown-name-fails-fast "${ms} ms"
grep -q "uid=1337 .*--role sidecar --namespace demo --service-account curl --workload curl --pod-ip $IP" \
	"$S/cluster/pods/$POD/egressd.log" && pass sidecar-runs-as-1337 ||
	fail sidecar-runs-as-1337 "$(head -3 "$S/cluster/pods/$POD/egressd.log")"

# --- transparent capture: the workload's TCP goes to its sidecar, uid 1337 does not ---
out=$(ec exec -n demo deploy/curl -- curl -s -m 3 http://edition.cnn.com/politics)
[ "$out" = "sidecar of $POD dst=198.19.0.10:80" ] && pass capture-to-sidecar ||
	fail capture-to-sidecar "'$out'"
out=$(ec exec -n demo deploy/curl -- curl -s -m 3 http://127.0.0.1:15021/ 2>&1)
[ "$out" != "ready" ] && pass loopback-not-captured || fail loopback-not-captured "$out"

# --- the internet: only egress prefixes get in ---
ec cluster internet -- python3 -m http.server --bind 198.19.0.10 8000 >"$W/site.log" 2>&1 &
SITE=$!
wait_for 5 ec cluster internet -- curl -s -m 1 -o /dev/null http://198.19.0.10:8000/ &&
	pass internet-site-up || fail internet-site-up "$(cat "$W/site.log")"
ec exec -n demo deploy/curl -- setpriv --reuid 1337 --regid 1337 --clear-groups \
	curl -s -m 2 -o /dev/null http://edition.cnn.com:8000/
rc=$?
[ $rc -eq 28 ] && pass workload-direct-dropped || fail workload-direct-dropped "curl rc=$rc"
last=${pfx##*.}
SRC=${pfx%.*}.$((${last%/*} + 5)) # an address of the prefix that is not its first
code=$(ip netns exec "$GWNS" curl -s -m 3 -o /dev/null -w '%{http_code}' \
	--interface "$SRC" http://edition.cnn.com:8000/)
[ "$code" = 200 ] && pass egress-prefix-accepted || fail egress-prefix-accepted "code=$code"
ip netns exec "$GWNS" curl -s -m 2 -o /dev/null http://edition.cnn.com:8000/
rc=$?
[ $rc -eq 28 ] && pass gateway-primary-address-dropped || fail gateway-primary-address-dropped "rc=$rc"
grep -q "^$SRC " "$W/site.log" && ! grep -q "^$IP " "$W/site.log" &&
	pass site-saw-only-the-prefix || fail site-saw-only-the-prefix "$(cat "$W/site.log")"
out=$(ip netns exec "$GWNS" curl -s -m 2 "http://$GWIP:8080/")
[ "$out" = "gateway of $GW dst=-" ] && pass gateway-pod-serves || fail gateway-pod-serves "'$out'"
ann=$(ec get svc asm-egress-test -n aks-istio-egress -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}')
[ "$ann" = "$GWIP" ] && pass gateway-service-addresses || fail gateway-service-addresses "'$ann'"

# --- SIGKILL of the gateway's egressd: back within 2 s ---
gw_serves() { [ "$(ip netns exec "$GWNS" curl -s -m 1 "http://$GWIP:8080/")" = "gateway of $GW dst=-" ]; }
kill -9 "$(state_pid "$GW")"
ms=$(ms_until 4 gw_serves)
[ -n "$ms" ] && [ "$ms" -le 2000 ] && pass gateway-sigkill-restart-serving ||
	fail gateway-sigkill-restart-serving "${ms:-never} ms"
wait_for 3 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '1/1 *Running *1 '" &&
	pass gateway-sigkill-restarts-1 || fail gateway-sigkill-restarts-1 "$(pods aks-istio-egress)"

# --- scaling and deleting remove namespaces too ---
app 2
wait_for 8 pod_count 2 demo "2/2 *Running" && pass scale-to-2 || fail scale-to-2 "$(pods)"
[ "$(ip netns list | grep -c "^$P-curl-")" -eq 2 ] && pass one-namespace-per-pod ||
	fail one-namespace-per-pod "$(ip netns list)"
ec delete deployment curl -n demo >/dev/null
if wait_for 5 sh -c "! ip netns list | grep -q '^$P-curl-'" && [ ! -e "/etc/netns/$NS" ]; then
	pass delete-removes-namespaces
else
	fail delete-removes-namespaces "$(ip netns list)"
fi

# --- down leaves nothing ---
no_leftovers() {
	local what=""
	ip netns list | grep -q "^$P-" && what+=" netns"
	ls /etc/netns 2>/dev/null | grep -q "^$P-" && what+=" etc-netns"
	ip -o link | grep -q " $P-" && what+=" links"
	[ -e "/run/egressd-cluster/$P" ] && what+=" owner-file"
	nft list ruleset 2>/dev/null | grep -q "egressd_" && what+=" host-nft"
	pgrep -f -- "--store $S " >/dev/null && what+=" processes"
	[ -n "$SITE" ] && kill -0 "$SITE" 2>/dev/null && what+=" site"
	[ "$(ec get pods -A -o name 2>/dev/null | wc -l)" -eq 0 ] || what+=" pod-objects"
	[ -z "$what" ] || {
		echo "$what"
		return 1
	}
}
out=$(ec cluster down)
left=$(no_leftovers)
[ "$out" = "cluster stopped" ] && [ -z "$left" ] && pass down-leaves-nothing ||
	fail down-leaves-nothing "$out; left:$left"
wait "$SITE" 2>/dev/null
SITE=

# --- down after the supervisor was SIGKILLed ---
app 1
ec cluster up --egressd "$W/fake-egressd" --prefix "$P" --hosts-file "$W/hosts" >/dev/null 2>&1
wait_for 8 pod_count 1 demo "2/2 *Running" && wait_for 5 pod_count 1 aks-istio-egress "1/1 *Running"
SUP=$(cut -d' ' -f1 "$S/cluster/supervisor.pid")
kill -9 "$SUP"
wait_for 3 sh -c "! kill -0 $SUP"
ip netns list | grep -q "^$P-" && pass namespaces-outlive-supervisor ||
	fail namespaces-outlive-supervisor "nothing left to clean: the next check proves nothing"
out=$(ec cluster down)
rc=$?
left=$(no_leftovers)
[ $rc -eq 0 ] && [ -z "$left" ] && pass down-after-supervisor-sigkill ||
	fail down-after-supervisor-sigkill "$out; left:$left"
out=$(ec cluster down)
[ $? -eq 0 ] && [ -z "$(no_leftovers)" ] && pass down-idempotent || fail down-idempotent "$out"

# --- with the real egressd, once it serves ---
# it serves when a sidecar answers /healthz/ready (until then the stand-in above stands in)
egressd_serves() {
	local ip=127.$((100 + RANDOM % 100)).$((RANDOM % 250)).9 ok pid
	"$D" --store "$S" --role sidecar --namespace demo --service-account curl --pod-ip "$ip" \
		--workers 1 >"$W/probe.log" 2>&1 &
	pid=$!
	wait_for 5 curl -sf -m 1 -o /dev/null "http://$ip:15021/healthz/ready"
	ok=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $ok
}
if egressd_serves; then
	# the how-to's MeshConfig (REGISTRY_ONLY, access log on stdout) and HTTP scenario: the
	# gateway gets its port 80 server (8080), the sidecar its routes
	ec apply -f examples/01-meshconfig.yaml >/dev/null
	ec apply -f examples/scenario-http.yaml >/dev/null
	# uid 1337 must be able to run it: the build tree may sit below a private directory
	cp "$D" "$W/egressd" && chmod 755 "$W/egressd"
	ec cluster up --egressd "$W/egressd" --prefix "$P" --hosts-file "$W/hosts" >/dev/null 2>&1
	if wait_for 10 pod_count 1 demo "2/2 *Running" &&
		wait_for 10 pod_count 1 aks-istio-egress "1/1 *Running"; then
		pass real-egressd-pods-ready
	else
		fail real-egressd-pods-ready "$(pods; pods aks-istio-egress; tail -5 "$S"/cluster/pods/*/egressd.log)"
	fi
	# captured by the nft rules, refused by the real sidecar: not in the registry
	out=$(ec exec -n demo deploy/curl -- curl -s -m 5 -o /dev/null -D - http://other.example.com/)
	grep -q "^HTTP/1.1 502" <<<"$out" &&
		grep -q "^x-egressd-deny-reason: other.example.com: not in the service registry" <<<"$out" &&
		pass real-sidecar-captures-and-denies || fail real-sidecar-captures-and-denies "$out"
	# the how-to's HTTP scenario end to end: captured, sidecar -> gateway -> the site, which
	# sees the egress prefix; the same request bypassing the sidecar is dropped
	mkdir -p "$W/site"
	echo "politics from $P" >"$W/site/politics"
	ec cluster internet -- python3 -m http.server --bind 198.19.0.10 --directory "$W/site" 80 \
		>"$W/site80.log" 2>&1 &
	SITE=$!
	wait_for 5 ec cluster internet -- curl -s -m 1 -o /dev/null http://198.19.0.10/
	out=$(ec exec -n demo deploy/curl -- curl -sS -m 5 http://edition.cnn.com/politics 2>&1)
	[ "$out" = "politics from $P" ] && pass real-request-through-gateway ||
		fail real-request-through-gateway "'$out' $(tail -3 "$S"/cluster/pods/*/egressd.log)"
	pfx=$(ec get sgc asm-egress-sgc -n aks-istio-egress -o 'jsonpath={.status.egressIpPrefix}')
	src=$(awk '/GET \/politics/ {print $1; exit}' "$W/site80.log")
	python3 -c "import ipaddress,sys; sys.exit(ipaddress.ip_address('$src') not in ipaddress.ip_network('$pfx'))" 2>/dev/null &&
		pass real-site-sees-egress-prefix || fail real-site-sees-egress-prefix "src '$src' prefix $pfx"
	ec exec -n demo deploy/curl -- setpriv --reuid 1337 --regid 1337 --clear-groups \
		curl -s -m 2 -o /dev/null http://edition.cnn.com/politics
	rc=$?
	[ $rc -eq 28 ] && pass real-bypass-dropped || fail real-bypass-dropped "curl rc=$rc"
	out=$(ec logs -l istio=asm-egress-test -n aks-istio-egress)
	grep -q '"GET /politics HTTP/1.1" 200 .*"edition.cnn.com" "198.19.0.10:80" outbound|80||edition.cnn.com '"$src"':' <<<"$out" &&
		pass real-gateway-access-log || fail real-gateway-access-log "$(tail -3 <<<"$out")"
	GW=$(ec get pods -n aks-istio-egress -l istio=asm-egress-test -o 'jsonpath={.items..metadata.name}')
	# the workload's request through the real sidecar and gateway, as the how-to sends it
	WNS=$(ec get pods -n demo -l app=curl -o 'jsonpath={.items..metadata.annotations.egressd\.io/netns}')
	request_ok() { [ "$(ip netns exec "$WNS" curl -s -m 1 http://edition.cnn.com/politics)" = "politics from $P" ]; }
	if request_ok; then
		kill -9 "$(state_pid "$GW")"
		ms=$(ms_until 5 request_ok)
		[ -n "$ms" ] && [ "$ms" -le 2000 ] && pass real-gateway-restart-serving ||
			fail real-gateway-restart-serving "${ms:-never} ms"
	else
		fail real-gateway-restart-serving "no answer before the kill"
	fi
	wait_for 3 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '1/1 *Running *1 '" &&
		pass real-gateway-restarts-1 || fail real-gateway-restarts-1 "$(pods aks-istio-egress)"
	ec cluster down >/dev/null
	wait "$SITE" 2>/dev/null
	SITE=
	left=$(no_leftovers)
	[ -z "$left" ] && pass real-egressd-down || fail real-egressd-down "left:$left"
else
	echo "note: $D does not serve /healthz/ready yet: real-egressd part skipped" >&2
fi
# the supervisor ran under the sanitizers (the ASan egressctl): nothing may have fired
if grep -q "Sanitizer\|runtime error:" "$S/cluster/supervisor.log"; then
	fail supervisor-sanitizers "$(grep -m3 "Sanitizer\|runtime error:" "$S/cluster/supervisor.log")"
else
	pass supervisor-sanitizers
fi
exit 0
