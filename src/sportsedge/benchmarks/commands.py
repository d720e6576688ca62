"""Handler of `sportsedge bench`."""

from __future__ import annotations

from ..errors import UsageError
from ..progress import say


def _threads(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"--threads takes a comma list of whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"--threads takes numbers of at least 1, got {text!r}")
    return values


def bench_cmd(args) -> int:
    from .report import markdown
    from .run import bench

    rows = bench(args.models, args.data, args.out, threads=_threads(args.threads), runs=args.runs,
                 warmup=args.warmup, keras_runs=args.keras or (), say=say)
    print(markdown(rows))
    print(f"{args.out}/results.md")
    return 0
