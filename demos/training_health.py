"""Is the network healthy? A deep tanh MLP with a bad initialisation, a good one, and BatchNorm.

The network of Karpathy's "Building makemore, part 3": five hidden layers of 100 tanh units
(here on scikit-learn's 8 x 8 digits, 64 inputs and 10 classes), trained with plain SGD
(learning rate 0.1, batches of 32). Three runs differ only in how they start:

* ``too large``: every weight drawn with std 5/sqrt(fan_in), three times too large. Most tanh
  outputs sit at +-1, where the local gradient 1 - tanh² is almost 0 (saturated), and the
  logits are huge, so the first loss is far above ln(10).
* ``kaiming``: std (5/3)/sqrt(fan_in), Kaiming's initialisation with tanh's gain 5/3: every
  layer's activations keep about the same spread, and so do the gradients.
* ``batchnorm``: the same with a ``BatchNorm1d`` between each Linear (without bias) and its
  tanh, which normalises the pre-activations whatever the weights.

A `tg.debug.HealthMonitor` watches each run. The pictures (``training_health_start.png``: the
activation and gradient histograms after the first step; ``training_health_end.png``: the four
standard figures after training, one column per run) go to ``docs/images`` unless ``--out``
names another folder; the warnings each monitor raised are printed.

    python demos/training_health.py              # 1,000 steps per run, about 20 seconds
    python demos/training_health.py --quick --out /tmp/health
"""

from __future__ import annotations

import math

import _common
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim

WIDTH = 100
HIDDEN_LAYERS = 5
LR = 0.05
BATCH = 32
# run name -> (weight std times sqrt(fan_in), BatchNorm?, what it shows)
RUNS = {
    "too large": (5.0, False, "weights std 5/sqrt(fan_in): saturated"),
    "kaiming": (5 / 3, False, "Kaiming, gain 5/3"),
    "batchnorm": (5 / 3, True, "Kaiming + BatchNorm1d"),
}


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Digits: 1,797 images of 64 pixels scaled to [0, 1], and their labels 0-9."""
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


def build(gain: float, batchnorm: bool, inputs: int = 64, classes: int = 10) -> nn.Sequential:
    """``HIDDEN_LAYERS`` x (Linear -> [BatchNorm1d] -> Tanh), then Linear to the classes.

    Hidden weights are drawn from N(0, gain² / fan_in), biases are 0; the output layer gets
    gain 1 (its logits need no tanh's gain), except in the run whose weights are all too
    large."""
    layers: list[nn.Module] = []
    fan_in = inputs
    for _ in range(HIDDEN_LAYERS):
        linear = nn.Linear(fan_in, WIDTH, bias=not batchnorm)
        nn.init.normal_(linear.weight, 0.0, gain / math.sqrt(fan_in))
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if batchnorm:
            layers.append(nn.BatchNorm1d(WIDTH))
        layers.append(nn.Tanh())
        fan_in = WIDTH
    out = nn.Linear(fan_in, classes)
    out_gain = gain if gain > 3 else 1.0
    nn.init.normal_(out.weight, 0.0, out_gain / math.sqrt(fan_in))
    nn.init.zeros_(out.bias)
    layers.append(out)
    return nn.Sequential(*layers)


def train(
    model: nn.Module, X: np.ndarray, Y: np.ndarray, steps: int, seed: int = 0
) -> tuple[tg.debug.HealthMonitor, list[float], dict]:
    """SGD on random batches, a monitor stepping after every update. Returns the monitor,
    the losses, and what the start figure needs from the monitor after the first step."""
    rng = np.random.default_rng(seed)
    optimizer = optim.SGD(model.parameters(), lr=LR)
    monitor = tg.debug.HealthMonitor(model, warn=False)
    losses = []
    start = None
    for step in range(steps):
        batch = rng.integers(0, len(X), BATCH)
        loss = F.cross_entropy(model(tg.tensor(X[batch])), tg.tensor(Y[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss)
        losses.append(loss.item())
        if step == 0:
            start = _snapshot(monitor)
    monitor.remove()
    return monitor, losses, start


def _snapshot(monitor: tg.debug.HealthMonitor) -> dict:
    """What the start figure needs from the monitor after its first step."""
    return {
        "layers": monitor.plotted_layers(),
        "activations": dict(monitor.activations),
        "gradients": dict(monitor.gradients),
        "stats": {name: monitor.layers[name][-1] for name in monitor.plotted_layers()},
    }


def start_figure(
    monitors: dict[str, tg.debug.HealthMonitor], starts: dict[str, dict]
) -> plt.Figure:
    """Activation and gradient histograms after the first step, one column per run."""
    fig, grid = plt.subplots(2, len(starts), figsize=(6 * len(starts), 8.5))
    for col, (name, start) in enumerate(starts.items()):
        monitor = monitors[name]
        a_act, a_grad = grid[0, col], grid[1, col]
        for layer in start["layers"]:
            s = start["stats"][layer]
            x, y = monitor.histogram(start["activations"][layer])
            a_act.plot(x, y, label=f"{layer}: std {s.std:.2f}, saturated {s.saturated:.0%}")
            if layer in start["gradients"]:
                x, y = monitor.histogram(start["gradients"][layer])
                a_grad.plot(x, y, label=f"{layer}: std {s.grad_std:.2e}")
        a_act.set_title(f"{name} ({RUNS[name][2]})\nactivations after step 1")
        a_grad.set_title("gradients dL/d(activation) after step 1")
        a_act.legend(fontsize=7)
        a_grad.legend(fontsize=7)
    fig.tight_layout()
    return fig


def end_figure(monitors: dict[str, tg.debug.HealthMonitor]) -> plt.Figure:
    """The monitor's four figures after training, one column per run."""
    fig, grid = plt.subplots(4, len(monitors), figsize=(6 * len(monitors), 17))
    for col, (name, monitor) in enumerate(monitors.items()):
        monitor.plot(axes=grid[:, col], title=f"{name} ({RUNS[name][2]})")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, _common.IMAGES).parse_args(argv)
    steps = 30 if args.quick else 1000
    X, Y = load_data()
    monitors, losses, starts = {}, {}, {}
    with _common.one_blas_thread():
        for name, (gain, batchnorm, _) in RUNS.items():
            tg.manual_seed(0)
            model = build(gain, batchnorm)
            monitors[name], losses[name], starts[name] = train(model, X, Y, steps)
    for name, monitor in monitors.items():
        print(
            f"\n== {name} ({RUNS[name][2]}): loss {losses[name][0]:.3f} -> "
            f"{np.mean(losses[name][-20:]):.3f} (mean of the last 20 steps)"
        )
        print(f"{len(monitor.warnings)} warning(s)")
        for message in monitor.warnings:
            print("  -", message)
    paths = [
        _common.save_figure(start_figure(monitors, starts), args.out / "training_health_start.png"),
        _common.save_figure(end_figure(monitors), args.out / "training_health_end.png"),
    ]
    return {
        "monitors": monitors,
        "losses": losses,
        "warnings": {name: list(m.warnings) for name, m in monitors.items()},
        "paths": paths,
    }


if __name__ == "__main__":
    main()
