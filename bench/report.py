#!/usr/bin/env python3
"""bench/report.py: turns the raw results of bench/run into the Markdown of
bench/results/LATEST.md.

    bench/report.py META.tsv RESULTS.tsv [PROFILE.txt]

META.tsv holds `key<TAB>value` lines (date, machine, versions, settings). RESULTS.tsv holds
one measurement per line, first field the kind:

    load   SCEN BODY CONNS MODE REP WHO RPS P50_US P99_US CPU_US_PER_REQ REQUESTS ERRORS
    idle   WHO RSS_KIB PSS_KIB
    conn   KIND WHO HELD FAILED CLOSED_WHILE_IDLE RSS_BEFORE_KIB RSS_AFTER_KIB BYTES_PER_CONN NOTE
    stream METHOD REP WHO GBPS NOTE CPU_MS  (METHOD tls: HTTPS download; raw: ClientHello +
                                            bytes; CPU_MS: the relay's CPU for the GiB)
    check  WHO SCEN NAME ok|FAIL DETAIL
    note   WHO TEXT
    prof_sys WHO REQUESTS SYSCALLS EPOLL_CTL RECV SEND EPOLL_WAIT CONTEXT_SWITCHES SCEN SPLICE
             (per request)
    prof_ir  WHO REQUESTS INSTRUCTIONS_PER_REQUEST (user space, callgrind)

Ratios compare egressd with the better of HAProxy and nginx within the same repetition of
the same row (the run interleaves them), never across runs."""
import sys
from collections import defaultdict

PEERS = ("haproxy", "nginx")
ORDER = ("direct", "egressd", "egressd+log", "haproxy", "nginx")
SCEN = {
    "a": ("a http", "gateway role, plain HTTP/1.1 keep-alive on both sides, routed by Host; "
          "an nginx backend returns a fixed body", 1.3, 0.7),
    "b": ("b sni", "TLS passthrough routed by the SNI of the ClientHello (HAProxy `mode tcp` + "
          "`req.ssl_sni`, nginx `stream` + `ssl_preread`, egressd Gateway PASSTHROUGH); "
          "the client verifies the backend's certificate through the proxy", 1.2, 0.8),
    "c": ("c orig", "TLS origination: plain HTTP/1.1 keep-alive in, HTTPS out, verified "
          "against the test CA, SNI set, pooled (nginx `proxy_pass https://` + keepalive + "
          "`proxy_ssl_verify on`, HAProxy `ssl verify required`, egressd DestinationRule "
          "tls SIMPLE)", 1.2, 0.8),
}


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def fmt(v, nd=0):
    if v is None:
        return "–"
    if nd == 0:
        return f"{v:,.0f}"
    return f"{v:,.{nd}f}"


def joined(vals, nd=0):
    return " / ".join(fmt(v, nd) for v in vals) if vals else "–"


