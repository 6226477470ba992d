"""One writer per folder: an advisory lock file that dies with its process.

``FolderLock`` takes an exclusive ``flock`` on ``<folder>/.lock`` and writes the
holder's pid and host into it. The kernel drops the lock when the process exits, however
it exits (``kill -9`` included), so a lock is never stale; a second process either waits
for it (``wait`` seconds) or gets :class:`FolderBusyError` naming the holder. Where
``fcntl`` is not available (Windows) the lock is a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "FolderBusyError", "FolderLock", "remove_unlocked"]

LOCK_NAME = ".lock"


class FolderBusyError(RuntimeError):
    """Another live process holds the folder's lock."""

    def __init__(self, folder: Path, holder: dict[str, Any]):
        self.folder = folder
        self.holder = holder
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
            if holder
            else "another process"
        )
        super().__init__(
            f"{folder} is being written by {who} (since {holder.get('since', '?')});"
            " wait for it to finish, or use another folder"
        )


class FolderLock:
    """Hold ``<folder>/.lock`` exclusively for a ``with`` block (creates the folder)."""

    def __init__(self, folder: Path | str, *, wait: float = 0.0, poll: float = 0.2):
        self.folder = Path(folder)
        self.wait = wait
        self.poll = poll
        self._fh: IO[str] | None = None

    def holder(self) -> dict[str, Any]:
        """Who the lock file says holds the lock (empty when unknown)."""
        try:
            data = json.loads((self.folder / LOCK_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait` seconds.

        Raises:
            FolderBusyError: when another process still holds it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.folder / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115
        if fcntl is None:  # pragma: no cover
            self._fh = fh
            return
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise FolderBusyError(self.folder, self.holder()) from None
                time.sleep(self.poll)
        fh.seek(0)
        fh.truncate()
        since = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        """Drop the lock (the file stays; its content is only informative)."""
        if self._fh is not None:
            if fcntl is not None:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def remove_unlocked(folder: Path | str) -> None:
    """Delete `folder` (work a dead process left unfinished) unless it is live.

    The folder's lock is taken first, so a folder another process is still writing (a
    run, or a resumed run, holds its folder's lock) is never deleted.

    Raises:
        FolderBusyError: another process holds the folder's lock (nothing is deleted).
    """
    path = Path(folder)
    if not path.is_dir():
        return
    with FolderLock(path):
        shutil.rmtree(path)
