#!/usr/bin/env bash
# tests/e2e/21-store-race.sh: two `egressctl apply` processes race on one store that does
# not exist yet, 200 objects each (100 ServiceEntries + 100 ConfigMaps); a third process
# reads while they write. Afterwards all 400 objects are there, every resourceVersion is
# unique, the generation file is the highest of them, and the reader only ever saw whole
# transactions (0, 100 or 200 ConfigMaps: never a part of one apply).
# Runs from the repository root; store in a mktemp dir; every process is waited for.
set -u
cd "$(dirname "$0")/../.."
EGRESSCTL=${EGRESSCTL:-$PWD/build/san/egressctl}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export EGRESS_STORE=$tmp/store

expect() {
	local name=$1
	shift
	if "$@"; then echo "ok $name"; else echo "FAIL $name"; fi
}

# gen WHO: 100 ServiceEntries and 100 ConfigMaps named WHO-N, in one multi-document file
gen() {
	local who=$1 i
	for i in $(seq 1 100); do
		cat <<EOF
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: $who-$i
spec:
  hosts:
  - $who-$i.example.com
  ports:
  - number: 443
    name: tls
    protocol: TLS
  resolution: DNS
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: $who-$i
data:
  n: "$i"
EOF
	done
}
gen a >"$tmp/a.yaml"
gen b >"$tmp/b.yaml"

# the reader: counts ConfigMaps until both writers are done (bounded: 600 rounds)
reader() {
	local i n
	for i in $(seq 1 600); do
		[ -e "$tmp/done-a" ] && [ -e "$tmp/done-b" ] && break
		# (the first reads race the writers to create the store, too)
		n=$(timeout 60 "$EGRESSCTL" get cm -o name 2>/dev/null | wc -l)
		echo "$n" >>"$tmp/seen"
		sleep 0.02
	done
}

reader &
pids+=($!)
start=$(date +%s)
(timeout 120 "$EGRESSCTL" apply -f "$tmp/a.yaml" >"$tmp/out-a" 2>"$tmp/err-a"; echo $? >"$tmp/rc-a"; touch "$tmp/done-a") &
pids+=($!)
(timeout 120 "$EGRESSCTL" apply -f "$tmp/b.yaml" >"$tmp/out-b" 2>"$tmp/err-b"; echo $? >"$tmp/rc-b"; touch "$tmp/done-b") &
pids+=($!)
wait "${pids[@]}"
pids=()
echo "# both applies took $(($(date +%s) - start))s"

for w in a b; do
	expect "apply-$w-exit-0" test "$(cat "$tmp/rc-$w")" = 0
	expect "apply-$w-200-created" test "$(grep -c ' created$' "$tmp/out-$w")" = 200
	expect "apply-$w-quiet" test ! -s "$tmp/err-$w"
done

timeout 60 "$EGRESSCTL" get se -o json >"$tmp/se.json"
timeout 60 "$EGRESSCTL" get cm -o json >"$tmp/cm.json"
timeout 60 "$EGRESSCTL" get ns -o json >"$tmp/ns.json"
python3 - "$tmp" "$(cat "$EGRESS_STORE/generation")" <<'EOF'
import json, sys
d, gen = sys.argv[1], int(sys.argv[2])
items = []
for f in ("se", "cm", "ns"):
    items += json.load(open(f"{d}/{f}.json"))["items"]
mine = [o for o in items if o["metadata"]["name"][:2] in ("a-", "b-")]
names = {(o["kind"], o["metadata"]["name"]) for o in mine}
def case(name, ok, why=""):
    print(f"ok {name}" if ok else f"FAIL {name}: {why}")
case("all-400-present", len(mine) == 400 and len(names) == 400, f"{len(mine)} objects, {len(names)} distinct")
rvs = [int(o["metadata"]["resourceVersion"]) for o in items]
case("resource-versions-unique", len(rvs) == len(set(rvs)), sorted(rvs)[:20])
case("generation-is-highest", gen == max(rvs), f"generation {gen}, highest {max(rvs)}")
case("every-object-generation-1", all(o["metadata"]["generation"] == 1 for o in mine))
uids = {o["metadata"]["uid"] for o in items}
case("uids-unique", len(uids) == len(items))
EOF

# the reader saw whole transactions only
if [ -s "$tmp/seen" ]; then
	expect reader-saw-whole-transactions test -z "$(grep -vxE '0|100|200' "$tmp/seen")"
	echo "# reader samples: $(sort -n "$tmp/seen" | uniq -c | tr -s ' \n' ' ')"
else
	echo "# the writers finished before the reader's first look: no consistency sample"
fi
expect no-temp-files-left test -z "$(ls -A "$EGRESS_STORE/tmp")"
