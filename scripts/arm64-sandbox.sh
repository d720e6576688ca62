#!/usr/bin/env bash
# Builds, once, an emulated 64-bit Raspberry Pi OS userland for the runtime's ARM tests, run by
# qemu-user with a pinned CPU model. Two userlands, as Raspberry Pi OS has shipped them:
#   ARM_SUITE=bookworm (default): Debian 12, Python 3.11; the runtime's, serve's and video's aarch64
#     wheels at exactly the versions this repo's .venv resolved (host and ARM run the same engines);
#   ARM_SUITE=trixie: Debian 13, Python 3.13 (Raspberry Pi OS since October 2025); the same
#     packages at the versions pip resolves for Python 3.13 from pyproject.toml's ranges.
# Idempotent: each step is skipped when its result is already there. Run as root (apt, binfmt).
#   [ARM_SUITE=trixie] bash scripts/arm64-sandbox.sh [CACHE_DIR]   (default: .arm64, .arm64-trixie)
# Then: CACHE_DIR/run [python args]  runs the aarch64 Python (QEMU_CPU=cortex-a72 unless set),
# with the wheels and this repo's src/ on its path ($SPORTSEDGE_ARM_SRC instead of src/, e.g. an
# unpacked wheel).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
suite=${ARM_SUITE:-bookworm}
case $suite in  # suite -> its python3 and the default cache folder
    bookworm) py=3.11 default_cache=$repo/.arm64 ;;
    trixie) py=3.13 default_cache=$repo/.arm64-trixie ;;
    *) echo "arm64-sandbox: error: ARM_SUITE must be bookworm or trixie, got $suite" >&2; exit 1 ;;
esac
pytag=cp${py/./}
cache=$(mkdir -p "${1:-$default_cache}" && cd "${1:-$default_cache}" && pwd)
rootfs=$cache/rootfs
site=$cache/site
venv_py=${VENV_PYTHON:-$repo/.venv/bin/python}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { echo "arm64-sandbox: $*" >&2; }
die() { echo "arm64-sandbox: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs qemu-user-static and debootstrap, and registers binfmt)"
[ -x "$venv_py" ] || die "no $venv_py: run 'make install' first (the wheels follow its versions)"

# 1. qemu-user and debootstrap, from Debian's packages.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "qemu-user-static and debootstrap are missing and there is no apt-get to install them"
    say "installing qemu-user-static and debootstrap (apt-get) ..."
    apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap >/dev/null \
        || die "apt-get install qemu-user-static debootstrap failed"
else
    say "qemu-user-static and debootstrap: installed"
fi

# 2. The arm64 root file system: debootstrap's first stage only (downloads and unpacks; runs no ARM
#    code), then every package unpacked in place. Enough for python3 and its standard library.
if [ ! -x "$rootfs/usr/bin/python$py" ]; then
    say "arm64 rootfs: debootstrap $suite (minbase + python3) from $mirror ..."
    rm -rf "$rootfs.partial"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 "$suite" "$rootfs.partial" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed (see $cache/debootstrap.log)"
    for deb in "$rootfs.partial"/var/cache/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$rootfs.partial"
    done
    # qemu 7.2 (Debian 12) reads /proc/cpuinfo from the sysroot first; onnxruntime segfaults on the
    # host's x86 one. A Raspberry Pi 4's (Cortex-A72: implementer 0x41, part 0xd08).
    mkdir -p "$rootfs.partial/proc"
    for core in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$core"
    done >"$rootfs.partial/proc/cpuinfo"
    mv "$rootfs.partial" "$rootfs"
else
    say "arm64 rootfs: $rootfs (cached)"
fi

# 3. The aarch64 wheels of the runtime and the serve and video extras, for this suite's CPython:
#    bookworm pinned to what the host's .venv resolved, trixie as pip resolves pyproject's ranges for
#    3.13. pip needs all four manylinux tags to accept every wheel.
pins=$(ARM_SUITE=$suite "$venv_py" - "$repo/pyproject.toml" <<'PY'
import importlib.metadata as md
import os
import re
import sys
import tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
wanted = project["dependencies"] + project["optional-dependencies"]["serve"] + project["optional-dependencies"]["video"]
specs = [w.split(";")[0].strip() for w in wanted]  # the markers exclude 32-bit ARM only
if os.environ["ARM_SUITE"] == "bookworm":  # the host's own versions
    specs = [f"{name}=={md.version(name)}" for name in (re.match(r"[A-Za-z0-9_.-]+", s).group(0) for s in specs)]
print(" ".join(specs))
PY
)
if [ "$(cat "$site/.pins" 2>/dev/null)" != "$pins" ]; then
    say "aarch64 wheels: $pins ..."
    rm -rf "$site.partial"
    "$venv_py" -m pip install --quiet --disable-pip-version-check --target "$site.partial" --only-binary=:all: \
        --python-version "$py" --implementation cp --abi "$pytag" --abi abi3 --abi none \
        --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
        --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 $pins \
        >"$cache/pip.log" 2>&1 || die "pip could not get the aarch64 wheels (see $cache/pip.log)"
    "$venv_py" -m pip list --path "$site.partial" --format freeze 2>/dev/null >"$cache/resolved.txt" || true
    echo "$pins" >"$site.partial/.pins"
    rm -rf "$site" && mv "$site.partial" "$site"
else
    say "aarch64 wheels: $pins (cached)"
fi

# 4. binfmt_misc, so that aarch64 programs can start aarch64 subprocesses (bench's timing children).
#    QEMU_LD_PREFIX and QEMU_CPU (set by the runner) are inherited by those children.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    say "registering qemu-aarch64 with binfmt_misc ..."
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || die "cannot mount binfmt_misc"
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || die "no $conf from qemu-user-static"
    tr -d '\n' <"$conf" >/proc/sys/fs/binfmt_misc/register || die "binfmt registration refused"
else
    say "binfmt qemu-aarch64: registered"
fi

# 5. The runner.
cat >"$cache/run" <<RUN
#!/usr/bin/env bash
# aarch64 Python $py ($suite) under qemu-user (made by scripts/arm64-sandbox.sh). QEMU_CPU must name a
# real core: qemu's default 'max' advertises SME and XNNPACK's int8 kernels then return wrong numbers.
export QEMU_CPU=\${QEMU_CPU:-cortex-a72} QEMU_LD_PREFIX="$rootfs"
export PYTHONPATH="$site:\${SPORTSEDGE_ARM_SRC:-$repo/src}\${SPORTSEDGE_ARM_PYTHONPATH:+:\$SPORTSEDGE_ARM_PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
exec qemu-aarch64-static -L "$rootfs" "$rootfs/usr/bin/python$py" "\$@"
RUN
chmod +x "$cache/run"
"$cache/run" -c "import platform, numpy, onnxruntime, ai_edge_litert, av; print('arm64-sandbox: ready ($suite):', platform.machine(), 'python', platform.python_version(), 'numpy', numpy.__version__)" >&2 \
    || die "the sandbox's Python does not start"
echo "$cache/run"
