"""Benchmark the source documents' networks (W1-W5) and the lectures' (W6-W8): tinygrad_edu
against hand-written NumPy, and against PyTorch (CPU) and micrograd where they are installed.

    python benchmarks/run.py                      # every workload
    python benchmarks/run.py --only W1 W3         # some of them
    python benchmarks/run.py --json results.json  # also write the numbers
    python benchmarks/run.py --check              # one step each: do the contestants agree?

For each workload it first runs a few steps of every contestant from the same weights and checks
that their losses agree with its reference contestant's (hand-written NumPy, or PyTorch for W7
and W8) to the workload's relative tolerance, then times each
contestant's steps, each in a fresh process of its own, and prints the median, min and max per
step, the ratios of medians to the reference's, and whether each target ratio is met. The
timing runs in rounds (five by default): each round starts every contestant in a process of
its own, for its share of the steps and for at least half a second of timed steps
(``--seconds``), so that a step of microseconds is timed thousands of times. Within a round
the contestants take turns of 50 ms (``--turn``), one process timing steps while the others
wait: a shared machine that slows down for a moment (its speed can change by half for
seconds at a time) then slows every contestant alike, instead of whichever one was running.
Quote ratios, not seconds: they are what carries over between machines.

Every timing process uses one BLAS / OpenMP thread (``--threads`` changes that), NumPy and
PyTorch alike. On a small shared machine a second thread competes with whatever else runs, and
a matrix product that waits for it can take ten times longer, so timings with more threads
swing from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Timing, check_agreement, format_seconds, peak_memory, time_steps  # noqa: E402
from workloads import Workload, all_workloads  # noqa: E402

AGREEMENT_STEPS = 3
ROUNDS = 5  # timing processes per contestant, one in each round
MIN_SECONDS = 0.5  # of timed steps per process: a step of 10 us is timed 50,000 times
TURN_SECONDS = 0.05  # the contestants of a round time steps in turns of this long (at least a step)


def agreement(workload: Workload, setup: object, steps: int) -> list[str]:
    trajectories = {name: [] for name in workload.contestants}
    for name, make in workload.contestants.items():
        step = make(setup)
        trajectories[name] = [step() for _ in range(steps)]
    return check_agreement(workload.name, trajectories, workload.reference, workload.rtol)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def machine() -> str:
    """The CPU's model and the widest SIMD level NumPy dispatches to on it. Ratios depend on
    both, not only on the code: NumPy has a vectorised float32 exp for AVX2 but an exp2 only
    for AVX-512, and the cost of a NumPy call on a small array (against a line of pure Python,
    micrograd's) differs from one CPU to another."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    try:  # (NumPy's own record of what it found, as np.show_runtime() prints it)
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return model
    found = [level for level in __cpu_dispatch__ if __cpu_features__.get(level)]
    widest = _SIMD_NAMES.get(found[-1], found[-1]) if found else "its baseline"
    return f"{model}, NumPy's SIMD up to {widest}"


_SIMD_NAMES = {"X86_V3": "AVX2 (x86-64-v3)", "X86_V4": "AVX-512 (x86-64-v4)"}


