#!/usr/bin/env bash
# Issue 17's accuracy target: mobilenet_v2_ft on the shared subset, valid/ top-1 over seeds.
#   bash experiments/ft_seeds.sh [WORK_DIR] [SEEDS...]      (default /tmp/ft-seeds, seeds 0 1 2)
# Extra `sportsedge train` options go in $TRAIN_ARGS (e.g. "--finetune-epochs 0" for stage 1 only).
set -euo pipefail
work=${1:-/tmp/ft-seeds}; shift || true
seeds=${*:-0 1 2}
data=${DATA:-../shared/data/sports100-dev}
home=$(mktemp -d); cp -r ../shared/keras_home/. "$home"
mkdir -p "$work"
for s in $seeds; do
  [ -f "$work/seed$s/model.keras" ] || KERAS_HOME=$home .venv/bin/sportsedge train --model "${MODEL:-mobilenet_v2_ft}" \
    --data "$data" --out "$work/seed$s" --seed "$s" ${TRAIN_ARGS:-}
done
.venv/bin/python - "$work" $seeds <<'PY'
import json, statistics, sys
work, seeds = sys.argv[1], sys.argv[2:]
top1 = [100 * json.load(open(f"{work}/seed{s}/eval-valid/metrics.json"))["top1"] for s in seeds]
walls = [json.load(open(f"{work}/seed{s}/config.json"))["train_wall_seconds"] for s in seeds]
print("valid top-1 %:", ", ".join(f"{t:.1f}" for t in top1),
      f"| mean {statistics.mean(top1):.2f}, range {min(top1):.1f}-{max(top1):.1f}",
      f"| sd {statistics.stdev(top1):.2f}" if len(top1) > 1 else "",
      f"| train wall s: {', '.join(f'{w:.0f}' for w in walls)}")
PY
