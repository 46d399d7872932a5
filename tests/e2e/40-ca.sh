#!/usr/bin/env bash
# tests/e2e/40-ca.sh: `egressctl ca init|issue` against real OpenSSL peers.
#   The root: P-256, CA:TRUE, keyCertSign, 10 years, key 0600, no overwrite without --force.
#   Workload certificates: `openssl verify` against ca.crt for both TLS purposes, the URI SAN,
#   usages and validity in `openssl x509 -text`, the key matching the certificate.
#   Mutual TLS between `openssl s_server -Verify` and `openssl s_client` with two issued
#   certificates; a client certificate from another CA, and none at all, are refused.
# Prints "ok NAME" / "FAIL NAME: why" per case. Listens on 127.0.0.1 only.
set -u
EGRESSCTL=${EGRESSCTL:-build/san/egressctl}
T=$(mktemp -d)
SRV_PID=
cleanup() {
	if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT

export EGRESS_STORE=$T/store
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
# check NAME CMD...: ok when CMD succeeds
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name" "$*"; fi
}
has() { grep -qF -- "$2" <<<"$1"; }
# run_case NAME WANT_RC SUBSTRING CMD...: CMD exits WANT_RC and prints SUBSTRING
run_case() {
	local name=$1 want=$2 sub=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ] && has "$out" "$sub"; then ok "$name"; else fail "$name" "rc=$rc: $out"; fi
}
now=$(date +%s)
# epoch of an openssl date ("Nov 28 09:09:52 2026 GMT")
epoch() { date -d "$1" +%s; }
# near A B SLACK: |A - B| <= SLACK
near() { local d=$(($1 - $2)); [ "${d#-}" -le "$3" ]; }

# ---- the root ----------------------------------------------------------------------------
run_case ca-init-creates 0 "trust domain cluster.local" "$EGRESSCTL" ca init
CA=$EGRESS_STORE/ca
check ca-init-files test -s "$CA/ca.crt" -a -s "$CA/ca.key" -a "$(cat "$CA/trust-domain")" = cluster.local
check ca-key-mode-0600 [ "$(stat -c %a "$CA/ca.key")" = 600 ]

txt=$(openssl x509 -in "$CA/ca.crt" -noout -text)
if has "$txt" "CA:TRUE" && has "$txt" "Certificate Sign" && has "$txt" "prime256v1" &&
	has "$txt" "Subject: O = cluster.local"; then
	ok ca-root-is-p256-ca
else
	fail ca-root-is-p256-ca "$txt"
fi
# valid for 10 years: still valid in 3649 days, not in 3651
if openssl x509 -in "$CA/ca.crt" -noout -checkend $((3649 * 86400)) >/dev/null &&
	! openssl x509 -in "$CA/ca.crt" -noout -checkend $((3651 * 86400)) >/dev/null; then
	ok ca-root-ten-years
else
	fail ca-root-ten-years "$(openssl x509 -in "$CA/ca.crt" -noout -dates)"
fi

cp "$CA/ca.crt" "$T/first.crt"
out=$("$EGRESSCTL" ca init 2>&1)
rc=$?
if [ $rc -eq 1 ] && has "$out" "already exists" && cmp -s "$CA/ca.crt" "$T/first.crt"; then
	ok ca-init-refuses-overwrite
else
	fail ca-init-refuses-overwrite "rc=$rc $out"
fi
out=$("$EGRESSCTL" ca init --force --trust-domain mesh.example 2>&1)
if [ $? -eq 0 ] && ! cmp -s "$CA/ca.crt" "$T/first.crt" && [ "$(cat "$CA/trust-domain")" = mesh.example ]; then
	ok ca-init-force-replaces
else
	fail ca-init-force-replaces "$out"
fi
"$EGRESSCTL" ca init --force --trust-domain cluster.local >/dev/null
run_case ca-init-bad-trust-domain 1 "invalid trust domain" "$EGRESSCTL" ca init --force --trust-domain 'Bad Domain'

# ---- issuing -----------------------------------------------------------------------------
now=$(date +%s)
run_case issue-gateway 0 "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account" \
	"$EGRESSCTL" ca issue --namespace istio-system \
	--service-account istio-egressgateway-service-account --out "$T/gw"
