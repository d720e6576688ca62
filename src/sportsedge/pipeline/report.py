"""report.md and report.html: the seed deck's model comparison, then the benchmark and a decision.

Every number is read from the files the stages wrote (runs/*/eval-*/metrics.json, history.json,
bench/results.json), so the report cannot disagree with them. The HTML embeds its images.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from sportsedge.bench.report import markdown, markdown_table, recommendation, recommendation_markdown, table
from sportsedge.train.config import RunRecord
from sportsedge.util import fileio
from sportsedge.util.figures import pyplot, save_png


def _load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def gather(out: Path, models: list[str], eval_split: str) -> dict:
    rows = []
    for m in models:
        run = out / "runs" / m
        rec = RunRecord.load(run) if (run / "config.json").is_file() else None
        hist = _load(run / "history.json") or {}
        rows.append(
            {
                "model": m,
                "valid": _load(run / "eval-valid" / "metrics.json"),
                "eval": _load(run / f"eval-{eval_split}" / "metrics.json"),
                "epochs": len(hist.get("loss", [])),
                "fit_seconds": rec
                and (rec.train_wall_seconds if rec.train_wall_seconds is not None else rec.fit_seconds),
                "weights": rec and rec.weights,
                "input": rec and rec.input_size[0],
                "stages": rec.stages if rec else [],
                "history": hist,
            }
        )
    return {"models": rows, "eval_split": eval_split, "bench": _load(out / "bench" / "results.json")}


def comparison_plot(models: list[dict], path: Path) -> None:
    """Training/validation loss and accuracy curves of all models side by side."""
    plt = pyplot("the report's training curves")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, m in enumerate(models):
        colour = f"C{i}"
        h = m["history"]
        for ax, key in zip(axes, ("loss", "accuracy")):
            ep = range(1, len(h.get(key, [])) + 1)
            ax.plot(ep, h.get(key, []), color=colour, label=f"{m['model']} training")
            ax.plot(ep, h.get(f"val_{key}", []), color=colour, linestyle="--", label=f"{m['model']} validation")
    for ax, name in zip(axes, ("Loss", "Accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"Training and validation {name.lower()}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_png(fig, path)


def _pct(metrics, key):
    return f"{100 * metrics[key]:.1f}" if metrics and metrics.get(key) is not None else "-"


def _model_table(data: dict) -> tuple[list[str], list[list[str]]]:
    split = data["eval_split"]
    both = split != "valid"  # with no test/, valid/ is the evaluation split: one column, not two
    head = (
        ["model", "input px", "weights", "epochs", "train s"]
        + (["valid top-1 %"] if both else [])
        + [f"{split} top-1 %", f"{split} top-5 %", f"{split} macro-F1", f"{split} images"]
    )
    body = []
    for m in data["models"]:
        ev = m["eval"]
        body.append(
            [
                m["model"],
                str(m["input"] or "-"),
                str(m["weights"]),
                str(m["epochs"]),
                f"{m['fit_seconds']:.0f}" if m["fit_seconds"] is not None else "-",
            ]
            + ([_pct(m["valid"], "top1")] if both else [])
            + [_pct(ev, "top1"), _pct(ev, "top5"), f"{ev['macro_f1']:.3f}" if ev else "-", str(ev["n"]) if ev else "-"]
        )
    return head, body


def _stage_table(stages: list[dict]) -> tuple[list[str], list[list[str]]]:
    """A two-stage run's stages: what trained, how long, at which learning rate."""
    head = ["stage", "trainable", "epochs", "learning rate", "batch", "caching s", "fit s"]
    body = [
        [
            s["name"],
            s.get("trainable", "-"),
            str(s["epochs"]),
            f"{s['learning_rate']:g}" + (f" ({s['schedule']})" if "schedule" in s else ""),
            str(s.get("batch_size", "-")),
            f"{s.get('data_seconds', 0):.0f}",
            f"{s.get('fit_seconds', 0):.0f}",
        ]
        for s in stages
    ]
    return head, body


def _html_table(head, body) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    if not path.is_file():
        return f"<p><em>{html.escape(alt)}: not available</em></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(out: Path, models: list[str], eval_split: str) -> dict:
    out = Path(out)
    data = gather(out, models, eval_split)
    comparison_plot(data["models"], out / "comparison.png")
    head, body = _model_table(data)
    rows = data["bench"]["rows"] if data["bench"] else []
    rec = (recommendation(rows) if rows else "no benchmark results").splitlines()
    md = [
        "# sportsedge report",
        "",
        recommendation_markdown("\n".join(rec)),  # the answer first
        "",
        f"Evaluation split: `{eval_split}/`.",
        "",
        "## Models",
        "",
        markdown_table(head, body, right_from=2),
        "![training curves](comparison.png)",
        "",
    ]
    for m, row in zip(models, data["models"]):
        ev = f"runs/{m}/eval-{eval_split}"
        md += [f"### {m}", ""]
        if len(row["stages"]) > 1:
            md += [markdown_table(*_stage_table(row["stages"]), right_from=2), ""]
        md += [
            f"Per-class report: [{ev}/report.txt]({ev}/report.txt) "
            f"([json]({ev}/report.json)); confusion matrix: [{ev}/confusion_matrix.png]({ev}/confusion_matrix.png).",
            "",
            f"![misclassified {m}]({ev}/misclassified.png)",
            "",
        ]
    md += [
        "## Benchmark",
        "",
        markdown(rows) if rows else "no benchmark results",
        "",
        "![latency vs accuracy](bench/pareto.png)",
        "",
    ]
    fileio.write_text(out / "report.md", "\n".join(md))
    parts = [
        "<h1>sportsedge report</h1>",
        f"<p><strong>{html.escape(rec[0])}</strong></p>",
        "".join(f"<p>{html.escape(line.strip())}</p>" for line in rec[1:]),
        f"<p>Evaluation split: <code>{html.escape(eval_split)}/</code></p>",
        "<h2>Models</h2>",
        _html_table(head, body),
        _img(out / "comparison.png", "training curves"),
    ]
    for m, row in zip(models, data["models"]):
        ev_dir = out / "runs" / m / f"eval-{eval_split}"
        parts.append(f"<h3>{html.escape(m)}</h3>")
        if len(row["stages"]) > 1:
            parts.append(_html_table(*_stage_table(row["stages"])))
        parts += [
            f'<p>Per-class report: <a href="runs/{m}/eval-{eval_split}/report.txt">report.txt</a></p>',
            _img(ev_dir / "misclassified.png", f"misclassified {m}"),
            _img(ev_dir / "confusion_matrix.png", "confusion"),
        ]
    if rows:
        parts += ["<h2>Benchmark</h2>", _html_table(*table(rows)), _img(out / "bench" / "pareto.png", "pareto")]
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}"
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>sportsedge report</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    fileio.write_text(out / "report.html", page)
    return data
