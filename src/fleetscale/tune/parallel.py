"""Where the simulations run: in this process (one worker), on local processes (all cores by
default) or on an existing Dask distributed cluster (``--scheduler ADDRESS``, through
``dask.distributed.Client``). Each yields results as they complete, with a progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from tqdm import tqdm

from fleetscale.errors import FleetscaleError
from fleetscale.tune.evaluate import Done, Task, evaluate


class Runner(Protocol):
    def run(self, tasks: Sequence[Task]) -> Iterator[Done]: ...
    def close(self) -> None: ...


class _Progress:
    def __init__(self, total: int, show: bool) -> None:
        self.bar = tqdm(total=total, desc="simulations", unit="run", disable=None if show else True)

    def step(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class Inline:
    """One worker: the runs one after the other, in this process."""

    def __init__(self, progress: bool = False, total: int = 0) -> None:
        self.progress = _Progress(total, progress)

    def run(self, tasks: Sequence[Task]) -> Iterator[Done]:
        for task in tasks:
            yield evaluate(task)
            self.progress.step()

    def close(self) -> None:
        self.progress.close()


class Local:
    """Local worker processes (``workers``; default every core)."""

    def __init__(self, workers: int | None = None, progress: bool = True, total: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.pool = ProcessPoolExecutor(max_workers=self.workers)
        self.progress = _Progress(total, progress)

    def run(self, tasks: Sequence[Task]) -> Iterator[Done]:
        futures = [self.pool.submit(evaluate, t) for t in tasks]
        for f in as_completed(futures):
            yield f.result()
            self.progress.step()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)
        self.progress.close()


class Dask:
    """An existing Dask distributed cluster: the runs are its tasks."""

    def __init__(self, address: str, progress: bool = True, total: int = 0) -> None:
        from dask.distributed import Client

        try:
            self.client: Any = Client(address, timeout="30s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise FleetscaleError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from exc
        self.progress = _Progress(total, progress)

    @property
    def workers(self) -> int:
        info: dict[str, Any] = self.client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))

    def run(self, tasks: Sequence[Task]) -> Iterator[Done]:
        from dask.distributed import as_completed as done

        futures = self.client.map(evaluate, list(tasks), pure=False)
        for f in done(futures):  # type: ignore[no-untyped-call]
            yield f.result()
            self.progress.step()

    def close(self) -> None:
        self.client.close()
        self.progress.close()
