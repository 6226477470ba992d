"""Executors: run independent tasks (ablation cells, suite cells, seeds) serially or in parallel.

The interface is one method, ``Executor.map(fn, tasks, on_result=None)``, returning the
results in task order (like the built-in ``map``) while ``on_result(index, result)`` is
called as each task finishes, in completion order, for progress bars and bookkeeping.
``fn`` and the tasks must be picklable (module-level functions, plain data), because
any executor but the serial one runs them in another process or machine.

Engines are registered by name in :data:`engines` (plugins may add more through the
``persona_sandbox.engines`` entry-point group); :func:`make_executor` builds one. A
distributed engine needs only to implement ``map`` with the same contract.

Why spawn and not fork: the parent may already have imported torch, ChromaDB or
tokenizers, which hold threads and locks; a forked child inherits them in an undefined
state and can deadlock. ``spawn`` starts fresh interpreters that see the parent's
current environment and ``sys.path`` (``forkserver`` is accepted too, but its server
keeps the environment of its first start, a surprise when variables change later).
Workers are reused across the tasks of one ``map``, so heavy imports and model loads
are paid once per worker, not once per task.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from sandbox.registry import Registry

__all__ = [
    "Executor",
    "LocalPoolExecutor",
    "OnResult",
    "SerialExecutor",
    "default_workers",
    "engines",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")
OnResult = Callable[[int, Any], None]


class Executor(Protocol):
    """Runs ``fn`` over ``tasks``; results in task order, ``on_result`` as each finishes."""

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_result: OnResult | None = None
    ) -> Iterator[R]:
        """Apply `fn` to every task; an exception in a task is raised when it is reached."""
        ...


class SerialExecutor:
    """Runs tasks one after another in this process: the reference for every other engine."""

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_result: OnResult | None = None
    ) -> Iterator[R]:
        """Apply `fn` to each task in order."""
        for i, task in enumerate(tasks):
            result = fn(task)
            if on_result is not None:
                on_result(i, result)
            yield result


def default_workers() -> int:
    """CPU cores available to this process (the default pool size)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class LocalPoolExecutor:
    """A process pool on this machine (``concurrent.futures`` with the spawn start method).

    Args:
        workers: pool size; defaults to the number of cores.
        context: multiprocessing start method; ``fork`` is refused (see module docstring).
        initializer: called once in each worker before its first task.
    """

    def __init__(
        self,
        workers: int | None = None,
        context: str | None = None,
        initializer: Callable[[], None] | None = None,
    ):
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        self.context = context or "spawn"
        if self.context == "fork":
            raise ValueError("the fork start method is unsafe after torch/chromadb imports")
        self.initializer = initializer

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_result: OnResult | None = None
    ) -> Iterator[R]:
        """Submit every task, report each as it finishes, yield results in task order."""
        if not tasks:
            return
        ctx = multiprocessing.get_context(self.context)
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)), mp_context=ctx, initializer=self.initializer
        )
        futures: dict[Future[R], int] = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
        done: dict[int, Future[R]] = {}
        next_i = 0
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=futures.__getitem__):
                    i = futures[fut]
                    done[i] = fut
                    if on_result is not None and fut.exception() is None:
                        on_result(i, fut.result())
                while next_i in done:
                    yield done.pop(next_i).result()
                    next_i += 1
        finally:
            # On an error or an interrupt, do not start queued tasks; running ones finish
            # or die with the interrupt, and the caller's resume logic cleans them up.
            pool.shutdown(wait=True, cancel_futures=True)


engines: Registry[Executor] = Registry("engines")


@engines.register("serial")
def _serial(workers: int | None = None) -> Executor:
    return SerialExecutor()


@engines.register("local")
def _local(workers: int | None = None) -> Executor:
    return LocalPoolExecutor(workers)


def make_executor(
    engine: str = "local", workers: int | None = None, address: str | None = None
) -> Executor:
    """Build an executor by engine name; ``local`` with one worker runs serially in-process.

    ``pool`` is another name for ``local``. `address` names a running cluster to join
    (``ray``: the head's ``HOST:PORT``); the engines on this machine take none.

    Raises:
        KeyError: for an unknown engine, naming the known ones.
        ValueError: an address for an engine that runs on this machine only.
    """
    if engine == "pool":
        engine = "local"
    if address is not None and engine in ("local", "serial"):
        raise ValueError(f"--address joins a cluster; the {engine} engine runs here only")
    if engine == "local" and workers == 1:
        return SerialExecutor()
    if engine == "ray" and engine not in engines.names():
        import sandbox.suite.ray_engine  # noqa: F401  (registers "ray"; Ray itself loads lazily)
    if address is not None:
        return engines.create(engine, workers=workers, address=address)
    return engines.create(engine, workers=workers)
