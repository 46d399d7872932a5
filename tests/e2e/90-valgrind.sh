#!/usr/bin/env bash
# tests/e2e/90-valgrind.sh: the optimized (non-sanitized) binaries under valgrind memcheck.
# ASan+UBSan already run on every other test; this one catches what they do not: reads of
# uninitialised memory (MSan-class errors) and leaks at exit in the release build.
#   egressctl: validate (valid fixtures, a dozen invalid ones), apply / get -o yaml|json|
#     jsonpath / delete on a temp store with examples/, proxy-config and analyze on the
#     how-to scenarios, ca init / issue.
#   Unit tests of the network-facing parsers and the store, built here without sanitizers.
#   egressd (gateway role) on random 127.x addresses with the HTTP scenario: 200 through the
#     gateway, a 404, a REGISTRY_ONLY 502 through a sidecar (also under valgrind), a CONNECT;
#     then SIGTERM: exit 0 and no valgrind error.
# Each run's valgrind output goes to its own log; exit status 99 means a valgrind error.
# Uses $BUILD/egressctl and $BUILD/egressd (valgrind cannot run ASan binaries).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
VCTL=${VG_EGRESSCTL:-$PWD/$BUILD/egressctl}
VD=${VG_EGRESSD:-$PWD/$BUILD/egressd}

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v valgrind >/dev/null 2>&1; then
	# the quality bar needs valgrind: a missing one is a failure, not a skip
	fail valgrind-present "valgrind is not installed (apt-get install valgrind)"
	exit 1
fi
for b in "$VCTL" "$VD"; do
	[ -x "$b" ] || { fail binaries "$b is missing (make BUILD=$BUILD)"; exit 1; }
done

tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
NGPID=
cleanup() {
	exec 2>/dev/null
	[ -n "$NGPID" ] && kill -TERM "$NGPID" 2>/dev/null
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$NGPID" ] && for _ in $(seq 50); do kill -0 "$NGPID" 2>/dev/null || break; sleep 0.1; done
	[ -n "$NGPID" ] && kill -9 "$NGPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
	--track-fds=no -q)
nlog=0
# vg LOGVAR CMD...: runs CMD under valgrind (bounded), valgrind's report in its own file
# whose name lands in LOGVAR; returns CMD's exit status (99: valgrind error).
vg() {
	local -n _log=$1
	shift
	nlog=$((nlog + 1))
	_log=$tmp/vg.$nlog.log
	timeout 60 "${VG[@]}" --log-file="$_log" "$@"
}
# vcase NAME WANT_RC CMD...: one egressctl case; ok when the exit status is WANT_RC and
# valgrind said nothing.
vcase() {
	local name=$1 want=$2 log rc
	shift 2
	vg log "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 99 ] || [ -s "$log" ]; then
		fail "$name" "valgrind: $(head -c 3000 "$log")"
	elif [ "$rc" != "$want" ]; then
		fail "$name" "exit status $rc, want $want: $(head -c 500 "$tmp/err")"
	else
		ok "$name"
	fi
}

# --- egressctl validate ---
vcase vg-validate-valid-all 0 "$VCTL" validate -f tests/testdata/valid
inv=()
for name in authz-values bad-apiversion dr-duplicate-subsets duplicate-key gw-host-format \
	gw-istio-mutual-with-certs list-one-bad meshconfig-yaml-errors missing-required \
	nesting-too-deep nul-byte random-bytes tab-indent vs-delegate se-cidr-with-dns; do
	[ -f "tests/testdata/invalid/$name.yaml" ] && inv+=(-f "$name.yaml")
