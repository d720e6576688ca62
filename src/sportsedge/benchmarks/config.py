"""Benchmark settings: every default lives here, and the CLI builds its options and help from it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchConfig:
    threads: tuple[int, ...] = (1, 2)  # thread counts swept, one row each
    runs: int = 300  # timed inferences per artifact and thread count, split over the rounds
    rounds: int = 5  # interleaved rounds (every row once per round, each in a fresh process)
    warmup: int = 20  # untimed inferences first, every round
    timing_images: int = 16  # preprocessed images the timed inferences cycle through
    e2e_runs: int = 50  # end-to-end timings from an image file (decode + preprocess + inference)
    camera_runs: int = 10  # end-to-end timings from a 4056x3040 JPEG; 0 = no camera-size and video columns
    throughput_images: int = 64  # images per round for the measured throughput (threads classifiers in threads)
    cross_check: bool = False  # also time every .tflite with litert-benchmark, in the same rounds
    verify: bool = True  # each file's golden check at load (its digest is always checked); a failure stops the bench

    @property
    def runs_per_round(self) -> int:
        return max(1, -(-self.runs // self.rounds))
