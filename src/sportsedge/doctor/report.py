"""doctor.md, doctor.html (self-contained: styles and the plot inline) and doctor.json."""

from __future__ import annotations

import base64
import html
import io
import math
import shlex
from dataclasses import asdict

from sportsedge.core.formats import FORMATS
from sportsedge.util import fileio


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _p50(row: dict) -> str:
    if not row.get("latency_ms_p50"):
        return "-"
    return f"{row['latency_ms_p50']:.2f} ms ({row['latency_ci_low']:.2f}-{row['latency_ci_high']:.2f})"


def _cost(d) -> str:
    plain, mixed = d.latency.get("plain", {}), d.latency.get("mixed", {})
    if not plain.get("latency_ms_p50") or not mixed.get("latency_ms_p50"):
        return "not measured"
    ratio = mixed["latency_ms_p50"] / plain["latency_ms_p50"]
    overlap = (
        mixed["latency_ci_low"] <= plain["latency_ci_high"] and plain["latency_ci_low"] <= mixed["latency_ci_high"]
    )
    return f"{100 * (ratio - 1):+.1f}% p50 ({_p50(mixed)} against {_p50(plain)}){', within noise' if overlap else ''}"


def agreement_warning(d, min_agreement: float | None = None) -> str:
    """A top-1 budget cannot see int8 changing answers when the float model is often wrong anyway
    (an 11%-top-1 model measured here met it at 57% agreement): say so where the kept file agrees
    with float less than the search's floor (``min_agreement``, else export's parity floor for the
    format)."""
    kept = d.report["mixed int8" if d.float_layers else "plain int8"]
    floor = FORMATS[d.format].min_agreement if min_agreement is None else min_agreement
    if kept.agreement >= floor:
        return ""
    return (
        f"; but it agrees with float on only {_pct(kept.agreement)}% of the report images (export fails "
        f"below {_pct(floor)}%): top-1 points cannot see the damage at this float accuracy; try export's "
        "int16 remedy or QAT"
    )


def command(cfg, d) -> str:
    fmt_flag = "--formats " + d.format
    layers = f" --float-layers {shlex.quote(','.join(d.float_layers))}" if d.float_layers else ""
    return f"sportsedge export {shlex.quote(cfg.model)} --out exports {fmt_flag}{layers}"


