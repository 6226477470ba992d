"""Where replay output goes: a streaming pager on a terminal, plain text in a pipe.

rich's `console.pager()` collects all output in memory before showing any, which
defeats streaming a long run. Instead, on a terminal the console writes straight into
``$PAGER`` (``less`` by default, with ``LESS=FRX``: quit when the output fits on one
screen, pass colours, keep the screen). In a pipe, output is plain text without colour.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console

__all__ = ["OutputClosedError", "make_console", "open_output"]


class OutputClosedError(Exception):
    """The reader went away (quit the pager, or `| head` closed the pipe)."""


class _Console(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        if self.file is sys.stdout or self.file is sys.__stdout__:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise OutputClosedError


def make_console(width: int | None = None, **kw: Any) -> Console:
    """A console that never interprets markup, emoji codes or highlighting.

    A closed pipe raises `OutputClosedError` (which `open_output` absorbs) rather than
    rich's default exit.
    """
    return _Console(width=width, markup=False, emoji=False, highlight=False, **kw)


def _pager_command() -> list[str] | None:
    cmd = os.environ.get("SANDBOX_PAGER", os.environ.get("PAGER", "less"))
    if not cmd.strip() or cmd.strip() == "cat":
        return None
    argv = shlex.split(cmd)
    return argv if shutil.which(argv[0]) else None


@contextlib.contextmanager
def open_output(*, page: bool, width: int | None = None) -> Iterator[Console]:
    """Yield the console to print to; pages through ``$PAGER`` when `page` and on a TTY.

    A reader quitting the pager early ends the output quietly.
    """
    argv = _pager_command() if page and sys.stdout.isatty() else None
    if argv is None:
        with contextlib.suppress(OutputClosedError):
            yield make_console(width)
        return
    probe = Console()
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    stream = io.TextIOWrapper(proc.stdin, encoding="utf-8", errors="replace")
    console = make_console(
        width or probe.width,
        file=stream,
        force_terminal=True,
        color_system=probe.color_system or "standard",
    )
    try:
        yield console
    except (BrokenPipeError, OutputClosedError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            stream.close()
        with contextlib.suppress(KeyboardInterrupt):
            proc.wait()
