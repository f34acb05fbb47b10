"""Graduate to PyTorch: train here, carry the model and its optimizer over, continue in PyTorch,
then on two processes with DistributedDataParallel, and bring the result back.

The network is 64 -> 32 ReLU -> 10 on scikit-learn's handwritten digits (8 x 8 pixels scaled to
[0, 1]), trained in float64 with Adam on mini-batches of 64 that come in a fixed order, so that
every run and every library sees the same batches.

1. **Here.** ``STEPS`` Adam steps with tinygrad_edu.
2. **Hand-over to PyTorch.** ``tg.to_torch(model)`` builds the same network in PyTorch with
   the same weights, ``tg.interop.optimizer_to_torch`` the same Adam with the same running
   averages and step counts. Training continues there for ``STEPS`` steps. As a witness, the
   tinygrad_edu model also keeps training here on the same batches: the two runs must agree.
3. **Hand-over to many processes.** The PyTorch model and optimizer are saved with
   ``torch.save``, as a PyTorch script would save them. Two processes
   (``torch.multiprocessing.spawn``, the ``gloo`` backend on 127.0.0.1 only) load them, wrap
   the model in ``DistributedDataParallel`` and train on ``STEPS`` more batches, each process
   on one half of every batch; DDP averages the two halves' gradients, which is the gradient
   of the whole batch. As a witness, one PyTorch process trains on the whole batches too.
4. **Back here.** ``tg.from_torch`` turns the result into a tinygrad_edu model again.

At every hand-over the loss on the whole training set is printed on both sides. The check that
the losses continue smoothly: (a) at each hand-over the two sides' losses of the same weights
agree to 1e-9, and (b) each phase's batch losses agree to 1e-9 with its witness, the run that
stayed where it was (so nothing about the hand-over changed the course of training), and (c)
the loss on the training set went down in every phase. The losses of every step are plotted to
``losses.png`` in the output folder (``out/graduate`` unless ``--out`` names another), with the
checkpoint handed to the processes.

    python demos/graduate.py               # about ten seconds
    python demos/graduate.py --quick --out /tmp/graduate
"""

from __future__ import annotations

import datetime
import gc
import importlib
import os
import socket
import sys
import time
from pathlib import Path

import _common
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.interop import from_torch, optimizer_to_torch, to_torch

DEFAULT_OUT = Path("out") / "graduate"
SIZES = (64, 32, 10)
BATCH = 64  # even: each of the two processes takes one half of every batch
LR = 3e-3
STEPS = 150  # per phase; --quick: QUICK_STEPS
QUICK_STEPS = 25
WORLD_SIZE = 2
TOLERANCE = 1e-9  # (a) and (b): float64 runs that differ only in rounding agree far closer


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits: pixels scaled to [0, 1] (float64), labels 0..9 (int64)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.data / 16.0, digits.target.astype(np.int64)


