"""Our latency next to LiteRT's own benchmark CLI, from a `sportsedge bench --cross-check` results.json.

    .venv/bin/python experiments/crosscheck_table.py BENCH_OUT/results.json [...]

Both figures come from the same rounds (ours in a fresh process, then litert-benchmark on the same
file and thread count), so the ratio is paired per round; the table shows medians over rounds.
"""

import json
import sys
from pathlib import Path

import numpy as np

print(
    "| results | file | threads | ours p50 ms | LiteRT p50 ms | ours / LiteRT (median of round ratios) | within 15% |"
)
print("|---|---|---:|---:|---:|---:|---|")
for arg in sys.argv[1:]:
    res = json.loads(Path(arg).read_text())
    for r in res["rows"]:
        if not r.get("litert_rounds_ms"):
            continue
        ours = np.asarray(r["latency_rounds_ms"][: len(r["litert_rounds_ms"])])
        ratio = float(np.median(ours / np.asarray(r["litert_rounds_ms"])))
        print(
            f"| {Path(arg).parent.name} | {Path(r['path']).name} | {r['threads']} | {r['latency_ms_p50']:.2f} | "
            f"{r['litert_p50_ms']:.2f} | {ratio:.3f} | {'yes' if abs(ratio - 1) <= 0.15 else 'no'} |"
        )
