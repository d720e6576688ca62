"""The records that cross stages as JSON: a manifest entry (export -> bench, pipeline, serve's
reader) and a bench row (bench -> its report, compare, pipeline). TypedDicts, so the seams are
typed while the files stay plain JSON; tests/test_records.py holds them to what is written."""

from __future__ import annotations

from typing import Any, TypedDict


class Parity(TypedDict, total=False):
    """An artifact's check against its source model on held-back images."""

    n: int  # images compared
    agreement: float  # top-1 agreement with the source model
    top5_overlap: float  # mean share of the top-5 classes in common
    top5_order: float  # share of images whose top-5 is in the same order
    max_abs_diff: float | None  # largest |p_source - p_export|; None where not compared (int8)
    top1_keras: float | None  # the source's top-1 on labelled parity images
    top1_export: float | None  # the artifact's
    input_dtype: str  # float32 or uint8
    output: str  # probabilities or logits
    status: str  # a formats.Status value
    message: str  # one line: why it passed, warned or failed
    loads: bool  # False: the runtime could not load or run it here (e.g. XNNPACK refused it)


class ManifestEntry(TypedDict, total=False):
    """One artifact of manifest.json."""

    path: str  # file name, relative to the export folder (attempts/<name>: FAILED parity; "": crashed, no file)
    model: str  # model name (a run's registry name or --name)
    format: str  # a FORMATS name
    output: str  # probabilities or logits
    size_bytes: int  # the file's size
    sha256: str  # the file's digest, as sha256sum prints it
    parity: Parity  # its parity check
    status: str  # a formats.Status value: FAILED files are left out of benchmarks
    seconds: float  # conversion time
    source_run: str  # the run folder or model file it came from
    source_kind: str  # run, keras, savedmodel or onnx
    accuracy: dict[str, Any]  # accuracy-aware int8: the attempts and the one kept
    ranges: dict[str, Any]  # int8 activation ranges: how they were fitted
    qat: dict[str, Any]  # tflite-int8-qat: the fine-tuning's history
    fingerprint: str  # of the source and settings: unchanged = the artifact is kept
    settings: dict[str, Any]  # the export settings that shaped it
    crashed: str  # the converter crashed (a native crash, export/isolated.py): the one line that says who


class Manifest(TypedDict):
    """manifest.json of an export folder."""

    artifacts: dict[str, ManifestEntry]  # file name -> entry, in export order


class BenchRow(TypedDict, total=False):
    """One row of results.json: an artifact at one thread count (bench/report.py FIELDS order)."""

    model: str  # model name
    format: str  # a FORMATS name, or keras-fp32 for a --keras baseline
    path: str  # the file benchmarked
    size_bytes: int  # its size
    macs: int | None  # multiply-accumulates per image (TFLite files), None where not counted
    float_layers: list[str]  # layers a mixed int8 file keeps float (export --float-layers, doctor); [] = none
    threads: int  # engine threads
    load_ms: float  # Classifier.load, golden check included
    latency_ms_p50: float  # median of the per-round medians
    latency_ms_p90: float  # over every timed inference
    latency_ms_p99: float  # over every timed inference
    latency_ms_mean: float  # over every timed inference
    latency_ci_low: float  # 95% interval of the p50, over rounds
    latency_ci_high: float  # its upper end
    latency_spread: float  # (max - min) / median of the round medians
    latency_rounds_ms: list[float]  # each round's median
    timings_ns: list[list[int]]  # every timed inference, by round
    stable: bool  # the rounds agree within the noise bench-noise.md measured
    no_thread_gain: bool  # more threads did not beat one thread's interval
    rounds: int  # interleaved rounds
    runs: int  # timed inferences per round
    warmup: int  # untimed inferences first, every round
    litert_p50_ms: float  # litert-benchmark's median (--cross-check)
    e2e_ms_p50: float  # from an image file: decode + preprocess + inference
    e2e_camera_ms_p50: float | None  # from a 4056x3040 JPEG
    video_fps: float | None  # a 1080p clip's frames per second (the video extra)
    throughput_img_s: float  # measured images/s, N classifiers in N threads
    throughput_files_img_s: float  # the same from the image files, the decoder pool decoding ahead
    throughput_shared_img_s: float  # ONNX: one session shared by N threads
    peak_rss_mb: float  # the timing process's peak resident memory
    top1: float  # on the split's images
    top5: float  # on the split's images
    macro_f1: float  # on the split's images
    worst_classes: list[Any]  # the classes it gets wrong most
    agreement_vs_fp32: float  # top-1 agreement with the model's float32 artifact
    top5_overlap_vs_fp32: float  # top-5 overlap with it
    n_images: int  # images scored
