"""The ladder table of docs/models.md, read from pipeline folders (their runs/) and a bench.

    KERAS_HOME=... .venv/bin/sportsedge pipeline --data ../shared/data/sports100-dev --out /tmp/ladder \\
        --models mobilenet_v2_ft,efficientnet_lite0_ft --input-sizes 224,160,128 --formats tflite-int8,onnx-int8
    .venv/bin/python experiments/ladder_table.py /tmp/ladder [more pipeline folders] [--bench /tmp/ladder/bench]

With several pipeline folders, give --bench: one bench run over all their exports, so the
latencies compare.

One row per rung: its input size, multiply-accumulates, int8 file size, valid/ top-1 of the Keras
model and of both int8 files, the tflite-int8 p50 latency at 1 and 2 threads (one bench run) and
its ratio to the same family's own-size rung, and the training wall time of the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pipelines", type=Path, nargs="+")
    ap.add_argument("--bench", type=Path, default=None, help="a bench folder (default: the first pipeline's bench/)")
    args = ap.parse_args()
    rows = json.loads(((args.bench or args.pipelines[0] / "bench") / "results.json").read_text())["rows"]
    cell = {(r["model"], r["format"], r["threads"]): r for r in rows}
    folder = {
        m: next(p / "runs" / m for p in args.pipelines if (p / "runs" / m).is_dir()) for m in {r["model"] for r in rows}
    }
    runs = {m: json.loads((f / "config.json").read_text()) for m, f in folder.items()}
    rungs = sorted(runs, key=lambda m: (runs[m]["model"], -runs[m]["input_size"][0]))  # family, then big to small
    print("| rung | input px | MMACs | tflite-int8 MB | Keras top-1 % | tflite-int8 top-1 % | onnx-int8 top-1 % "
          "| tflite-int8 p50 ms, 1 thread | 2 threads | vs own size | train wall s (subset) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in rungs:
        run = runs[m]
        keras = json.loads((folder[m] / "eval-valid" / "metrics.json").read_text())["top1"]
        t1, t2 = cell[(m, "tflite-int8", 1)], cell[(m, "tflite-int8", 2)]
        base = cell[(m.split("-")[0], "tflite-int8", 1)]["latency_ms_p50"]
        o = cell[(m, "onnx-int8", 1)]
        print(
            f"| `{m}` | {run['input_size'][0]} | {t1['macs'] / 1e6:.0f} | {t1['size_bytes'] / 1e6:.2f} | "
            f"{100 * keras:.1f} | {100 * t1['top1']:.1f} | {100 * o['top1']:.1f} | {t1['latency_ms_p50']:.2f} | "
            f"{t2['latency_ms_p50']:.2f} | {t1['latency_ms_p50'] / base:.2f}x | {run['train_wall_seconds']:.0f} |"
        )


if __name__ == "__main__":
    main()
