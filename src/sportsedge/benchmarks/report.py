"""results.json / results.csv / results.md and the one-line recommendation."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .. import fileio

FIELDS = (
    "model",
    "format",
    "path",
    "size_bytes",
    "threads",
    "load_ms",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_mean",
    "e2e_ms_p50",
    "e2e_camera_ms_p50",
    "video_fps",
    "images_per_s",
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
    ("load ms", "load_ms", "{:.0f}"),
    ("p50 ms", "latency_ms_p50", "{:.2f}"),
    ("p90 ms", "latency_ms_p90", "{:.2f}"),
    ("p99 ms", "latency_ms_p99", "{:.2f}"),
    ("e2e p50 ms", "e2e_ms_p50", "{:.2f}"),
    ("12MP e2e ms", "e2e_camera_ms_p50", "{:.1f}"),
    ("video fps", "video_fps", "{:.0f}"),
    ("img/s", "images_per_s", "{:.1f}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ("top-1 %", "top1", "{:.1f}"),
    ("top-5 %", "top5", "{:.1f}"),
    ("macro-F1", "macro_f1", "{:.3f}"),
    ("agree vs fp32 %", "agreement_vs_fp32", "{:.1f}"),
    ("top-5 overlap %", "top5_overlap_vs_fp32", "{:.1f}"),
)
_PERCENT = {"top1", "top5", "agreement_vs_fp32", "top5_overlap_vs_fp32"}


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key == "size_bytes":
        value = value / 1e6
    elif key in _PERCENT:
        value = 100 * value
    return fmt.format(value)


def table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, formatted cells) of the benchmark table."""
    return [h for h, _, _ in _MD], [[_cell(r, k, f) for _, k, f in _MD] for r in rows]


def markdown_table(head: list[str], body: list[list[str]], right_from: int = 0) -> str:
    rule = ["---:" if i >= right_from and right_from else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(rule) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"


def markdown(rows: list[dict]) -> str:
    return markdown_table(*table(rows), right_from=2)


def recommended(rows: list[dict], within: float = 0.01) -> dict | None:
    """The fastest row within ``within`` of the best top-1 (None without accuracy figures)."""
    scored = [r for r in rows if r.get("top1") is not None]
    if not scored:
        return None
    best = max(r["top1"] for r in scored)
    return min((r for r in scored if r["top1"] >= best - within), key=lambda r: r["latency_ms_p50"])


def recommendation(rows: list[dict], within: float = 0.01) -> str:
    pick = recommended(rows, within)
    if pick is None:
        return "no accuracy figures: nothing to recommend"
    best = max(r["top1"] for r in rows if r.get("top1") is not None)
    return (
        f"Fastest within {100 * within:.0f} point of the best top-1 ({100 * best:.1f}%): {pick['model']} "
        f"{pick['format']} at {pick['threads']} thread(s), p50 {pick['latency_ms_p50']:.2f} ms, "
        f"top-1 {100 * pick['top1']:.1f}%, {pick['size_bytes'] / 1e6:.2f} MB ({Path(pick['path']).name})"
    )


def write(out: Path, rows: list[dict], meta: dict) -> str:
    """Writes results.json, results.csv and results.md; returns the Markdown."""
    fileio.write_json(out / "results.json", {**meta, "rows": rows})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    fileio.write_text(out / "results.csv", buf.getvalue())
    env = meta.get("environment", {})
    md = markdown(rows)
    note = (
        f"\n{recommendation(rows)}\n\nData: `{meta.get('data')}` ({rows[0]['n_images'] if rows else 0} images). "
        f"Machine: {env.get('cpu')} ({env.get('cores')} cores), {env.get('platform')}. "
        f"Commit: {env.get('git_commit')}. Latency: batch 1, {meta.get('runs')} timed runs after "
        f"{meta.get('warmup')} warm-up, each artifact in a fresh process.\n"
    )
    fileio.write_text(out / "results.md", md + note)
    return md