run_case issue-app 0 "spiffe://cluster.local/ns/default/sa/sleep" \
	"$EGRESSCTL" ca issue --namespace default --service-account sleep --out "$T/app" --ttl 2h

for who in gw app; do
	v=$(openssl verify -CAfile "$CA/ca.crt" "$T/$who/cert.pem" 2>&1)
	check "openssl-verify-$who" [ "$v" = "$T/$who/cert.pem: OK" ]
	v=$(openssl verify -purpose sslserver -CAfile "$T/$who/ca.pem" "$T/$who/cert.pem" 2>&1 &&
		openssl verify -purpose sslclient -CAfile "$T/$who/ca.pem" "$T/$who/cert.pem" 2>&1)
	check "openssl-verify-purposes-$who" [ $? -eq 0 ]
	check "ca-pem-is-the-root-$who" cmp -s "$T/$who/ca.pem" "$CA/ca.crt"
	check "key-mode-0600-$who" [ "$(stat -c %a "$T/$who/key.pem")" = 600 ]
	check "cert-pem-is-one-leaf-$who" [ "$(grep -c 'BEGIN CERTIFICATE' "$T/$who/cert.pem")" = 1 ]
	check "key-matches-cert-$who" [ "$(openssl x509 -in "$T/$who/cert.pem" -noout -pubkey)" = \
		"$(openssl pkey -in "$T/$who/key.pem" -pubout)" ]
	check "no-temp-files-$who" [ "$(ls -A "$T/$who" | tr '\n' ' ')" = "ca.pem cert.pem key.pem " ]
done

txt=$(openssl x509 -in "$T/app/cert.pem" -noout -text)
if has "$txt" "URI:spiffe://cluster.local/ns/default/sa/sleep" &&
	has "$txt" "TLS Web Server Authentication, TLS Web Client Authentication" &&
	has "$txt" "Digital Signature" && has "$txt" "CA:FALSE" && has "$txt" "prime256v1" &&
	has "$txt" "X509v3 Subject Alternative Name: critical"; then
	ok x509-text-san-and-usages
else
	fail x509-text-san-and-usages "$txt"
fi
nb=$(epoch "$(openssl x509 -in "$T/app/cert.pem" -noout -startdate | cut -d= -f2)")
na=$(epoch "$(openssl x509 -in "$T/app/cert.pem" -noout -enddate | cut -d= -f2)")
check validity-backdated-5-minutes near "$nb" $((now - 300)) 60
check validity-ttl-2h near "$na" $((now + 7200)) 60
na=$(epoch "$(openssl x509 -in "$T/gw/cert.pem" -noout -enddate | cut -d= -f2)")
check validity-default-24h near "$na" $((now + 86400)) 60

run_case issue-refuses-bad-namespace 1 "invalid namespace" \
	"$EGRESSCTL" ca issue --namespace Default --service-account sleep --out "$T/x"
run_case issue-refuses-bad-ttl 2 "invalid --ttl" \
	"$EGRESSCTL" ca issue --namespace default --service-account sleep --out "$T/x" --ttl 5x
run_case issue-needs-service-account 2 "usage:" \
	"$EGRESSCTL" ca issue --namespace default --out "$T/x"
run_case issue-without-ca 1 "ca init" \
	env EGRESS_STORE="$T/empty" "$EGRESSCTL" ca issue --namespace default --service-account a --out "$T/x"
check refused-issues-wrote-nothing [ ! -e "$T/x" ]

# a second CA, for the refusals
EGRESS_STORE=$T/rogue-store "$EGRESSCTL" ca init >/dev/null &&
	EGRESS_STORE=$T/rogue-store "$EGRESSCTL" ca issue --namespace default --service-account sleep \
		--out "$T/rogue" >/dev/null
check rogue-ca-issued [ -s "$T/rogue/cert.pem" ]

