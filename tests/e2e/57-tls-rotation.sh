#!/usr/bin/env bash
# tests/e2e/57-tls-rotation.sh: workload certificates rotated under load. The how-to's
# scenario 3 (sidecar -> ISTIO_MUTUAL -> gateway -> TLS -> nginx) carries four parallel
# curl loops for 8 seconds while `egressctl ca issue` rewrites the gateway's and the
# sidecar's certificate directories twice. Cases: every request answered 200 (none
# failed) and reached the site; both proxies logged the rotations; a new connection to
# the gateway is served the newest certificate; a request after the rotation works.
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/tls_lib.sh
trap tls_cleanup EXIT

ctl ca init >/dev/null || { fail setup "ca init failed"; exit 1; }
issue() { # issue SA DIR
	ctl ca issue --namespace aks-istio-egress --service-account "$1" --out "$2" >/dev/null
}
issue curl "$tmp/sc-certs" && issue asm-egress-test "$tmp/gw-certs" || { fail setup "ca issue failed"; exit 1; }
ctl apply -f examples/scenario-tls-origination.yaml >/dev/null || { fail setup "scenario apply failed"; exit 1; }
start_gateway --cert-dir "$tmp/gw-certs" --ca-bundle "$tmp/ca-bundle.pem"
start_sidecar --cert-dir "$tmp/sc-certs"
wait_ready "$GW" && ok gateway-ready || fail gateway-ready "$(tail -5 "$tmp/gw.out")"
wait_ready "$SC" && ok sidecar-ready || fail sidecar-ready "$(tail -5 "$tmp/sc.out")"
wait_port "$NG" 443 || fail nginx-up "nginx is not listening"
first=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -x "http://$SC:15001" http://edition.cnn.com/warm)
[ "$first" = 200 ] && ok warm-up-200 || fail warm-up-200 "code $first; $(tail -3 "$tmp/gw.out")"
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
old_gw=$(serial "$tmp/gw-certs/cert.pem")

# four bounded loops (8 s each), every status recorded
for i in 1 2 3 4; do
	(
		end=$((SECONDS + 8))
		n=0
		while [ $SECONDS -lt $end ] && [ $n -lt 2000 ]; do
			curl -s -o /dev/null -m 5 -w '%{http_code}\n' -x "http://$SC:15001" "http://edition.cnn.com/load$i"
			n=$((n + 1))
		done
	) >"$tmp/load$i.out" 2>&1 &
	lp[$i]=$!
done
sleep 2
issue asm-egress-test "$tmp/gw-certs" && issue curl "$tmp/sc-certs"
sleep 2.5
issue asm-egress-test "$tmp/gw-certs" && issue curl "$tmp/sc-certs"
for i in 1 2 3 4; do wait "${lp[$i]}"; done
cat "$tmp"/load?.out >"$tmp/load.out"
total=$(wc -l <"$tmp/load.out")
good=$(grep -c '^200$' "$tmp/load.out")
if [ "$total" -gt 20 ] && [ "$good" = "$total" ]; then
	ok rotation-under-load-no-failed-request
else
	fail rotation-under-load-no-failed-request "$good of $total answered 200: $(grep -v '^200$' "$tmp/load.out" | sort | uniq -c | head -3)"
fi
ng=$(grep -c '"GET /load' "$tmp/ng/access.log")
[ "$ng" = "$total" ] && ok every-request-reached-the-site || fail every-request-reached-the-site "$ng of $total"
if [ "$(grep -c 'workload certificate rotated' "$tmp/gw.out")" -ge 1 ] && [ "$(grep -c 'workload certificate rotated' "$tmp/sc.out")" -ge 1 ]; then
	ok both-proxies-rotated
else
	fail both-proxies-rotated "gateway: $(grep -c rotated "$tmp/gw.out"), sidecar: $(grep -c rotated "$tmp/sc.out")"
fi
# a new connection to the gateway gets the newest certificate
sleep 1.5
new_gw=$(serial "$tmp/gw-certs/cert.pem")
served=$(timeout 10 openssl s_client -connect "$GW:8080" -servername edition.cnn.com \
	-cert "$tmp/sc-certs/cert.pem" -key "$tmp/sc-certs/key.pem" </dev/null 2>/dev/null |
	openssl x509 -noout -serial 2>/dev/null | cut -d= -f2)
if [ -n "$served" ] && [ "$served" = "$new_gw" ] && [ "$served" != "$old_gw" ]; then
	ok new-connection-gets-new-certificate
else
	fail new-connection-gets-new-certificate "served $served, newest $new_gw, first $old_gw"
fi
after=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -x "http://$SC:15001" http://edition.cnn.com/after)
[ "$after" = 200 ] && ok request-after-rotation-200 || fail request-after-rotation-200 "code $after"

stop_ok "$SCPID" && ok sidecar-clean-exit || fail sidecar-clean-exit "exit status $?"
stop_ok "$GWPID" && ok gateway-clean-exit || fail gateway-clean-exit "exit status $?"
no_sanitizer_reports