def time_in_turns(
    workload: str,
    contestants: list[str],
    repeats: int,
    threads: int,
    min_seconds: float,
    turn_seconds: float = TURN_SECONDS,
) -> dict[str, Timing]:
    """One round: each contestant in a fresh Python process of its own (so that no other
    library's objects, PyTorch alone keeps about 140,000 alive, slow down its garbage
    collector), with ``threads`` BLAS / OpenMP threads (read by NumPy's OpenBLAS and by
    PyTorch when they start). The processes take turns: each in turn times steps for
    ``turn_seconds`` (at least one step) while the others wait, the order reversed every other
    turn, until each has timed at least ``repeats`` steps and ``min_seconds`` of them."""
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    workers = {}
    try:
        for name in contestants:  # (stderr to a file: a full pipe would block the worker)
            command = [sys.executable, __file__, "--worker", workload, name]
            errors = tempfile.TemporaryFile(mode="w+")
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                text=True, env=env,
            )
            workers[name] = (process, errors)
        timings = {name: Timing(workload, name) for name in contestants}
        for name, worker in workers.items():
            ready = _reply(name, worker)  # after the contestant's setup and a warm-up step
            if set(ready["threads"].values()) != {str(threads)}:
                raise RuntimeError(f"{workload} / {name} ran with threads {ready['threads']}")
            timings[name].losses += ready["losses"]
        turn = 0
        while any(len(t.times) < repeats or sum(t.times) < min_seconds for t in timings.values()):
            for name in contestants if turn % 2 == 0 else contestants[::-1]:
                process, _ = workers[name]
                process.stdin.write(f"{turn_seconds}\n")
                process.stdin.flush()
                part = _reply(name, workers[name])
                timings[name].times += part["times"]
                timings[name].losses += part["losses"]
                timings[name].turns += 1
            turn += 1
    finally:
        for process, errors in workers.values():
            process.stdin.close()  # the worker's end of input: it exits
            process.wait()
            errors.close()
    return timings


def _reply(name: str, worker: tuple) -> dict:
    """The next line a worker printed, as JSON; its error output if it printed none."""
    process, errors = worker
    line = process.stdout.readline()
    if not line:
        process.wait()
        errors.seek(0)
        raise RuntimeError(f"{name} failed (exit code {process.returncode}):\n{errors.read()}")
    return json.loads(line)


def worker(workload_name: str, contestant: str) -> None:
    """The --worker mode: build one contestant (importing only its own library), run a warm-up
    step, then, for each line read, time steps for that many seconds; one JSON line each."""
    replies, sys.stdout = sys.stdout, sys.stderr  # (what the contestant prints: to stderr)
    workload = next(w for w in all_workloads() if w.name == workload_name)
    step = workload.contestants[contestant](workload.setup())
    threads = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    print(json.dumps({"threads": threads, "losses": [step()]}), file=replies, flush=True)
    for line in sys.stdin:
        times, losses = time_steps(step, repeats=1, warmup=0, min_seconds=float(line))
        print(json.dumps({"times": times, "losses": losses}), file=replies, flush=True)


def _joined(parts: list[Timing]) -> Timing:
    """One contestant's timings of every round as one."""
    return Timing(
        parts[0].workload,
        parts[0].contestant,
        [t for part in parts for t in part.times],
        [loss for part in parts for loss in part.losses],
        sum(part.turns for part in parts),
    )