def batch_rows(step: int, n: int, seed: int = 0) -> np.ndarray:
    """The rows of batch number ``step``: a fixed shuffle of the data per pass over it, the
    same in every library and process."""
    per_pass = n // BATCH
    order = np.random.default_rng(seed + step // per_pass).permutation(n)
    start = (step % per_pass) * BATCH
    return order[start : start + BATCH]


# ---- 1. here ------------------------------------------------------------------------------------


def train_here(model, optimizer, X, y, steps: range) -> list[float]:
    """Adam steps with tinygrad_edu on the batches numbered ``steps``; the batch losses."""
    losses = []
    for step in range(steps.start, steps.stop):
        rows = batch_rows(step, len(X))
        loss = F.cross_entropy(model(tg.Tensor(X[rows])), tg.Tensor(y[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def loss_here(model, X, y) -> float:
    with tg.no_grad():
        return F.cross_entropy(model(tg.Tensor(X)), tg.Tensor(y)).item()


# ---- 2. PyTorch -----------------------------------------------------------------------------------


def train_torch(model, optimizer, X, y, steps: range, part: tuple[int, int] = (0, 1)):
    """The same steps with PyTorch. ``part = (rank, world_size)``: this process's share of
    every batch (rows rank, rank + world_size, ...); the returned losses are those of the
    whole batches (the mean of all processes' losses when world_size > 1)."""
    import torch
    import torch.nn.functional as TF

    rank, world_size = part
    losses = []
    for step in range(steps.start, steps.stop):
        rows = batch_rows(step, len(X))[rank::world_size]
        loss = TF.cross_entropy(model(torch.from_numpy(X[rows])), torch.from_numpy(y[rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.detach().clone()
        if world_size > 1:
            torch.distributed.all_reduce(value)  # the sum of the halves' means
            value /= world_size
        losses.append(value.item())
    return losses


def loss_torch(model, X, y) -> float:
    import torch
    import torch.nn.functional as TF

    with torch.no_grad():
        return TF.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(y)).item()


def torch_network():
    """The network as one writes it in PyTorch (what ``tg.to_torch`` of the MLP builds)."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1], dtype=torch.float64),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2], dtype=torch.float64),
    )


# ---- 3. many processes ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on: the one the system gives a socket bound to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_interface() -> str | None:
    """The name of the loopback network interface ("lo" on Linux, "lo0" on macOS), for gloo to
    talk through it only."""
    names = [name for _, name in socket.if_nameindex()] if hasattr(socket, "if_nameindex") else []
    return next((name for name in names if name.startswith("lo")), None)


def _ddp_worker(rank: int, port: int, checkpoint: Path, data: Path, steps: range, result: Path):
    """One of the processes: plain PyTorch code, as a training script on a cluster would be.
    Loads the checkpoint and the data, wraps the model in DistributedDataParallel and trains on
    its half of every batch; process 0 writes the losses and the final weights to ``result``."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)  # one core per process
    dist.init_process_group(
        "gloo", rank=rank, world_size=WORLD_SIZE, timeout=datetime.timedelta(seconds=60)
    )
    try:
        with np.load(data) as arrays:
            X, y = arrays["X"], arrays["y"]
        saved = torch.load(checkpoint, weights_only=True)
        model = torch_network()
        model.load_state_dict(saved["model"])
        before = loss_torch(model, X, y)  # the loss on the training set, as handed over
        ddp_model = DistributedDataParallel(model)
        optimizer = torch.optim.Adam(ddp_model.parameters(), lr=LR)
        optimizer.load_state_dict(saved["optimizer"])
        losses = train_torch(ddp_model, optimizer, X, y, steps, part=(rank, WORLD_SIZE))
        if rank == 0:
            after = loss_torch(model, X, y)
            state = {"losses": losses, "before": before, "after": after}
            torch.save({**state, "model": model.state_dict()}, result)
        # Take the group down in step, while this process is fully alive: both processes wait
        # here for each other, then free the wrapper that holds the group. Left to the end of
        # the interpreter (the wrapper sits in reference cycles), gloo's threads were torn down
        # there and aborted the process, now and then.
        dist.barrier()
        del ddp_model, optimizer
        gc.collect()
    finally:
        dist.destroy_process_group()


def _ddp_entry_point():
    """``_ddp_worker`` as the new processes can find it: in the module ``graduate`` imported
    from this file's folder. (Run as a script, this file is ``__main__``, and a file loaded by
    its path has no name to be imported by; either way, the processes import it by name.)"""
    folder = str(Path(__file__).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the new processes start with this sys.path
    return importlib.import_module(Path(__file__).stem)._ddp_worker


def train_distributed(checkpoint: Path, X, y, steps: range, out: Path) -> dict:
    """Run ``_ddp_worker`` on WORLD_SIZE processes; what process 0 wrote.

    The data go to the processes in a file, not as arguments: arguments are sent down a pipe
    that holds 64 kB, so that the second process would be started only once the first had
    read them, after its slow start (importing PyTorch)."""
    import torch
    import torch.multiprocessing as mp

    interface = loopback_interface()
    if interface and "GLOO_SOCKET_IFNAME" not in os.environ:
        os.environ["GLOO_SOCKET_IFNAME"] = interface  # the processes inherit it
    data, result = out / "data.npz", out / "ddp_result.pt"
    np.savez(data, X=X, y=y)
    args = (free_port(), checkpoint, data, steps, result)
    mp.spawn(_ddp_entry_point(), args=args, nprocs=WORLD_SIZE, join=True)
    return torch.load(result, weights_only=True)


# ---- the demo -------------------------------------------------------------------------------------


def handover(name: str, before: float, after: float) -> dict:
    difference = abs(after - before)
    print(
        f"hand-over {name}: training-set loss {before:.12f} before, {after:.12f} after "
        f"(difference {difference:.1e})"
    )
    return {"name": name, "before": before, "after": after, "difference": difference}


def max_difference(a: list[float], b: list[float]) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def plot(phases: list[dict], train_losses: list[float], path: Path) -> Path:
    """The batch losses of every phase, and the training-set losses at the hand-overs."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    start = 0
    for phase in phases:
        steps = np.arange(start, start + len(phase["losses"])) + 1
        ax.plot(steps, phase["losses"], label=phase["name"])
        if start:
            ax.axvline(start + 0.5, color="grey", linestyle="--", linewidth=0.8)
        start += len(phase["losses"])
    n = len(phases[0]["losses"])
    ax.plot(np.arange(len(train_losses)) * n, train_losses, "ko", label="training-set loss")
    ax.set_xlabel("step")
    ax.set_ylabel("batch cross-entropy")
    ax.set_yscale("log")
    ax.set_title("One training run, three places: hand-overs at the dashed lines")
    ax.legend()
    return _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, DEFAULT_OUT).parse_args(argv)
    try:
        import torch
    except ImportError:
        raise SystemExit("this demo needs PyTorch: pip install torch") from None

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    n = QUICK_STEPS if args.quick else STEPS
    here, in_torch, distributed = range(0, n), range(n, 2 * n), range(2 * n, 3 * n)
    X, y = load_data()
    X, y = X[: len(X) // BATCH * BATCH], y[: len(y) // BATCH * BATCH]  # whole batches only
    seconds = {}

    # 1. here
    tg.manual_seed(0)
    model = nn.MLP(SIZES)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    start_loss = loss_here(model, X, y)
    t = time.perf_counter()
    with _common.one_blas_thread():
        losses_here = train_here(model, optimizer, X, y, here)
    seconds["here"] = time.perf_counter() - t
    print(f"here: {n} steps, batch loss {losses_here[0]:.4f} -> {losses_here[-1]:.4f}")

    # 2. hand-over to PyTorch, and the witness that stays here
    torch_model = to_torch(model)
    torch_optimizer = optimizer_to_torch(optimizer, torch_model.parameters())
    handovers = [handover("here -> PyTorch", loss_here(model, X, y), loss_torch(torch_model, X, y))]
    t = time.perf_counter()
    losses_torch = train_torch(torch_model, torch_optimizer, X, y, in_torch)
    seconds["PyTorch"] = time.perf_counter() - t
    with _common.one_blas_thread():
        witness_here = train_here(model, optimizer, X, y, in_torch)
    print(f"PyTorch: {n} steps, batch loss {losses_torch[0]:.4f} -> {losses_torch[-1]:.4f}")

    # 3. hand-over to two processes, and the witness in one
    checkpoint = out / "handover.pt"
    torch.save(
        {"model": torch_model.state_dict(), "optimizer": torch_optimizer.state_dict()}, checkpoint
    )
    t = time.perf_counter()
    result = train_distributed(checkpoint, X, y, distributed, out)
    seconds["DDP"] = time.perf_counter() - t
    handovers.append(handover("PyTorch -> DDP", loss_torch(torch_model, X, y), result["before"]))
    witness_torch = train_torch(torch_model, torch_optimizer, X, y, distributed)
    losses_ddp = result["losses"]
    print(
        f"DDP on {WORLD_SIZE} processes: {n} steps, batch loss {losses_ddp[0]:.4f} -> "
        f"{losses_ddp[-1]:.4f} ({seconds['DDP']:.1f} s with starting the processes)"
    )

    # 4. back here
    final = torch_network()
    final.load_state_dict(result["model"])
    back = from_torch(final)
    handovers.append(handover("DDP -> here", result["after"], loss_here(back, X, y)))

    witnesses = {
        "PyTorch vs staying here": max_difference(losses_torch, witness_here),
        "DDP vs one PyTorch process": max_difference(losses_ddp, witness_torch),
    }
    for name, difference in witnesses.items():
        print(f"batch losses, {name}: largest difference {difference:.1e}")
    train_losses = [start_loss, handovers[0]["before"], handovers[1]["before"], result["after"]]
    decreasing = all(a > b for a, b in zip(train_losses[:-1], train_losses[1:]))
    smooth = (
        all(h["difference"] < TOLERANCE for h in handovers)
        and all(d < TOLERANCE for d in witnesses.values())
        and decreasing
    )
    print(
        "training-set loss: "
        + " -> ".join(f"{loss:.4f}" for loss in train_losses)
        + f"; the losses continue smoothly across the hand-overs: {smooth}"
    )
    phases = [
        {"name": "tinygrad_edu", "losses": losses_here},
        {"name": "PyTorch", "losses": losses_torch},
        {"name": f"DDP, {WORLD_SIZE} processes", "losses": losses_ddp},
    ]
    picture = plot(phases, train_losses, out / "losses.png")
    return {
        "phases": phases,
        "handovers": handovers,
        "witnesses": witnesses,
        "train_losses": train_losses,
        "decreasing": decreasing,
        "smooth": smooth,
        "seconds": seconds,
        "model": back,
        "paths": [picture, checkpoint],
    }


if __name__ == "__main__":
    main()
