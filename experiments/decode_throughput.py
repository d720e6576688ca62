"""Images per second through decode + inference on a folder, one after the other in this process
(what `predict` did before the decoder pool) against `predict`'s way now (runtime/folder.py: the
decoder pool decoding ahead, one interpreter per free core), in one run, alternating, several rounds.

    .venv/bin/python experiments/decode_throughput.py [--model sports100] [--data ../shared/data/sports100-dev/valid]
        [--rounds 5] [--threads 1] [--decoders 2] [--workers N] [--profile]

The model runs at --threads engine threads; the two ways alternate round by round so drift in the
machine's speed falls on both. --profile prints where the sequential way's time goes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from sportsedge.runtime import Classifier
from sportsedge.runtime.decoder import DecodeLimits, DecoderPool
from sportsedge.runtime.folder import classify_all, default_workers, interpreters
from sportsedge.runtime.imagesets import image_files
from sportsedge.runtime.preprocess import load_pixels_here


def sequential(clf: Classifier, paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        clf.scores(load_pixels_here(p, clf.input_size)[None])
    return len(paths) / (time.perf_counter() - t0)


def pooled(classifiers: list[Classifier], paths: list[Path], pool: DecoderPool) -> float:
    t0 = time.perf_counter()
    for scores in classify_all(classifiers, paths, pool):
        assert not isinstance(scores, Exception), scores
    return len(paths) / (time.perf_counter() - t0)


def profile(clf: Classifier, paths: list[Path]) -> None:
    decode = infer = 0.0
    for p in paths:
        t0 = time.perf_counter()
        px = load_pixels_here(p, clf.input_size)
        t1 = time.perf_counter()
        clf.scores(px[None])
        decode, infer = decode + t1 - t0, infer + time.perf_counter() - t1
    n = len(paths)
    print(f"sequential, per image: decode + resize {1000 * decode / n:.2f} ms, inference {1000 * infer / n:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="sports100")
    ap.add_argument("--data", default="../shared/data/sports100-dev/valid")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--decoders", type=int, default=DecodeLimits.processes)
    ap.add_argument("--workers", type=int, default=None, help="interpreters (default: predict's)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    clf = Classifier.load(args.model, threads=args.threads)
    paths = list(image_files(Path(args.data)).images)
    pool = DecoderPool(DecodeLimits(processes=args.decoders))
    workers = args.workers or default_workers(args.threads)
    classifiers = interpreters(clf, workers, args.threads)
    pooled(classifiers, paths[:20], pool)  # start the decoders and warm the engines
    if args.profile:
        profile(clf, paths)
    seq, par = [], []
    for _ in range(args.rounds):
        seq.append(sequential(clf, paths))
        par.append(pooled(classifiers, paths, pool))
    pool.close()
    ratio = statistics.median(p / s for p, s in zip(par, seq))
    setup = f"{workers} interpreter(s) at {args.threads} thread(s), {args.decoders} decoders"
    print(f"{len(paths)} images, {args.model}: {setup}")
    print(f"sequential (before): median {statistics.median(seq):.1f} img/s  {[round(x, 1) for x in seq]}")
    print(f"decoder pool (after): median {statistics.median(par):.1f} img/s  {[round(x, 1) for x in par]}")
    print(f"after / before, paired by round: median {ratio:.2f}x")


if __name__ == "__main__":
    main()
