"""Each endpoint in-process through Starlette's TestClient (no server, no port): the app that
`sportsedge serve` runs, built by build_app on a real pool over the committed tiny model."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from conftest import LABELS, solid

pytest.importorskip("starlette", reason="the serve extra")
TOKEN = "a-token-of-enough-length"


@pytest.fixture
def make_app(labelled_models):
    """build_app on a real one-worker pool over the tiny int8 model; ``changes``: ServeConfig fields."""
    from sportsedge.serve.app import build_app
    from sportsedge.serve.config import ServeConfig
    from sportsedge.serve.pool import InferencePool, load_served
    from sportsedge.serve.prometheus import make_metrics

    pools = []

    def make(**changes):
        config = ServeConfig(model=str(labelled_models["tflite-int8"]), workers=1, **changes)
        pools.append(InferencePool(load_served(config.model, config), config))
        return build_app(pools[-1], config, make_metrics(pools[-1].depth), TOKEN)

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def client(make_app):
    from starlette.testclient import TestClient

    with TestClient(make_app()) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(solid(colour)).save(buf, "PNG")
    return buf.getvalue()


def test_classify(client):
    r = client.post("/v1/classify?top_k=2", content=_png("green"), headers={"Content-Type": "image/png"})
    assert r.status_code == 200
    body = r.json()
    assert body["label"] == "green" and len(body["top_k"]) == 2 and body["end_to_end_ms"] > 0


def test_classify_refuses_what_is_no_image(client):
    r = client.post("/v1/classify", content=b"text", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "unsupported content type" in r.json()["error"]
    r = client.post("/v1/classify?top_k=0", content=_png("red"), headers={"Content-Type": "image/png"})
    assert r.status_code == 400 and "top_k" in r.json()["error"]


def test_models(client):
    body = client.get("/v1/models").json()
    assert body["labels"] == list(LABELS) and body["digest_checked"] is True and body["workers"] == 1


def test_health_ready_metrics_openapi_and_page(client):
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json()["ready"] is True
    assert "sportsedge_requests_total" in client.get("/metrics").text
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")
    assert client.get("/", headers={"Authorization": ""}).status_code == 200  # the page needs no token


def test_the_token_is_required_and_unknown_paths_answer_json(client):
    assert client.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "no such endpoint: GET /nowhere"


def test_reload_and_the_camera_without_one(client):
    r = client.post("/v1/models/reload", content=b"")
    assert r.status_code == 200 and r.json()["reloaded"].endswith("colour-int8.tflite")
    assert client.post("/v1/models/reload", content=b"not json").status_code == 400
    assert client.get("/v1/camera/latest").status_code == 404


def test_the_docs_endpoint_table_is_the_server_s():
    # docs/serve.md's table names every route, and says "no" token exactly for the open ones.
    import re
    from pathlib import Path

    from sportsedge.serve.app import ROUTES
    from sportsedge.serve.http import OPEN

    doc = (Path(__file__).resolve().parents[1] / "docs" / "serve.md").read_text()
    rows = re.findall(r"^\| `(GET|POST) (/[^`?]*)[^`]*` \|.*\| (\*\*no\*\*|yes) \|$", doc, re.M)
    table = {path: token == "yes" for _, path, token in rows}
    assert set(table) == set(ROUTES)
    assert {path for path, needs in table.items() if not needs} == set(OPEN)


def test_access_log_lines_never_hold_the_token_or_the_body(make_app, caplog):
    from starlette.testclient import TestClient

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "image/png"}
    with caplog.at_level("INFO", logger="sportsedge.access"), TestClient(make_app(access_log=True)) as c:
        c.post("/v1/classify?top_k=1", content=_png("red"), headers=headers)
        c.get("/v1/models")  # no token: 401
    lines = [r.getMessage() for r in caplog.records if r.name == "sportsedge.access"]
    assert len(lines) == 2
    method, path, status, ms, size = lines[0].split()
    assert (method, path, status) == ("POST", "/v1/classify", "200") and ms.endswith("ms") and size.endswith("B")
    assert lines[1].startswith("GET /v1/models 401 ")
    assert all(TOKEN not in line and "top_k" not in line for line in lines)


def _read_bytes_so_far() -> int:
    """Bytes this process has read with read() and the like (Linux /proc: its rchar)."""
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def _one_json_line(r, status: int) -> str:
    assert r.status_code == status and r.headers["content-type"] == "application/json", r.text[:200]
    error = r.json()["error"]
    assert "\n" not in error and len(error) < 400, error[:400]
    return error


def test_hostile_reloads_and_top_k_are_4xx_json(client):
    r = client.post(
        "/v1/classify", params={"top_k": "9" * 5000}, content=_png("red"), headers={"Content-Type": "image/png"}
    )
    assert "top_k must be a whole number from 1 to 999,999" in _one_json_line(r, 400)
    for depth in (2_000, 30_000):
        r = client.post("/v1/models/reload", content=b"[" * depth + b"]" * depth)
        assert "reload takes an empty body" in _one_json_line(r, 400)
    r = client.post("/v1/models/reload", json={"path": "a" * 5000})
    assert "(5,000 characters): cannot open it" in _one_json_line(r, 422)
    r = client.post("/v1/models/reload", content=b'{"path": "\\ud800.tflite"}')  # a lone surrogate
    assert "\\ud800.tflite: cannot open it" in _one_json_line(r, 422)
    r = client.post("/v1/models/reload", content=b'{"path": "' + b"x" * 70_000 + b'"}')
    assert "over the limit of 65,536 bytes (a reload body holds a path: 64 KB at most)" in _one_json_line(r, 413)
    assert client.get("/readyz").json()["ready"] is True  # still serving


def test_a_huge_sparse_file_is_refused_from_its_size_before_a_byte_is_read(client, tmp_path):
    huge = tmp_path / "huge.tflite"
    with open(huge, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GB of holes: no disk used
    before = _read_bytes_so_far()
    r = client.post("/v1/models/reload", json={"path": str(huge)})
    assert "huge.tflite: 3,072 MB is over the 512 MB a reloaded model may have" in _one_json_line(r, 422)
    assert _read_bytes_so_far() - before < 2**20  # the request, not the file
    zeros = tmp_path / "zeros.onnx"
    zeros.write_bytes(bytes(4096))
    for path, wanted in ((zeros, "not an ONNX model"), (tmp_path, "a folder, not a model file")):
        assert wanted in _one_json_line(client.post("/v1/models/reload", json={"path": str(path)}), 422)


def test_two_authorization_headers_are_refused_even_with_the_token(client):
    twice = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")]
    r = client.get("/v1/models", headers=twice)
    assert "2 Authorization headers: send one" in _one_json_line(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/models").status_code == 200  # one is fine
