"""`sportsedge data check` and `sportsedge data download` (TF-free)."""

from __future__ import annotations

import hashlib
import itertools
import shutil
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sportsedge.core.errors import MissingDependencyError, SportsedgeError, first_line
from sportsedge.runtime.imagesets import SPLITS, class_dirs, image_files, walk
from sportsedge.runtime.preprocess import MAX_PIXELS

KAGGLE_DATASET = "gpiosenka/sports-classification"


@dataclass
class CheckReport:
    root: Path
    errors: list[str] = field(default_factory=list)  # make the dataset unusable as it is
    warnings: list[str] = field(default_factory=list)  # worth knowing, not fatal
    summary: list[str] = field(default_factory=list)  # what was found
    classes: tuple[str, ...] = ()  # sorted class folders of the reference split
    counts: dict = field(default_factory=dict)  # split -> class -> images
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, same-content path) across splits


def _inspect(path: Path):
    """(mode, size) of a decodable image, or raise with the reason."""
    from PIL import Image

    with Image.open(path) as img:
        if img.size[0] * img.size[1] > MAX_PIXELS:
            raise ValueError(f"image too large ({img.size[0]}x{img.size[1]})")
        img.load()
        return img.mode, img.size


@dataclass
class _Scan:
    """What the walk over the images found, for the summary and the duplicate check."""

    hashes: dict[str, list[tuple[str, Path]]] = field(default_factory=lambda: defaultdict(list))  # sha256 -> places
    modes: Counter[str] = field(default_factory=Counter)  # Pillow mode -> images
    sizes: Counter[tuple[int, int]] = field(default_factory=Counter)  # (width, height) -> images
    other: int = 0  # non-image files ignored


def check_dataset(root: str | Path, decode: bool = True) -> CheckReport:
    """Validate a dataset folder in the Kaggle layout; never raises for problems in the data.

    Args:
        root: the folder holding train/, valid/ and optionally test/.
        decode: open every image (modes, sizes, unreadable files); False only hashes them.

    Returns:
        The report: errors, warnings, per-split counts, cross-split duplicates, a summary.
    """
    root = Path(root)
    rep = CheckReport(root)
    present = _splits(root, rep)
    if not present:
        return rep
    ref = "train" if "train" in present else present[0]
    rep.classes = tuple(class_dirs(root / ref))
    scan = _Scan()
    for split in present:
        _scan_split(root, split, ref, rep, scan, decode)
    _summarise(rep, scan, present)
    _cross_split_duplicates(rep, scan)
    return rep


def _splits(root: Path, rep: CheckReport) -> list[str]:
    """The splits present; the layout errors (not a folder, a single split, no train/) into ``rep``."""
    if not root.is_dir():
        rep.errors.append(f"{root}: not a folder")
        return []
    present = [s for s in SPLITS if (root / s).is_dir()]
    if not present and class_dirs(root):  # valid/ itself: class folders, no splits
        rep.classes = tuple(class_dirs(root))
        rep.errors.append(
            f"{root}: a single split ({len(rep.classes)} class folders), not a dataset: check the folder above it, "
            f"which holds train/ and valid/ ({root.resolve().parent})"
        )
        return []
    if "train" not in present:
        rep.errors.append(f"{root}: no train/ split (found: {', '.join(present) or 'nothing'})")
    return present


def _scan_split(root: Path, split: str, ref: str, rep: CheckReport, scan: _Scan, decode: bool) -> None:
    found = class_dirs(root / split)
    missing, extra = sorted(set(rep.classes) - set(found)), sorted(set(found) - set(rep.classes))
    if missing or extra:
        differ = [f"missing {missing[:5]}" if missing else "", f"extra {extra[:5]}" if extra else ""]
        rep.errors.append(f"{root / split}: class folders differ from {ref}/: " + "; ".join(x for x in differ if x))
    rep.counts[split] = {}
    for name in found:
        listing = image_files(root / split / name)
        scan.other += listing.other
        rep.counts[split][name] = len(listing.images)
        if not listing.images:
            rep.errors.append(f"{root / split / name}: no images")
        for p in listing.images:
            scan.hashes[hashlib.sha256(p.read_bytes()).hexdigest()].append((split, p))
            if not decode:
                continue
            try:
                mode, size = _inspect(p)
            except Exception as err:  # Pillow raises many types for broken files
                rep.errors.append(f"{p}: unreadable ({first_line(err)})")
                continue
            scan.modes[mode] += 1
            scan.sizes[size] += 1


