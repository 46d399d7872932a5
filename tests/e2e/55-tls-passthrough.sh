#!/usr/bin/env bash
# tests/e2e/55-tls-passthrough.sh: the how-to's scenario 2 (HTTPS through the egress
# gateway, routed by SNI, TLS end to end) with real processes on loopback: curl ->
# sidecar egressd (explicit proxy, CONNECT) -> gateway egressd (8443, PASSTHROUGH) ->
# nginx with a certificate of a test CA that only curl trusts. Cases: 200 with curl
# verifying nginx's certificate; nginx saw a client in the egress prefix; the gateway's
# and the sidecar's TCP access log lines (SNI, cluster, bytes); istio_tcp_* metrics; a
# 3 MB download intact; a ClientHello one byte per TCP segment and one split across three
# records, both routed; REGISTRY_ONLY with an unknown SNI (alert unrecognized_name,
# logged with the SNI, counted); an SNI no gateway server accepts (alert, NR); malformed,
# oversized and SNI-less ClientHellos and plain text refused, never forwarded.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/tls_lib.sh
trap tls_cleanup EXIT

ctl apply -f examples/scenario-https-passthrough.yaml >/dev/null || { fail setup "scenario apply failed"; exit 1; }
start_gateway
start_sidecar
wait_ready "$GW" && ok gateway-ready || fail gateway-ready "$(tail -5 "$tmp/gw.out")"
wait_ready "$SC" && ok sidecar-ready || fail sidecar-ready "$(tail -5 "$tmp/sc.out")"
wait_port "$NG" 443 || fail nginx-up "nginx is not listening"
wait_port "$GW" 8443 || fail gateway-8443 "the gateway does not listen on 8443"

PX=(-x "http://$SC:15001")
cu() { timeout 20 curl -sS "$@"; }

# 1. curl https://edition.cnn.com/ through the sidecar (CONNECT) and the gateway
out=$(cu -i --cacert "$tmp/ca.pem" "${PX[@]}" https://edition.cnn.com/ 2>&1)
if grep -q '^HTTP/[12.]* 200' <<<"$out" && grep -q 'hello from edition.cnn.com https' <<<"$out"; then
	ok passthrough-200-verified-end-to-end
else
	fail passthrough-200-verified-end-to-end "$(head -5 <<<"$out")"
fi
sleep 0.5
client=$(grep '"GET / ' "$tmp/ng/access.log" | tail -1 | cut -d' ' -f1)
if in_prefix "$client"; then ok nginx-sees-egress-prefix-source; else fail nginx-sees-egress-prefix-source "client $client not in $prefix"; fi
gl=$(grep 'outbound|443||edition.cnn.com' "$tmp/gw.log" | tail -1)
# TCP line: no method, bytes both ways, upstream nginx:443, the SNI as REQUESTED_SERVER_NAME
if grep -Eq "\"- - -\" 0 - - - \"-\" [1-9][0-9]* [1-9][0-9]* .* \"$NG:443\" outbound\|443\|\|edition.cnn.com ${prefix%.*/*}\.[0-9]+:[0-9]+ $GW:8443 $SC:[0-9]+ edition.cnn.com -" <<<"$gl"; then
	ok gateway-tcp-access-log-line
else
	fail gateway-tcp-access-log-line "got: $gl"
fi
sl=$(grep 'outbound|443|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local' "$tmp/sc.log" | tail -1)
if grep -q "\"$GW:8443\"" <<<"$sl" && grep -q ' edition.cnn.com ' <<<"$sl"; then ok sidecar-tcp-access-log-line; else fail sidecar-tcp-access-log-line "got: $sl"; fi
m=$(curl -s "http://$GW:15090/stats/prometheus")
if grep -Eq '^istio_tcp_sent_bytes_total\{.*destination_service="edition.cnn.com".*\} [1-9]' <<<"$m" &&
	grep -Eq '^istio_tcp_received_bytes_total\{.*destination_service="edition.cnn.com".*\} [1-9]' <<<"$m" &&
	grep -Eq '^istio_tcp_connections_opened_total\{.*destination_service="edition.cnn.com".*\} [1-9]' <<<"$m"; then
	ok gateway-tcp-metrics
else
	fail gateway-tcp-metrics "$(grep '^istio_tcp' <<<"$m" | head -3)"
fi

# 2. a large body through the spliced relay arrives intact
want=$(sha256sum "$tmp/big.bin" | cut -d' ' -f1)
got=$(cu --cacert "$tmp/ca.pem" "${PX[@]}" https://edition.cnn.com/big | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok passthrough-3mb-intact || fail passthrough-3mb-intact "sha256 differs"

# 3. ClientHello one byte per TCP segment, and split across three records: routed
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --ca "$tmp/ca.pem" --hello bytes)
grep -q '^status 200' <<<"$out" && ok client-hello-one-byte-per-segment || fail client-hello-one-byte-per-segment "$out"
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --ca "$tmp/ca.pem" --hello records3)
grep -q '^status 200' <<<"$out" && ok client-hello-three-records || fail client-hello-three-records "$out"
# the same straight at the gateway (its own ClientHello reader)
out=$("${TLSC[@]}" --to "$GW:8443" --ca "$tmp/ca.pem" --hello bytes)
grep -q '^status 200' <<<"$out" && ok gateway-hello-one-byte-per-segment || fail gateway-hello-one-byte-per-segment "$out"
out=$("${TLSC[@]}" --to "$GW:8443" --ca "$tmp/ca.pem" --hello records3)
grep -q '^status 200' <<<"$out" && ok gateway-hello-three-records || fail gateway-hello-three-records "$out"

