# tests/e2e/tls_lib.sh: shared setup of the TLS e2e tests (55-58), sourced, not run: a
# store with the how-to's base objects and an egress gateway whose pod is $GW, a test CA
# and nginx standing in for edition.cnn.com on $NG:80 and $NG:443 (its certificate signed
# by the test CA; the gateway never has its key), a hosts file, helpers to start the
# gateway and the sidecar egressd on random 127.N.M.x addresses, and the ok/fail printers.
# The caller sets a trap that calls tls_cleanup. Needs root (nginx binds 80 and 443).
set -u
EGRESSD=${EGRESSD:-$PWD/build/san/egressd}
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
NGPID=
tls_cleanup() {
	[ -n "$NGPID" ] && kill -TERM "$NGPID" 2>/dev/null
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$NGPID" ] && for _ in $(seq 50); do kill -0 "$NGPID" 2>/dev/null || break; sleep 0.1; done
	[ -n "$NGPID" ] && kill -9 "$NGPID" 2>/dev/null
	wait 2>/dev/null
	if [ -n "${KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
ST=$tmp/store
ctl() { timeout 30 "$EGRESSCTL" --store "$ST" "$@"; }
TLSC=(timeout 30 python3 tests/e2e/tls_client.py)

if [ "$(id -u)" != 0 ]; then
	echo "skip ${0##*/}: needs root (nginx binds ports 80 and 443)"
	exit 0
fi

N=$((RANDOM % 200 + 30))
M=$((RANDOM % 250 + 1))
NET=127.$N.$M
GW=$NET.2  # gateway pod
SC=$NET.10 # sidecar (curl pod)
NG=$NET.20 # nginx: edition.cnn.com
OT=$NET.21 # nginx: other.example (a certificate for another name)

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
prefix=$(ctl get staticgatewayconfiguration asm-egress-test-sgc -n aks-istio-egress -o jsonpath='{.status.egressIpPrefix}' 2>/dev/null)
if [ -z "$prefix" ]; then
	prefix=127.$N.$((M ^ 1)).0/30
	f=$(ls "$ST"/objects/staticgatewayconfigurations*/aks-istio-egress/asm-egress-test-sgc)
	flock "$ST/lock" sh -c "printf 'status:\n  egressIpPrefix: %s\n' '$prefix' >>'$f'"
fi
case $prefix in 127.*) ;; *) fail setup "egress prefix $prefix is not on loopback"; exit 1 ;; esac
in_prefix() { python3 -c "import ipaddress,sys; sys.exit(0 if ipaddress.ip_address('$1') in ipaddress.ip_network('$prefix') else 1)" 2>/dev/null; }

# --- the test CA and the site certificates ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=e2e test CA" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
site_cert() { # site_cert NAME FILE-PREFIX
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$2.key" -out "$2.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s\n' "$1" >"$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
		-days 2 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
}
site_cert edition.cnn.com "$tmp/site"
site_cert other.example "$tmp/other"
# the origination trust: the OS bundle plus the test CA, as the local cluster's --ca-bundle
cat /etc/ssl/certs/ca-certificates.crt "$tmp/ca.pem" >"$tmp/ca-bundle.pem" 2>/dev/null || cp "$tmp/ca.pem" "$tmp/ca-bundle.pem"

mkdir -p "$tmp/ng/tmp"
chmod -R 755 "$tmp/ng"
cat >"$tmp/ng/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $tmp/ng/nginx.pid;
error_log $tmp/ng/error.log;
events { worker_connections 256; }
http {
  log_format x '\$remote_addr \$connection "\$request" \$status \$ssl_protocol \$ssl_server_name';
  access_log $tmp/ng/access.log x;
  client_body_temp_path $tmp/ng/tmp; proxy_temp_path $tmp/ng/tmp; fastcgi_temp_path $tmp/ng/tmp;
  uwsgi_temp_path $tmp/ng/tmp; scgi_temp_path $tmp/ng/tmp;
  keepalive_timeout 60s;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen $NG:80; listen $NG:443 ssl; server_name edition.cnn.com;
    ssl_certificate $tmp/site.pem; ssl_certificate_key $tmp/site.key;
    location / { default_type text/plain; return 200 "hello from edition.cnn.com \$scheme \$remote_addr\n"; }
    location /big { default_type application/octet-stream; alias $tmp/big.bin; }
  }
  server {
    listen $OT:443 ssl; server_name other.example;
    ssl_certificate $tmp/other.pem; ssl_certificate_key $tmp/other.key;
    location / { default_type text/plain; return 200 "other\n"; }
  }
}
NGX
head -c 3000000 /dev/urandom >"$tmp/big.bin"
chmod 644 "$tmp/big.bin"
nginx -c "$tmp/ng/nginx.conf" -p "$tmp/ng" >/dev/null 2>&1 &
NGPID=$!
cat >"$tmp/hosts" <<HOSTS
$NG edition.cnn.com
$OT wrong-cert.example
HOSTS

wait_ready() {
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1:15021/healthz/ready")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# start_gateway [EXTRA-ARGS...]: the gateway egressd on $GW (pid in GWPID)
start_gateway() {
	"$EGRESSD" --store "$ST" --role gateway --name asm-egress-test --namespace aks-istio-egress \
		--pod-ip "$GW" --workers 2 --hosts-file "$tmp/hosts" --dns-servers "$NET.53:53" \
		--access-log "$tmp/gw.log" "$@" >>"$tmp/gw.out" 2>&1 &
	GWPID=$!
	pids+=($GWPID)
}
start_sidecar() {
	"$EGRESSD" --store "$ST" --role sidecar --namespace aks-istio-egress --service-account curl \
		--pod-ip "$SC" --workers 2 --hosts-file "$tmp/hosts" --dns-servers "$NET.53:53" \
		--access-log "$tmp/sc.log" "$@" >>"$tmp/sc.out" 2>&1 &
	SCPID=$!
	pids+=($SCPID)
}
# stop PID: SIGTERM, exit status 0 expected
stop_ok() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}
no_sanitizer_reports() {
	if grep -q 'Sanitizer' "$tmp/gw.out" "$tmp/sc.out" 2>/dev/null; then
		fail no-sanitizer-reports "$(grep -h -A8 Sanitizer "$tmp/gw.out" "$tmp/sc.out" | head -30)"
	else
		ok no-sanitizer-reports
	fi
}
