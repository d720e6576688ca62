"""Handler of `sportsedge bench`."""

from __future__ import annotations

from ..progress import say


def bench_config(args):
    """The BenchConfig of `bench` or `pipeline` arguments."""
    from .config import BenchConfig, parse_threads

    return BenchConfig(
        threads=parse_threads(args.threads),
        runs=args.runs,
        warmup=args.warmup,
        e2e_runs=args.e2e_runs,
        camera_runs=args.camera_runs,
    )


def bench_cmd(args) -> int:
    from .report import markdown
    from .run import bench

    config = bench_config(args)
    rows = bench(args.models, args.data, args.out, config, keras_runs=args.keras or (), say=say)
    print(markdown(rows))
    print(f"{args.out}/results.md")
    return 0
