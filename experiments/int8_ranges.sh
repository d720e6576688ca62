#!/usr/bin/env bash
# tflite-int8's activation ranges, min..max (the converter's own) against mse (the default), on
# trained runs: plain post-training int8 (no remedies), checked through the runtime on valid/.
#   bash experiments/int8_ranges.sh OUT RUN_DIR...        ($PARITY images, default 500)
set -euo pipefail
out=$1; shift
for run in "$@"; do
  tag=$(echo "$run" | tr '/' '_')
  for fit in minmax mse; do
    .venv/bin/sportsedge export "$run" --out "$out/$tag-$fit" --formats tflite-int8 --remedies none \
      --activation-ranges "$fit" --parity-size "${PARITY:-500}" > "$out/$tag-$fit.log" 2>&1
  done
done
.venv/bin/python - "$out" "$@" <<'PY'
import glob, json, sys
out, runs = sys.argv[1], sys.argv[2:]
print("| run | model | Keras | min..max int8 | drop | agreement | mse int8 | drop | agreement |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for run in runs:
    tag, cells = run.replace("/", "_"), []
    for fit in ("minmax", "mse"):
        (p,) = [a["parity"] for a in json.load(open(f"{out}/{tag}-{fit}/manifest.json"))["artifacts"].values()]
        cells += [f"{100 * p['top1_export']:.1f}", f"{100 * (p['top1_keras'] - p['top1_export']):.1f}", f"{100 * p['agreement']:.1f}%"]
    model = json.load(open(f"{run}/config.json"))["model"]
    print(f"| {run} | {model} | {100 * p['top1_keras']:.1f} | " + " | ".join(cells) + " |")
PY
