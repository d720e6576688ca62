"""Host (x86) vs emulated aarch64 scores for exported models, per format and CPU model.

    .venv/bin/python experiments/arm_parity.py MODEL... --images DIR [--count 20] [--cpus cortex-a72,cortex-a76]

Needs the sandbox from scripts/arm64-sandbox.sh (.arm64/run). Decodes the images once on the host
and sends the same pixels to both sides, so only the engines are compared. Prints one row per
model and CPU: largest |host - arm| probability difference, scores that differ at all, top-1
changes; then in the file's own output unit (logits or probabilities, what the golden check
compares): the largest |host - arm| raw output on the images and on the golden inputs, each also
as a fraction of the golden scores' range, and the golden-check bound the file carries.
Emulated timings mean nothing: none are taken.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--images", type=Path, required=True, help="folder of images (searched recursively)")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--cpus", default="cortex-a72,cortex-a76")
    args = ap.parse_args()

    from sportsedge.core.metrics import predicted
    from sportsedge.runtime import Classifier
    from sportsedge.runtime.golden import golden_inputs
    from sportsedge.runtime.imagesets import evenly_spaced, image_files, load_images

    files = list(image_files(args.images).images)
    files = evenly_spaced(files, args.count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clfs = [Classifier.load(m, threads=1) for m in args.models]
    print(
        "| model | format | CPU | max prob diff | scores differing | top-1 changed | max raw diff (images) "
        "| max raw diff (golden) | golden range | raw diff / range | bound |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model, clf in zip(args.models, clfs):
            pixels, _ = load_images(files, clf.input_size, "parity")
            golden_px = golden_inputs(clf.input_size, clf.metadata.golden.seed) if clf.metadata.golden else None
            if golden_px is not None:
                pixels = np.concatenate([pixels, golden_px])
            host, host_raw = clf.scores(pixels), clf.outputs(pixels)
            np.save(tmp / "pixels.npy", pixels)
            job = {"models": [str(model.resolve())], "pixels": str(tmp / "pixels.npy"), "out": str(tmp / "o.npz")}
            (tmp / "job.json").write_text(json.dumps(job))
            for cpu in args.cpus.split(","):
                proc = subprocess.run(
                    [str(ROOT / ".arm64" / "run"), str(ROOT / "tests" / "arm_worker.py"), str(tmp / "job.json")],
                    env={"QEMU_CPU": cpu, "PATH": "/usr/bin:/bin"},
                    capture_output=True,
                    text=True,
                )
                if proc.returncode:
                    sys.exit(f"{model}: the sandbox failed: {proc.stderr.strip().splitlines()[-1:]}")
                with np.load(tmp / "o.npz") as f:
                    arm, arm_raw = f["m0"], f["o0"]
                fmt = clf.metadata.format
                n = len(files)
                diff = np.abs(host.astype(np.float64) - arm)[:n]
                raw = np.abs(host_raw.astype(np.float64) - arm_raw)
                golden = clf.metadata.golden
                span = float(np.ptp(np.asarray(golden.scores))) if golden else float("nan")
                raw_golden = float(raw[n:].max()) if golden else float("nan")
                changed = int((predicted(host[:n]) != predicted(arm[:n])).sum())
                print(
                    f"| {clf.metadata.model_name} | {fmt} | {cpu} | {diff.max():.2e} | "
                    f"{int((diff > 0).sum())} of {diff.size} | {changed} of {n} | {raw[:n].max():.2e} | "
                    f"{raw_golden:.2e} | {span:.3g} | "
                    f"{max(raw[:n].max(), raw_golden if golden else 0) / span:.2%} | "
                    f"{golden.atol if golden else float('nan'):.2e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