def _summarise(rep: CheckReport, scan: _Scan, present: list[str]) -> None:
    for split in present:
        per = list(rep.counts[split].values())
        if per:
            spread = f"{min(per)}-{max(per)}" if min(per) != max(per) else f"{per[0]}"
            rep.summary.append(f"{split}: {len(per)} classes, {sum(per)} images, {spread} per class")
    modes, sizes = scan.modes, scan.sizes
    if modes:
        rep.summary.append("modes: " + ", ".join(f"{m} {n}" for m, n in modes.most_common()))
        common = sizes.most_common(1)[0][0]
        odd = sum(n for s, n in sizes.items() if s != common)
        rep.summary.append(
            f"sizes: {sizes[common]} at {common[0]}x{common[1]}" + (f", {odd} other sizes" if odd else "")
        )
        if set(modes) - {"RGB"}:
            rep.warnings.append(
                f"{sum(n for m, n in modes.items() if m != 'RGB')} images are not RGB "
                f"({', '.join(m for m in modes if m != 'RGB')}): converted to RGB when loaded"
            )
    if scan.other:
        rep.warnings.append(f"{scan.other} non-image files ignored")


def _cross_split_duplicates(rep: CheckReport, scan: _Scan) -> None:
    for group in scan.hashes.values():
        splits = {s for s, _ in group}
        if len(splits) > 1:
            first = group[0][1]
            rep.duplicates += [(str(p), str(first)) for s, p in group[1:] if s != group[0][0]]
    if rep.duplicates:
        rep.warnings.append(
            f"{len(rep.duplicates)} images are byte-identical to an image in another split "
            f"(e.g. {rep.duplicates[0][0]} = {rep.duplicates[0][1]}): they inflate eval scores"
        )


def print_report(rep: CheckReport, show_duplicates: int = 5) -> int:
    """Print a check report; returns the exit status (1 on errors)."""
    print(f"{rep.root}: {len(rep.classes)} classes")
    for line in rep.summary:
        print(f"  {line}")
    for line in rep.warnings:
        print(f"warning: {line}", file=sys.stderr)
    for a, b in rep.duplicates[:show_duplicates]:
        print(f"  duplicate: {a} = {b}")
    for line in rep.errors:
        print(f"error: {line}", file=sys.stderr)
    print("OK" if not rep.errors else f"{len(rep.errors)} error(s)")
    return 1 if rep.errors else 0


def check_cmd(args) -> int:
    return print_report(check_dataset(args.dir), args.show_duplicates)


def _kaggle_download() -> Path:
    try:
        import kagglehub
    except ImportError as err:
        raise MissingDependencyError("kagglehub", "data") from err
    try:
        return Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as err:  # network, auth and HTTP errors come in many types
        raise SportsedgeError(
            f"could not download {KAGGLE_DATASET} ({first_line(err)}); "
            "offline? download it elsewhere and pass its folder to --data"
        ) from err


def download(out: str | Path, fetch=_kaggle_download) -> Path:
    """Fetch the dataset, copy it to ``out`` (the folder holding train/ valid/ test/), check it."""
    out = Path(out)
    src = fetch()
    # kagglehub's folder may hold the splits directly or one level down.
    candidates = itertools.chain([src], walk(src, files=False, dirs=True))
    root = next((c for c in candidates if (c / "train").is_dir()), None)
    if root is None:
        raise SportsedgeError(f"{src}: downloaded, but no train/ folder inside")
    if out.exists() and any(out.iterdir()):
        raise SportsedgeError(f"{out}: exists and is not empty; choose another --out")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(root, tmp, ignore=shutil.ignore_patterns("*.csv", "*.h5"))
    if out.exists():
        out.rmdir()  # empty, checked above
    tmp.replace(out)
    return out


def download_cmd(args) -> int:
    out = download(args.out)
    print(f"downloaded to {out}")
    return print_report(check_dataset(out))
