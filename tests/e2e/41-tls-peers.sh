#!/usr/bin/env bash
# tests/e2e/41-tls-peers.sh: src/tls against real peers, end to end. Builds
# tests/e2e/41-tls-peer.c against the sanitized library, then:
#   - a gateway SIMPLE server whose certificate is a Secret applied with `egressctl apply`:
#     curl and openssl s_client verify it;
#   - an ISTIO_MUTUAL server on an identity from `egressctl ca issue`: a workload
#     certificate gets through and its SPIFFE id is reported; no certificate, or plain
#     text, is refused; our own ISTIO_MUTUAL client (the sidecar hop) checks the gateway's
#     id and refuses an unexpected one;
#   - TLS origination towards openssl s_server: a certificate for another name fails with
#     "hostname mismatch", the second connection resumes the session;
#   - rotation: `egressctl ca issue` rewrites the gateway's files while an s_client
#     connection stays open; the next connection gets the new certificate, the open one
#     still works.
# Prints "ok NAME" / "FAIL NAME: why". Listens on 127.0.0.1 only, kernel-chosen ports.
set -u
BUILD=${BUILD:-build}
EGRESSCTL=${EGRESSCTL:-$BUILD/san/egressctl}
T=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	exec 7>&- 8>&- 9>&- 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
export EGRESS_STORE=$T/store

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
has() { grep -qF -- "$2" "$1" 2>/dev/null; }
# expect NAME FILE TEXT...: FILE contains every TEXT
expect() {
	local name=$1 file=$2 t
	shift 2
	for t in "$@"; do
		if ! has "$file" "$t"; then
			fail "$name" "no \"$t\" in $(basename "$file"): $(tail -c 1500 "$file" 2>/dev/null)"
			return
		fi
	done
	ok "$name"
}
# wait_for FILE TEXT [SECONDS]: until FILE contains TEXT (bounded)
wait_for() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		has "$1" "$2" && return 0
		sleep 0.05
	done
	return 1
}
# wait_pid PID [SECONDS]: until PID exits (bounded); its status, or 124
wait_pid() {
	local i
	for ((i = 0; i < ${2:-15} * 20; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			return
		fi
		sleep 0.05
	done
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 124
}

# ---- the driver ----
PEER=$T/tls-peer
LIBS=$(pkg-config --libs openssl yaml-0.1 libcares 2>/dev/null || echo -lssl -lcrypto -lyaml -lcares)
if ${CC:-cc} -std=c17 -D_GNU_SOURCE -Isrc -O1 -g -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all -Wall -Wextra -Werror \
	-Wno-missing-field-initializers -o "$PEER" tests/e2e/41-tls-peer.c \
	"$BUILD/san/libegress.a" $LIBS -lpthread 2>"$T/cc.log"; then
	ok build-driver
else
	fail build-driver "$(head -20 "$T/cc.log")"
	exit 1
fi

# serve NAME ARGS...: starts the driver's server; sets PORT and SRV_PID
serve() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$PEER" serve --store "$EGRESS_STORE" --port-file "$T/$name.port" "$@" >"$T/$name.log" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_for "$T/$name.log" listening 10 || { fail "$name" "server did not start: $(cat "$T/$name.log")"; return 1; }
	PORT=$(cat "$T/$name.port")
}

# ---- identities and certificates ----
"$EGRESSCTL" ca init >/dev/null 2>&1
"$EGRESSCTL" ca issue --namespace istio-system --service-account asm-egress-test --out "$T/gw" >/dev/null 2>&1
"$EGRESSCTL" ca issue --namespace default --service-account sleep --out "$T/sleep" >/dev/null 2>&1
GW_ID=spiffe://cluster.local/ns/istio-system/sa/asm-egress-test
SLEEP_ID=spiffe://cluster.local/ns/default/sa/sleep
MESH_CA=$T/gw/ca.pem

cd "$T" || exit 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-days 2 -subj "/CN=e2e root" 2>/dev/null
for n in api other; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr \
		-subj "/CN=$n.example.com" 2>/dev/null
	printf 'subjectAltName=DNS:%s.example.com\nextendedKeyUsage=serverAuth\n' $n >$n.ext
	openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile $n.ext -out $n.pem 2>/dev/null
done
cd - >/dev/null || exit 1
if [ -s "$T/gw/cert.pem" ] && [ -s "$T/sleep/cert.pem" ] && [ -s "$T/api.pem" ]; then
	ok certificates
else
	fail certificates "egressctl ca issue or openssl failed"
	exit 1
fi

cat >"$T/secret.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: Secret
metadata:
  name: api-cred
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 "$T/api.pem")
  tls.key: $(base64 -w0 "$T/api.key")
