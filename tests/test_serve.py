"""`sportsedge serve`, tested as a client sees it: a real server in a subprocess on a free port
(TensorFlow blocked in it), spoken to with httpx. Slowness is made with a per-job delay the pool
reads from the environment, so saturation, timeouts and draining are reached by counts."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import solid
from isolation import blocking

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")

BLOCK_TF = blocking()
TOKEN = "s3cret-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model: Path, *args: str, delay: float = 0.0):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = ["serve", str(model), "--port", str(self.port), *args]
        code = BLOCK_TF + f"from sportsedge.cli import main\nsys.exit(main({argv!r}))\n"
        env = {**os.environ, "SPORTSEDGE_TEST_INFER_DELAY_S": str(delay)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.fixture
def serve():
    started = []

    def start(model, *args, delay=0.0):
        started.append(Server(model, *args, delay=delay))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def _jpeg(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(solid(colour)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _classify(url: str, data: bytes, ctype="image/jpeg", **kw):
    return httpx.post(
        url + "/v1/classify", content=data, headers={"Content-Type": ctype, **kw.pop("headers", {})}, **kw
    )


def test_every_endpoint_and_the_same_answer_as_predict(serve, labelled_models, tmp_path, capsys):
    from sportsedge.cli import main
    from sportsedge.runtime import Classifier

    model = labelled_models["tflite-int8"]
    s = serve(model)
    assert httpx.get(s.url + "/healthz").json() == {"status": "alive"}
    assert httpx.get(s.url + "/readyz").json()["ready"] is True
    meta = httpx.get(s.url + "/v1/models").json()
    assert meta["labels"] == ["red", "green", "blue"] and meta["golden_check"]["ok"] and meta["digest_checked"]
    assert meta["input"] == {"height": 32, "width": 32, "dtype": "uint8"} and len(meta["sha256"]) == 64
    assert "/v1/classify" in httpx.get(s.url + "/openapi.json").json()["paths"]
    assert "<title>sportsedge</title>" in httpx.get(s.url + "/").text
    photo = tmp_path / "green.jpg"
    photo.write_bytes(_jpeg("green"))
    raw = _classify(s.url, photo.read_bytes(), params={"top_k": 3}).json()
    form = httpx.post(s.url + "/v1/classify", files={"image": ("g.jpg", photo.read_bytes(), "image/jpeg")}).json()
    assert raw["label"] == "green" and raw["top_k"] == form["top_k"] and len(raw["top_k"]) == 3
    assert raw["model"]["sha256"] == meta["sha256"] and raw["end_to_end_ms"] >= raw["inference_ms"] > 0
    assert main(["predict", str(model), str(photo), "--json", "--top-k", "3"]) == 0
    predicted = json.loads(capsys.readouterr().out)["predictions"]
    api = [p._asdict() for p in Classifier.load(model).predict(photo, top_k=3)]
    assert raw["top_k"] == predicted == api  # the same scores, to the last bit, three ways
    metrics = httpx.get(s.url + "/metrics").text
    assert 'sportsedge_requests_total{endpoint="/v1/classify",status="200"} 2.0' in metrics
    assert "sportsedge_inference_seconds_count 2.0" in metrics and "sportsedge_queue_depth 0.0" in metrics


def test_bad_input_is_one_json_line_and_the_server_keeps_serving(serve, labelled_models):
    s = serve(labelled_models["onnx-fp32"], "--max-body-mb", "0.05")
    good = _jpeg("red")
    bomb = io.BytesIO()
    Image.new("L", (1, 1)).save(bomb, "PNG")
    header = bytearray(bomb.getvalue())
    header[16:24] = (20000).to_bytes(4, "big") * 2  # the IHDR claims 20000 x 20000 pixels: 400 million
    header[29:33] = zlib.crc32(bytes(header[12:29])).to_bytes(4, "big")
    cases = [
        (_classify(s.url, b"not an image at all"), 400, "not an image"),
        (_classify(s.url, good[: len(good) // 2]), 400, "corrupt or truncated image"),
        (_classify(s.url, bytes(header), "image/png"), 413, "image too large"),
        (_classify(s.url, good, "text/plain"), 415, "unsupported content type 'text/plain'"),
        (_classify(s.url, b"\0" * 200_000), 413, "over the limit"),
        (_classify(s.url, good, params={"top_k": "x"}), 400, "top_k must be"),
        (httpx.post(s.url + "/v1/classify", files={"k": (None, "v")}), 400, "the multipart form holds no file"),
        (httpx.post(s.url + "/v1/classify", files={"image": ("a.jpg", b"", "image/jpeg")}), 400, "empty image"),
        (httpx.get(s.url + "/v2/nothing"), 404, "no such endpoint: GET /v2/nothing"),
        (httpx.get(s.url + "/v1/classify"), 405, "method not allowed"),
    ]
    for response, status, message in cases:
        body = response.json()
        assert response.status_code == status and set(body) == {"error"}, (status, body)
        assert message in body["error"] and "\n" not in body["error"], body
    assert _classify(s.url, good).json()["label"] == "red"  # still serving
    code, err = s.stop()
    assert code == 0 and "Traceback" not in err


def test_token_on_every_endpoint_but_healthz_and_the_page(serve, labelled_models, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    s = serve(labelled_models["tflite-fp32"], "--token-file", str(token_file))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(s.url + "/healthz").status_code == 200
    assert httpx.get(s.url + "/").status_code == 200  # the page holds no data; its requests carry the token
    for path in ("/readyz", "/v1/models", "/metrics", "/openapi.json"):
        assert httpx.get(s.url + path).status_code == 401
        assert httpx.get(s.url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(s.url + path, headers=auth).status_code == 200
    refused = _classify(s.url, _jpeg("blue"))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert _classify(s.url, _jpeg("blue"), headers=auth).json()["label"] == "blue"
    assert TOKEN not in httpx.get(s.url + "/metrics", headers=auth).text
    _, err = s.stop()
    assert TOKEN not in err


def test_reload_swaps_a_good_file_and_keeps_the_old_model_for_a_bad_one(serve, labelled_models, tmp_path):
    served = tmp_path / "model.tflite"
    shutil.copy(labelled_models["tflite-int8"], served)
    s = serve(served)
    before = httpx.get(s.url + "/v1/models").json()["sha256"]
    ok = httpx.post(s.url + "/v1/models/reload", json={"path": str(labelled_models["tflite-fp32"])})
    assert ok.status_code == 200 and ok.json()["sha256"] != before
    assert httpx.get(s.url + "/v1/models").json()["format"] == "tflite-fp32"
    damaged = tmp_path / "damaged.tflite"
    data = bytearray(labelled_models["tflite-int8"].read_bytes())
    data[len(data) // 4] ^= 0xFF
    damaged.write_bytes(bytes(data))
    bad = httpx.post(s.url + "/v1/models/reload", json={"path": str(damaged)})
    assert bad.status_code == 422 and "reload failed, still serving" in bad.json()["error"]
    assert "damaged.tflite" in bad.json()["error"]
    assert httpx.get(s.url + "/v1/models").json()["format"] == "tflite-fp32"  # the old model answers
    assert _classify(s.url, _jpeg("green")).json()["label"] == "green"
    s.proc.send_signal(signal.SIGHUP)  # reloads the served file (tflite-fp32 now) again
    deadline = time.monotonic() + 20
    while 'result="swapped"} 2.0' not in httpx.get(s.url + "/metrics").text:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.1)
    assert 'sportsedge_model_reloads_total{result="failed"} 1.0' in httpx.get(s.url + "/metrics").text


def test_a_full_queue_answers_503_at_once_and_a_slow_answer_504(serve, labelled_models):
    # One worker, a queue of one, each job 0.5 s: of 6 requests at once, 1 runs, 1 waits, 4 are refused.
    s = serve(labelled_models["tflite-int8"], "--workers", "1", "--max-queue", "1", "--timeout-s", "5", delay=0.5)
    results = []

    def send():
        results.append(_classify(s.url, _jpeg("red"), timeout=30))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) >= 2 and set(statuses) <= {200, 503} and statuses.count(503) >= 3, statuses
    busy = next(r for r in results if r.status_code == 503)
    assert busy.headers["Retry-After"] == "1" and busy.json()["error"].startswith("busy")
    s.stop()
    slow = serve(labelled_models["tflite-int8"], "--timeout-s", "0.2", delay=1.0)
    late = _classify(slow.url, _jpeg("red"), timeout=30)
    assert late.status_code == 504 and "no answer within 0.2 s" in late.json()["error"]


def test_sigterm_drains_in_flight_requests_and_exits_0(serve, labelled_models):
    s = serve(labelled_models["tflite-int8"], "--workers", "2", "--drain-s", "10", delay=1.0)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(_classify(s.url, _jpeg("blue"), timeout=30))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10  # both requests taken by the workers (each takes 1 s more)
    while "sportsedge_queue_wait_seconds_count 2.0" not in httpx.get(s.url + "/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    code, err = s.stop()
    for t in threads:
        t.join()
    assert code == 0 and "stopped" in err
    assert [r.status_code for r in results] == [200, 200] and all(r.json()["label"] == "blue" for r in results)


def test_a_model_whose_golden_check_fails_is_not_ready(serve, labelled_models, tmp_path):
    from sportsedge.runtime import Classifier, attach_metadata
    from sportsedge.runtime.golden import Golden

    path = tmp_path / "miscomputing.tflite"
    shutil.copy(labelled_models["tflite-fp32"], path)
    meta = Classifier.load(path).metadata
    wrong = Golden(meta.golden.seed, tuple(tuple(v + 0.5 for v in row) for row in meta.golden.scores), meta.golden.atol)
    from dataclasses import replace

    attach_metadata(path, replace(meta, golden=wrong), sidecar=False)  # as if this engine computed otherwise
    s = serve(path)
    ready = httpx.get(s.url + "/readyz")
    assert ready.status_code == 503 and "golden check FAILED" in ready.json()["error"]
    refused = _classify(s.url, _jpeg("red"))
    assert refused.status_code == 503 and refused.json()["error"].startswith("not ready")
    assert httpx.get(s.url + "/healthz").status_code == 200  # alive, not ready


def test_a_damaged_model_file_stops_the_start_in_one_line(labelled_models, tmp_path):
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(labelled_models["onnx-fp32"].read_bytes()[:100])
    proc = subprocess.run(
        [sys.executable, "-m", "sportsedge", "serve", str(bad), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cut.onnx" in proc.stderr


def test_a_taken_port_is_one_error_line_and_exit_2(labelled_models):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "sportsedge", "serve", str(labelled_models["onnx-fp32"]), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    why = "the port is taken by another program (choose another with --port)"
    assert proc.stderr == f"error: cannot listen on 127.0.0.1:{port}: {why}\n"


def test_non_loopback_without_token_warns_once(labelled_models):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sportsedge",
            "serve",
            str(labelled_models["onnx-fp32"]),
            "--host",
            "0.0.0.0",
            "--port",
            str(_free_port()),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stderr.readline()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert first.startswith("warning: serving on 0.0.0.0 without --token-file")


def test_serve_is_refused_in_one_line_without_its_extra():
    code = (
        "import sys\nsys.modules['starlette'] = None\n"
        "import importlib.util\nreal = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'starlette' else real(n, *a)\n"
        "from sportsedge.cli import main\nsys.exit(main(['serve', 'm.tflite']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'pip install "sportsedge[serve]"' in proc.stderr and proc.stderr.count("\n") == 1


def test_pixels_from_bytes_follow_the_image_contract(labelled_models):
    from sportsedge.runtime.preprocess import load_pixels

    data = _jpeg("green")
    from_bytes = load_pixels(data, (32, 32))
    from_image = load_pixels(Image.open(io.BytesIO(data)), (32, 32))
    assert np.array_equal(from_bytes, from_image)


def _chromium():
    """Selenium driving Debian's Chromium headless, or a skip with the reason (a failure in CI)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    missing = [p for p in ("/usr/bin/chromium", "/usr/bin/chromedriver") if not Path(p).exists()]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def test_the_page_classifies_a_dropped_photo_in_a_real_browser(serve, labelled_models, tmp_path):
    pytest.importorskip("selenium", reason="selenium (the dev extra) drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    s = serve(labelled_models["tflite-int8"], "--token-file", str(token_file))
    photo = tmp_path / "blue.jpg"
    photo.write_bytes(_jpeg("blue"))
    browser = _chromium()
    try:
        browser.get(f"{s.url}/#token={TOKEN}")  # the fragment stays in the browser; the page sends it as a header
        wait = WebDriverWait(browser, 20)
        wait.until(ec.text_to_be_present_in_element((By.ID, "model"), "3 classes"))
        upload = browser.find_element(By.ID, "file")
        browser.execute_script("arguments[0].hidden = false", upload)
        upload.send_keys(str(photo))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".result .label")))
        rows = browser.find_elements(By.CSS_SELECTOR, ".result")
        labels = [r.find_element(By.CSS_SELECTOR, ".label").text for r in rows]
        widths = [r.find_element(By.CSS_SELECTOR, ".bar").size["width"] for r in rows]
        assert labels[0] == "blue" and sorted(labels) == ["blue", "green", "red"]
        assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # bars by score
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()


