"""Bad requests get OpenAI-shaped 4xx errors, never a traceback; unexpected failures a generic
500; auth, the body limit and the package's import without FastAPI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from _served import API_KEY, MAX_BODY_BYTES, MAX_TOKENS_LIMIT, Served  # noqa: E402

from llamaprov.errors import InvalidArgumentError  # noqa: E402

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROOT = Path(__file__).resolve().parents[2]


def post(served: Served, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
         content: bytes | None = None) -> httpx.Response:
    return httpx.post(served.base_url + path, json=body, content=content, timeout=60,
                      headers=AUTH if headers is None else headers)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of an OpenAI-shaped error answer with ``status``."""
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def chat(served: Served, **fields: Any) -> dict[str, Any]:
    return {"model": served.model_id, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
            **fields}


@pytest.mark.parametrize(("fields", "param"), [
    ({"n": 2}, "n"),
    ({"tool_choice": "bogus", "tools": TOOLS}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": TOOLS}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"max_tokens": MAX_TOKENS_LIMIT + 1}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_tokens"),
    ({"temperature": -1}, "temperature"),
    ({"top_k": "many"}, "top_k"),
    ({"seed": "x"}, "seed"),
    ({"logit_bias": {"hello": 1}}, "logit_bias"),
    ({"logprobs": True}, "logprobs"),
    ({"not_a_field": 1}, "not_a_field"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"$ref": "http://example.com/remote.json"}}}}}},
     "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "bogus"}}}}}}, "response_format"),
    ({"response_format": {"type": "json_object"}, "tools": TOOLS}, "response_format"),
])
def test_bad_chat_requests_are_400(served: Served, fields: dict[str, Any], param: str) -> None:
    error = error_of(post(served, "/chat/completions", chat(served, **fields)), 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_the_openai_client_raises_bad_request(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url, api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=served.model_id, n=2, max_tokens=4,
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["param"] == "n"


def test_bad_json_and_missing_fields(served: Served) -> None:
    error = error_of(post(served, "/chat/completions", content=b'{"model": ',
                          headers={**AUTH, "Content-Type": "application/json"}), 400)
    assert error["code"] == "invalid_json"
    error = error_of(post(served, "/chat/completions", {"model": served.model_id}), 400)
    assert error["param"] == "messages"


def test_unknown_model_is_404(served: Served) -> None:
    error = error_of(post(served, "/chat/completions", chat(served, model="gpt-4")), 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    error_of(httpx.get(served.base_url + "/models/gpt-4", headers=AUTH, timeout=10), 404)


def test_unknown_route_and_method(served: Served) -> None:
    error_of(httpx.get(served.base_url + "/nothing", headers=AUTH, timeout=10), 404)
    error_of(httpx.get(served.base_url + "/chat/completions", headers=AUTH, timeout=10), 405)


def test_text_completion_options_that_are_not_supported(served: Served) -> None:
    body = {"model": served.model_id, "prompt": "Hi", "max_tokens": 2}
    for field, value in (("echo", True), ("n", 3), ("suffix", "x"), ("logprobs", 2)):
        assert error_of(post(served, "/completions", {**body, field: value}), 400)["param"] == field
    assert error_of(post(served, "/completions", {**body, "prompt": ["a", "b"]}), 400)["param"] == "prompt"


def test_embedding_input_errors(served: Served) -> None:
    body = {"model": served.model_id, "input": [[1, 2, 3]]}
    assert error_of(post(served, "/embeddings", body), 400)["param"] == "input"
    body = {"model": served.model_id, "input": "x", "dimensions": 3}
    assert error_of(post(served, "/embeddings", body), 400)["param"] == "dimensions"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer"])
def test_missing_or_wrong_api_key_is_401(served: Served, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {"Authorization": ""}
    for method, path in (("POST", "/chat/completions"), ("GET", "/models"), ("POST", "/embeddings")):
        response = httpx.request(method, served.base_url + path, headers=headers, timeout=10,
                                 json=chat(served) if method == "POST" else None)
        assert error_of(response, 401)["code"] == "invalid_api_key"
    client = openai.OpenAI(base_url=served.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    # /health needs no key
    assert httpx.get(served.url + "/health", timeout=10).status_code == 200


def test_a_body_over_the_limit_is_413(served: Served) -> None:
    big = chat(served, messages=[{"role": "user", "content": "x" * (MAX_BODY_BYTES + 10)}])
    assert error_of(post(served, "/chat/completions", big), 413)["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit holds for a chunked body too
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = httpx.post(served.base_url + "/chat/completions", content=chunks(), timeout=60,
                          headers={**AUTH, "Content-Type": "application/json"})
    assert error_of(response, 413)["code"] == "request_too_large"


def test_an_unexpected_failure_is_a_generic_500(served: Served, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(served.provider, "submit", broken)
    response = post(served, "/chat/completions", chat(served))
    error = error_of(response, 500)
    assert error["type"] == "server_error" and "secret" not in response.text


def test_create_app_checks_its_arguments(served: Served) -> None:
    from llamaprov.serve import create_app

    with pytest.raises(InvalidArgumentError, match="LlamaProvider"):
        create_app(object())
    with pytest.raises(InvalidArgumentError, match="max_body_bytes"):
        create_app(served.provider, max_body_bytes=0)


def test_the_package_imports_and_names_the_extra_without_fastapi() -> None:
    code = (
        "import sys\n"
        "sys.modules['fastapi'] = None  # as if it were not installed\n"
        "import llamaprov.serve as s\n"
        "from llamaprov.errors import NotSupportedError\n"
        "for call in (s.serve, lambda: s.create_app(None)):\n"
        "    try:\n"
        "        call()\n"
        "    except NotSupportedError as exc:\n"
        "        print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all("fastapi" in line and 'llamaprov[server]' in line for line in lines)