def main():
    meta = {}
    with open(sys.argv[1]) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
    profile = None
    if len(sys.argv) > 3:
        try:
            profile = open(sys.argv[3]).read().strip()
        except OSError:
            profile = None

    loads = defaultdict(dict)  # (scen, body, conns, mode) -> {(who, rep): fields}
    row_order = []
    idle, conns, streams, checks, notes = {}, defaultdict(dict), defaultdict(dict), [], {}
    psys, pir = {}, {}
    for r in rows:
        kind = r[0]
        if kind == "load":
            key = tuple(r[1:5])
            if key not in loads:
                row_order.append(key)
            rep, who = int(r[5]), r[6]
            loads[key][(who, rep)] = {
                "rps": num(r[7]), "p50": num(r[8]), "p99": num(r[9]), "cpu": num(r[10]),
                "reqs": num(r[11]), "err": r[12] if len(r) > 12 else ""}
        elif kind == "idle":
            idle[r[1]] = (num(r[2]), num(r[3]))
        elif kind == "conn":
            conns[r[1]][r[2]] = r[3:]
        elif kind == "stream":
            streams[(r[1], r[3])][int(r[2])] = (num(r[4]), r[5] if len(r) > 5 else "",
                                                num(r[6]) if len(r) > 6 else None)
        elif kind == "check":
            checks.append(r[1:])
        elif kind == "note":
            notes[r[1]] = r[2]
        elif kind == "prof_sys":
            scen = r[9] if len(r) > 9 else "a"
            psys[(r[1], scen)] = [num(x) for x in r[2:9]] + [num(r[10]) if len(r) > 10 else None]
        elif kind == "prof_ir":
            pir[r[1]] = (num(r[2]), num(r[3]))

    out = []
    w = out.append
    w(f"# Benchmarks: egressd, HAProxy and nginx side by side ({meta.get('date', '?')})")
    w("")
    w("Produced by `bench/run` (see bench/README.md); every figure below comes from this one "
      "interleaved run. Repetitions are shown as `a / b`.")
    w("")
    w(f"- machine: {meta.get('machine', '?')}")
    w(f"- egressd {meta.get('egressd', '?')}; HAProxy {meta.get('haproxy', '?')}; "
      f"nginx {meta.get('nginx', '?')}; wrk {meta.get('wrk', '?')}; "
      f"OpenSSL {meta.get('openssl', '?')}")
    w(f"- {meta.get('settings', '')}; access logging off for all, and on for `egressd+log`")
    w(f"- {meta.get('load', '')}: other work on the machine moves absolute figures; "
      "compare CPU per request and ratios within a repetition")
    w("- CPU µs/req: utime+stime of the proxy's processes over the run (/proc/PID/stat) "
      "divided by the requests wrk completed; wrk, the backend and the proxy share the cores")
    w("")
    for who, text in notes.items():
        w(f"**{who}: not measured**: {text}")
        w("")

    reps = sorted({rep for d in loads.values() for (_, rep) in d})
    for scen in ("a", "b", "c"):
        keys = [k for k in row_order if k[0] == scen]
        if not keys:
            continue
        title, desc, t_rps, t_cpu = SCEN[scen]
        w(f"## {title}")
        w("")
        w(desc + ".")
        w("")
        w("| body | conns | conn | who | req/s | p50 µs | p99 µs | CPU µs/req | errors |")
        w("|---|---|---|---|---|---|---|---|---|")
        for key in keys:
            _, body, nc, mode = key
            d = loads[key]
            for who in ORDER:
                vals = [d.get((who, rep)) for rep in reps]
                if not any(vals):
                    continue
                get = lambda f: [v[f] if v else None for v in vals]
                errs = " / ".join((v["err"] if v else "–") for v in vals)
                w(f"| {body} | {nc} | {'new' if mode == 'new' else 'kept'} | {who} | "
                  f"{joined(get('rps'))} | {joined(get('p50'))} | {joined(get('p99'))} | "
                  f"{joined(get('cpu'), 1)} | {errs} |")
        w("")
        w(f"egressd against the better of HAProxy and nginx in each repetition (targets: "
          f"req/s ≥ {t_rps}×, CPU/req ≤ {t_cpu}×, p99 ≤ 1.0×):")
        w("")
        w("| body | conns | conn | who | req/s ratio | CPU/req ratio | p99 ratio | targets |")
        w("|---|---|---|---|---|---|---|---|")
        for key in keys:
            _, body, nc, mode = key
            d = loads[key]
            for who in ("egressd", "egressd+log"):
                rr, cr, pr, met = [], [], [], []
                for rep in reps:
                    e = d.get((who, rep))
                    peers = [d.get((p, rep)) for p in PEERS if d.get((p, rep))]
                    peers = [p for p in peers if p["rps"]]
                    if not e or not e["rps"] or not peers:
                        continue
                    br = max(p["rps"] for p in peers)
                    bc = min((p["cpu"] for p in peers if p["cpu"]), default=None)
                    bp = min((p["p99"] for p in peers if p["p99"]), default=None)
                    r1 = e["rps"] / br
                    r2 = e["cpu"] / bc if e["cpu"] and bc else None
                    r3 = e["p99"] / bp if e["p99"] and bp else None
                    rr.append(r1)
                    cr.append(r2)
                    pr.append(r3)
                    met.append(r1 >= t_rps and r2 is not None and r2 <= t_cpu and
                               r3 is not None and r3 <= 1.0)
                if not rr:
                    if who == "egressd":
                        w(f"| {body} | {nc} | {'new' if mode == 'new' else 'kept'} | {who} | "
                          f"not yet | | | |")
                    continue
                verdict = "met" if all(met) else ("partly" if any(met) else "missed")
                w(f"| {body} | {nc} | {'new' if mode == 'new' else 'kept'} | {who} | "
                  f"{joined(rr, 2)} | {joined(cr, 2)} | {joined(pr, 2)} | {verdict} |")
        w("")

    if idle or conns:
        w("## Memory")
        w("")
        w(f"RSS is VmRSS summed over the proxy's processes (nginx: master + worker), PSS from "
          f"smaps_rollup; per connection = (RSS with the connections held − RSS before) / "
          f"connections held, each proxy freshly started. Kernel socket memory is not "
          f"counted. Targets: RSS at start ≤ 8 MiB; per idle keep-alive client connection ≤ "
          f"nginx's; per idle passthrough pair ≤ 1 KiB.")
        w("")
        w("| who | RSS at start | PSS at start | per idle keep-alive conn | held / failed / "
          "closed by proxy | per idle passthrough pair | held / failed / closed by proxy |")
        w("|---|---|---|---|---|---|---|")
        for who in ORDER:
            if who not in idle and who not in conns.get("http", {}) and \
                    who not in conns.get("pair", {}):
                continue
            rss, pss = idle.get(who, (None, None))
            cols = []
            for kind in ("http", "pair"):
                c = conns.get(kind, {}).get(who)
                if not c:
                    cols += ["–", "–"]
                    continue
                held, failed, closed, _b, _a, per = c[:6]
                note = c[6] if len(c) > 6 else ""
                if per == "":
                    cols += [note or "–", f"{held} / {failed} / {closed}"]
                else:
                    cols += [f"{int(per):,} B", f"{held} / {failed} / {closed}"]
            w(f"| {who} | {fmt(rss / 1024 if rss else None, 1)} MiB | "
              f"{fmt(pss / 1024 if pss else None, 1)} MiB | {cols[0]} | {cols[1]} | "
              f"{cols[2]} | {cols[3]} |")
        w("")

    if streams:
        w("## One 1 GiB stream through the passthrough (GB/s)")
        w("")
        w("`tls`: an HTTPS download of a 1 GiB file from the nginx backend through the SNI "
          "passthrough (bench/tools/stream.c `get`: TLS at both ends, certificate verified, "
          "16 KiB reads), as in the scenario. `raw`: a ClientHello with SNI `bulk.test`, then "
          "1 GiB of plain bytes from a TCP source (`stream serve`/`fetch`), so only the relay "
          "costs CPU. `splice-relay` and `copy-relay` are bare relays (`stream relay`: "
          "splice() through a pipe, or read/write of 64 KiB) with no routing: the limit. "
          "Target: ≥ 0.95× direct.")
        w("")
        w("| who | tls GB/s | tls ratio to direct | tls relay CPU ms/GiB | raw GB/s | "
          "raw ratio to direct | raw relay CPU ms/GiB |")
        w("|---|---|---|---|---|---|---|")
        for who in ("direct", "splice-relay", "copy-relay") + ORDER[1:]:
            cells = []
            for method in ("tls", "raw"):
                d = streams.get((method, who))
                direct = streams.get((method, "direct"), {})
                if not d:
                    cells += ["–", "–", "–"]
                    continue
                reps_ = sorted(d)
                vals = [d[rep][0] for rep in reps_]
                ratios = [d[rep][0] / direct[rep][0]
                          if d[rep][0] and direct.get(rep, (None,))[0] else None
                          for rep in reps_]
                cpu = [d[rep][2] for rep in reps_]
                errs = "; ".join(x[1] for x in d.values() if x[1])
                cells += [joined(vals, 2) + (f" ({errs})" if errs else ""), joined(ratios, 2),
                          joined(cpu) if who != "direct" else "–"]
            if cells != ["–"] * 6:
                w(f"| {who} | " + " | ".join(cells) + " |")
        w("")

    if checks:
        w("## Routing checks (before any load)")
        w("")
        w("| who | scenario | check | result |")
        w("|---|---|---|---|")
        for who, scen, name, res, *detail in checks:
            d = detail[0] if detail else ""
            w(f"| {who} | {scen} | {name} | {res}{': ' + d if d else ''} |")
        w("")

    if psys or pir:
        w("## Where the CPU goes (64 B, 50 connections)")
        w("")
        w("Independent of the machine's load: system calls and context switches per request "
          "(`perf stat` tracepoints on the running proxy over a 3 s wrk run; recv = "
          "recvfrom/read/readv/recvmsg, send = sendto/sendmsg/write/writev), and, for a, "
          "user-space instructions per request (the proxy alone under `valgrind "
          "--tool=callgrind`, counters zeroed once it served a first request, then a 5 s wrk "
          "run).")
        w("")
        w("| scenario | who | syscalls/req | epoll_ctl/req | recv/req | send/req | splice/req | "
          "epoll_wait/req | context switches/req | instructions/req (user) |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for scen in ("a", "b", "c"):
            for who in ORDER:
                p = psys.get((who, scen))
                ir = pir.get(who, (None, None))[1] if scen == "a" else None
                if not p and ir is None:
                    continue
                p = p or [None] * 8
                w(f"| {SCEN[scen][0]} | {who} | {fmt(p[1], 2)} | {fmt(p[2], 2)} | "
                  f"{fmt(p[3], 2)} | {fmt(p[4], 2)} | {fmt(p[7], 2)} | {fmt(p[5], 3)} | "
                  f"{fmt(p[6], 2)} | {fmt(ir)} |")
        w("")
    if profile:
        w("egressd's user-space profile, instructions per request (callgrind; "
          "`bench/tools/cgsum.py`: per request, share, function <- its main caller):")
        w("")
        w("```")
        w(profile)
        w("```")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
