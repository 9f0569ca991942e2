"""The fan-out edge: run a sweep's scenarios in this process, in local processes, or on Ray.

Every runner ships :class:`~costopt.risk.scenario.RiskInputs` once (a process pool's
initializer; Ray's object store by ``ray.put``), then sends each scenario as its index and
seed, so the figures are the same whichever runs them. Results come back as each scenario
ends (``on_done``, for a progress bar). A scenario that raises is a
:class:`~costopt.risk.scenario.ScenarioFailure` in the sweep - on Ray after ``retries``
more tries - never silently dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from costopt.risk.scenario import RiskInputs, ScenarioFailure, ScenarioResult, run_scenario

Outcome = ScenarioResult | ScenarioFailure
RunOne = Callable[[RiskInputs, int, int], ScenarioResult]
"""Carries out one scenario: inputs, index, seed -> result (:func:`run_scenario`)."""
Done = Callable[[Outcome], None]


@dataclass
class Sweep:
    """What a sweep gave, by scenario index, and what ran it."""

    runner: str
    results: list[ScenarioResult] = field(default_factory=list)
    failures: list[ScenarioFailure] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        (self.failures if isinstance(outcome, ScenarioFailure) else self.results).append(
            outcome)

    def sort(self) -> Sweep:
        self.results.sort(key=lambda r: r.index)
        self.failures.sort(key=lambda f: f.index)
        return self


def _failure(index: int, seed: int, exc: BaseException) -> ScenarioFailure:
    cause = getattr(exc, "cause", None) or exc  # Ray's RayTaskError carries the original
    first = (str(cause).strip().splitlines() or [""])[0]
    return ScenarioFailure(index, seed, f"{type(cause).__name__}: {first}")


def run_sweep(inputs: RiskInputs, seeds: Sequence[int], *, workers: int | None = None,
              ray_address: str | None = None, retries: int = 2, on_done: Done | None = None,
              run: RunOne = run_scenario) -> Sweep:
    """Run scenario ``k`` with ``seeds[k]`` for every ``k``: on Ray when ``ray_address`` is
    given (``local`` starts a Ray instance on this machine with ``workers`` CPUs; any other
    value is ``ray.init``'s ``address``, such as ``auto`` or ``ray://head:10001``; a Ray
    already initialised in this process is used as it is), else in ``workers`` local
    processes (default: every core), else (``workers=1``) in this process."""
    done = on_done or (lambda _outcome: None)
    if ray_address is not None:
        return _on_ray(inputs, seeds, ray_address, workers, retries, done, run).sort()
    count = workers or os.cpu_count() or 1
    if count == 1:
        return _here(inputs, seeds, done, run).sort()
    return _in_processes(inputs, seeds, count, done, run).sort()


def _here(inputs: RiskInputs, seeds: Sequence[int], done: Done, run: RunOne) -> Sweep:
    sweep = Sweep("1 process (this one)")
    for index, seed in enumerate(seeds):
        try:
            outcome: Outcome = run(inputs, index, seed)
        except Exception as exc:  # reported as the scenario's failure, not dropped
            outcome = _failure(index, seed, exc)
        sweep.add(outcome)
        done(outcome)
    return sweep


_WORKER: dict[str, Any] = {}
"""In a pool's worker process: the inputs and runner its initializer was given."""


def _init_worker(inputs: RiskInputs, run: RunOne) -> None:
    _WORKER.update(inputs=inputs, run=run)


def _in_worker(index: int, seed: int) -> ScenarioResult:
    return _WORKER["run"](_WORKER["inputs"], index, seed)


def _in_processes(inputs: RiskInputs, seeds: Sequence[int], count: int, done: Done,
                  run: RunOne) -> Sweep:
    sweep = Sweep(f"{count} local processes")
    with ProcessPoolExecutor(max_workers=count, initializer=_init_worker,
                             initargs=(inputs, run)) as pool:
        futures = {pool.submit(_in_worker, i, s): (i, s) for i, s in enumerate(seeds)}
        for future in as_completed(futures):
            index, seed = futures[future]
            exc = future.exception()
            outcome = _failure(index, seed, exc) if exc is not None else future.result()
            sweep.add(outcome)
            done(outcome)
    return sweep


def _ray_task(inputs: RiskInputs, index: int, seed: int, run: RunOne) -> ScenarioResult:
    return run(inputs, index, seed)


def _on_ray(inputs: RiskInputs, seeds: Sequence[int], address: str, workers: int | None,
            retries: int, done: Done, run: RunOne) -> Sweep:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if address == "local":
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False)
        else:
            ray.init(address=address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        sweep = Sweep(f"Ray ({address}, {cpus} CPUs)")
        task = ray.remote(max_retries=retries, retry_exceptions=True)(_ray_task)
        shared = ray.put(inputs)
        pending = {task.remote(shared, i, s, run): (i, s) for i, s in enumerate(seeds)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index, seed = pending.pop(ref)
                try:
                    outcome: Outcome = ray.get(ref)
                except Exception as exc:  # after the retries: reported, not dropped
                    outcome = _failure(index, seed, exc)
                sweep.add(outcome)
                done(outcome)
        return sweep
    finally:
        if started_here:
            ray.shutdown()
