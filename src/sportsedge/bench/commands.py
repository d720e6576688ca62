"""Handler of `sportsedge bench`."""

from __future__ import annotations

from pathlib import Path

from sportsedge.util.progress import say


def bench_config(args):
    """The BenchConfig of `bench` or `pipeline` arguments (options a command lacks keep their defaults)."""
    from sportsedge.bench.config import BenchConfig
    from sportsedge.core.options import from_args

    return from_args(BenchConfig, args)


def bench_cmd(args) -> int:
    from sportsedge.bench.report import markdown, recommendation, terminal_table
    from sportsedge.bench.run import bench
    from sportsedge.core.errors import UsageError

    if args.compare:
        return compare_cmd(args)
    if not args.models or not args.data or not args.out:
        raise UsageError("bench needs MODEL_FILE|EXPORT_DIR..., --data SPLIT_DIR and --out DIR (or --compare FILES)")

    config = bench_config(args)
    rows = bench(args.models, args.data, args.out, config, keras_runs=args.keras or (), say=say)
    print(recommendation(rows))  # the answer first
    print()
    print(markdown(rows) if args.wide else terminal_table(rows), end="")
    print(Path(args.out) / "results.md" if args.wide else f"{Path(args.out) / 'results.md'} (every column: --wide)")
    return 0


def compare_cmd(args) -> int:
    from pathlib import Path

    from sportsedge.bench.compare import compare_rows, load_results, write_compare

    named = load_results(args.compare)
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    print(write_compare(named, compare_rows(named), out), end="")
    if out is not None:
        print(out / "compare.md")
    return 0
