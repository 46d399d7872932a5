#!/usr/bin/env bash
# tools/check-deps.sh: modules include only what the table of STYLE.md part 3 allows, so
# dependencies point down the picture of DESIGN.md §1. Prints each violation.
set -u
cd "$(dirname "$0")/.."
declare -A allow=(
	[core]=""
	[net]="core"
	[http]="core"
	[tls]="core net"
	[dns]="core net"
	[model]="core"
	[compile]="core model"
	[policy]="core compile"
	[proxy]="core net http tls dns policy compile telemetry"
	[telemetry]="core net http compile"
	[store]="core model"
	[runtime]="core net store model compile tls"
	[ctl]="core model compile store runtime telemetry tls net"
)
bad=0
for mod in "${!allow[@]}"; do
	[ -d "src/$mod" ] || continue
	while IFS=: read -r file _ inc; do
		dep=$(sed -E 's/.*#include "([a-z]+)\/.*/\1/' <<<"$inc")
		[ "$dep" = "$mod" ] && continue
		case " ${allow[$mod]} " in *" $dep "*) continue ;; esac
		echo "$file: module $mod may not include $dep ($inc)"
		bad=1
	done < <(grep -nE '^#include "[a-z]+/' "src/$mod"/*.[ch] 2>/dev/null)
done
exit $bad
