"""pareto.png: latency against top-1, one colour per model, one marker per format, area by size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sportsedge.core.records import BenchRow
from sportsedge.util.figures import pyplot, save_png

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both lower latency and higher accuracy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


@dataclass(frozen=True)
class ParetoView:
    """What pareto.png draws, computed apart from matplotlib so it can be checked."""

    points: list[BenchRow]  # one row per artifact: its best thread count
    front: list[BenchRow]  # the points no other beats on both latency and top-1, fastest first
    pick: BenchRow | None  # the recommended row (report.recommended), None without accuracy figures
    xlim: tuple[float, float]  # latency axis (log): every point inside, with a margin
    ylim: tuple[float, float]  # top-1 axis (%): every point inside, with a margin


def pareto_view(rows: list[BenchRow]) -> ParetoView:
    from sportsedge.bench.report import recommended

    best: dict[str, BenchRow] = {}
    for r in rows:
        if r.get("top1") is not None and (
            r["path"] not in best or r["latency_ms_p50"] < best[r["path"]]["latency_ms_p50"]
        ):
            best[r["path"]] = r
    pts = list(best.values())
    front = [pts[i] for i in pareto_front([(r["latency_ms_p50"], r["top1"]) for r in pts])]
    lat = [r["latency_ms_p50"] for r in pts] or [1.0]
    acc = [100 * r["top1"] for r in pts] or [0.0]
    pad = max(2.0, 0.08 * (max(acc) - min(acc)))
    return ParetoView(
        points=pts,
        front=front,
        pick=recommended(rows),
        xlim=(min(lat) / 1.3, max(lat) * 1.3),
        ylim=(max(0.0, min(acc) - pad), min(102.0, max(acc) + pad)),
    )


def pareto_plot(rows: list[BenchRow], path: Path) -> None:
    plt = pyplot("pareto.png")
    from matplotlib.ticker import FormatStrFormatter

    view = pareto_view(rows)
    pts = view.points
    models = sorted({r["model"] for r in pts})
    formats = sorted({r["format"] for r in pts})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=(9, 6))
    for r in pts:
        ax.scatter(
            r["latency_ms_p50"],
            100 * r["top1"],
            s=40 + 40 * r["size_bytes"] / 1e6,
            alpha=0.75,
            color=colours[models.index(r["model"]) % len(colours)],
            marker=MARKERS[formats.index(r["format"]) % len(MARKERS)],
            edgecolors="black",
            linewidths=0.5,
        )
    # The front: a dashed line through it, and a ring on each of its points (so one point shows too).
    fx, fy = [r["latency_ms_p50"] for r in view.front], [100 * r["top1"] for r in view.front]
    ax.plot(fx, fy, "k--", lw=1, marker="o", markersize=15, markerfacecolor="none", label="Pareto front")
    if view.pick is not None:
        x, y = view.pick["latency_ms_p50"], 100 * view.pick["top1"]
        ax.scatter([x], [y], marker="*", s=320, color="gold", edgecolors="black", zorder=5, label="recommended")
        ax.annotate("recommended", (x, y), xytext=(8, -14), textcoords="offset points", fontsize=8)
    for m in models:
        ax.scatter([], [], color=colours[models.index(m) % len(colours)], label=m)
    for f in formats:
        ax.scatter([], [], color="grey", marker=MARKERS[formats.index(f) % len(MARKERS)], label=f)
    ax.set_xscale("log")
    ax.set_xlim(*view.xlim)
    ax.set_ylim(*view.ylim)
    for axis_formatter in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
        axis_formatter(FormatStrFormatter("%g"))  # plain 2, 3, 5 ms rather than 2x10^0
    ax.set_xlabel("latency p50, batch 1 (ms, log scale; best thread count)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Latency vs accuracy (marker area ~ file size)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_png(fig, path, dpi=110)
