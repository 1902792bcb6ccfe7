#!/usr/bin/env python3
"""median.py RUN1.json RUN2.json ... — merge `shoal bench -json` runs of the
same sweep (one per process) into medians per point, print a Markdown table
and, with -o FILE, write one JSON line per point (the peers' jsonl style)."""
import json, statistics, sys

args = sys.argv[1:]
out = None
if "-o" in args:
    i = args.index("-o"); out = args[i + 1]; del args[i:i + 2]
runs = [json.load(open(p)) for p in args]
r0 = runs[0]
m = r0["manifest"]
metric = {1: "l2", 2: "ip", 3: "cosine"}.get(m["metric"], m["metric"])
elem = {1: "float32", 2: "uint8", 3: "int8"}.get(m["elem"], m["elem"])
print(f"Shoal `{r0['label']}`: {m['count']}×{m['dim']} {elem} {metric}, {m['heads']} heads, "
      f"cache {r0['cache_bytes'] >> 20} MiB, direct I/O {r0['direct_io']}, medians of {len(runs)} processes\n")
ths = sorted({int(t) for p in r0["points"] for t in p["qps"]})
hdr = ["nprobe", "ε", "recall@10", "mean ms", "p50 ms", "p99 ms"] + [f"QPS {t}t" for t in ths] + \
      ["postings/q", "vectors/q", "KiB read/q", "IOs/q", "peak RSS MB"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
lines = []
for i, p in enumerate(r0["points"]):
    pts = [r["points"][i] for r in runs]
    med = lambda k: statistics.median(q[k] for q in pts)
    qps = {t: statistics.median(q["qps"][str(t)] for q in pts) for t in ths}
    peak = max(q["peak_rss_bytes"] for q in pts) / 2**20
    row = [p["nprobe"], p["epsilon"], f"{med('recall'):.4f}", f"{med('mean_ms'):.3f}", f"{med('p50_ms'):.3f}",
           f"{med('p99_ms'):.3f}"] + [f"{qps[t]:.0f}" for t in ths] + \
          [f"{med('postings_per_query'):.1f}", f"{med('vectors_per_query'):.0f}", f"{med('kib_read_per_query'):.1f}",
           f"{med('ios_per_query'):.1f}", f"{peak:.0f}"]
    print("| " + " | ".join(str(x) for x in row) + " |")
    lines.append({"system": "shoal", "label": r0["label"], "nprobe": p["nprobe"], "epsilon": p["epsilon"],
                  "recall10": med("recall"), "mean_ms": med("mean_ms"), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
                  "qps": qps, "kib_read": med("kib_read_per_query"), "ios": med("ios_per_query"),
                  "peak_rss_mb": peak, "mean_ms_all": [q["mean_ms"] for q in pts]})
if out:
    with open(out, "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