done
# one process for all of them: valgrind's start-up is the slow part
[ ${#inv[@]} -ge 24 ] && ok "vg-invalid-count-$((${#inv[@]} / 2))" || fail vg-invalid-count "only $((${#inv[@]} / 2)) invalid fixtures found"
(cd tests/testdata/invalid && vcase vg-validate-invalid-fixtures 1 "$VCTL" validate -q "${inv[@]}")
ndiag=$(grep -c ': error: ' "$tmp/err")
[ "$ndiag" -ge 12 ] && ok vg-validate-invalid-diagnostics || fail vg-validate-invalid-diagnostics "only $ndiag diagnostics"

# --- apply / get / delete on a temp store ---
ST=$tmp/store
C=("$VCTL" --store "$ST")
vcase vg-apply-base 0 "${C[@]}" apply -f examples/00-namespace.yaml -f examples/01-meshconfig.yaml \
	-f examples/02-static-gateway-config.yaml -f examples/10-curl.yaml
vcase vg-apply-scenario 0 "${C[@]}" apply -f examples/scenario-http.yaml
vcase vg-get-yaml 0 "${C[@]}" get serviceentry -A -o yaml
grep -q 'edition.cnn.com' "$tmp/out" && ok vg-get-yaml-content || fail vg-get-yaml-content "$(head -5 "$tmp/out")"
vcase vg-get-json 0 "${C[@]}" get virtualservices -n aks-istio-egress -o json
vcase vg-get-jsonpath 0 "${C[@]}" get ns aks-istio-egress -o 'jsonpath={.metadata.labels}'
vcase vg-get-missing 1 "${C[@]}" get serviceentry nope -n aks-istio-egress
vcase vg-delete 0 "${C[@]}" delete -f examples/scenario-http.yaml

# --- proxy-config and analyze on the how-to scenarios ---
# (analyze exits 1: base.yaml's Deployment default/x names an SGC that does not exist)
D=tests/testdata/compile
vcase vg-proxy-config-sidecar/scenario-http 0 "$VCTL" proxy-config all --role sidecar \
	--namespace aks-istio-egress --service-account curl --labels app=curl \
	-f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-http.yaml"
vcase vg-proxy-config-gateway-json/scenario-https 0 "$VCTL" proxy-config all -o json --role gateway \
	--name asm-egress-test --namespace aks-istio-egress \
	-f "$D/base.yaml" -f "$D/mesh-allow-any.yaml" -f "$D/scenario-https.yaml"
vcase vg-proxy-config-gateway/scenario-tls-origination 0 "$VCTL" proxy-config all --role gateway \
	--name asm-egress-test --namespace aks-istio-egress \
	-f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-tls-origination.yaml"
vcase vg-analyze/scenario-http 1 "$VCTL" analyze -A \
	-f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-http.yaml"
vcase vg-analyze/scenario-tls-origination 1 "$VCTL" analyze -A \
	-f "$D/base.yaml" -f "$D/mesh-registry-only.yaml" -f "$D/scenario-tls-origination.yaml"

# --- ca init / issue ---
EGRESS_STORE=$tmp/ca vcase vg-ca-init 0 "$VCTL" ca init
EGRESS_STORE=$tmp/ca vcase vg-ca-issue 0 "$VCTL" ca issue --namespace default \
	--service-account sleep --out "$tmp/ca-out" --ttl 2h
EGRESS_STORE=$tmp/ca vcase vg-ca-issue-bad 1 "$VCTL" ca issue --namespace Default \
	--service-account sleep --out "$tmp/x"

# --- a few unit tests, built here without sanitizers against $BUILD/libegress.a ---
# (the parsers that face the network: HTTP heads, chunked bodies, SNI, policy; the store)
LIBS=$(pkg-config --libs openssl yaml-0.1 libcares 2>/dev/null || echo -lssl -lcrypto -lyaml -lcares)
for n in test_http test_http_chunked test_tls_sni test_proxy_policy test_store; do
	[ -f "tests/unit/$n.c" ] || continue
	if ! ${CC:-cc} -std=c17 -D_GNU_SOURCE -Isrc -O1 -g -o "$tmp/$n" "tests/unit/$n.c" \
		"$BUILD/libegress.a" $LIBS -lpthread 2>"$tmp/cc.err"; then
		fail "vg-unit/$n" "does not build: $(head -c 500 "$tmp/cc.err")"
		continue
	fi
	vg log "$tmp/$n" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" = 99 ] || [ -s "$log" ]; then
		fail "vg-unit/$n" "valgrind: $(head -c 3000 "$log")"
	elif [ "$rc" != 0 ] || grep -q '^FAIL' "$tmp/out" || ! grep -q '^ok ' "$tmp/out"; then
		fail "vg-unit/$n" "exit status $rc: $(grep -m3 '^FAIL' "$tmp/out")"
	else
		ok "vg-unit/$n"
	fi
done

# --- egressd under valgrind: gateway (and a sidecar in front of it) with the HTTP scenario ---
N=$((RANDOM % 200 + 30))
M=$((RANDOM % 250 + 1))
NET=127.$N.$M
GW=$NET.2  # gateway pod
SC=$NET.10 # sidecar (curl pod)
NG=$NET.20 # nginx: edition.cnn.com
ST=$tmp/gwstore
C=("$VCTL" --store "$ST")
"${C[@]}" apply -f examples/00-namespace.yaml -f examples/01-meshconfig.yaml \
	-f examples/02-static-gateway-config.yaml -f examples/10-curl.yaml >/dev/null &&
	"${C[@]}" apply -f examples/scenario-http.yaml >/dev/null || { fail setup "egressctl apply failed"; exit 1; }
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
YAML
"${C[@]}" apply -f "$tmp/gateway.yaml" >/dev/null || { fail setup "gateway apply failed"; exit 1; }
prefix=$("${C[@]}" get staticgatewayconfiguration asm-egress-test-sgc -n aks-istio-egress -o jsonpath='{.status.egressIpPrefix}' 2>/dev/null)
if [ -z "$prefix" ]; then
	# the status the cluster would write: a loopback prefix
	f=$(ls "$ST"/objects/staticgatewayconfigurations*/aks-istio-egress/asm-egress-test-sgc)
	flock "$ST/lock" sh -c "printf 'status:\n  egressIpPrefix: %s\n' '127.$N.$((M ^ 1)).0/30' >>'$f'"
fi

# nginx stands in for edition.cnn.com (port 80 needs root; without it the 200 checks skip)
have_nginx=0
if [ "$(id -u)" = 0 ] && command -v nginx >/dev/null 2>&1; then
	mkdir -p "$tmp/ng/html" "$tmp/ng/tmp"
	echo "hello from edition.cnn.com" >"$tmp/ng/html/index.html"
	echo "second" >"$tmp/ng/html/b.txt"
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
  server { listen $NG:80; root $tmp/ng/html; }
}
NGX
	nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" >/dev/null 2>&1 &
	NGPID=$!
	have_nginx=1
fi
echo "$NG edition.cnn.com" >"$tmp/hosts"
# DNS: a loopback port where nothing answers, never the machine's resolver
DNS=$NET.53:$((RANDOM % 30000 + 20000))

"${VG[@]}" --log-file="$tmp/vg-gw.log" "$VD" --store "$ST" --role gateway --name asm-egress-test \
	--namespace aks-istio-egress --pod-ip "$GW" --workers 2 --hosts-file "$tmp/hosts" \
	--dns-servers "$DNS" --access-log "$tmp/gw.log" >"$tmp/gw.out" 2>&1 &
GWPID=$!
pids+=($GWPID)
"${VG[@]}" --log-file="$tmp/vg-sc.log" "$VD" --store "$ST" --role sidecar --namespace aks-istio-egress \
	--service-account curl --pod-ip "$SC" --workers 1 --hosts-file "$tmp/hosts" \
	--dns-servers "$DNS" --access-log "$tmp/sc.log" >"$tmp/sc.out" 2>&1 &
SCPID=$!
pids+=($SCPID)

wait_ready() { # wait_ready ADDR: /healthz/ready answers 200 (at most 30 s: valgrind starts slowly)
	for _ in $(seq 150); do
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$1:15021/healthz/ready")" = 200 ] && return 0
		sleep 0.2
	done
	return 1
}
wait_ready "$GW" && ok vg-egressd-gateway-ready || fail vg-egressd-gateway-ready "$(tail -5 "$tmp/gw.out" "$tmp/vg-gw.log")"
wait_ready "$SC" && ok vg-egressd-sidecar-ready || fail vg-egressd-sidecar-ready "$(tail -5 "$tmp/sc.out" "$tmp/vg-sc.log")"

