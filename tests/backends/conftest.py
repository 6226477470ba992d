"""Fixtures for backend tests: a tiny local causal LM and local OpenAI-compatible servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.agent.backends.tiny import build_tiny_causal_lm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture(scope="session")
def tiny_chat_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(
        tmp_path_factory.mktemp("tiny-chat-lm"), chat_template=CHAT_TEMPLATE
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="session")
def katan_url() -> object:
    """A real OpenAI-compatible server (llm-katan, echo backend) on 127.0.0.1."""
    port = free_port()
    exe = Path(sys.executable).parent / "llm-katan"
    proc = subprocess.Popen(
        [
            str(exe),
            "--backend",
            "echo",
            "--model",
            "echo-model",
            "--name",
            "echo-model",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class StubServer:
    """A scripted OpenAI-like endpoint for fault cases: each request takes the next action.

    An action is a dict with optional ``status`` (200), ``body`` (dict or raw bytes;
    a valid chat completion by default), ``delay`` (seconds before answering) and
    ``headers``. The last action repeats once the script runs out.
    """

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.script: list[dict[str, object]] = [{}]
        self.requests: list[dict[str, object]] = []
        self.headers: list[dict[str, str]] = []
        self.inflight = 0
        self.max_inflight = 0
        lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                with lock:
                    stub.requests.append(body)
                    stub.headers.append(dict(self.headers))
                    idx = min(len(stub.requests) - 1, len(stub.script) - 1)
                    action = stub.script[idx]
                    stub.inflight += 1
                    stub.max_inflight = max(stub.max_inflight, stub.inflight)
                try:
                    time.sleep(float(action.get("delay", 0.0)))  # type: ignore[arg-type]
                    payload = action.get("body", completion(body))
                    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    self.send_response(int(action.get("status", 200)))  # type: ignore[call-overload]
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    for k, v in dict(action.get("headers", {})).items():  # type: ignore[call-overload]
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (timeout test)
                finally:
                    with lock:
                        stub.inflight -= 1

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(request: dict[str, object], text: str = "stub reply") -> dict[str, object]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1,
        "model": str(request.get("model", "stub")),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


@pytest.fixture()
def stub() -> object:
    server = StubServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture()
def refused_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture()
def make_completion() -> object:
    """Builds a chat-completion body with the given reply text, for stub scripts."""
    return completion