# 4. REGISTRY_ONLY: an SNI outside the registry gets unrecognized_name, logged, counted
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --ca "$tmp/ca.pem" --sni unknown.example.org)
sleep 0.3
if grep -qi 'unrecognized.name' <<<"$out" &&
	grep 'BlackHoleCluster' "$tmp/sc.log" | tail -1 | grep -q ' unknown.example.org '; then
	ok registry-only-unknown-sni-alert-logged
else
	fail registry-only-unknown-sni-alert-logged "client: $out; log: $(tail -1 "$tmp/sc.log")"
fi
if curl -s "http://$SC:15090/stats/prometheus" | grep -q '^egressd_denied_total{host="unknown.example.org",reason="registry_only"} 1'; then
	ok unknown-sni-denial-counted
else
	fail unknown-sni-denial-counted "$(curl -s "http://$SC:15090/stats/prometheus" | grep egressd_denied | head -3)"
fi

# 5. the gateway: an SNI no server accepts -> unrecognized_name, NR with the SNI
out=$("${TLSC[@]}" --to "$GW:8443" --ca "$tmp/ca.pem" --sni other.example)
sleep 0.3
if grep -qi 'unrecognized.name' <<<"$out" && tail -1 "$tmp/gw.log" | grep -q ' NR .* other.example '; then
	ok gateway-unknown-sni-alert-nr
else
	fail gateway-unknown-sni-alert-nr "client: $out; log: $(tail -1 "$tmp/gw.log")"
fi

# 6. refusals: malformed, oversized, no SNI, plain text; nothing reaches nginx
before=$(wc -l <"$tmp/ng/access.log")
out=$("${TLSC[@]}" --to "$GW:8443" --raw malformed)
[ "$out" = "alert decode_error" ] && ok gateway-malformed-hello-refused || fail gateway-malformed-hello-refused "$out"
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --raw malformed)
[ "$out" = "alert decode_error" ] && ok sidecar-malformed-hello-refused || fail sidecar-malformed-hello-refused "$out"
out=$("${TLSC[@]}" --to "$GW:8443" --raw huge)
[ "$out" = "alert decode_error" ] && ok gateway-oversized-hello-refused || fail gateway-oversized-hello-refused "$out"
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --raw huge)
[ "$out" = "alert decode_error" ] && ok sidecar-oversized-hello-refused || fail sidecar-oversized-hello-refused "$out"
out=$("${TLSC[@]}" --to "$GW:8443" --no-sni)
grep -qi 'handshake.failure' <<<"$out" && ok gateway-no-sni-refused || fail gateway-no-sni-refused "$out"
out=$("${TLSC[@]}" --to "$SC:15001" --connect edition.cnn.com:443 --no-sni)
grep -qi 'handshake.failure' <<<"$out" && ok sidecar-no-sni-refused || fail sidecar-no-sni-refused "$out"
out=$("${TLSC[@]}" --to "$GW:8443" --raw plain)
grep -q '^closed' <<<"$out" && ok gateway-plain-text-refused || fail gateway-plain-text-refused "$out"
sleep 0.3
after=$(wc -l <"$tmp/ng/access.log")
[ "$before" = "$after" ] && ok refused-never-forwarded || fail refused-never-forwarded "nginx logged $((after - before)) requests"
if grep -q 'tls_client_hello_malformed' "$tmp/gw.log" && grep -q 'tls_client_hello_too_large' "$tmp/gw.log" &&
	grep -q 'tls_client_hello_without_sni' "$tmp/gw.log" && grep -q 'not_tls' "$tmp/gw.log"; then
	ok refusals-logged
else
	fail refusals-logged "$(tail -5 "$tmp/gw.log")"
fi

stop_ok "$SCPID" && ok sidecar-clean-exit || fail sidecar-clean-exit "exit status $?"
stop_ok "$GWPID" && ok gateway-clean-exit || fail gateway-clean-exit "exit status $?"
no_sanitizer_reports