# ---- mutual TLS between s_server -Verify and s_client -------------------------------------
# start_server: s_server with the gateway certificate, requiring a client certificate from
# the mesh CA, answering one connection (-www). Retries on a busy port; sets PORT, SRV_PID.
start_server() {
	local try
	for try in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 40000))
		: >"$T/srv.log"
		openssl s_server -accept "127.0.0.1:$PORT" -cert "$T/gw/cert.pem" -key "$T/gw/key.pem" \
			-CAfile "$CA/ca.crt" -Verify 1 -verify_return_error -naccept 1 -www \
			>"$T/srv.log" 2>&1 </dev/null &
		SRV_PID=$!
		for _ in $(seq 50); do
			grep -q '^ACCEPT' "$T/srv.log" && return 0
			kill -0 "$SRV_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
		SRV_PID=
	done
	return 1
}
stop_server() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
		SRV_PID=
	fi
}
# client CERT_DIR|none CAFILE: one HTTP request through s_client; output in $T/cli.log
client() {
	local args=()
	[ "$1" != none ] && args=(-cert "$1/cert.pem" -key "$1/key.pem")
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 15 openssl s_client -connect "127.0.0.1:$PORT" \
		-servername edition.cnn.com "${args[@]}" -CAfile "$2" -verify_return_error -ign_eof \
		>"$T/cli.log" 2>&1
}

if start_server; then
	client "$T/app" "$T/app/ca.pem"
	rc=$?
	stop_server
	cli=$(cat "$T/cli.log")
	srv=$(cat "$T/srv.log")
	# the -www page carries the client certificate the server verified
	peer=$(sed -n '/Client certificate/,/END CERTIFICATE/p' "$T/cli.log" |
		sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' | openssl x509 -noout -ext subjectAltName 2>&1)
	if [ $rc -eq 0 ] && has "$cli" "Verification: OK" && has "$cli" "HTTP/1.0 200 ok" &&
		has "$cli" "TLSv1.3" && has "$peer" "URI:spiffe://cluster.local/ns/default/sa/sleep" &&
		! has "$srv" "error"; then
		ok mtls-handshake-with-two-issued-certs
	else
		fail mtls-handshake-with-two-issued-certs "rc=$rc peer=$peer srv=$srv cli=$(tail -20 "$T/cli.log")"
	fi
else
	fail mtls-handshake-with-two-issued-certs "s_server did not start: $(cat "$T/srv.log")"
fi

# the client checks the server against the mesh CA: the gateway's id is in its certificate
txt=$(sed -n '/Server certificate/,/END CERTIFICATE/p' "$T/cli.log" |
	sed -n '/BEGIN/,/END/p' | openssl x509 -noout -ext subjectAltName 2>&1)
check mtls-server-identity has "$txt" "URI:spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account"

if start_server; then
	client "$T/rogue" "$CA/ca.crt"
	stop_server
	srv=$(cat "$T/srv.log")
	if has "$srv" "unable to get local issuer certificate" && ! grep -q "HTTP/1.0 200" "$T/cli.log"; then
		ok mtls-refuses-client-from-other-ca
	else
		fail mtls-refuses-client-from-other-ca "srv=$srv cli=$(tail -5 "$T/cli.log")"
	fi
else
	fail mtls-refuses-client-from-other-ca "s_server did not start"
fi

if start_server; then
	client none "$CA/ca.crt"
	stop_server
	if grep -q "certificate required\|peer did not return a certificate" "$T/cli.log" "$T/srv.log" &&
		! grep -q "HTTP/1.0 200" "$T/cli.log"; then
		ok mtls-refuses-client-without-cert
	else
		fail mtls-refuses-client-without-cert "srv=$(cat "$T/srv.log") cli=$(tail -5 "$T/cli.log")"
	fi
else
	fail mtls-refuses-client-without-cert "s_server did not start"
fi

if start_server; then
	client "$T/app" "$T/rogue/ca.pem" # the client trusts another CA: the server is refused
	rc=$?
	stop_server
	if [ $rc -ne 0 ] && grep -q "unable to get local issuer certificate\|certificate verify failed" "$T/cli.log"; then
		ok mtls-client-refuses-server-from-other-ca
	else
		fail mtls-client-refuses-server-from-other-ca "rc=$rc cli=$(tail -5 "$T/cli.log")"
	fi
else
	fail mtls-client-refuses-server-from-other-ca "s_server did not start"
fi
