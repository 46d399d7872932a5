#!/usr/bin/env bash
# tests/e2e/90-valgrind.sh: the optimized (non-sanitized) binaries under valgrind memcheck.
# ASan+UBSan already run on every other test; this one catches what they do not: reads of
# uninitialised memory (MSan-class errors) and leaks at exit in the release build.
#   egressctl: validate (valid fixtures, a dozen invalid ones), apply / get -o yaml|json|
#     jsonpath / delete on a temp store with examples/, proxy-config and analyze on the
#     how-to scenarios, ca init / issue.
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
