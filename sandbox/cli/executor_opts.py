"""The options every command that runs many seeded runs shares: engine, workers, cluster.

``sandbox suite run``, ``sandbox ablate`` and ``sandbox report drift|leaks`` take the same
``--executor serial|pool|ray`` (``local`` is another name for ``pool``; plugins add
more), ``--workers`` and ``--address`` (join a running Ray cluster instead of starting a
local one on 127.0.0.1), and build their executor through
:func:`sandbox.execute.make_executor`, so a result does not depend on which ran it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Annotated

import typer

__all__ = [
    "OFFLINE",
    "AddressOpt",
    "ExecutorOpt",
    "check_executor",
    "cluster_errors",
    "set_offline",
]

#: Set (unless already set) before a command that runs scenarios: nothing downloads
#: models at run time, ChromaDB sends no telemetry, tokenizers do not fork threads.
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}

ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        metavar="ENGINE",
        help="serial (in-process), pool (local processes; also: local), ray, or a plugin.",
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="HOST:PORT",
        help="Join this running Ray cluster (with --executor ray) instead of a local one.",
    ),
]


def set_offline() -> None:
    """Keep runs offline (see :data:`OFFLINE`) unless the caller chose otherwise."""
    for k, v in OFFLINE.items():
        os.environ.setdefault(k, v)


def check_executor(engine: str, workers: int | None, address: str | None) -> None:
    """Refuse a bad combination before anything runs: exit 2 with the reason.

    Builds the executor once (building starts nothing; Ray starts on the first task),
    so an unknown engine, a missing Ray or an address for a local engine is reported
    the same way by every command.
    """
    from sandbox.execute import make_executor

    if workers is not None and workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    try:
        make_executor(engine, workers, address)
    except KeyError as exc:
        typer.echo(f"error: --executor: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(code=2) from None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


@contextlib.contextmanager
def cluster_errors() -> Iterator[None]:
    """A cluster that cannot be joined (or Ray missing) exits 2 with the reason."""
    from sandbox.suite.ray_engine import RayClusterError, RayUnavailableError

    try:
        yield
    except (RayClusterError, RayUnavailableError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
