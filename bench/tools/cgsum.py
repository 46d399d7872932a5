#!/usr/bin/env python3
"""bench/tools/cgsum.py: instructions per request from a callgrind dump.

    cgsum.py FILE REQUESTS [TOP]

FILE is a callgrind output written with --compress-strings=no --compress-pos=no (bench/run
dumps once when the proxy is ready, which zeroes the counters, and once after the load, so
the second dump holds the load alone). Prints `total IR PER_REQUEST`, then the TOP functions
by exclusive cost and the TOP subtrees by inclusive cost (those under a third of the total,
i.e. below the event loop), each with its main caller, all per request.
callgrind_annotate 3.19 folds a dump taken mid-run into `clone`, hence this parser."""
import collections
import sys


def main():
    path, n = sys.argv[1], max(1, int(sys.argv[2]))
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    excl = collections.Counter()
    calls = collections.Counter()  # (caller, callee) -> inclusive cost of the calls
    fn = cfn = None
    pending = False
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = line[3:].strip()
                continue
            if line.startswith("cfn="):
                cfn = line[4:].strip()
                continue
            if line.startswith("calls="):
                pending = True
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            parts = line.split()
            if len(parts) < 2:
                continue
            cost = int(parts[1])
            if pending:
                # the line after calls= is the inclusive cost of that call, not fn's own
                pending = False
                calls[(fn, cfn)] += cost
            else:
                excl[fn] += cost
    total = sum(excl.values())
    print(f"total {total} {total / n:.0f}")
    incl = collections.Counter(excl)
    for (a, b), c in calls.items():
        if a != b:
            incl[a] += c
    def caller(name):
        callers = [(v, a) for (a, b), v in calls.items() if b == name and a != name]
        return max(callers)[1] if callers else "-"

    print("exclusive")
    for name, c in excl.most_common(top):
        print(f"{c / n:8.0f} {100.0 * c / total:5.1f}% {name} <- {caller(name)}")
    # Subtrees below the event loop (a third of the total at most): what a request pays for.
    print("inclusive")
    subtrees = [(c, name) for name, c in incl.items() if c <= total / 3]
    for c, name in sorted(subtrees, reverse=True)[:top]:
        print(f"{c / n:8.0f} {100.0 * c / total:5.1f}% {name} <- {caller(name)}")


if __name__ == "__main__":
    main()