EOF
if "$EGRESSCTL" apply -f "$T/secret.yaml" >"$T/apply.log" 2>&1; then
	ok secret-applied
else
	fail secret-applied "$(cat "$T/apply.log")"
fi

# ---- 1. SIMPLE from the Secret: curl and s_client verify it ----
if serve simple --mode simple --credential api-cred --name api.example.com --count 2; then
	curl -sS --max-time 10 --cacert "$T/ca.pem" --resolve "api.example.com:$PORT:127.0.0.1" \
		"https://api.example.com:$PORT/" >"$T/curl.out" 2>&1
	expect simple-secret-curl "$T/curl.out" "hello anonymous"
	printf 'GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername api.example.com \
			-CAfile "$T/ca.pem" -verify_return_error -verify_hostname api.example.com \
			-ign_eof >"$T/sclient1.out" 2>&1
	expect simple-secret-s_client "$T/sclient1.out" "Verify return code: 0 (ok)" "hello anonymous"
	wait_pid "$SRV_PID"
	expect simple-server-log "$T/simple.log" "alpn=http/1.1 sni=api.example.com" \
		"served 2, 0 failed"
fi

# ---- 2. ISTIO_MUTUAL gateway ----
if serve istio --mode istio --identity "$T/gw" --name edition.cnn.com --count 5; then
	printf 'GET / HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername edition.cnn.com \
			-CAfile "$MESH_CA" -verify_return_error -cert "$T/sleep/cert.pem" \
			-key "$T/sleep/key.pem" -alpn istio-http/1.1,istio,http/1.1 -ign_eof \
			>"$T/sclient2.out" 2>&1
	expect istio-server-reports-workload-id "$T/sclient2.out" "hello $SLEEP_ID" \
		"ALPN protocol: http/1.1"
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername edition.cnn.com \
		-CAfile "$MESH_CA" </dev/null >"$T/sclient3.out" 2>&1
	curl -sS --max-time 5 "http://127.0.0.1:$PORT/" >/dev/null 2>&1
	"$PEER" fetch --mode istio --identity "$T/sleep" --sni edition.cnn.com --san "$GW_ID" \
		--host edition.cnn.com --connect "$PORT" >"$T/fetch1.out" 2>&1
	expect istio-client-to-gateway "$T/fetch1.out" \
		"fetch 1: ok resumed=no peer=$GW_ID alpn=http/1.1 status=HTTP/1.1 200 OK body=hello $SLEEP_ID"
	"$PEER" fetch --mode istio --identity "$T/sleep" --sni edition.cnn.com \
		--san spiffe://cluster.local/ns/istio-system/sa/someone-else \
		--host edition.cnn.com --connect "$PORT" >"$T/fetch2.out" 2>&1
	expect istio-client-refuses-wrong-id "$T/fetch2.out" \
		"fetch 1: failed: certificate verify failed: peer SPIFFE id $GW_ID is not the expected"
	wait_pid "$SRV_PID"
	expect istio-server-log "$T/istio.log" \
		"conn 1: handshake ok peer=$SLEEP_ID alpn=http/1.1 sni=edition.cnn.com" \
		"conn 2: handshake failed: peer did not return a certificate" \
		"conn 3: handshake failed: TLS_error:|" "http request" \
		"conn 4: handshake ok peer=$SLEEP_ID" "conn 5: handshake failed"
