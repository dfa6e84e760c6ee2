"""Workers for many independent runs, made one way for replications (`sim.experiment.replications`) and parameter
points (`sim.experiment.runner`): in this process, in kept local processes (fork where the platform has it, so
workers start at once with the modules already imported, else spawn), or on a Ray cluster by address.

What every call needs (a run's parameters, a decision's option configs) is sent once per worker, not once per
call: the pool's initializer, or Ray's object store."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

_SHARED: Any = None  # what a local worker process was started with (`Workers`' `shared`)


def one_blas_thread() -> None:
    """Keep this process's BLAS (numpy's, scipy's, scikit-learn's) to one thread. Every matrix the analyses factor
    is small (a spline basis of a dozen columns, 64 sets by 120 parameters, a calibration's emulator of a few
    hundred runs), where a second thread costs more than it gives, and the cores belong to the workers: a 64 x 120
    SVD took 37 ms with OpenBLAS's threads on a busy 2-core machine and 1 ms with one. Called by the commands'
    entry points, not at import. The environment variables reach a BLAS loaded later (scipy's own OpenBLAS, which
    the analyses import when they start) and the worker processes."""
    from threadpoolctl import threadpool_limits

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    threadpool_limits(1, user_api="blas")


def process_pool(workers: int, initializer: Callable[..., object] | None = None,
                 initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of `workers` processes, each started with `initializer(*initargs)`."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=initializer, initargs=initargs)


def _start_worker(shared: Any) -> None:
    """A local worker keeps `shared` and leaves Ctrl-C to the parent (which stops the pool and says how to resume)."""
    global _SHARED
    _SHARED = shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(item, _SHARED)


class Workers(Generic[Item]):
    """Runs `fn(item, shared)` for many items, as they finish; the workers are kept across calls of `map`.

    `workers` <= 1 and no `ray_address`: in this process, in order. Otherwise local processes, or, with
    `ray_address`, a Ray cluster (at most two calls per CPU in flight, so results stream back as they finish).
    """

    def __init__(self, fn: Callable[[Item, Any], Any], shared: Any, workers: int = 1, ray_address: str | None = None):
        self.fn, self.shared, self.workers, self.address = fn, shared, workers, ray_address
        self._pool: ProcessPoolExecutor | None = None
        self._ray: tuple[Any, Any, Any] | None = None

    def __enter__(self) -> Workers[Item]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._ray is not None:
            self._ray[0].shutdown()

    def map(self, items: Iterable[Item]) -> Iterator[tuple[Item, Any]]:
        """(item, result) for every item, in the order they finish."""
        todo = list(items)
        if not todo:
            return
        if self.address:
            yield from self._map_ray(todo)
        elif self.workers <= 1 or (len(todo) == 1 and self._pool is None):
            for item in todo:
                yield item, self.fn(item, self.shared)
        else:
            if self._pool is None:
                self._pool = process_pool(self.workers, _start_worker, (self.shared,))
            futures = {self._pool.submit(_call, self.fn, item): item for item in todo}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()

    def _map_ray(self, todo: list[Item]) -> Iterator[tuple[Item, Any]]:
        if self._ray is None:
            import ray

            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False)
            self._ray = (ray, ray.remote(self.fn), ray.put(self.shared))
        ray, remote, ref = self._ray
        limit = max(2, 2 * int(ray.cluster_resources().get("CPU", self.workers)))
        pending: dict[Any, Item] = {}  # Ray's object reference -> its item
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < limit:
                item = queue.pop(0)
                pending[remote.remote(item, ref)] = item
            ready, _ = ray.wait(list(pending), num_returns=1)
            for r in ready:
                yield pending.pop(r), ray.get(r)
