"""`sportsedge bench --compare A/results.json B/results.json ...`: rows matched by model, format and
threads, side by side, with each file's ratio to the first and whether the difference is beyond
noise (the two 95% intervals do not overlap). How a Pi 4, a Pi 5 and a laptop, or two commits of
a model, are compared."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sportsedge.bench.report import markdown_table
from sportsedge.bench.stats import from_row
from sportsedge.core.errors import InputError, UsageError
from sportsedge.util import fileio

KEY = ("model", "format", "threads")


def load_results(paths: list[str | Path]) -> list[tuple[str, dict]]:
    """(name, results) per file; a name is its folder's (made unique when two share one)."""
    if len(paths) < 2:
        raise UsageError("--compare needs at least two results.json files")
    out: list[tuple[str, dict]] = []
    for raw in paths:
        p = Path(raw)
        p = p / "results.json" if p.is_dir() else p
        try:
            results = json.loads(p.read_text())
        except (OSError, ValueError) as err:
            raise InputError(p, f"not a readable results.json ({type(err).__name__})") from err
        if not isinstance(results, dict) or not isinstance(results.get("rows"), list):
            raise InputError(p, "not a sportsedge bench results.json (no rows)")
        name = p.parent.name or str(p)
        names = [n for n, _ in out]
        out.append((name if name not in names else f"{name}#{len(out) + 1}", results))
    return out


def compare_rows(named: list[tuple[str, dict]]) -> list[dict]:
    """One record per (model, format, threads) in any file (the first file's order, then rows only
    later files have), with every file's figures; "-" where a file lacks the row."""
    indexed = [(name, {tuple(r[k] for k in KEY): r for r in res["rows"]}) for name, res in named]
    base_name, base = indexed[0]
    keys = list(dict.fromkeys(key for _, rows in indexed for key in rows))
    records = []
    for key in keys:
        rec = dict(zip(KEY, key))
        ref = base.get(key)
        ref_ci = from_row(ref) if ref else None
        rec[base_name] = ref["latency_ms_p50"] if ref else None
        rec[f"{base_name} ±"] = ref_ci.half_width if ref_ci else None
        for name, rows in indexed[1:]:
            row = rows.get(key)
            if row is None:
                rec[name] = rec[f"{name} ±"] = rec[f"{name} ratio"] = rec[f"{name} beyond noise"] = None
                continue
            ci = from_row(row)
            rec[name] = row["latency_ms_p50"]
            rec[f"{name} ±"] = ci.half_width if ci else None
            rec[f"{name} ratio"] = row["latency_ms_p50"] / ref["latency_ms_p50"] if ref else None
            # Unknown without intervals on both sides (results from before rounds).
            rec[f"{name} beyond noise"] = None if ci is None or ref_ci is None else not ci.overlaps(ref_ci)
        records.append(rec)
    return records


def _fmt(value, plus=None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" ± {plus:.2f}" if plus is not None else "")


def markdown(named: list[tuple[str, dict]], records: list[dict]) -> str:
    names = [n for n, _ in named]
    head = ["model", "format", "threads", f"{names[0]} p50 ms"]
    for n in names[1:]:
        head += [f"{n} p50 ms", f"{n} / {names[0]}", "beyond noise?"]
    body = []
    for rec in records:
        cells = [rec["model"], rec["format"], str(rec["threads"]), _fmt(rec[names[0]], rec[f"{names[0]} ±"])]
        for n in names[1:]:
            noise = rec[f"{n} beyond noise"]
            verdict = "-" if rec[n] is None else "unknown" if noise is None else "yes" if noise else "no (within noise)"
            ratio = rec[f"{n} ratio"]
            cells += [_fmt(rec[n], rec[f"{n} ±"]), "-" if ratio is None else f"{ratio:.2f}x", verdict]
        body.append(cells)
    sources = "; ".join(
        f"{n}: {res.get('environment', {}).get('cpu', '?')}, commit {res.get('environment', {}).get('git_commit', '?')}"
        for n, res in named
    )
    return markdown_table(head, body, right_from=3) + f"\nSources: {sources}.\n"


def write_compare(named, records, out: Path | None) -> str:
    md = markdown(named, records)
    if out is not None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(records[0]) if records else list(KEY))
        writer.writeheader()
        writer.writerows(records)
        fileio.write_text(out / "compare.csv", buf.getvalue())
        fileio.write_text(out / "compare.md", md)
    return md
