"""The benchmarks are not timed here: each workload runs two steps through every installed
contestant, and their losses must agree (the second step shows that the updates agree too)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import run  # noqa: E402
import workloads  # noqa: E402

WORKLOADS = {w.name: w for w in workloads.all_workloads()}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_contestants_agree_for_two_steps(name):
    workload = WORKLOADS[name]
    assert "numpy" in workload.contestants and any(
        c.startswith("tinygrad_edu") for c in workload.contestants
    )
    problems = run.agreement(workload, workload.setup(), steps=2)
    assert problems == []


def test_a_wrong_contestant_is_caught():
    original = WORKLOADS["W3"].contestants

    def wrong(s):
        step = original["tinygrad_edu"](s)
        return lambda: step() * (1 + 1e-3)

    setup = WORKLOADS["W3"].setup()
    workload = workloads.Workload(
        "W3", "", WORKLOADS["W3"].setup, {"numpy": original["numpy"], "wrong": wrong}
    )
    problems = run.agreement(workload, setup, steps=2)
    assert len(problems) == 1 and "wrong disagrees with numpy at step 0" in problems[0]
