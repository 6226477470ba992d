"""Memory on a ChromaDB server: the connection, one database per run, the pointer file.

A store on a server (``chroma run``, or any Chroma HTTP endpoint) keeps its collections
in a Chroma *database* of its own, created when the store is first opened, so runs that
share a server never see each other's memory: a listing or search on one client only
reaches the collections of its database. The database name is written to
``chroma-http.json`` in the store's folder (the run's ``memory/`` folder), so the run
record says where its memory lives and reopening the folder reaches the same memory. A
store opened without a folder gets a fresh database that is dropped when it closes.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings

from sandbox.record.writer import write_json_atomic

__all__ = [
    "POINTER",
    "ChromaServer",
    "MemoryBackendError",
    "ServerConnection",
    "connect",
    "server_errors",
]

POINTER = "chroma-http.json"
_TENANT = chromadb.DEFAULT_TENANT


class MemoryBackendError(RuntimeError):
    """The memory backend cannot be used: the server is down, refuses, or lost the data."""


@dataclass(frozen=True)
class ChromaServer:
    """Where a Chroma server listens."""

    host: str
    port: int = 8000

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _settings(server: ChromaServer) -> Settings:
    return Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI",
        chroma_server_host=server.host,
        chroma_server_http_port=server.port,
        anonymized_telemetry=False,
    )


def _down(server: ChromaServer, exc: BaseException) -> MemoryBackendError:
    cause = str(exc).strip() or type(exc).__name__
    return MemoryBackendError(
        f"memory server {server.url} (backend chroma-http) is not reachable: {cause}; "
        f"start one with `chroma run --host {server.host} --port {server.port}` "
        "or use memory backend 'chroma'"
    )


@contextlib.contextmanager
def server_errors(server: ChromaServer) -> Iterator[None]:
    """Turn a lost connection to the server into a `MemoryBackendError` naming it."""
    try:
        yield
    except httpx.TransportError as exc:
        raise _down(server, exc) from None


@dataclass
class ServerConnection:
    """A client bound to the store's own database, and how to let it go."""

    server: ChromaServer
    database: str
    client: Any
    admin: Any
    drop: bool  # a database of a store without a folder goes when the store closes

    @property
    def key(self) -> str:
        return f"{self.server.url}/{_TENANT}/{self.database}"

    def release(self) -> None:
        """Close the clients, first dropping the database if it was temporary."""
        try:
            if self.drop:
                with contextlib.suppress(Exception):  # the server may be gone by now
                    self.admin.delete_database(self.database, tenant=_TENANT)
        finally:
            _close_http(self.client)
            _close_http(getattr(self.client, "_admin_client", None))
            self.client.close()
            _close_admin(self.admin)


def _close_http(client: Any) -> None:
    """Close the HTTP connection pool of a chroma client.

    Chroma's HTTP API object never closes its ``httpx.Client``, leaving its sockets to
    the garbage collector; a store that closes should close its connections.
    """
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.close()


def _close_admin(admin: Any) -> None:
    """Release an admin client (chroma gives it no ``close``)."""
    if admin is None:
        return
    _close_http(admin)
    ident = getattr(admin, "_identifier", None)
    if ident is not None:
        SharedSystemClient._release_system(ident)


def _read_pointer(path: Path, server: ChromaServer) -> str | None:
    """The database named in the folder's pointer file, checked against `server`."""
    file = path / POINTER
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        url, database = str(data["url"]), str(data["database"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MemoryBackendError(f"{file}: unreadable ({exc})") from None
    if url != server.url:
        raise MemoryBackendError(
            f"{file}: this memory lives on {url}, not on the configured {server.url}"
        )
    return database


def _has_database(admin: Any, database: str) -> bool:
    """Whether `database` exists; connection failures propagate."""
    try:
        admin.get_database(database, tenant=_TENANT)
    except httpx.TransportError:
        raise
    except Exception:  # chroma's NotFoundError (its error classes vary by version)
        return False
    return True


def connect(server: ChromaServer, path: Path | None) -> ServerConnection:
    """Open (or create) the database of the store in `path` on `server`.

    Raises:
        MemoryBackendError: the server cannot be reached, or the database the folder
            names is no longer on it.
    """
    database = _read_pointer(path, server) if path is not None else None
    fresh = database is None
    if database is None:
        database = f"sandbox-{uuid.uuid4().hex}"
    admin: Any = None
    try:
        admin = chromadb.AdminClient(_settings(server))
        if fresh:
            admin.create_database(database, tenant=_TENANT)
        elif not _has_database(admin, database):
            where = path / POINTER if path is not None else POINTER
            raise MemoryBackendError(f"{where}: database {database!r} is not on {server.url}")
        client = chromadb.HttpClient(
            host=server.host,
            port=server.port,
            settings=Settings(anonymized_telemetry=False),
            tenant=_TENANT,
            database=database,
        )
    except MemoryBackendError:
        _close_admin(admin)
        raise
    except Exception as exc:  # chroma says ValueError("Could not connect ..."), or httpx's
        _close_admin(admin)
        raise _down(server, exc) from None
    if fresh and path is not None:
        path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            path / POINTER, {"url": server.url, "tenant": _TENANT, "database": database}
        )
    return ServerConnection(server, database, client, admin, drop=path is None)
