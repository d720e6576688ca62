"""Benchmark settings: every default lives here, and the CLI builds its options and help from it."""

from __future__ import annotations

from dataclasses import dataclass

from sportsedge.core.options import NON_NEGATIVE_INT, POSITIVE_INT, check_bounds, comma_list, option


@dataclass(frozen=True)
class BenchConfig:
    threads: tuple[int, ...] = option(  # thread counts swept, one row each
        (1, 2),
        "comma list of thread counts to sweep",
        parse=comma_list(POSITIVE_INT.parse, "threads"),
        bound=POSITIVE_INT,
    )
    runs: int = option(  # timed inferences per artifact and thread count, split over the rounds
        300, "timed inferences per artifact and thread count, split over the rounds", bound=POSITIVE_INT
    )
    rounds: int = option(  # interleaved rounds (every row once per round, each in a fresh process)
        5,
        "interleaved rounds: every row timed once per round in a fresh process; the p50's 95% interval is over rounds",
        bound=POSITIVE_INT,
    )
    warmup: int = option(20, "untimed inferences first", bound=NON_NEGATIVE_INT)  # untimed inferences, every round
    timing_images: int = 16  # preprocessed images the timed inferences cycle through
    e2e_runs: int = option(  # end-to-end timings from an image file (decode + preprocess + inference)
        50, "end-to-end timings from an image file per artifact and thread count", bound=NON_NEGATIVE_INT
    )
    camera_runs: int = option(  # end-to-end timings from a 4056x3040 JPEG; 0 = no camera-size and video columns
        10,
        "end-to-end timings from a 4056x3040 JPEG made from the data, plus a 1080p video's frames/s "
        "(video extra); 0 = skip both",
        bound=NON_NEGATIVE_INT,
    )
    throughput_images: int = option(  # images per round for the measured throughput (classifiers in threads)
        64, "images per round for the measured img/s (N classifiers in N threads); 0 = skip", bound=NON_NEGATIVE_INT
    )
    cross_check: bool = option(  # also time every .tflite with litert-benchmark, in the same rounds
        False, "also time every .tflite with LiteRT's litert-benchmark, same threads, same rounds"
    )
    # each file's golden check at load (its digest is always checked); a failure stops the bench.
    # Its flag, --no-verify, is cli.runtime.verify_option's: predict has it too.
    verify: bool = True

    def __post_init__(self) -> None:
        check_bounds(self)

    @property
    def runs_per_round(self) -> int:
        return max(1, -(-self.runs // self.rounds))


# The timing options `bench` and `pipeline` share (cross_check and verify are bench's own).
TIMING = ("threads", "runs", "rounds", "warmup", "e2e_runs", "throughput_images", "camera_runs")
