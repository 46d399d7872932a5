#!/usr/bin/env bash
# tests/e2e/70-cluster-loopback.sh: the local cluster in loopback mode (no root needed):
# cluster up/status/down, Deployments -> pods with sidecars, `get pods` READY 2/2 Running,
# scaling, deleting, SIGKILL -> restart with RESTARTS 1, exec through the sidecar as proxy,
# logs, certificates, gateway pods for `mesh enable-egress-gateway`, and down after the
# supervisor was SIGKILLed. Pods run a stand-in egressd (a small python server answering
# /healthz/ready and acting as the proxy) so the supervisor is tested on its own; when the
# real egressd serves, a last part runs the same lifecycle with it.
set -u
cd "$(dirname "$0")/../.."
E=${EGRESSCTL:-$PWD/${BUILD:-build}/san/egressctl}
D=${EGRESSD:-$PWD/${BUILD:-build}/san/egressd}
W=$(mktemp -d)
S=$W/store
# our own addresses: other tests and clusters may run at the same time on this host
O2=$((100 + RANDOM % 100))
O3=$((RANDOM % 250))
PODS=127.$O2.$O3.0/25
POOL=127.$O2.$O3.128/25
ec() { "$E" --store "$S" "$@"; }
cleanup() {
	[ -n "${BUSY:-}" ] && kill "$BUSY" 2>/dev/null
	ec cluster down >/dev/null 2>&1
	[ -n "${S2:-}" ] && "$E" --store "$S2" cluster down >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
pass() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
check() { # check NAME CMD...: ok when CMD exits 0
	local n=$1
	shift
	if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi
}
# wait_for SECONDS CMD...: polls CMD every 0.1 s (bounded)
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

cat >"$W/fake-egressd" <<'EOF'
#!/usr/bin/python3
# stand-in egressd: /healthz/ready on 15021; on 15001 (sidecar) or 8080 (gateway) it
# answers every request with who it is, as a proxy would answer for the site
import os, socket, sys, threading
a = sys.argv[1:]
ip = a[a.index('--pod-ip') + 1]
role = a[a.index('--role') + 1]
print('stand-in egressd ' + ' '.join(a), flush=True)
print('env cert-dir=%s ssl-cert-file=%s' % (os.environ.get('EGRESSD_CERT_DIR'),
                                            os.environ.get('SSL_CERT_FILE')), flush=True)
def serve(port, text):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        try:
            line = c.recv(4096).decode('latin1').split('\r\n')[0]
            print('request ' + line, flush=True)
            body = text + '\n'
            c.sendall(('HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s'
                       % (len(body), body)).encode())
        except OSError:
            pass
        finally:
            c.close()
if role == 'gateway' and not os.path.exists(os.path.dirname(sys.argv[0]) + '/gateway-ok'):
    print('no gateway configuration', flush=True)  # as a gateway without listeners
    sys.exit(1)
port = 15001 if role == 'sidecar' else 8080
threading.Thread(target=serve, args=(port, '%s of %s' % (role, os.environ['POD_NAME'])),
                 daemon=True).start()
serve(15021, 'ready')
EOF
chmod 755 "$W/fake-egressd"

cat >"$W/app.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels:
    istio.io/rev: asm-1-24
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: curl
  namespace: demo
---
apiVersion: v1
kind: Service
metadata:
  name: curl
  namespace: demo
spec:
  selector:
    app: curl
  ports:
  - name: http
    port: 80
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
EOF
app() { sed "s/REPLICAS/$1/" "$W/app.yaml" | ec apply -f - >/dev/null; }

# --- refusals before anything runs ---
S2=$W/store2
printf '198.19.0.10 edition.cnn.com\n' >"$W/bad-hosts"
out=$("$E" --store "$S2" cluster up --mode loopback --egressd "$W/fake-egressd" \
	--hosts-file "$W/bad-hosts" --pod-cidr "$PODS" --prefix "l$O2" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "198.19.0.10 is not a 127.x address" <<<"$out" &&
	! "$E" --store "$S2" cluster status >/dev/null 2>&1; then
	pass loopback-hosts-must-be-127
else
	fail loopback-hosts-must-be-127 "rc=$rc: $out"
fi
out=$("$E" --store "$S2" cluster up --mode loopback --egressd "$W/fake-egressd" \
	--pod-cidr 198.18.0.0/24 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "inside 127.0.0.0/8" <<<"$out" && pass loopback-pod-cidr-checked ||
	fail loopback-pod-cidr-checked "rc=$rc: $out"
out=$("$E" --store "$S2" cluster up --mode loopback --egressd "$W/fake-egressd" \
	--pod-cidr "$PODS" --egress-pool 198.18.240.0/20 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "egress-pool 198.18.240.0/20: loopback mode needs a range inside 127.0.0.0/8" <<<"$out" &&
	pass loopback-egress-pool-checked || fail loopback-egress-pool-checked "rc=$rc: $out"
out=$("$E" --store "$S2" cluster up --mode loopback --egressd "$W/fake-egressd" \
	--pod-cidr "$PODS" --egress-pool "$PODS" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "overlaps the pod range" <<<"$out" && pass egress-pool-apart-from-pods ||
	fail egress-pool-apart-from-pods "rc=$rc: $out"
out=$("$E" --store "$S2" cluster up --mode bridge 2>&1)
[ $? -eq 2 ] && pass bad-mode-is-usage || fail bad-mode-is-usage "$out"

touch "$W/gateway-ok"

# --- up, status, idempotent up ---
app 1
printf '127.%d.%d.200 edition.cnn.com\n' "$O2" "$O3" >"$W/hosts"
# someone else already serves on the range's first address: the first pod must skip it
python3 -m http.server --bind "127.$O2.$O3.2" 15021 >/dev/null 2>&1 &
BUSY=$!
wait_for 5 curl -s -m 1 -o /dev/null "http://127.$O2.$O3.2:15021/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/corp.key" \
	-out "$W/corp.pem" -days 2 -subj "/CN=corporate root $O2.$O3" 2>/dev/null
out=$(ec cluster up --mode loopback --egressd "$W/fake-egressd" --hosts-file "$W/hosts" \
	--pod-cidr "$PODS" --egress-pool "$POOL" --ca-bundle "$W/corp.pem" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "cluster started: loopback mode" <<<"$out"; then
	pass cluster-up
else
	fail cluster-up "rc=$rc: $out"
	cat "$S/cluster/supervisor.log" 2>/dev/null
	exit 1
fi
out=$(ec cluster up --mode loopback --egressd "$W/fake-egressd" 2>&1)
[ $? -eq 0 ] && grep -q "already running" <<<"$out" && pass cluster-up-twice ||
	fail cluster-up-twice "$out"
SUP=$(cut -d' ' -f1 "$S/cluster/supervisor.pid")
out=$(ec cluster status)
grep -q "mode: *loopback" <<<"$out" && grep -q "supervisor: *pid $SUP" <<<"$out" &&
	pass cluster-status || fail cluster-status "$out"
[ -s "$S/ca/ca.crt" ] && pass ca-created-on-up || fail ca-created-on-up "no $S/ca/ca.crt"

# --- a workload gets a pod with its sidecar ---
if wait_for 5 sh -c "\"$E\" --store \"$S\" get pods -n demo | grep -q '2/2 *Running *0'"; then
	pass pod-2-of-2-running
else
	fail pod-2-of-2-running "$(pods; tail -5 "$S/cluster/supervisor.log")"
fi
hdr=$(pods | head -1)
[[ "$hdr" =~ ^NAME\ +READY\ +STATUS\ +RESTARTS\ +AGE$ ]] && pass pods-table-header ||
	fail pods-table-header "$hdr"
POD=$(ec get pods -n demo -l app=curl -o 'jsonpath={.items..metadata.name}')
[[ "$POD" =~ ^curl-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$ ]] &&
	pass pod-name-like-kubernetes || fail pod-name-like-kubernetes "'$POD'"
IP=$(ec get pod "$POD" -n demo -o 'jsonpath={.status.podIP}')
[ "$IP" = "127.$O2.$O3.3" ] && pass pod-ip-skips-busy-address || fail pod-ip-skips-busy-address "$IP"
kill "$BUSY"
wait "$BUSY" 2>/dev/null
ann=$(ec get svc curl -n demo -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}')
[ "$ann" = "$IP" ] && pass service-pod-addresses || fail service-pod-addresses "'$ann' != '$IP'"
if openssl x509 -in "$S/cluster/pods/$POD/certs/cert.pem" -noout -ext subjectAltName 2>/dev/null |
	grep -q "URI:spiffe://cluster.local/ns/demo/sa/curl"; then
	pass pod-workload-certificate
else
	fail pod-workload-certificate "no spiffe://cluster.local/ns/demo/sa/curl certificate"
fi

bundle=$S/cluster/ca-bundle.pem
grep -q "env cert-dir=$S/cluster/pods/$POD/certs ssl-cert-file=$bundle" "$S/cluster/pods/$POD/egressd.log" &&
	openssl crl2pkcs7 -nocrl -certfile "$bundle" 2>/dev/null | openssl pkcs7 -print_certs -noout |
	grep -q "CN = corporate root $O2.$O3" && pass ca-bundle-and-cert-dir-in-env ||
	fail ca-bundle-and-cert-dir-in-env "$(head -2 "$S/cluster/pods/$POD/egressd.log")"

# --- exec through the sidecar; the exit code passes through ---
out=$(ec exec -n demo deploy/curl -- curl -s -m 3 http://edition.cnn.com/politics)
[ "$out" = "sidecar of $POD" ] && pass exec-uses-sidecar-proxy || fail exec-uses-sidecar-proxy "'$out'"
ec exec -n demo "$POD" -c curl -- sh -c 'exit 7'
rc=$?
[ $rc -eq 7 ] && pass exec-exit-code || fail exec-exit-code "rc=$rc"
out=$(ec exec -n demo pod/nope -- true 2>&1)
[ $? -eq 1 ] && grep -q 'pods "nope" not found' <<<"$out" && pass exec-unknown-pod ||
	fail exec-unknown-pod "$out"
out=$(ec logs -n demo deploy/curl)
grep -q -- "--role sidecar --namespace demo --service-account curl --workload curl --pod-ip $IP" <<<"$out" &&
	grep -q "request GET http://edition.cnn.com/politics" <<<"$out" && pass logs-of-pod ||
	fail logs-of-pod "$out"
out=$(ec logs -n demo -l app=curl --tail 1)
[ "$(wc -l <<<"$out")" -eq 1 ] && grep -q "^request" <<<"$out" && pass logs-selector-tail ||
	fail logs-selector-tail "$out"

timeout 3 "$E" --store "$S" logs -n demo deploy/curl -f --tail 0 --prefix >"$W/follow" 2>&1 &
FOLLOW=$!
sleep 0.5
ec exec -n demo deploy/curl -- curl -s -m 2 http://follow.example/now >/dev/null
wait "$FOLLOW"
grep -q "^\[pod/$POD/istio-proxy\] request GET http://follow.example/now" "$W/follow" &&
	! grep -q "politics" "$W/follow" && pass logs-follow || fail logs-follow "$(cat "$W/follow")"

# --- SIGKILL of the pod's egressd: restarted after 250 ms, RESTARTS 1, serving again ---
PID=$(awk -v p="$POD" '$1 == "pod" && $3 == p {print $5}' "$S/cluster/state")
sidecar_serves() { [ "$(curl -s -m 1 -x "http://$1:15001" http://edition.cnn.com/)" = "sidecar of $2" ]; }
kill -9 "$PID"
ms=$(ms_until 4 sidecar_serves "$IP" "$POD")
[ -n "$ms" ] && [ "$ms" -le 2000 ] && pass sigkill-restart-serving ||
	fail sigkill-restart-serving "${ms:-never} ms"
wait_for 3 sh -c "\"$E\" --store \"$S\" get pods -n demo | grep -q '$POD *2/2 *Running *1 '" &&
	pass sigkill-restarts-1 || fail sigkill-restarts-1 "$(pods)"
NEWPID=$(awk -v p="$POD" '$1 == "pod" && $3 == p {print $5}' "$S/cluster/state")
[ "$NEWPID" != "$PID" ] && kill -0 "$NEWPID" 2>/dev/null && pass restarted-process ||
	fail restarted-process "$PID -> $NEWPID"

# --- scaling ---
app 3
wait_for 5 pod_count 3 demo "2/2 *Running" && pass scale-up-3 || fail scale-up-3 "$(pods)"
deploy_ready() { ec get deploy curl -n demo | grep -q "^curl *$1 "; }
wait_for 3 deploy_ready 3/3 && pass deployment-status-ready || fail deployment-status-ready "$(ec get deploy -n demo)"
ann=$(ec get svc curl -n demo -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}')
[ "$(tr ',' '\n' <<<"$ann" | wc -l)" -eq 3 ] && pass service-addresses-follow-scale ||
	fail service-addresses-follow-scale "$ann"
app 1
wait_for 5 pod_count 1 demo "Running" && pass scale-down-1 || fail scale-down-1 "$(pods)"
[ "$(pgrep -f -- "--store $S --role sidecar" | wc -l)" -eq 1 ] && pass scale-down-stops-processes ||
	fail scale-down-stops-processes "$(pgrep -fa -- "--store $S")"

# --- a deleted pod is replaced, a deleted Deployment removes its pods ---
POD=$(ec get pods -n demo -o 'jsonpath={.items[0].metadata.name}')
ec delete pod "$POD" -n demo >/dev/null
if wait_for 5 sh -c "\"$E\" --store \"$S\" get pods -n demo | grep '2/2 *Running' | grep -vq '$POD'"; then
	pass deleted-pod-replaced
else
	fail deleted-pod-replaced "$(pods)"
fi
ec delete deployment curl -n demo >/dev/null
if wait_for 5 sh -c "! \"$E\" --store \"$S\" get pods -n demo | grep -q curl" &&
	! pgrep -f -- "--store $S --role sidecar" >/dev/null; then
	pass deployment-delete-removes-pods
else
	fail deployment-delete-removes-pods "$(pods; pgrep -fa -- "--store $S")"
fi
svc_addresses() {
	ec get svc "$1" -n "$2" -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}'
}
no_addresses() { [ -z "$(svc_addresses "$1" "$2")" ]; }
wait_for 3 no_addresses curl demo
ann=$(svc_addresses curl demo)
[ -z "$ann" ] && pass service-addresses-cleared || fail service-addresses-cleared "$ann"

# --- egress gateway pods (mesh enable-egress-gateway) ---
cat <<'EOF' | ec apply -f - >/dev/null
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
ec mesh enable-egress-gateway --istio-egressgateway-name asm-egress-test \
	--gateway-configuration-name asm-egress-sgc >/dev/null 2>&1
if wait_for 5 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '^asm-egress-test-asm-1-24-.* 1/1 *Running'"; then
	pass gateway-pod-running
else
	fail gateway-pod-running "$(pods aks-istio-egress; tail -5 "$S/cluster/supervisor.log")"
fi
GW=$(ec get pods -n aks-istio-egress -l istio=asm-egress-test -o 'jsonpath={.items..metadata.name}')
GWIP=$(ec get pod "$GW" -n aks-istio-egress -o 'jsonpath={.status.podIP}')
out=$(ec logs -n aks-istio-egress -l istio=asm-egress-test)
grep -q -- "--role gateway --name asm-egress-test-asm-1-24 --namespace aks-istio-egress --pod-ip $GWIP" <<<"$out" &&
	pass gateway-egressd-flags || fail gateway-egressd-flags "$out"
ann=$(ec get svc asm-egress-test -n aks-istio-egress -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}')
[ "$ann" = "$GWIP" ] && pass gateway-service-addresses || fail gateway-service-addresses "'$ann' != '$GWIP'"
pfx=$(ec get sgc asm-egress-sgc -n aks-istio-egress -o 'jsonpath={.status.egressIpPrefix}')
[[ "$pfx" == 127.$O2.$O3.* ]] && pass egress-pool-from-cluster-up || fail egress-pool-from-cluster-up "$pfx"
out=$(curl -s -m 2 "http://$GWIP:8080/")
[ "$out" = "gateway of $GW" ] && pass gateway-pod-serves || fail gateway-pod-serves "'$out'"
out=$(ec cluster internet -- sh -c 'echo internet-on-host')
[ "$out" = internet-on-host ] && pass internet-runs-on-host || fail internet-runs-on-host "$out"

# --- a gateway pod waits in ContainerCreating until its SGC has a prefix ---
cat <<'EOF' | ec apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata:
  name: late-gw
  namespace: aks-istio-egress
spec:
  template:
    metadata:
      labels:
        istio: late-gw
      annotations:
        kubernetes.azure.com/static-gateway-configuration: late-sgc
    spec:
      containers:
      - name: istio-proxy
EOF
if wait_for 5 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '^late-gw-.* 0/1 *ContainerCreating'" &&
	! pgrep -f -- "--store $S --role gateway --name late-gw " >/dev/null; then
	pass gateway-waits-for-prefix
else
	fail gateway-waits-for-prefix "$(pods aks-istio-egress)"
fi
printf 'apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\nkind: StaticGatewayConfiguration\nmetadata:\n  name: late-sgc\n  namespace: aks-istio-egress\nspec:\n  gatewayNodepoolName: gwpool\n' |
	ec apply -f - >/dev/null
wait_for 5 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '^late-gw-.* 1/1 *Running'" &&
	[ "$(pods aks-istio-egress | grep -c '^late-gw-')" -eq 1 ] && pass gateway-starts-with-prefix ||
	fail gateway-starts-with-prefix "$(pods aks-istio-egress)"
ec delete deployment late-gw -n aks-istio-egress >/dev/null

# --- a crash-looping gateway starts at once when the configuration changes ---
rm "$W/gateway-ok"
kill -9 "$(awk -v p="$GW" '$1 == "pod" && $3 == p {print $5}' "$S/cluster/state")"
# restarts after 250 ms, 1 s and 2 s fail too; the next one would wait 4 s
if wait_for 8 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q 'CrashLoopBackOff *4 '"; then
	touch "$W/gateway-ok"
	sleep 0.3
	t0=$(date +%s%N)
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new-config\n  namespace: aks-istio-egress\n' |
		ec apply -f - >/dev/null
	if wait_for 3 sh -c "\"$E\" --store \"$S\" get pods -n aks-istio-egress | grep -q '1/1 *Running *4 '"; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		[ $ms -le 1500 ] && pass config-change-ends-backoff || fail config-change-ends-backoff "${ms} ms"
	else
		fail config-change-ends-backoff "$(pods aks-istio-egress)"
	fi
else
	fail config-change-ends-backoff "no crash loop: $(pods aks-istio-egress)"
fi
touch "$W/gateway-ok"

# --- down after the supervisor was SIGKILLed ---
app 1
wait_for 5 pod_count 1 demo "2/2 *Running"
kill -9 "$SUP"
wait_for 3 sh -c "! kill -0 $SUP"
out=$(ec cluster status 2>&1)
[ $? -eq 1 ] && grep -q "not running" <<<"$out" && pass status-after-supervisor-killed ||
	fail status-after-supervisor-killed "$out"
pgrep -f -- "--store $S --role" >/dev/null && pass pods-outlive-supervisor ||
	fail pods-outlive-supervisor "no orphan to clean up: the next check proves nothing"
out=$(ec cluster down 2>&1)
rc=$?
left=$(pgrep -fa -- "--store $S " | grep -v " cluster down" || true)
nleft=$(ec get pods -A -o name 2>/dev/null | wc -l)
if [ $rc -eq 0 ] && [ -z "$left" ] && [ "$nleft" -eq 0 ] && [ ! -e "$S/cluster/state" ]; then
	pass down-after-supervisor-sigkill
else
	fail down-after-supervisor-sigkill "rc=$rc out=$out left=$left pods=$nleft"
fi
ann=$(ec get svc asm-egress-test -n aks-istio-egress -o 'jsonpath={.metadata.annotations.egressd\.io/pod-addresses}')
[ -z "$ann" ] && pass down-clears-service-addresses || fail down-clears-service-addresses "$ann"
out=$(ec cluster down 2>&1)
[ $? -eq 0 ] && pass down-idempotent || fail down-idempotent "$out"

# --- up again, then a clean down ---
# two ups at once: one starts the supervisor, the other finds it running
ec cluster up --mode loopback --egressd "$W/fake-egressd" --pod-cidr "$PODS" >"$W/up1" 2>&1 &
ec cluster up --mode loopback --egressd "$W/fake-egressd" --pod-cidr "$PODS" >"$W/up2" 2>&1 &
wait
out=$(cat "$W/up1" "$W/up2")
if [ "$(grep -c "cluster started" <<<"$out")" -eq 1 ] && [ "$(grep -c "already running" <<<"$out")" -eq 1 ] &&
	[ "$(pgrep -fc -- "--store $S cluster up")" -eq 1 ]; then
	pass concurrent-ups-start-one-supervisor
else
	fail concurrent-ups-start-one-supervisor "$out $(pgrep -fa -- "--store $S cluster up")"
fi
if wait_for 5 pod_count 1 demo "2/2 *Running"; then
	pass up-again-after-down
else
	fail up-again-after-down "$(pods)"
fi
out=$(ec cluster down)
if [ "$out" = "cluster stopped" ] && ! pgrep -f -- "--store $S " >/dev/null &&
	[ "$(ec get pods -A -o name 2>/dev/null | wc -l)" -eq 0 ]; then
	pass down-stops-everything
else
	fail down-stops-everything "$out $(pgrep -fa -- "--store $S ")"
fi

# --- with the real egressd, once it serves ---
# it serves when a sidecar answers /healthz/ready (until then the stand-in above stands in)
egressd_serves() {
	local ip=127.$O2.$O3.126 ok pid
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
	# the how-to's MeshConfig and HTTP scenario, so the gateway has its port 80 server
	ec apply -f examples/01-meshconfig.yaml >/dev/null
	ec apply -f examples/scenario-http.yaml >/dev/null
	ec cluster up --mode loopback --egressd "$D" --pod-cidr "$PODS" --hosts-file "$W/hosts" \
		>/dev/null 2>&1
	if wait_for 10 pod_count 1 demo "2/2 *Running" &&
		wait_for 10 pod_count 1 aks-istio-egress "1/1 *Running"; then
		pass real-egressd-pod-ready
	else
		fail real-egressd-pod-ready "$(pods; tail -20 "$S"/cluster/pods/*/egressd.log)"
	fi
	out=$(ec exec -n demo deploy/curl -- curl -s -m 5 -o /dev/null -D - http://other.example.com/)
	grep -q "^HTTP/1.1 502" <<<"$out" &&
		grep -q "^x-egressd-deny-reason: other.example.com: not in the service registry" <<<"$out" &&
		pass real-sidecar-proxy-denies || fail real-sidecar-proxy-denies "$out"
	# the site must listen on port 80 (the ServiceEntry's): root only
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$W/site"
		echo "politics from $O2.$O3" >"$W/site/politics"
		python3 -m http.server --bind "127.$O2.$O3.200" --directory "$W/site" 80 \
			>"$W/site80.log" 2>&1 &
		SITEPID=$!
		wait_for 5 curl -s -m 1 -o /dev/null "http://127.$O2.$O3.200/"
		out=$(ec exec -n demo deploy/curl -- curl -sS -m 5 http://edition.cnn.com/politics 2>&1)
		src=$(awk '/GET \/politics/ {print $1; exit}' "$W/site80.log")
		pfx=$(ec get sgc asm-egress-sgc -n aks-istio-egress -o 'jsonpath={.status.egressIpPrefix}')
		if [ "$out" = "politics from $O2.$O3" ] && python3 -c "import ipaddress,sys; sys.exit(ipaddress.ip_address('$src') not in ipaddress.ip_network('$pfx'))"; then
			pass real-request-through-gateway-from-prefix
		else
			fail real-request-through-gateway-from-prefix "'$out' src '$src' prefix $pfx"
		fi
		kill "$SITEPID" 2>/dev/null
		wait "$SITEPID" 2>/dev/null
	else
		echo "note: not root: the site cannot listen on port 80, the request part is skipped" >&2
	fi
	POD=$(ec get pods -n demo -l app=curl -o 'jsonpath={.items..metadata.name}')
	IP=$(ec get pod "$POD" -n demo -o 'jsonpath={.status.podIP}')
	PID=$(awk -v p="$POD" '$1 == "pod" && $3 == p {print $5}' "$S/cluster/state")
	# serving: the sidecar answers (a host outside the registry: 502 and its reason)
	real_serves() { [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' -x "http://$IP:15001" http://other.example.com/)" = 502 ]; }
	if real_serves; then
		kill -9 "$PID"
		ms=$(ms_until 5 real_serves)
		[ -n "$ms" ] && [ "$ms" -le 2000 ] && pass real-egressd-restart-serving ||
			fail real-egressd-restart-serving "${ms:-never} ms"
	else
		fail real-egressd-restart-serving "no answer before the kill"
	fi
	wait_for 3 sh -c "\"$E\" --store \"$S\" get pods -n demo | grep -q '2/2 *Running *1 '" &&
		pass real-egressd-restarts-1 || fail real-egressd-restarts-1 "$(pods)"
	ec cluster down >/dev/null
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