# A token as `head -c 24 /dev/urandom | base64` makes them, with the characters URLs treat specially.
B64_TOKEN = "+ik6ZNELi3p+AWslewVY3ftBa0q/LGBN=="


@pytest.mark.parametrize("written", ["raw", "percent-encoded"])
def test_the_page_reads_a_base64_token_from_the_fragment(serve, labelled_models, tmp_path, written):
    pytest.importorskip("selenium", reason="selenium (the dev extra) drives the browser")
    from urllib.parse import quote

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    token_file = tmp_path / "token"
    token_file.write_text(B64_TOKEN + "\n")
    s = serve(labelled_models["tflite-int8"], "--token-file", str(token_file))
    fragment = B64_TOKEN if written == "raw" else quote(B64_TOKEN, safe="")
    browser = _chromium()
    try:
        browser.get(f"{s.url}/#token={fragment}")
        WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element((By.ID, "model"), "3 classes"))
        assert not browser.find_element(By.ID, "auth").is_displayed()
        browser.save_screenshot(str(tmp_path / "page-token.png"))
    finally:
        browser.quit()


def test_the_page_without_a_token_asks_for_one(serve, labelled_models, tmp_path):
    pytest.importorskip("selenium", reason="selenium (the dev extra) drives the browser")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    token_file = tmp_path / "token"
    token_file.write_text(B64_TOKEN + "\n")
    s = serve(labelled_models["tflite-int8"], "--token-file", str(token_file))
    browser = _chromium()
    try:
        browser.get(f"{s.url}/")
        wait = WebDriverWait(browser, 20)
        wait.until(ec.text_to_be_present_in_element((By.ID, "model"), "needs the token"))  # not "loading..."
        assert browser.find_element(By.ID, "auth").is_displayed()
        browser.save_screenshot(str(tmp_path / "page-no-token.png"))
        browser.find_element(By.ID, "token").send_keys(B64_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#auth button").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "model"), "3 classes"))
        assert not browser.find_element(By.ID, "auth").is_displayed()
    finally:
        browser.quit()


def _events(url: str, wanted: int, timeout: float = 60.0) -> list[dict]:
    """The first ``wanted`` label events of the server-sent event stream."""
    found = []
    with httpx.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
                if len(found) >= wanted:
                    break
    return found


def test_camera_as_a_service(serve, labelled_models, tmp_path):
    from sportsedge.data.clips import write_clip

    pytest.importorskip("av")
    clip = write_clip(tmp_path / "cam.mp4", [(solid(c), 1.0) for c in ("red", "green", "blue")], (32, 32), fps=10)
    s = serve(labelled_models["tflite-int8"], "--camera", str(clip), "--camera-smooth", "0")
    deadline = time.monotonic() + 30
    while httpx.get(s.url + "/readyz").status_code != 200:
        assert time.monotonic() < deadline, httpx.get(s.url + "/readyz").json()
        time.sleep(0.1)
    latest = httpx.get(s.url + "/v1/camera/latest").json()
    assert latest["running"] and latest["label"] in ("red", "green", "blue") and latest["frame_t_s"] >= 0
    events = _events(s.url + "/v1/camera/events", 3)  # the played clip loops: colours keep changing
    labels = [e["label"] for e in events]
    assert all(a != b for a, b in zip(labels[1:], labels[2:])) and len(set(labels)) >= 2, labels
    code, _ = s.stop()  # an open event stream does not hold the drain
    assert code == 0


def test_a_missing_camera_is_reported_and_retried_not_fatal(serve, labelled_models):
    s = serve(labelled_models["tflite-int8"], "--camera", "/dev/video-that-is-not-there")
    deadline = time.monotonic() + 30
    while "retrying" not in (httpx.get(s.url + "/v1/camera/latest").json()["error"] or ""):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ready = httpx.get(s.url + "/readyz")
    assert ready.status_code == 503 and "camera /dev/video-that-is-not-there" in ready.json()["error"]
    assert _classify(s.url, _jpeg("green")).json()["label"] == "green"  # classify still serves
    assert httpx.get(s.url + "/healthz").status_code == 200
    no_camera = serve(labelled_models["tflite-int8"])
    assert httpx.get(no_camera.url + "/v1/camera/latest").status_code == 404


class _Blocking:
    """A stand-in classifier whose inference waits for the test's signal."""

    def __init__(self):
        self.go = threading.Semaphore(0)
        self.metadata = type("M", (), {"model_name": "stub"})()
        self.input_size = (8, 8)  # what the decoder processes resize to

    def preprocess(self, data):
        return np.zeros((1, 1, 3), np.uint8)

    def scores(self, batch):
        self.go.acquire()
        return np.ones((1, 2), np.float32)

    def rank(self, scores, k):
        from sportsedge.runtime.classifier import Prediction

        return [Prediction("a", 0, 1.0)]


def test_admission_counts_jobs_in_flight_and_frees_a_place_before_the_answer():
    from sportsedge.serve.config import ServeConfig
    from sportsedge.serve.pool import InferencePool, QueueFull, Served

    clf = _Blocking()
    config = ServeConfig("stub", workers=1)  # the default queue: one waiting request per worker
    assert config.queue_limit == 1 and ServeConfig("stub", workers=3).queue_limit == 3
    pool = InferencePool(Served(Path("stub"), "0", (clf,), None, 0.0), config)
    image = _jpeg("red")
    first, second = pool.submit(image, 1), pool.submit(image, 1)  # one runs, one waits
    assert pool.full()
    with pytest.raises(QueueFull):
        pool.submit(image, 1)
    freed = threading.Event()
    for f in (first, second):  # two decoders: either may reach the worker first
        f.add_done_callback(lambda f: freed.set() if not pool.full() else None)  # seen as the answer lands
    clf.go.release()
    done, _ = wait([first, second], timeout=10, return_when=FIRST_COMPLETED)
    assert len(done) == 1
    assert freed.is_set()  # a caller's next request, sent on the answer, finds its place free
    third = pool.submit(image, 1)
    clf.go.release(), clf.go.release()
    assert second.result(timeout=10)["label"] == third.result(timeout=10)["label"] == first.result()["label"] == "a"
    pool.close()
