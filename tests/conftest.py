"""Shared fixtures: offline environment, a fresh network guard, small scenario builders."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root() -> Path:
    return ROOT


class NetworkAttempt(AssertionError):
    """Raised when code tries to reach a non-loopback address."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail any connection attempt to an address that is not loopback."""
    attempts: list[object] = []
    real_connect = socket.socket.connect
    real_create = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def is_local(host: object) -> bool:
        h = str(host)
        return h.startswith("127.") or h in ("localhost", "::1", "") or h.startswith("/")

    def guard_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or is_local(host):
            return real_connect(self, address)  # type: ignore[arg-type]
        attempts.append(address)
        raise NetworkAttempt(f"network access attempted: {address!r}")

    def guard_create(address: tuple[str, int], *a: object, **k: object) -> socket.socket:
        if not is_local(address[0]):
            attempts.append(address)
            raise NetworkAttempt(f"network access attempted: {address!r}")
        return real_create(address, *a, **k)  # type: ignore[arg-type]

    def guard_gai(host: object, *a: object, **k: object) -> object:
        if host is not None and not is_local(host):
            attempts.append(host)
            raise NetworkAttempt(f"DNS lookup attempted: {host!r}")
        return real_getaddrinfo(host, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guard_connect)
    monkeypatch.setattr(socket, "create_connection", guard_create)
    monkeypatch.setattr(socket, "getaddrinfo", guard_gai)
    return attempts
