"""The benchmarks are not timed here: each workload runs two steps through every installed
contestant, and their losses must agree with its reference contestant's (the second step shows
that the updates agree too)."""

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import harness  # noqa: E402
import run  # noqa: E402
import workloads  # noqa: E402

WORKLOADS = {w.name: w for w in workloads.all_workloads()}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_contestants_agree_for_two_steps(name):
    workload = WORKLOADS[name]
    assert workload.reference in workload.contestants and any(
        c.startswith("tinygrad_edu") for c in workload.contestants
    )
    problems = run.agreement(workload, workload.setup(), steps=2)
    assert problems == []


def test_the_curriculum_workloads_compare_with_their_own_reference_and_tolerance():
    pytest.importorskip("torch")
    assert {
        name: (WORKLOADS[name].reference, WORKLOADS[name].rtol) for name in ("W6", "W7", "W8")
    } == {
        "W6": ("numpy", 1e-6),
        "W7": ("pytorch", 1e-6),
        "W8": ("pytorch", 1e-6),
    }
    assert set(WORKLOADS["W7"].contestants) == {"tinygrad_edu", "pytorch"}
    assert set(WORKLOADS["W8"].contestants) == {"numpy", "tinygrad_edu", "pytorch"}
    for name in ("W7", "W8"):
        assert ("tinygrad_edu", "pytorch", 1.0) in WORKLOADS[name].targets
    problems = harness.check_agreement("W7", {"tinygrad_edu": [1.0, 2.0]}, "pytorch", 1e-6)
    assert problems == ["W7: no pytorch contestant to compare with"]
    problems = harness.check_agreement(
        "W7", {"tinygrad_edu": [1.0, 2.0 * (1 + 2e-6)], "pytorch": [1.0, 2.0]}, "pytorch", 1e-6
    )
    assert problems == ["W7: tinygrad_edu disagrees with pytorch at step 1: loss 2.000004 vs 2.0"]


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


def _two_contestants_of_w3(targets: list | None = None) -> workloads.Workload:
    w3 = WORKLOADS["W3"]
    two = {name: w3.contestants[name] for name in ("numpy", "tinygrad_edu")}
    return workloads.Workload("W3", w3.title, w3.setup, two, targets=targets or w3.targets)


def test_timing_runs_in_rounds_of_fresh_processes_with_the_asked_threads():
    workload = _two_contestants_of_w3()
    result = run.run_workload(
        workload, repeats=3, threads=1, rounds=2, min_seconds=0, turn_seconds=0
    )
    assert result["rounds"] == 2 and result["blas_threads"] == 1
    assert result["machine"] == run.machine() and result["machine"]  # the CPU it ran on
    assert result["disagreements"] == []
    for name in ("numpy", "tinygrad_edu"):
        # turns of one step (turn_seconds=0) until each round has its ceil(3 / 2) steps
        assert result["contestants"][name]["steps"] == 4
        assert result["contestants"][name]["turns"] == 4
    assert result["targets"] == []  # its reference, micrograd, did not run


def test_a_target_gives_its_ratio_round_by_round_beside_the_whole_runs(monkeypatch, capsys):
    """Each round's ratio is of that round's medians; the target's ratio is of the medians of
    every round's steps together."""
    rounds = iter([  # seconds per step of (tinygrad_edu, numpy), round by round
        ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0]),
        ([3.0, 3.0, 9.0], [1.0, 1.0, 1.0]),
        ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]),
    ])

    def fake_turns(workload, contestants, repeats, threads, min_seconds, turn_seconds):
        ours, numpy = next(rounds)
        return {
            "tinygrad_edu": harness.Timing(workload, "tinygrad_edu", ours, turns=3),
            "numpy": harness.Timing(workload, "numpy", numpy, turns=3),
        }

    monkeypatch.setattr(run, "time_in_turns", fake_turns)
    workload = _two_contestants_of_w3(targets=[("tinygrad_edu", "numpy", 1.9)])
    result = run.run_workload(workload, repeats=9, threads=1, rounds=3)
    (target,) = result["targets"]
    assert target["ratio_by_round"] == [2.0, 3.0, 0.5]
    assert target["ratio"] == 2.0 and not target["met"]  # medians of all nine steps: 2 / 1
    assert result["contestants"]["tinygrad_edu"]["turns"] == 9
    run.print_result(result)
    assert "= 2.00 (at most 1.9): NOT met; round by round 0.50-3.00" in capsys.readouterr().out


def test_the_contestants_of_a_round_take_turns_until_each_has_its_time():
    timings = run.time_in_turns(
        "W3", ["numpy", "tinygrad_edu"], repeats=1, threads=1, min_seconds=0.1, turn_seconds=0.02
    )
    numpy_turns = timings["numpy"].turns
    assert numpy_turns >= 5  # 0.1 s of steps at most 0.02 s (and a step) a turn
    assert timings["tinygrad_edu"].turns == numpy_turns  # every turn, each contestant in turn
    for timing in timings.values():
        assert sum(timing.times) >= 0.1 and len(timing.times) > timing.turns  # steps of us
        assert len(timing.losses) == len(timing.times) + 1  # and the untimed warm-up step's
        assert len(set(timing.losses)) > 1  # it trained: the loss moved


def test_a_contestant_that_fails_in_its_process_is_reported_with_its_error():
    with pytest.raises(RuntimeError, match="no-such-contestant failed"):
        run.time_in_turns("W3", ["no-such-contestant"], repeats=1, threads=1, min_seconds=0)


def test_timing_takes_at_least_the_repeats_and_fills_the_time_budget():
    calls = []

    def step():
        calls.append(None)
        time.sleep(0.001)
        return float(len(calls))

    times, losses = harness.time_steps(step, repeats=3)
    assert len(times) == 3 and losses == [1.0, 2.0, 3.0, 4.0]  # one warm-up step, untimed
    times, losses = harness.time_steps(step, repeats=3, min_seconds=0.05)
    assert sum(times) >= 0.05 and len(times) > 3 and len(losses) == len(times) + 1
    times, _ = harness.time_steps(lambda: time.sleep(0.03) or 0.0, repeats=3, min_seconds=0.05)
    assert len(times) == 3  # the repeats already fill the budget


def test_conv_speed_times_the_convolution_primitive_doing_the_layers_work(monkeypatch):
    """conv_speed.py's "primitive" column calls Convolution's forward and backward without the
    engine: they must compute the layer's gradients, or the column would time something else."""
    import os

    monkeypatch.setattr(os, "environ", os.environ.copy())  # conv_speed sets one thread on import
    import conv_speed
    import numpy as np

    import tinygrad_edu as tg
    from tinygrad_edu.nn.conv import Conv2d

    shape = (4, 3, 5, 6, 3, 1, True)  # batch, in, out channels, size, kernel, padding, input grad
    grad_x, grad_weight, grad_bias = conv_speed.primitive_alone(*shape)()
    tg.manual_seed(0)  # the weights primitive_alone draws
    layer = Conv2d(3, 5, 3, padding=1, dtype=np.float32)
    data = np.random.default_rng(0).standard_normal((4, 3, 6, 6)).astype(np.float32)
    x = tg.Tensor(data, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(grad_x, x.grad.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad_weight, layer.weight.grad.data, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(grad_bias, layer.bias.grad.data, rtol=1e-6, atol=1e-5)
