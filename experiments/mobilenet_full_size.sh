#!/usr/bin/env bash
# The 30-epoch MobileNetV2 time target at the full dataset's size, measured (not extrapolated):
# a train/ split of 13,572 images built from symbolic links to the shared subset's 3,000 (cycling
# through them; speed does not depend on which images), with valid/ and test/ of 500 each.
#   [MODEL=mobilenet_v2_ft] [TRAIN_ARGS="--input-size 160"] bash experiments/mobilenet_full_size.sh [WORK_DIR]   (default model: mobilenet_v2)
set -euo pipefail
work=${1:-/tmp/sportsedge-fullsize}
model=${MODEL:-mobilenet_v2}
src=${DATA:-../shared/data/sports100-dev}
rm -rf "$work"; mkdir -p "$work/data"
python3 - "$src" "$work/data" <<'PY'
import os, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
classes = sorted(p.name for p in (src / "train").iterdir() if p.is_dir())
files = {c: sorted((src / "train" / c).iterdir()) for c in classes}
n, target = 0, 13572
for c in classes:
    (dst / "train" / c).mkdir(parents=True)
i = 0
while n < target:  # round-robin over classes, cycling each class's 30 images
    c = classes[i % len(classes)]
    f = files[c][(i // len(classes)) % len(files[c])]
    os.symlink(f.resolve(), dst / "train" / c / f"{i:05d}{f.suffix}")
    n += 1; i += 1
for split in ("valid", "test"):
    for c in classes:
        (dst / split / c).mkdir(parents=True)
        for f in sorted((src / "valid" / c).iterdir()):
            os.symlink(f.resolve(), dst / split / c / f.name)
print("train images:", n)
PY
home=$(mktemp -d); cp -r ../shared/keras_home/. "$home"
KERAS_HOME=$home /usr/bin/time -f "$model full-size wall %e s" .venv/bin/sportsedge train \
  --model "$model" --data "$work/data" --out "$work/run" ${TRAIN_ARGS:-}
python3 -c "import json; c=json.load(open('$work/run/config.json')); print('train_wall_seconds', round(c['train_wall_seconds'],1), 'fit_seconds', round(c['fit_seconds'],1)); [print(s['name'], 'caching s', s['data_seconds'], 'fit s', s['fit_seconds']) for s in c.get('stages', [])]"
