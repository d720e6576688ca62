"""results.json / results.csv / results.md and the one-line recommendation."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sportsedge.bench.stats import from_row, slower_beyond_noise
from sportsedge.core.formats import family_of
from sportsedge.core.records import BenchRow
from sportsedge.util import fileio

# The tie rule's first key: fewer runtime dependencies. LiteRT is one wheel (and tflite-runtime
# on 32-bit ARM); ONNX Runtime has no 32-bit ARM wheels; anything else (a Keras row: TensorFlow) last.
RUNTIME_ORDER = ("tflite", "onnx")
TIE_RULE = "fewer runtime dependencies (LiteRT, then ONNX Runtime), then smaller file, then fewer threads"

FIELDS = (
    "model",
    "format",
    "path",
    "size_bytes",
    "macs",
    "float_layers",
    "threads",
    "load_ms",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_mean",
    "latency_ci_low",
    "latency_ci_high",
    "latency_spread",
    "stable",
    "no_thread_gain",
    "rounds",
    "litert_p50_ms",
    "e2e_ms_p50",
    "e2e_camera_ms_p50",
    "video_fps",
    "throughput_img_s",
    "throughput_files_img_s",
    "throughput_shared_img_s",
    "peak_rss_mb",
    "top1",
    "top5",
    "macro_f1",
    "agreement_vs_fp32",
    "top5_overlap_vs_fp32",
    "n_images",
)

_MD = (
    ("model", "model", "{}"),
    ("format", "format", "{}"),
    ("threads", "threads", "{}"),
    ("size MB", "size_bytes", "{:.2f}"),
    ("MMACs", "macs", "{:.0f}"),
    ("load ms", "load_ms", "{:.0f}"),
    ("p50 ms (95% CI)", "latency_ms_p50", "{:.2f}"),
    ("p90 ms", "latency_ms_p90", "{:.2f}"),
    ("p99 ms", "latency_ms_p99", "{:.2f}"),
    ("e2e p50 ms", "e2e_ms_p50", "{:.2f}"),
    ("12MP e2e ms", "e2e_camera_ms_p50", "{:.1f}"),
    ("video fps", "video_fps", "{:.0f}"),
    ("img/s", "throughput_img_s", "{:.1f}"),
    ("files/s", "throughput_files_img_s", "{:.1f}"),
    ("LiteRT p50 ms", "litert_p50_ms", "{:.2f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("top-1 %", "top1", "{:.1f}"),
    ("top-5 %", "top5", "{:.1f}"),
    ("macro-F1", "macro_f1", "{:.3f}"),
    ("agree vs fp32 %", "agreement_vs_fp32", "{:.1f}"),
    ("top-5 overlap %", "top5_overlap_vs_fp32", "{:.1f}"),
)
_PERCENT = {"top1", "top5", "agreement_vs_fp32", "top5_overlap_vs_fp32"}


LEGEND = (
    "p50: median of the rounds' medians +- the half-width of its 95% bootstrap interval over rounds; "
    "~ = unstable (half-width over 5% of p50); "
    "+ = more threads not faster than 1 thread beyond noise; img/s: measured, N classifiers in N threads; "
    "MMACs: millions of multiply-accumulates per inference, counted from the .tflite graph (ONNX: its model's)."
)


def _cell(row: Mapping[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key == "latency_ms_p50":
        ci = from_row(row)
        text = fmt.format(value) if ci is None else f"{value:.2f} ± {ci.half_width:.2f}"
        return text + ("~" if ci is not None and not ci.stable else "") + ("+" if row.get("no_thread_gain") else "")
    if key in ("size_bytes", "macs"):
        value = value / 1e6
    elif key in _PERCENT:
        value = 100 * value
    return fmt.format(value)


def table(rows: list[BenchRow]) -> tuple[list[str], list[list[str]]]:
    """(header, formatted cells) of the benchmark table."""
    return [h for h, _, _ in _MD], [[_cell(r, k, f) for _, k, f in _MD] for r in rows]


def markdown_table(head: list[str], body: list[list[str]], right_from: int = 0) -> str:
    rule = ["---:" if i >= right_from and right_from else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(rule) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"


def markdown(rows: list[BenchRow]) -> str:
    return markdown_table(*table(rows), right_from=2)


# The terminal's table: what picks an artifact, within 120 columns; --wide (and results.md) has all.
_TERMINAL = (
    "model",
    "format",
    "threads",
    "size MB",
    "p50 ms (95% CI)",
    "img/s",
    "peak RSS MB",
    "top-1 %",
    "agree vs fp32 %",
)
_SHORT = {"threads": "thr", "size MB": "MB", "p50 ms (95% CI)": "p50 ms", "peak RSS MB": "RSS MB", "top-1 %": "top-1",
          "agree vs fp32 %": "agree"}  # fmt: skip


def terminal_table(rows: list[BenchRow]) -> str:
    """The benchmark table for a terminal: aligned columns, at most ~120 characters a row."""
    keep = [(h, k, f) for h, k, f in _MD if h in _TERMINAL]
    head = [_SHORT.get(h, h) for h, _, _ in keep]
    body = [[_cell(r, k, f) for _, k, f in keep] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    left = 2  # model and format read left to right; numbers line up on the right

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(head), *map(line, body)]) + "\n"


def _tie_key(row: BenchRow) -> tuple:
    family = family_of(row["path"])
    rank = RUNTIME_ORDER.index(family) if family in RUNTIME_ORDER else len(RUNTIME_ORDER)
    return (rank, row["size_bytes"], row["threads"], row["latency_ms_p50"])


def tied(rows: list[BenchRow], within: float = 0.01) -> list[BenchRow]:
    """Rows within ``within`` of the best top-1 that are not slower than the fastest of them beyond
    noise (stats.slower_beyond_noise), in tie-rule order (the first is the pick); empty without
    accuracy figures."""
    scored = [r for r in rows if r.get("top1") is not None]
    if not scored:
        return []
    best = max(r["top1"] for r in scored)
    candidates = [r for r in scored if r["top1"] >= best - within]
    fastest = min(candidates, key=lambda r: r["latency_ms_p50"])
    return sorted((r for r in candidates if not slower_beyond_noise(r, fastest)), key=_tie_key)


def recommended(rows: list[BenchRow], within: float = 0.01) -> BenchRow | None:
    """The recommended row: fastest within ``within`` of the best top-1, ties within noise broken by
    TIE_RULE (None without accuracy figures)."""
    ties = tied(rows, within)
    return ties[0] if ties else None


def _p50(r: BenchRow) -> str:
    ci = from_row(r)
    return f"{r['latency_ms_p50']:.2f}" + (f" ± {ci.half_width:.2f}" if ci else "")


def _describe(r: BenchRow) -> str:
    return f"{Path(r['path']).name} at {r['threads']} thread(s) (p50 {_p50(r)} ms)"


def _answer(r: BenchRow) -> str:
    """The recommendation's first line: artifact, threads, p50 with its interval, top-1 (~120 chars)."""
    p50 = _p50(r)
    top1 = "" if r.get("top1") is None else f", top-1 {100 * r['top1']:.1f}%"
    return f"recommended: {Path(r['path']).name}, {r['threads']} thread(s), p50 {p50} ms{top1}"


