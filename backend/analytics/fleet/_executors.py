"""Executors for fleet runs: :class:`InlineExecutor`, :func:`local_executor`, :func:`dask_executor`.

Any :class:`concurrent.futures.Executor` runs a fleet; these three are the
usual choices. The Dask one needs the ``[dask]`` extra (``distributed``),
imported only when :func:`dask_executor` is called.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

from .._validate import check_positive_int, fail_type

__all__ = ["DaskExecutor", "InlineExecutor", "dask_executor", "executor_width", "local_executor"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class InlineExecutor(Executor):
    """Runs each task at once, in the calling thread: a serial run with the same code path.

    ``submit`` returns a finished future (holding the result or the exception).
    """

    max_workers = 1

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Run ``fn(*args, **kwargs)`` now; its outcome in a finished future."""
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # delivered through the future, as any executor does
            future.set_exception(exc)
        return future


def local_executor(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool of ``workers`` processes (default: the machine's cores).

    Workers start with the ``forkserver`` method where the platform has it
    (``spawn`` elsewhere): a fresh, single-threaded process, safe whatever
    threads the client runs. As with any such pool, a script that uses it
    needs the ``if __name__ == "__main__":`` guard.
    """
    # Imported here: importing multiprocessing registers the '__mp_main__' alias, which a mere
    # `import backend.analytics.fleet` should not do.
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    n = (os.cpu_count() or 1) if workers is None else check_positive_int("local_executor", "workers", workers)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=n, mp_context=context)


def executor_width(executor: Executor) -> int:
    """How many tasks ``executor`` runs at once, as far as it says (else the machine's cores)."""
    for name in ("max_workers", "_max_workers"):
        value = getattr(executor, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return os.cpu_count() or 1


class DaskExecutor(Executor):
    """A :class:`concurrent.futures.Executor` over a ``dask.distributed`` client (see :func:`dask_executor`).

    ``max_workers`` is the cluster's thread count when the executor was made
    (1 if it had none); ``workers``, its number of workers then: with none, a
    run waits until one joins (a warning is logged, and ``fleet --scheduler``
    says so on stderr). ``shutdown`` closes the client if this executor opened it.
    """

    def __init__(self, client: Any, *, owns_client: bool) -> None:
        self.client = client
        self._owns = owns_client
        self._inner = client.get_executor(pure=False)
        threads = client.nthreads()
        self.workers = len(threads)
        self.max_workers = max(1, sum(int(n) for n in threads.values()))
        if not threads:
            logger.warning(
                "the Dask scheduler %s has no workers yet: what is submitted waits until one joins",
                getattr(client, "scheduler_address", "?"),
            )

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Submit ``fn(*args, **kwargs)`` to the cluster; a ``concurrent.futures`` future."""
        future: Future[_T] = self._inner.submit(fn, *args, **kwargs)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop submitting; close the client if this executor opened it."""
        self._inner.shutdown(wait=wait)
        if self._owns:
            self.client.close()


def dask_executor(address_or_client: object, *, timeout: float = 30.0) -> DaskExecutor:
    """An executor that runs fleet partitions on a Dask cluster (the ``[dask]`` extra).

    ``address_or_client``: a scheduler address (``"tcp://10.0.0.5:8786"``),
    opened here with ``distributed.Client(address, timeout=timeout)`` and
    closed by the executor's ``shutdown``; or an existing
    ``distributed.Client``, left open. Workers must be able to import
    ``backend.analytics`` and to read the source (the store file or the CSV
    directory, at the same path).
    """
    client_class: Any = _distributed("dask_executor").Client
    if isinstance(address_or_client, client_class):
        return DaskExecutor(address_or_client, owns_client=False)
    if not isinstance(address_or_client, str) or not address_or_client:
        fail_type(
            "dask_executor", "address_or_client", "a scheduler address str or a Client", address_or_client
        )
    return DaskExecutor(client_class(address_or_client, timeout=timeout), owns_client=True)


def local_dask_cluster(n_workers: int = 2, *, host: str = "127.0.0.1") -> Any:
    """A ``distributed.LocalCluster`` on this machine, to try :func:`dask_executor` on (``[dask]`` extra).

    ``n_workers`` worker processes of one thread each, listening on
    ``host`` only (the loopback address by default: nothing is reachable
    from other machines), no dashboard, errors only in the logs. Use it as a context manager; pass it, or its
    ``scheduler_address``, to ``distributed.Client`` or :func:`dask_executor`::

        with local_dask_cluster(2) as cluster:
            executor = dask_executor(cluster.scheduler_address)
    """
    n = check_positive_int("local_dask_cluster", "n_workers", n_workers)
    if not isinstance(host, str) or not host:
        fail_type("local_dask_cluster", "host", "a non-empty str", host)
    # No dashboard; the scheduler's own HTTP server (health, metrics) still starts, on port 8787 unless
    # told otherwise, and warns when another cluster on the machine holds it: a free port on host.
    http = f"[{host}]:0" if ":" in host else f"{host}:0"
    return _distributed("local_dask_cluster").LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host=host,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": http},
        silence_logs=logging.ERROR,
    )


def _distributed(caller: str) -> Any:
    """The ``distributed`` module, or an ``ImportError`` naming the extra that brings it."""
    try:
        # Through importlib: the module is optional, and typed as Any whether installed or not.
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs the [dask] extra: pip install 'backend-analytics[dask]' (distributed)"
        ) from exc
