"""Timing, agreement checks and reporting shared by every workload.

A *contestant* is a function ``make(setup) -> step``: it builds its network from the workload's
shared initial weights and data, and returns ``step()``, which runs one training step (forward,
loss, backward, update) and returns the loss before the update as a float. Because every
contestant starts from the same weights, their losses after a few steps must agree: a fast
wrong answer cannot win.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Step = Callable[[], float]
Contestant = Callable[[Any], Step]


@dataclass
class Timing:
    """Seconds per step of one contestant on one workload."""

    workload: str
    contestant: str
    times: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    turns: int = 0  # how many turns the steps were timed in (see run.time_in_turns)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def worst(self) -> float:
        return max(self.times)


def time_steps(
    step: Step, repeats: int, warmup: int = 1, min_seconds: float = 0.0
) -> tuple[list[float], list[float]]:
    """Run ``warmup`` untimed steps, then timed ones: at least ``repeats``, and more until the
    timed steps add up to ``min_seconds``. Return (times, losses).

    The budget gives a step of microseconds thousands of samples, where a fixed count would
    give it a few, which one stall of the machine can move; a slow step still runs
    ``repeats`` times."""
    losses = [step() for _ in range(warmup)]
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats or spent < min_seconds:
        start = time.perf_counter()
        loss = step()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        losses.append(loss)
        spent += elapsed
    return times, losses


def check_agreement(
    workload: str, trajectories: dict[str, list[float]], reference: str, rtol: float
) -> list[str]:
    """Compare each contestant's losses with the reference contestant's, step by step: each
    must be within ``rtol`` of the reference's, relatively. Returns a list of disagreements
    (empty when all agree); a missing reference is one."""
    if reference not in trajectories:
        return [f"{workload}: no {reference} contestant to compare with"]
    problems = []
    expected = trajectories[reference]
    for name, losses in trajectories.items():
        for i, (a, b) in enumerate(zip(losses, expected)):
            if not abs(a - b) <= rtol * max(abs(b), 1e-12):
                problems.append(
                    f"{workload}: {name} disagrees with {reference} at step {i}: "
                    f"loss {a!r} vs {b!r}"
                )
                break
    return problems


def peak_memory(make: Contestant, setup: Any) -> int:
    """Peak bytes allocated (NumPy arrays included) during one step, after one warm-up."""
    step = make(setup)
    step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"