fi

# ---- 3. origination towards openssl s_server ----
mkfifo "$T/f7" "$T/f8" "$T/f9"
exec 7<>"$T/f7"
openssl s_server -accept 127.0.0.1:0 -cert "$T/other.pem" -key "$T/other.key" -www \
	<&7 >"$T/sserver1.log" 2>&1 &
PIDS+=($!)
if wait_for "$T/sserver1.log" ACCEPT 10; then
	port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$T/sserver1.log")
	"$PEER" fetch --mode simple --ca "$T/ca.pem" --host api.example.com:443 --connect "$port" \
		>"$T/fetch3.out" 2>&1
	expect origination-hostname-mismatch "$T/fetch3.out" \
		"fetch 1: failed: certificate verify failed: hostname mismatch"
else
	fail origination-hostname-mismatch "s_server did not start"
fi
exec 8<>"$T/f8"
openssl s_server -accept 127.0.0.1:0 -cert "$T/api.pem" -key "$T/api.key" -www \
	<&8 >"$T/sserver2.log" 2>&1 &
PIDS+=($!)
if wait_for "$T/sserver2.log" ACCEPT 10; then
	port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$T/sserver2.log")
	"$PEER" fetch --mode simple --ca "$T/ca.pem" --host api.example.com --connect "$port" \
		--count 2 >"$T/fetch4.out" 2>&1
	expect origination-resumes-session "$T/fetch4.out" \
		"fetch 1: ok resumed=no peer=- alpn=- status=HTTP/1.0 200 ok" \
		"fetch 2: ok resumed=yes"
else
	fail origination-resumes-session "s_server did not start"
fi

# ---- 4. rotation with egressctl while a connection stays open ----
cp -r "$T/gw" "$T/gw2"
fp() { openssl x509 -noout -fingerprint -sha256 <"$1" 2>/dev/null; }
OLD_FP=$(fp "$T/gw2/cert.pem")
if serve rot --mode istio --identity "$T/gw2" --name edition.cnn.com --count 2; then
	exec 9<>"$T/f9"
	openssl s_client -connect "127.0.0.1:$PORT" -servername edition.cnn.com -CAfile "$MESH_CA" \
		-cert "$T/sleep/cert.pem" -key "$T/sleep/key.pem" -crlf -ign_eof \
		<&9 >"$T/hold.out" 2>&1 &
	HOLD=$!
	PIDS+=("$HOLD")
	wait_for "$T/rot.log" "conn 1: handshake ok" 10
	"$EGRESSCTL" ca issue --namespace istio-system --service-account asm-egress-test \
		--out "$T/gw2" >/dev/null 2>&1
	NEW_FP=$(fp "$T/gw2/cert.pem")
	printf 'GET / HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\n' |
		timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername edition.cnn.com \
			-CAfile "$MESH_CA" -cert "$T/sleep/cert.pem" -key "$T/sleep/key.pem" -ign_eof \
			>"$T/after.out" 2>&1
	printf 'GET / HTTP/1.1\n\n' >&9
	wait_for "$T/hold.out" "hello $SLEEP_ID" 10
	if [ -n "$OLD_FP" ] && [ "$OLD_FP" != "$NEW_FP" ] && [ "$(fp "$T/hold.out")" = "$OLD_FP" ] &&
		[ "$(fp "$T/after.out")" = "$NEW_FP" ]; then
		ok rotation-new-connections-get-the-new-certificate
	else
		fail rotation-new-connections-get-the-new-certificate \
			"old=$OLD_FP new=$NEW_FP held=$(fp "$T/hold.out") after=$(fp "$T/after.out")"
	fi
	expect rotation-open-connection-still-works "$T/hold.out" "hello $SLEEP_ID"
	expect rotation-after "$T/after.out" "hello $SLEEP_ID"
	wait_pid "$SRV_PID"
	expect rotation-server-log "$T/rot.log" "identity rotated: generation 2" "served 2, 0 failed"
fi