def run_workload(
    workload: Workload,
    repeats: int | None,
    threads: int = 1,
    rounds: int = ROUNDS,
    min_seconds: float = MIN_SECONDS,
    turn_seconds: float = TURN_SECONDS,
) -> dict:
    """Check agreement, then time every contestant in ``rounds`` rounds (`time_in_turns`):
    each round runs each contestant in a fresh process, for its share of the steps and for at
    least ``min_seconds`` of timed steps, the contestants taking turns of ``turn_seconds``. A
    slow spell of a shared machine then slows every contestant alike."""
    setup = workload.setup()
    problems = agreement(workload, setup, AGREEMENT_STEPS)
    per_round = -(-(repeats or workload.repeats) // rounds)  # rounded up
    names = list(workload.contestants)
    rounds_timed = [  # each round's own timings (for the ratios round by round)
        time_in_turns(workload.name, names, per_round, threads, min_seconds, turn_seconds)
        for _ in range(rounds)
    ]
    timings = {name: _joined([part[name] for part in rounds_timed]) for name in names}
    result = {
        "workload": workload.name,
        "title": workload.title,
        "blas_threads": threads,
        "machine": machine(),
        "rounds": rounds,
        "turn_s": turn_seconds,
        "reference": workload.reference,
        "disagreements": problems,
        "contestants": {},
    }
    for name, t in timings.items():
        result["contestants"][name] = {
            "median_s": t.median,
            "min_s": t.best,
            "max_s": t.worst,
            "steps": len(t.times),
            "turns": t.turns,
        }
    result["targets"] = []
    for contestant, reference, limit in workload.targets:
        if contestant in timings and reference in timings:
            ratio = timings[contestant].median / timings[reference].median
            by_round = [part[contestant].median / part[reference].median for part in rounds_timed]
            result["targets"].append(
                {
                    "contestant": contestant,
                    "reference": reference,
                    "limit": limit,
                    "ratio": ratio,
                    "met": ratio <= limit,
                    "ratio_by_round": by_round,  # how far the ratio moved within the run
                }
            )
    if workload.name == "W1":
        peaks = {
            name: peak_memory(workload.contestants[name], setup)
            for name in ("numpy", "tinygrad_edu")
        }
        ratio = peaks["tinygrad_edu"] / peaks["numpy"]
        result["peak_memory_bytes"] = peaks
        result["targets"].append(
            {
                "contestant": "tinygrad_edu",
                "reference": "numpy",
                "limit": 1.2,
                "ratio": ratio,
                "met": ratio <= 1.2,
                "what": "peak memory",
            }
        )
    return result


def print_result(result: dict) -> None:
    print(f"\n{result['workload']}: {result['title']}")
    contestants = result["contestants"]
    reference_name = result.get("reference", "numpy")
    reference = contestants.get(reference_name)
    column = "x " + {"numpy": "NumPy", "pytorch": "PyTorch"}.get(reference_name, reference_name)
    print(f"  {'contestant':<26}{'median':>12}{'min':>12}{'max':>12}{column:>10}")
    for name, c in contestants.items():
        ratio = f"{c['median_s'] / reference['median_s']:.2f}" if reference else "-"
        print(
            f"  {name:<26}{format_seconds(c['median_s']):>12}{format_seconds(c['min_s']):>12}{format_seconds(c['max_s']):>12}{ratio:>10}"
        )
    for target in result["targets"]:
        what = target.get("what", "median time")
        verdict = "met" if target["met"] else "NOT met"
        by_round = target.get("ratio_by_round")
        spread = f"; round by round {min(by_round):.2f}-{max(by_round):.2f}" if by_round else ""
        print(
            f"  target: {target['contestant']} / {target['reference']} {what} = {target['ratio']:.2f} (at most {target['limit']}): {verdict}{spread}"
        )
    for problem in result["disagreements"]:
        print(f"  DISAGREEMENT: {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="workload names, e.g. W1 W3")
    parser.add_argument(
        "--repeats", type=int, help="timed steps per contestant (default: per workload)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS / OpenMP threads per timing process (default 1)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help=f"rounds of timing processes per contestant (default {ROUNDS})",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=MIN_SECONDS,
        help="time steps for at least this long in each process, beyond --repeats "
        f"(default {MIN_SECONDS})",
    )
    parser.add_argument(
        "--turn",
        type=float,
        default=TURN_SECONDS,
        help="seconds of steps in each contestant's turn within a round, the others waiting "
        f"(default {TURN_SECONDS})",
    )
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only check that the contestants agree (two steps each, untimed)",
    )
    parser.add_argument(
        "--worker",
        nargs=2,
        metavar=("WORKLOAD", "CONTESTANT"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1])
        return 0
    workloads = [w for w in all_workloads() if not args.only or w.name in args.only]
    failures = 0
    if args.check:
        for workload in workloads:
            problems = agreement(workload, workload.setup(), 2)
            print(
                f"{workload.name}: {len(workload.contestants)} contestants, {'agree' if not problems else problems}"
            )
            failures += bool(problems)
        return 1 if failures else 0
    print(
        f"Python {platform.python_version()} on {machine()}; medians per step; "
        f"{args.threads} BLAS thread(s) per process; {args.rounds} rounds, in turns of "
        f"{args.turn * 1000:g} ms"
    )
    results = []
    for workload in workloads:
        result = run_workload(
            workload, args.repeats, args.threads, args.rounds, args.seconds, args.turn
        )
        print_result(result)
        results.append(result)
        failures += bool(result["disagreements"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