def markdown(cfg, source, found, rule: str) -> str:
    lines = [f"# sportsedge doctor: {source.name}", ""]
    for d in found:
        r = d.report
        lost = 100 * (r["float"].top1 - r["plain int8"].top1)
        if d.float_layers:
            answer = (
                f"plain {d.format} loses {lost:.1f} points; keeping {len(d.float_layers)} layer(s) float "
                f"({', '.join(d.float_layers)}) reaches {_pct(r['mixed int8'].top1)}% top-1 "
                f"against float's {_pct(r['float'].top1)}%, at {_cost(d)}"
            )
            if not d.met:
                answer += " (the whole shortlist: no prefix of it met the budget on the search images)"
        else:
            answer = f"plain {d.format} meets the {cfg.max_drop:g}-point budget: no layer needs to stay float"
        answer += agreement_warning(d, cfg.min_agreement)
        lines += [f"## {d.format}", "", f"**{answer}**", "", "What to do:", "", "```bash", command(cfg, d), "```", ""]
        lines += [
            "| on the report images | top-1 % | top-5 % | agreement with float % |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [f"| {k} | {_pct(s.top1)} | {_pct(s.top5)} | {_pct(s.agreement)} |" for k, s in r.items()]
        if d.worst_classes:
            lines += [
                "",
                "Classes plain int8 hurts most: "
                + ", ".join(f"{c} ({_pct(f)}% -> {_pct(i)}%)" for c, f, i in d.worst_classes),
            ]
        lines += [
            "",
            f"Culprits, most harmful first ({'budget met' if d.met else 'budget NOT met'} on the search "
            f"images, {d.candidates} candidates measured, {d.seconds:g} s):",
            "",
        ]
        lines += [
            "| rank | layer | op | error | KL alone float | agreement alone float % | drop alone (points) |",
            "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {i} | `{la.name}` | {la.op} | {la.error:.2f} | {s.kl:.4f} | {_pct(s.agreement)} | {s.drop:.1f} |"
            for i, (la, s) in enumerate(d.ranked, 1)
        ]
        total = sum(la.macs for la in d.layers) or 1
        lines += [
            "",
            "Every quantized layer, in graph order:",
            "",
            "| layer | op | SNR dB | RMSE (steps) | MACs % | latency % |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for la in d.layers:
            rmse = "-" if la.rmse_steps is None else f"{la.rmse_steps:.2f}"
            share = "-" if la.latency_share is None else f"{100 * la.latency_share:.1f}"
            lines.append(
                f"| `{la.name}` | {la.op} | {_db(la.snr_db)} | {rmse} | {100 * la.macs / total:.1f} | {share} |"
            )
        lines.append("")
    lines += [
        "## How to read it",
        "",
        f"Ranking rule: {rule}.",
        "",
        f"Images: {cfg.data}; the search measured its candidates on one part and every figure above "
        "comes from the other part. Error: TFLite, RMSE of each op's own int8 output in quantization "
        "steps (TensorFlow's QuantizationDebugger, each op fed the same int8 input); ONNX, SQNR lost "
        "across the layer in onnxruntime's activation matching (which accumulates). Latency: one bench "
        f"run of plain against mixed, {cfg.threads} thread(s), p50 with its 95% interval.",
        "",
    ]
    return "\n".join(lines)


def _plot(found) -> str:
    """Error along depth with MACs beside it, per family, as an inline PNG (empty without matplotlib)."""
    try:
        from sportsedge.util.figures import pyplot

        plt = pyplot()
    except Exception:  # no matplotlib on this install: the tables say it all
        return ""
    fig, axes = plt.subplots(len(found), 1, figsize=(9, 3.2 * len(found)), squeeze=False)
    for ax, d in zip(axes[:, 0], found, strict=True):
        x = range(len(d.layers))
        ax.plot(x, [la.error for la in d.layers], marker="o", color="tab:red", label="quantization error")
        ax.set_ylabel("error", color="tab:red")
        ax.set_title(f"{d.format}: error along depth (bars: MACs)")
        twin = ax.twinx()
        twin.bar(x, [la.macs for la in d.layers], alpha=0.25, color="tab:blue")
        twin.set_ylabel("MACs", color="tab:blue")
        ax.set_xticks(list(x))
        ax.set_xticklabels([la.name[-18:] for la in d.layers], rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _html(md: str, plot: str) -> str:
    """The Markdown's tables and paragraphs as plain HTML, the plot inline: opens offline."""
    body, table = [], []
    code = False  # inside a ``` block: the export command, wrapped (a layer list has no spaces to break at)
    for line in md.splitlines() + [""]:
        if line.startswith("```"):
            code = not code
            continue
        if code:
            body.append(f"<pre><code>{html.escape(line)}</code></pre>")
            continue
        if line.startswith("|"):
            cells = [html.escape(c.strip().strip("`")) for c in line.strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                table.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.startswith("**"):
            body.append(f"<p><b>{html.escape(line.strip('*'))}</b></p>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    img = f'<img alt="error along depth" src="data:image/png;base64,{plot}">' if plot else ""
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
        "td{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        "pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5em}"
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>sportsedge doctor</title><style>{style}</style>"
        + "\n".join(body)
        + img
    )


def _db(snr: float | None) -> str:
    """An SNR cell: the two infinities in words (int8 exact; a float output of zeros)."""
    if snr is None:
        return "-"
    return "exact" if snr == float("inf") else "no signal" if snr == float("-inf") else f"{snr:.1f}"


def _finite(layer) -> dict:
    """A Layer as JSON: an infinite SNR as null with its reason (JSON has no infinity)."""
    row = asdict(layer)
    if row["snr_db"] is not None and not math.isfinite(row["snr_db"]):
        row["snr_db"], row["snr_note"] = None, _db(row["snr_db"])
    return row


def as_json(d) -> dict:
    """A Diagnosis (doctor/run.py) as JSON."""
    return {
        **{k: v for k, v in asdict(d).items() if k not in ("layers", "ranked", "report")},
        "layers": [_finite(la) for la in d.layers],
        "ranked": [{"layer": la.name, **asdict(s)} for la, s in d.ranked],
        "report": {k: asdict(v) for k, v in d.report.items()},
    }


def write_report(out, cfg, source, found, rule: str) -> None:
    md = markdown(cfg, source, found, rule)
    fileio.write_text(out / "doctor.md", md)
    fileio.write_text(out / "doctor.html", _html(md, _plot(found)))
    fileio.write_json(out / "doctor.json", {"model": cfg.model, "rule": rule, "families": [as_json(d) for d in found]})
