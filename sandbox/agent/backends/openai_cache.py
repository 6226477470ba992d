"""A response cache for chat-completion backends: reruns of a fixed configuration are free.

Off by default. With ``cache: {path: responses.sqlite}`` in the backend's arguments, a
reply is looked up by a key over everything that shapes it (endpoint, model, messages,
sampling parameters, seed, length cap, extra body fields) before any request is made,
and stored after a well-formed reply. A rerun of a deterministic configuration then
makes no requests at all and records the same replies, token counts and costs.

The store is one SQLite file in WAL mode: each write is a transaction, several threads
and processes can read and write it at once (waiting on each other's locks, up to
``timeout_s``), and of two writers racing on one key the first reply is kept.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CacheSpec", "ResponseCache", "cache_key"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL)"


class CacheSpec(BaseModel):
    """Where the response cache lives (a path relative to the working directory)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    path: str = Field(min_length=1, description="SQLite file of cached replies.")
    timeout_s: float = Field(default=30.0, gt=0.0, description="Longest wait for a lock.")


def cache_key(request: Mapping[str, Any]) -> str:
    """A digest of a request's JSON (keys sorted), the same in every process."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """Reply bodies by request key in a SQLite file, safe across threads and processes."""

    def __init__(self, path: Path | str, timeout_s: float = 30.0):
        self.path = Path(path).expanduser().resolve()
        if self.path.is_dir():
            raise ValueError(f"cache path {self.path} is a folder, not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._con: sqlite3.Connection | None = self._open(timeout_s)

    def _open(self, timeout_s: float) -> sqlite3.Connection:
        # Switching a new file to WAL takes an exclusive lock, and SQLite answers "database
        # is locked" at once (without its busy wait) when two processes create the file
        # together; so the opening steps are retried until the timeout.
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            con = None
            try:
                con = sqlite3.connect(
                    self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
                )
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(_SCHEMA)
                return con
            except sqlite3.OperationalError as exc:
                if con is not None:
                    con.close()
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise ValueError(f"cache {self.path}: cannot open ({exc})") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except sqlite3.Error as exc:
                if con is not None:
                    con.close()
                raise ValueError(f"cache {self.path}: cannot open ({exc})") from None

    def get(self, key: str) -> str | None:
        """The stored body for `key`, or None; counts the hit or miss."""
        with self._lock:
            if self._con is None:
                raise RuntimeError("response cache is closed")
            row = self._con.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
            return str(row[0])

    def put(self, key: str, body: str) -> None:
        """Store `body` under `key` in one transaction; a body already there is kept."""
        with self._lock:
            if self._con is None:
                raise RuntimeError("response cache is closed")
            self._con.execute(
                "INSERT OR IGNORE INTO responses (key, body) VALUES (?, ?)", (key, body)
            )

    def __len__(self) -> int:
        with self._lock:
            if self._con is None:
                return 0
            return int(self._con.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
