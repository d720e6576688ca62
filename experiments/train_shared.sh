#!/usr/bin/env bash
# Reproduces the training numbers in docs/training.md on the shared 100 Sports subset
# (30 train / 5 valid images per class). Run from the repo root after `make install`.
#   bash experiments/train_shared.sh OUT_DIR
set -euo pipefail
out=${1:-runs/shared}
data=${DATA:-../shared/data/sports100-dev}
home=$(mktemp -d); cp -r ../shared/keras_home/. "$home"; export KERAS_HOME=$home
se=.venv/bin/sportsedge
t() { local name=$1; shift; /usr/bin/time -f "$name wall %e s" "$se" train --data "$data" --out "$out/$name" "$@"; }
t mobilenet_v2 --model mobilenet_v2                          # cached features, 1 clean view (default)
t mobilenet_v2_ls --model mobilenet_v2 --label-smoothing 0.1
t mobilenet_v2_linear --model mobilenet_v2_linear
t mobilenet_v2_views3 --model mobilenet_v2 --cache-features 3
t efficientnet_b0 --model efficientnet_b0 --weights none     # cached prefix (to block6b_add)
t cnn --model cnn
t mobilenet_v2_uncached --model mobilenet_v2 --cache-features 0   # the seed's way: augment + backbone every epoch
