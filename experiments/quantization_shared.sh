#!/usr/bin/env bash
# Reproduces docs/quantization.md: float32, post-training int8 (and every remedy), QAT int8 for
# the shared runs, then their accuracy on all of valid/ and latency. Run from the repo root after
# `make install`, with RUNS holding mobilenet_v2, cnn and efficientnet_b0 run folders (e.g. the
# pipeline's runs/: `sportsedge pipeline --data ../shared/data/sports100-dev --out P --weights auto`).
#   RUNS=P/runs bash experiments/quantization_shared.sh OUT_DIR
set -euo pipefail
out=${1:-out/quantization}
runs=${RUNS:?set RUNS to a folder of run folders}
data=${DATA:-../shared/data/sports100-dev}
home=$(mktemp -d); cp -r ../shared/keras_home/. "$home"; export KERAS_HOME=$home
se=.venv/bin/sportsedge
for m in mobilenet_v2 cnn efficientnet_b0; do
  # Default behaviour: remedies only when int8 loses more than 1 point; plus QAT (2 epochs).
  "$se" export "$runs/$m" --formats tflite-fp32,tflite-int8 --qat --parity-size 500 --out "$out/$m" || true
  # Every remedy forced (a bound of -100 points is never met), to measure each one's cost.
  "$se" export "$runs/$m" --formats tflite-int8 --max-drop -100 --parity-size 500 --out "$out/$m-remedies" || true
done
"$se" bench "$out"/{mobilenet_v2,cnn,efficientnet_b0}/*.tflite "$out"/*-remedies/attempts/*.tflite --data "$data/valid" --threads 2 --runs 200 \
  --out "$out/bench"
