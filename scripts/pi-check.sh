#!/usr/bin/env bash
# The whole path exactly as on a Raspberry Pi (64-bit Raspberry Pi OS = Debian 12 arm64, Python
# 3.11), emulated: a fresh arm64 root file system, a venv, `pip install .` from this repo (aarch64
# wheels from the package index, as a Pi gets them), then `sportsedge verify`, `predict` and `bench`
# on a MobileNetV2 int8 exported here from the shared ImageNet weights. Prints a one-screen verdict
# with each step's wall time. Root only (debootstrap, chroot, binfmt). Not part of CI (minutes).
#   bash scripts/pi-check.sh [WORK_DIR]          (make pi-check)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-$repo/.pi-check}" && cd "${1:-$repo/.pi-check}" && pwd)
root=$work/rootfs
cpu=${QEMU_CPU:-cortex-a72}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
shared=${SHARED:-$repo/../shared}
py=$repo/.venv/bin/python
verdict=()
die() { echo "pi-check: error: $*" >&2; exit 1; }
step() {  # step NAME FUNCTION: runs it with errexit (each function stops at its first failure), times, records
    local name=$1; shift
    echo "pi-check: $name ..." >&2
    local t0=$SECONDS
    set +e
    (set -e; "$@") >"$work/$name.log" 2>&1  # not in an `if`: errexit must stay in force inside
    local rc=$?
    set -e
    if [ $rc -eq 0 ]; then
        verdict+=("$(printf '%-26s OK    %4ds' "$name" $((SECONDS - t0)))")
    else
        verdict+=("$(printf '%-26s FAIL  %4ds  (%s)' "$name" $((SECONDS - t0)) "$work/$name.log")")
        printf '%s\n' "${verdict[@]}" >&2
        tail -5 "$work/$name.log" >&2
        exit 1
    fi
}
# The chroot's pip trusts the host's CA bundle (this machine reaches the package index through it).
in_pi() {
    # QEMU_CPU must survive `env -i`: every exec of an ARM binary starts a fresh qemu (binfmt), which
    # reads it; without it qemu emulates its 'max' CPU and XNNPACK's int8 kernels go wrong.
    env QEMU_CPU="$cpu" chroot "$root" /usr/bin/env -i QEMU_CPU="$cpu" HOME=/root PATH=/root/venv/bin:/usr/bin:/bin \
        PIP_CERT=/etc/ssl/host-ca.crt PIP_DEFAULT_TIMEOUT=180 "$@"
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, binfmt)"
cleanup() { for m in "$root/sys" "$root/dev/shm"; do mountpoint -q "$m" && umount "$m"; done; true; }
trap cleanup EXIT
[ -x "$py" ] || die "no $py: run 'make install' first"
[ -d "$shared/keras_home" ] && [ -d "$shared/data/sports100-dev" ] || die "needs ../shared (ImageNet weights and real images)"
bash "$repo/scripts/arm64-sandbox.sh" "$repo/.arm64" >/dev/null  # qemu, debootstrap, binfmt registration