def recommendation(rows: list[BenchRow], within: float = 0.01) -> str:
    """The answer first (one line, the artifact to use), then why, and the ties, on the lines below."""
    ties = tied(rows, within)
    if not ties:
        timed = [r for r in rows if r.get("latency_ms_p50") is not None]
        if not timed:
            return "no accuracy figures: nothing to recommend"
        fastest = min(timed, key=lambda r: r["latency_ms_p50"])
        why = f"  Fastest (no accuracy figures: unlabelled images): {fastest['model']} {fastest['format']}"
        return f"{_answer(fastest)}\n{why}"
    pick = ties[0]
    best = max(r["top1"] for r in rows if r.get("top1") is not None)
    fastest = min(ties, key=lambda r: r["latency_ms_p50"])
    near = f"within {100 * within:.0f} point of the best top-1 ({100 * best:.1f}%)"
    picked = f"{pick['model']} {pick['format']}, {pick['size_bytes'] / 1e6:.2f} MB"
    if fastest is pick:
        why = f"  Fastest {near}: {picked}"
    else:  # the tie rule chose among files the timing cannot tell apart: say so, and name the fastest
        why = (
            f"  Tied within noise {near}: the tie rule picked {picked}\n"
            f"  (not the fastest: {fastest['model']} {fastest['format']} at p50 {_p50(fastest)} ms)"
        )
    lines = [_answer(pick), *why.splitlines()]
    scores = {r["top1"] for r in rows if r.get("top1") is not None}
    if len(scores) == 1 and len({r["model"] for r in rows}) > 1:  # e.g. the demo's easy scenes
        lines.append(
            f"  every artifact scores {100 * best:.1f}% top-1 here: these images saturate accuracy and do not "
            "separate the models; the trade-off shown is latency and size"
        )
    if len(ties) > 1:
        lines += ["  tie within noise between:", *(f"    {_describe(r)}" for r in ties), f"  broken by {TIE_RULE}"]
    return "\n".join(lines)


def recommendation_markdown(text: str) -> str:
    """The recommendation as Markdown: the answer in bold, the lines below it as a (nested) list."""
    first, *rest = text.splitlines()
    items = [("  - " if line.startswith("    ") else "- ") + line.strip() for line in rest]
    return "\n".join([f"**{first}**", *items])


def flag_thread_scaling(rows: list[BenchRow]) -> None:
    """Marks rows where more threads is not faster than the same file at 1 thread beyond noise
    (``no_thread_gain``): XNNPACK and ONNX Runtime often gain nothing from a second thread on
    small boards and shared machines."""
    single = {r["path"]: r for r in rows if r["threads"] == 1}
    for r in rows:
        if r["threads"] > 1 and r["path"] in single:
            r["no_thread_gain"] = not slower_beyond_noise(single[r["path"]], r)


def write(out: Path, rows: list[BenchRow], meta: dict) -> str:
    """Writes results.json, results.csv and results.md; returns the Markdown."""
    fileio.write_json(out / "results.json", {**meta, "rows": rows})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({**r, "float_layers": ";".join(r.get("float_layers") or [])} for r in rows)  # a list: one cell
    fileio.write_text(out / "results.csv", buf.getvalue())
    env = meta.get("environment", {})
    md = markdown(rows)
    note = (
        f"\n{LEGEND}\n\nData: `{meta.get('data')}` "
        f"({rows[0]['n_images'] if rows else 0} images). "
        f"Machine: {env.get('cpu')} ({env.get('cores')} cores), {env.get('platform')}. "
        f"Commit: {env.get('git_commit')}. Latency: batch 1, {meta.get('runs')} timed runs per row in "
        f"{meta.get('rounds', 1)} interleaved rounds (each after {meta.get('warmup')} warm-up, in a fresh process).\n"
    )
    fileio.write_text(out / "results.md", recommendation_markdown(recommendation(rows)) + "\n\n" + md + note)
    return md