cu() { timeout 20 curl -sS -m 15 "$@"; }
PX=(-x "http://$SC:15001")
if [ "$have_nginx" = 1 ]; then
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/$NG/80") 2>/dev/null && break; sleep 0.1; done
	out=$(cu -i -H 'Host: edition.cnn.com' "http://$GW:8080/")
	grep -q '^HTTP/1.1 200' <<<"$out" && grep -q 'hello from edition.cnn.com' <<<"$out" &&
		ok vg-gateway-200 || fail vg-gateway-200 "$(head -3 <<<"$out")"
	out=$(cu -i "${PX[@]}" http://edition.cnn.com/)
	grep -q '^HTTP/1.1 200' <<<"$out" && grep -q 'hello from edition.cnn.com' <<<"$out" &&
		ok vg-sidecar-gateway-200 || fail vg-sidecar-gateway-200 "$(head -3 <<<"$out")"
	out=$(cu -o /dev/null -w '%{http_code}' "${PX[@]}" http://edition.cnn.com/missing.txt)
	[ "$out" = 404 ] && ok vg-upstream-404 || fail vg-upstream-404 "code $out"
	out=$(cu -p "${PX[@]}" http://edition.cnn.com/b.txt)
	[ "$out" = second ] && ok vg-connect-tunnel || fail vg-connect-tunnel "got: $out"
else
	echo "skip vg-gateway-200: needs root and nginx (port 80)"
fi
# the gateway has no route for this host: its own 404
out=$(cu -o /dev/null -w '%{http_code}' -H 'Host: nothing.example' "http://$GW:8080/")
[ "$out" = 404 ] && ok vg-gateway-no-route-404 || fail vg-gateway-no-route-404 "code $out"
out=$(cu -i "${PX[@]}" http://unknown.example.org/x)
grep -q '^HTTP/1.1 502' <<<"$out" && grep -q '^x-egressd-deny-reason: unknown.example.org' <<<"$out" &&
	ok vg-registry-only-502 || fail vg-registry-only-502 "$(head -3 <<<"$out")"
out=$(cu -i -p "${PX[@]}" https://denied.example.net/ 2>&1)
grep -q '403' <<<"$out" && ok vg-connect-denied-403 || fail vg-connect-denied-403 "$(head -3 <<<"$out")"
out=$(curl -s -m 10 "http://$GW:15090/stats/prometheus")
grep -q '^istio_requests_total' <<<"$out" && ok vg-metrics || fail vg-metrics "no istio_requests_total"
# a reload while running: a new ServiceEntry compiles a new snapshot, the old one is freed
cat >"$tmp/se.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: extra, namespace: aks-istio-egress}
spec:
  hosts: [extra.example]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
YAML
"${C[@]}" apply -f "$tmp/se.yaml" >/dev/null
sleep 2

# SIGTERM: both drain and exit 0, and valgrind reports nothing (leaks included)
stop() { # stop NAME PID LOG
	local rc
	kill -TERM "$2"
	for _ in $(seq 200); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$2" 2>/dev/null && { fail "$1" "still running 20 s after SIGTERM"; kill -9 "$2"; }
	wait "$2"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$3" ]; then
		ok "$1"
	else
		fail "$1" "exit status $rc; valgrind: $(head -c 4000 "$3")"
	fi
}
stop vg-egressd-sidecar-clean-exit "$SCPID" "$tmp/vg-sc.log"
stop vg-egressd-gateway-clean-exit "$GWPID" "$tmp/vg-gw.log"
