"""The ``ray`` executor engine: cells as Ray tasks on a local Ray (127.0.0.1) or a cluster.

``sandbox suite run SUITE --executor ray --workers N`` starts a single-node Ray with N
CPUs bound to loopback, runs each pending cell as one Ray task (a worker process runs
many cells, so heavy imports are paid once per worker), and shuts Ray down when the
cells are done. Each cell is the same seeded simulation whichever engine runs it, so the
result equals the serial engine's (tested in ``tests/suite/test_suite_ray.py``). With
``--address HOST:PORT`` the command joins a running cluster instead (``ray start --head``
printed the address; every node needs this package installed and the output folder on a
shared path) and leaves it running. When Ray is already initialised in the calling
process (``ray.init(address=...)`` by a program that calls
:func:`sandbox.suite.runner.run_suite`), its cluster is used and left running too.

Ray is optional (``pip install -c constraints.txt -e '.[ray]'``); asking for the engine
without it fails with :class:`RayUnavailableError` (the CLI exits 2).

Network: Ray looks for a routable address of its own and its dashboard process asks
cloud metadata services (169.254.169.254, metadata.google.internal) which cloud it runs
on. The local cluster is started with ``_node_ip_address="127.0.0.1"``, no dashboard,
usage stats off (``RAY_USAGE_STATS_ENABLED=0``) and
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (the node's address is loopback, not looked up
by a route to 8.8.8.8). The metadata probe cannot be switched off in Ray 2.60; where
outbound traffic is not allowed, run the command in a network namespace that has only
loopback: ``unshare -n sh -c 'ip link set lo up && sandbox suite run ...'``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from sandbox.execute import Executor, OnResult, default_workers, engines

__all__ = ["LOCAL_RAY_ENV", "RayClusterError", "RayExecutor", "RayUnavailableError", "import_ray"]

T = TypeVar("T")
R = TypeVar("R")

#: Set in this process before Ray is imported and a local Ray starts (the first is forced,
#: the second a default); Ray's processes inherit them.
LOCAL_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # on Linux this makes Ray take loopback as the node's address instead of probing a
    # route to 8.8.8.8 (the variable is named for laptops, where that is the default)
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
#: Results are small (a run folder's path); the plasma store need not take 30% of RAM.
OBJECT_STORE_BYTES = 128 * 1024 * 1024


class RayUnavailableError(ValueError):
    """The ``ray`` engine was asked for and Ray is not installed."""


class RayClusterError(ValueError):
    """``--address`` names a Ray cluster that cannot be joined."""


def import_ray() -> ModuleType:
    """Import Ray with the local-cluster environment set.

    Raises:
        RayUnavailableError: Ray is not installed, with the command that installs it.
    """
    _set_local_env()
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"the ray executor needs Ray, which is not installed ({exc}); install it with"
            " `.venv/bin/pip install -c constraints.txt -e '.[ray]'` (or `make install`),"
            " or use --executor local"
        ) from None
    return ray


def _set_local_env() -> None:
    os.environ["RAY_USAGE_STATS_ENABLED"] = LOCAL_RAY_ENV["RAY_USAGE_STATS_ENABLED"]
    key = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    os.environ.setdefault(key, LOCAL_RAY_ENV[key])


def _reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast when nothing listens at a ``HOST:PORT`` address (Ray itself retries long).

    Other address forms (``auto``, ``ray://...``) are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayClusterError(
            f"cannot join the Ray cluster at {address}: nothing answers there ({exc})"
        ) from None


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    """The Ray task: one call of the executor's function (a module-level, picklable one)."""
    return fn(task)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class RayExecutor:
    """Runs tasks as Ray tasks; results in task order, ``on_result`` as each finishes.

    Args:
        workers: CPUs of the local Ray, and the most tasks in flight at once (default:
            cores; on a cluster, every task is submitted and Ray schedules them).
        object_store_bytes: size of the local Ray's object store.
        address: a running cluster to join (``HOST:PORT`` of its head) instead of
            starting a local Ray; it is disconnected from, not stopped, at the end.
    """

    def __init__(
        self,
        workers: int | None = None,
        object_store_bytes: int = OBJECT_STORE_BYTES,
        address: str | None = None,
    ):
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        if address is not None and not address.strip():
            raise ValueError("address must name the cluster's head, e.g. 10.0.0.5:6379")
        self.workers = workers
        self.object_store_bytes = object_store_bytes
        self.address = address

    def _start_local(self, ray: ModuleType) -> None:
        _set_local_env()
        ray.init(
            address="local",  # never join a cluster named by RAY_ADDRESS by accident
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            num_cpus=self.workers or default_workers(),
            num_gpus=0,
            object_store_memory=self.object_store_bytes,
            logging_level=logging.WARNING,
        )

    def _connect(self, ray: ModuleType) -> None:
        _set_local_env()
        _reachable(str(self.address))
        try:
            ray.init(address=self.address, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError) as exc:  # no head there, or refused
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RayClusterError(
                f"cannot join the Ray cluster at {self.address}: {first} (is its head"
                " running, and is RAY_AUTH_TOKEN set when the cluster uses token auth?)"
            ) from None

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_result: OnResult | None = None
    ) -> Iterator[R]:
        """Submit the tasks, report each as it finishes, yield results in task order.

        An exception raised by a task is raised when its turn comes, as the serial engine
        would; a task is not retried when its worker dies (the caller's resume redoes it).
        On an error or an interrupt, tasks not yet finished are cancelled and a local Ray
        started here is shut down.
        """
        if not tasks:
            return
        ray = import_ray()
        started = not ray.is_initialized()
        if started and self.address is not None:
            self._connect(ray)
        elif started:
            self._start_local(ray)
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        if self.workers is not None:
            window = self.workers
        else:
            local = started and self.address is None
            window = default_workers() if local else len(tasks)
        in_flight: dict[Any, int] = {}
        done: dict[int, Any] = {}
        next_submit = next_yield = 0
        try:
            while next_yield < len(tasks):
                while next_submit < len(tasks) and len(in_flight) < window:
                    in_flight[remote.remote(fn, tasks[next_submit])] = next_submit
                    next_submit += 1
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    i = in_flight.pop(ref)
                    try:
                        value = ray.get(ref)
                    except Exception as exc:
                        done[i] = _Failed(exc)
                        continue
                    done[i] = value
                    if on_result is not None:
                        on_result(i, value)
                while next_yield in done:
                    value = done.pop(next_yield)
                    next_yield += 1
                    if isinstance(value, _Failed):
                        raise value.error
                    yield value
        finally:
            for ref in in_flight:
                with contextlib.suppress(Exception):  # finished, or Ray is going down
                    ray.cancel(ref)
            if started:
                ray.shutdown()


@engines.register("ray")
def _ray(workers: int | None = None, address: str | None = None) -> Executor:
    import_ray()  # fail now, before any cell is planned to run, when Ray is missing
    return RayExecutor(workers, address=address)
