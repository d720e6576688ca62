"""Every endpoint of a real `sportsedge serve`, fuzzed from the OpenAPI document it publishes
(schemathesis: inputs that fit the document, and inputs that break it): no answer is a server
error (a 503 is a deliberate refusal), and every refusal is one JSON line."""

from __future__ import annotations

import pytest

from test_serve import TOKEN, Server

httpx = pytest.importorskip("httpx")
schemathesis = pytest.importorskip("schemathesis", reason="the dev extra")
EXAMPLES = 25  # per endpoint and mode: about 500 requests in all, a few seconds
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(labelled_models, tmp_path_factory):
    token = tmp_path_factory.mktemp("token") / "token"
    token.write_text(TOKEN + "\n")
    s = Server(labelled_models["tflite-int8"], "--token-file", str(token))
    yield s
    code, err = s.stop()
    assert code == 0 and "Traceback" not in err and "internal error" not in err, err


def _operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(url + "/openapi.json", headers=AUTH)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_names_every_route(server):
    from sportsedge.serve.app import ROUTES

    assert set(httpx.get(server.url + "/openapi.json", headers=AUTH).json()["paths"]) == set(ROUTES)


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_input_makes_a_server_error(server, mode):
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    from sportsedge.serve.app import ROUTES

    generation = schemathesis.GenerationMode(mode)
    answers: list[tuple[str, int]] = []
    for op in _operations(server.url):

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=generation))
        def fuzz(case) -> None:
            # the camera's event stream has no camera here: 404 at once, never a stream to wait on
            answer = case.call(base_url=server.url, headers=AUTH, timeout=30)
            answers.append((f"{case.method} {case.path}", answer.status_code))
            assert answer.status_code < 500 or answer.status_code == 503, (case.as_curl_command(), answer.text)
            if answer.status_code >= 400:
                assert answer.headers["content-type"] == ["application/json"], answer.text[:200]
                error = answer.json()["error"]
                assert isinstance(error, str) and "\n" not in error

        try:
            fuzz()
        except Unsatisfiable:  # negative mode: an operation without parameters or a body has nothing to break
            assert mode == "negative", op.path
    reached = {name for name, _ in answers}
    # positive: every operation (schemathesis leaves out /openapi.json, which loading it fetched)
    assert (
        len(reached) == len(ROUTES) - 1
        if mode == "positive"
        else {"POST /v1/classify", "POST /v1/models/reload"} <= reached
    )