rootfs() {
    if [ ! -f "$root/.debootstrap-done" ]; then  # a full debootstrap: its second stage runs emulated
        rm -rf "$root"
        debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror"
        touch "$root/.debootstrap-done"
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/host-ca.crt"
    # Debian 12's qemu reads the host's x86 /proc/cpuinfo unless the chroot has one: a Pi 4's.
    cp "$repo/.arm64/rootfs/proc/cpuinfo" "$root/proc/cpuinfo"
    mkdir -p "$root/dev/shm" "$root/sys"
    mountpoint -q "$root/dev/shm" || mount -t tmpfs shm "$root/dev/shm"  # multiprocessing's semaphores
    # XNNPACK's cpuinfo reads /sys/devices/system/cpu; without it initialization fails and other int8
    # kernels run (measured: MobileNetV2 int8 scores off by 3 steps -- the golden check catches it).
    mountpoint -q "$root/sys" || mount --bind /sys "$root/sys"
}
venv() {
    rm -rf "$root/root/sportsedge" && mkdir -p "$root/root/sportsedge"
    git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$root/root/sportsedge")
    [ -x "$root/root/venv/bin/python" ] || in_pi python3 -m venv /root/venv
    in_pi pip install --quiet --disable-pip-version-check /root/sportsedge
    in_pi python -c "import importlib.util as u, sys; sys.exit(u.find_spec('tensorflow') is not None)"
}
model() {
    KERAS_HOME=$(mktemp -d) && cp -r "$shared/keras_home/." "$KERAS_HOME" && export KERAS_HOME
    "$py" - "$shared/data/sports100-dev" "$work/model" <<'PY'
import os, shutil, sys
from sportsedge.export.config import ExportConfig
from sportsedge.export.run import export, parse_formats
from sportsedge.train.config import TrainConfig
from sportsedge.train.loop import train
data, out = sys.argv[1], sys.argv[2]
run = f"{out}/run"
if not os.path.exists(f"{run}/model.keras"):  # five epochs on 10 images a class: about a minute
    shutil.rmtree(run, ignore_errors=True)
    train(TrainConfig(model="mobilenet_v2", data=data, out=run, weights="imagenet", epochs=5, limit_per_class=10), say=print)
export([run], parse_formats("tflite-int8"), f"{out}/exports", ExportConfig(calibration_size=200, parity_size=100), say=print)
PY
    mkdir -p "$root/root/pi/photos" "$root/root/pi/test"
    cp "$work/model/exports/mobilenet_v2-tflite-int8.tflite" "$root/root/pi/"
    for cls in basketball bowling "figure skating women"; do
        mkdir -p "$root/root/pi/test/$cls"
        cp "$shared/data/sports100-dev/valid/$cls"/{1,2}.jpg "$root/root/pi/test/$cls/"
        cp "$shared/data/sports100-dev/valid/$cls/1.jpg" "$root/root/pi/photos/${cls// /-}.jpg"
    done
}
verify() { in_pi sportsedge verify /root/pi/mobilenet_v2-tflite-int8.tflite; }
predict() { in_pi sportsedge predict /root/pi/mobilenet_v2-tflite-int8.tflite /root/pi/photos --top-k 3; }
bench() {
    in_pi sportsedge bench /root/pi/mobilenet_v2-tflite-int8.tflite --data /root/pi/test --out /root/pi/bench \
        --threads 1 --runs 3 --warmup 1 --e2e-runs 2 --camera-runs 0
}
verify_max() {  # the golden check must catch qemu's default CPU model (SME: wrong int8 kernels)
    ! env QEMU_CPU=max chroot "$root" /usr/bin/env -i QEMU_CPU=max PATH=/root/venv/bin:/usr/bin:/bin \
        sportsedge verify /root/pi/mobilenet_v2-tflite-int8.tflite
}

step rootfs rootfs
step "venv + pip install ." venv
step "export (host)" model
step "verify ($cpu)" verify
step "predict ($cpu)" predict
step "bench ($cpu, 3 runs)" bench
step "verify fails (QEMU_CPU=max)" verify_max
echo
echo "pi-check verdict: Debian 12 arm64, $(in_pi python --version), QEMU_CPU=$cpu (emulated: no timing here is a device figure)"
printf '  %s\n' "${verdict[@]}"
echo "  installed: $(in_pi pip list --format=freeze 2>/dev/null | grep -iE '^(numpy|pillow|ai-edge-litert|onnxruntime|sportsedge)=' | tr '\n' ' ')"
echo "  verify:    $(tail -1 "$work/verify ($cpu).log")"
echo "  verify max: $(tail -1 "$work/verify fails (QEMU_CPU=max).log")"
echo "  predict:"; sed 's/^/    /' "$work/predict ($cpu).log" | head -12
echo "  bench:     $(grep -m1 '^recommended:' "$work/bench ($cpu, 3 runs).log" | cut -c1-120)"
