"""Is training healthy? Statistics of every layer and parameter at every step, the four
standard diagnostic plots, and warnings a learner can act on.

Andrej Karpathy's "Building makemore, part 3" looks at a deep tanh network through four plots:
the distribution of each layer's activations (are they saturated?), of the gradients flowing
through them (do they shrink or grow from layer to layer?), of the weights' gradients compared
with the weights, and, over time, log10 of (the size of each update / the size of the data),
which should sit near -3. `HealthMonitor` records all of it while you train::

    monitor = tg.debug.HealthMonitor(model)
    for step in range(1000):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step()                  # after optimizer.step(), before the next zero_grad()
    monitor.summary()                   # a table per layer and per parameter
    monitor.plot()                      # the four figures (matplotlib)
    monitor.warnings                    # e.g. "saturated tanh in layer 3 (Tanh): ..."

How it sees the network: a forward hook (``Module.register_forward_hook``) on every leaf module
keeps the module's output and registers a gradient hook on it (``Tensor.register_hook``), so
that ``backward()`` hands it dL/d(activation); the parameters' ``.grad`` and data are read at
``step()``, and the update is the change of each parameter since the previous ``step()``.

Definitions (per layer, per step, over every element of the layer's output in that step):

* mean and std of the activations and of their gradients (std as PyTorch's ``Tensor.std()``,
  unbiased);
* saturated: the fraction of a tanh layer's outputs with |x| > 0.97 (its local gradient
  1 - x² is below 0.06), of a sigmoid layer's outputs below 0.03 or above 0.97, of a ReLU
  layer's outputs that are 0;
* dead (ReLU layers): the fraction of units (columns of a 2-D output, channels of a conv
  output) that were 0 for every example of the last ``window`` steps;
* per parameter: grad:data = std(grad) / std(data), and update:data =
  log10(std(update) / std(data)) with the update the change the optimiser made.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..grad_mode import is_grad_enabled
from ..tensor import Tensor

SATURATION = 0.97  # |tanh| above this is saturated (Karpathy's threshold)
MAX_CALLS = 32  # outputs kept per layer between two step() calls (a layer called in a loop)

# The kind of a layer, by its class: what "saturated" and "dead" mean for it.
KINDS = {
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "ReLU": "relu",
    "ReLU6": "relu",
    "LeakyReLU": "activation",
    "ELU": "activation",
    "CELU": "activation",
    "GELU": "activation",
    "SiLU": "activation",
    "Mish": "activation",
    "Softplus": "activation",
    "Softsign": "activation",
    "Hardtanh": "activation",
    "Hardswish": "activation",
}
NONLINEAR = {"tanh", "sigmoid", "relu", "activation"}


class HealthWarning(UserWarning):
    """A sign that training is unhealthy (``HealthMonitor`` issues it)."""


class HealthMessage(str):
    """A warning's text, with what it is about: ``kind`` (``"dead"``, ``"saturated"``,
    ``"exploding"``, ``"vanishing"``, ``"update"``) and ``layer`` (the layer or parameter)."""

    kind: str
    layer: str

    def __new__(cls, text: str, kind: str, layer: str) -> HealthMessage:
        message = super().__new__(cls, text)
        message.kind = kind
        message.layer = layer
        return message


@dataclass
class LayerStats:
    """One layer's output at one step (NaN where a statistic does not apply)."""

    step: int
    mean: float
    std: float
    saturated: float  # fraction, see the module's docstring
    dead: float  # fraction of units never active in the last `window` steps (ReLU layers)
    grad_mean: float  # of dL/d(output)
    grad_std: float
    grad_norm: float


@dataclass
class ParamStats:
    """One parameter at one step."""

    step: int
    data_std: float
    grad_mean: float
    grad_std: float
    grad_norm: float
    grad_to_data: float  # std(grad) / std(data)
    update_to_data: float  # log10(std(update) / std(data)); NaN before the first update


class HealthMonitor:
    """Watch a model train: call ``step()`` after every ``optimizer.step()`` (or pass the
    monitor to ``tg.train.fit(..., callbacks=[monitor])``).

    Args:
        model: the ``nn.Module`` to watch; every leaf module (one without sub-modules) is a
            layer.
        window: how many recent steps the dead-unit and update-ratio checks look at.
        saturation_limit: warn when more than this fraction of a tanh or sigmoid layer's
            outputs is saturated.
        dead_limit: warn when more than this fraction of a ReLU layer's units is dead.
        grad_ratio_limit: warn when the gradient std of the first nonlinear layer and that of
            the last differ by more than this factor (exploding or vanishing gradients).
        grad_norm_limit: warn when a parameter's gradient norm exceeds this.
        update_range: warn when a weight matrix's mean log10 update:data ratio over the last
            ``window`` steps is outside this range (1e-3 is about right).
        bins: histogram bins of the plots.
        warn: also issue each warning with ``warnings.warn`` (category `HealthWarning`).

    Each warning is given once per (kind, layer) and kept in ``warnings``.
    """

    def __init__(
        self,
        model: Any,
        *,
        window: int = 10,
        saturation_limit: float = 0.25,
        dead_limit: float = 0.25,
        grad_ratio_limit: float = 100.0,
        grad_norm_limit: float = 1e3,
        update_range: tuple[float, float] = (-4.5, -1.5),
        bins: int = 50,
        warn: bool = True,
    ) -> None:
        if not hasattr(model, "named_modules"):
            raise TypeError(f"HealthMonitor: expected an nn.Module, got {type(model).__name__}")
        if window < 1:
            raise ValueError(f"HealthMonitor: window must be >= 1, got {window}")
        self.model = model
        self.window = window
        self.saturation_limit = saturation_limit
        self.dead_limit = dead_limit
        self.grad_ratio_limit = grad_ratio_limit
        self.grad_norm_limit = grad_norm_limit
        self.update_range = update_range
        self.bins = bins
        self.warn = warn
        self.steps = 0
        self.losses: list[float] = []
        self.warnings: list[HealthMessage] = []
        self._warned: set[tuple[str, str]] = set()
        self.kinds: dict[str, str] = {}  # layer name -> its kind
        self.layers: dict[str, list[LayerStats]] = {}
        self.params: dict[str, list[ParamStats]] = {}
        self.order: list[str] = []  # layers in the order the forward pass calls them
        self.activations: dict[str, np.ndarray] = {}  # the latest step's, flattened
        self.gradients: dict[str, np.ndarray] = {}  # dL/d(activation), the latest step's
        self.param_grads: dict[str, np.ndarray] = {}  # the latest step's
        self._captured: dict[str, list[Tensor]] = {}
        self._captured_grads: dict[str, list[Tensor]] = {}  # dL/d(output), from the hooks
        self._active: dict[str, deque] = {}  # per layer: which units were active, per step
        self._previous = {name: _flat(p.data).copy() for name, p in model.named_parameters()}
        self._ndim = {name: p.ndim for name, p in model.named_parameters()}
        self._handles = []
        for name, module in _leaf_modules(model):
            self.kinds[name] = KINDS.get(type(module).__name__, type(module).__name__.lower())
            self.layers[name] = []
            self._captured[name] = []
            self._captured_grads[name] = []
            self._active[name] = deque(maxlen=window)
            self._handles.append(module.register_forward_hook(self._hook(name)))

    # ---- recording -----------------------------------------------------------------------

    def _hook(self, name: str) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> None:
            if not isinstance(output, Tensor) or not is_grad_enabled():
                return  # evaluation under no_grad does not count
            if output.requires_grad:  # backward hands the hook dL/d(output)
                output.register_hook(lambda grad: self._captured_grads[name].append(grad))
            captured = self._captured[name]
            captured.append(output)
            if len(captured) > MAX_CALLS:  # forward passes without step(): keep the latest
                del captured[0]
            if name not in self.order:
                self.order.append(name)

        return hook

    def step(self, loss: Any = None) -> list[HealthMessage]:
        """Record this step (after ``optimizer.step()``): the statistics of every layer the
        forward pass went through since the last ``step()``, and of every parameter. Returns
        the warnings this step raised."""
        self.steps += 1
        if loss is not None:
            self.losses.append(float(np.asarray(getattr(loss, "data", loss)).reshape(-1)[0]))
        for name in self.order:
            outputs = self._captured[name]
            if outputs:
                self.layers[name].append(self._layer_stats(name, outputs))
            self._captured[name] = []
            self._captured_grads[name] = []
        for name, p in self.model.named_parameters():
            self.params.setdefault(name, []).append(self._param_stats(name, p))
        raised = self._check()
        if self.warn:
            for message in raised:
                warnings.warn(message, HealthWarning, stacklevel=2)
        return raised

    def on_step_end(self, loss: Any = None) -> None:
        """``tg.train.fit``'s callback: ``step()`` after every optimizer step."""
        self.step(loss)

    def _layer_stats(self, name: str, outputs: list[Tensor]) -> LayerStats:
        data = np.concatenate([_flat(o.data) for o in outputs])
        grads = self._captured_grads[name]
        grad = np.concatenate([_flat(g.data) for g in grads]) if grads else None
        kind = self.kinds[name]
        self.activations[name] = data
        if grad is not None:
            self.gradients[name] = grad
        else:
            self.gradients.pop(name, None)
        dead = math.nan
        if kind == "relu":
            active = _active_units([np.asarray(o.data) for o in outputs])
            history = self._active[name]
            if history and history[-1].shape != active.shape:
                history.clear()
            history.append(active)
            ever = np.logical_or.reduce(list(history))
            dead = float(1.0 - ever.mean()) if ever.size else math.nan
        return LayerStats(
            step=self.steps,
            mean=_mean(data),
            std=_std(data),
            saturated=saturated_fraction(data, kind),
            dead=dead,
            grad_mean=_mean(grad),
            grad_std=_std(grad),
            grad_norm=_norm(grad),
        )

    def _param_stats(self, name: str, p: Tensor) -> ParamStats:
        data = _flat(p.data)
        grad = None if p.grad is None else _flat(p.grad.data)
        if grad is not None:
            self.param_grads[name] = grad
        previous = self._previous.get(name)
        update = None
        if previous is not None and previous.shape == data.shape:
            update = data - previous
        self._previous[name] = data.copy()
        data_std = _std(data)
        grad_std = _std(grad)
        with np.errstate(all="ignore"):
            grad_to_data = grad_std / data_std if data_std > 0 else math.nan
            ratio = _std(update) / data_std if data_std > 0 and update is not None else math.nan
            update_to_data = float(np.log10(ratio)) if ratio > 0 else math.nan
        return ParamStats(
            step=self.steps,
            data_std=data_std,
            grad_mean=_mean(grad),
            grad_std=grad_std,
            grad_norm=_norm(grad),
            grad_to_data=float(grad_to_data),
            update_to_data=update_to_data,
        )

    # ---- warnings ------------------------------------------------------------------------

    def _check(self) -> list[HealthMessage]:
        raised = []
        latest = {name: s[-1] for name, s in self.layers.items() if s and s[-1].step == self.steps}
        for name, stats in latest.items():
            kind = self.kinds[name]
            if not (np.isfinite(stats.mean) and np.isfinite(stats.std)) or (
                not np.isnan(stats.grad_norm) and not np.isfinite(stats.grad_norm)
            ):
                raised += self._raise(
                    "exploding",
                    name,
                    f"exploding values in layer {name}: its output or its gradient holds NaN "
                    "or infinity; training has diverged. Lower the learning rate, clip the "
                    "gradients (tg.nn.utils.clip_grad_norm_) or scale the initial weights down.",
                )
            if kind in ("tanh", "sigmoid") and stats.saturated > self.saturation_limit:
                bound = "|x| > 0.97" if kind == "tanh" else "x < 0.03 or x > 0.97"
                raised += self._raise(
                    "saturated",
                    name,
                    f"saturated {kind} in layer {name}: {stats.saturated:.0%} of its outputs are "
                    f"saturated ({bound}), where the local gradient is almost 0, so the layers "
                    "below it learn slowly. Scale the weights feeding it down (Kaiming: std = "
                    "gain / sqrt(fan_in), gain 5/3 for tanh) or put a BatchNorm1d before it.",
                )
            if kind == "relu" and stats.dead > self.dead_limit:
                raised += self._raise(
                    "dead",
                    name,
                    f"dead ReLU units in layer {name}: {stats.dead:.0%} of its units output 0 "
                    f"for every example of the last {len(self._active[name])} step(s), so they "
                    "get no gradient and never recover. Lower the learning rate, initialise "
                    "with Kaiming (gain sqrt(2)) and biases >= 0, or use LeakyReLU.",
                )
        raised += self._check_gradient_flow(latest)
        for name, series in self.params.items():
            stats = series[-1]
            if stats.grad_norm > self.grad_norm_limit or (
                not np.isnan(stats.grad_norm) and not np.isfinite(stats.grad_norm)
            ):
                raised += self._raise(
                    "exploding",
                    name,
                    f"exploding gradient of {name}: its norm is {stats.grad_norm:.3g} "
                    f"(> {self.grad_norm_limit:g}). Lower the learning rate, clip the gradients "
                    "(tg.nn.utils.clip_grad_norm_) or scale the initial weights down.",
                )
            raised += self._check_update(name, series)
        return raised

    def _check_gradient_flow(self, latest: dict[str, LayerStats]) -> list[HealthMessage]:
        """Compare the gradient std of the first and the last (nonlinear) layer."""
        names = [n for n in self.order if n in latest]
        nonlinear = [n for n in names if self.kinds[n] in NONLINEAR]
        names = nonlinear if len(nonlinear) >= 2 else names
        flowing = [n for n in names if np.isfinite(latest[n].grad_std) and latest[n].grad_std > 0]
        if len(flowing) < 2:
            return []
        first, last = flowing[0], flowing[-1]
        ratio = latest[first].grad_std / latest[last].grad_std
        if ratio > self.grad_ratio_limit:
            return self._raise(
                "exploding",
                first,
                f"exploding gradients at layer {first}: its gradient std is {ratio:.3g} times "
                f"that of layer {last}; gradients grow on the way back through the network. "
                "Scale the weights down (Kaiming init), add normalisation (BatchNorm1d) or clip "
                "the gradients.",
            )
        if ratio < 1 / self.grad_ratio_limit:
            return self._raise(
                "vanishing",
                first,
                f"vanishing gradients at layer {first}: its gradient std is {ratio:.3g} times "
                f"that of layer {last}; the first layers hardly learn. Use Kaiming init with "
                "the gain of the nonlinearity, avoid saturated activations, or add "
                "BatchNorm1d.",
            )
        return []

    def _check_update(self, name: str, series: list[ParamStats]) -> list[HealthMessage]:
        if len(series) < self.window or self._ndim.get(name, 0) < 2:
            return []  # biases and norm scales: the plot and the rule of thumb are for weights
        recent = [s.update_to_data for s in series[-self.window :]]
        recent = [r for r in recent if np.isfinite(r)]
        if len(recent) < self.window:
            return []
        level = float(np.mean(recent))
        low, high = self.update_range
        if low <= level <= high:
            return []
        if level > high:
            advice = "far above 1e-3: the learning rate is probably too high"
        else:
            advice = "far below 1e-3: the learning rate is probably too low (or the layer is stuck)"
        return self._raise(
            "update",
            name,
            f"update-to-data ratio of {name}: each step changes it by 10^{level:.1f} of its "
            f"spread (mean log10(std(update)/std(data)) of the last {self.window} steps), "
            f"{advice}.",
        )

    def _raise(self, kind: str, layer: str, text: str) -> list[HealthMessage]:
        if (kind, layer) in self._warned:
            return []
        self._warned.add((kind, layer))
        message = HealthMessage(f"step {self.steps}: {text}", kind, layer)
        self.warnings.append(message)
        return [message]

    # ---- reading the results -------------------------------------------------------------

    def plotted_layers(self) -> list[str]:
        """The layers the activation and gradient plots show: the nonlinear ones (all of them
        when there are none), in forward order."""
        seen = [n for n in self.order if n in self.activations]
        nonlinear = [n for n in seen if self.kinds[n] in NONLINEAR]
        return nonlinear or seen

    def weight_names(self) -> list[str]:
        """The parameters with at least two dimensions (weight matrices, conv kernels)."""
        return [n for n, p in self.model.named_parameters() if p.ndim >= 2]

    def summary(self, print_it: bool = True) -> str:
        """A table of the latest step: per layer and per parameter; printed, and returned."""
        lines = [f"training health after {self.steps} step(s)", ""]
        header = (
            f"{'layer':<22} {'kind':<10} {'mean':>9} {'std':>9} {'saturated':>9} {'dead':>6} "
            f"{'grad mean':>10} {'grad std':>10}"
        )
        lines.append(header)
        for name in self.order:
            if not self.layers[name]:
                continue
            s = self.layers[name][-1]
            lines.append(
                f"{name:<22} {self.kinds[name]:<10} {s.mean:>+9.4f} {s.std:>9.4f} "
                f"{_pct(s.saturated):>9} {_pct(s.dead):>6} {s.grad_mean:>+10.2e} "
                f"{s.grad_std:>10.2e}"
            )
        lines += [
            "",
            f"{'parameter':<22} {'shape':<12} {'data std':>9} {'grad std':>10} "
            f"{'grad:data':>10} {'log10 update:data':>18}",
        ]
        shapes = {n: tuple(p.shape) for n, p in self.model.named_parameters()}
        for name, series in self.params.items():
            s = series[-1]
            recent = [r.update_to_data for r in series[-self.window :]]
            recent = [r for r in recent if np.isfinite(r)]
            level = f"{np.mean(recent):+.2f}" if recent else "-"
            lines.append(
                f"{name:<22} {str(shapes.get(name, '')):<12} {s.data_std:>9.4f} "
                f"{s.grad_std:>10.2e} {s.grad_to_data:>10.2e} {level:>18}"
            )
        lines += ["", f"warnings ({len(self.warnings)}):"]
        lines += [f"  - {w}" for w in self.warnings] or ["  none"]
        text = "\n".join(lines)
        if print_it:
            print(text)
        return text

    def update_ratios(self, name: str) -> np.ndarray:
        """log10(std(update) / std(data)) of parameter ``name`` at every step."""
        return np.array([s.update_to_data for s in self.params[name]])

    def histogram(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The plots' histogram: bin centres and densities (``np.histogram(values,
        bins=self.bins, density=True)``)."""
        values = values[np.isfinite(values)]
        if values.size == 0:
            return np.zeros(0), np.zeros(0)
        if values.min() == values.max():
            values = np.concatenate([values, values + 1e-12])
        density, edges = np.histogram(values, bins=self.bins, density=True)
        return (edges[:-1] + edges[1:]) / 2, density

    def plot(self, axes: Iterable[Any] | None = None, title: str | None = None) -> Any:
        """The four standard figures of the latest step (and, for the last, of every step):
        activation histograms per layer, gradient histograms per layer, the weights'
        gradient histograms with their grad:data ratio, and log10 update:data over time with
        the 1e-3 guide line. Returns the matplotlib figure. ``axes``: draw on these four
        matplotlib axes instead of a new figure (None in place of one leaves that plot out),
        e.g. one column of a grid that compares several runs."""
        import matplotlib.pyplot as plt  # optional: only the plots need it

        if axes is None:
            fig, grid = plt.subplots(2, 2, figsize=(14, 9))
            axes = list(grid.ravel())
        else:
            axes = list(axes)
            if len(axes) != 4 or all(ax is None for ax in axes):
                raise ValueError(
                    f"HealthMonitor.plot: needs 4 axes (None for a plot to leave out), got {axes}"
                )
        fig = next(ax for ax in axes if ax is not None).figure
        spare = None
        if any(ax is None for ax in axes):
            spare = fig.add_axes((0, 0, 0.01, 0.01))  # draws what was left out, then removed
        a_act, a_grad, a_weight, a_update = [spare if ax is None else ax for ax in axes]
        layers = self.plotted_layers()
        for name in layers:
            s = self.layers[name][-1]
            x, y = self.histogram(self.activations[name])
            label = f"{name}: mean {s.mean:+.2f}, std {s.std:.2f}"
            if not np.isnan(s.saturated):
                label += f", saturated {s.saturated:.1%}"
            a_act.plot(x, y, label=label)
        a_act.set_title(f"activation distribution (step {self.steps})")
        for name in layers:
            if name not in self.gradients:
                continue
            s = self.layers[name][-1]
            x, y = self.histogram(self.gradients[name])
            a_grad.plot(x, y, label=f"{name}: mean {s.grad_mean:+.2e}, std {s.grad_std:.2e}")
        a_grad.set_title("gradient distribution (dL/d activation)")
        shapes = {n: tuple(p.shape) for n, p in self.model.named_parameters()}
        for name in self.weight_names():
            if name not in self.param_grads:
                continue
            s = self.params[name][-1]
            x, y = self.histogram(self.param_grads[name])
            a_weight.plot(
                x, y, label=f"{name} {shapes[name]}: grad:data ratio {s.grad_to_data:.3g}"
            )
        a_weight.set_title("weights' gradient distribution")
        for name in self.weight_names():
            if name in self.params:
                steps = [s.step for s in self.params[name]]
                a_update.plot(steps, self.update_ratios(name), label=name)
        a_update.axhline(-3, color="k", linestyle="--", linewidth=1, label="1e-3 (about right)")
        a_update.set_title("log10(std(update) / std(data)) over the steps")
        a_update.set_xlabel("step")
        drawn = [ax for ax in axes if ax is not None]
        for ax in drawn:
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        if spare is not None:
            spare.remove()
        if title is not None:
            drawn[0].annotate(
                title, xy=(0, 1.12), xycoords="axes fraction", fontsize=12, fontweight="bold"
            )
        return fig

    # ---- life cycle --------------------------------------------------------------------------

    def remove(self) -> None:
        """Remove the forward hooks (the recorded statistics stay)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> HealthMonitor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __repr__(self) -> str:
        return (
            f"HealthMonitor({type(self.model).__name__}: {len(self.layers)} layers, "
            f"{self.steps} steps, {len(self.warnings)} warnings)"
        )


# ----------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------


def saturated_fraction(values: np.ndarray, kind: str) -> float:
    """The fraction of ``values`` (a layer's outputs) that are saturated for its ``kind``:
    tanh |x| > 0.97, sigmoid x < 0.03 or x > 0.97, ReLU x == 0; NaN for other kinds."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan
    if kind == "tanh":
        return float(np.mean(np.abs(values) > SATURATION))
    if kind == "sigmoid":
        return float(np.mean((values < 1 - SATURATION) | (values > SATURATION)))
    if kind == "relu":
        return float(np.mean(values <= 0))
    return math.nan


def _leaf_modules(model: Any) -> list[tuple[str, Any]]:
    """``(name, module)`` of every module without sub-modules, named ``"2 (Tanh)"``."""
    found = []
    for path, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        label = f"{path} ({type(module).__name__})" if path else f"model ({type(module).__name__})"
        found.append((label, module))
    return found


def _active_units(outputs: list[np.ndarray]) -> np.ndarray:
    """Which units were positive for at least one example: columns of a 2-D output,
    channels (dim 1) of a higher one, elements of a 1-D one."""
    masks = []
    for out in outputs:
        if out.ndim <= 1:
            masks.append(out.reshape(-1) > 0)
        else:
            axes = tuple(i for i in range(out.ndim) if i != 1)
            masks.append(np.any(out > 0, axis=axes))
    if len({m.shape for m in masks}) != 1:
        return masks[-1]
    return np.logical_or.reduce(masks)


def _flat(data: Any) -> np.ndarray:
    return np.asarray(data, dtype=float).reshape(-1)


def _mean(values: np.ndarray | None) -> float:
    if values is None or values.size == 0:
        return math.nan
    with np.errstate(all="ignore"):
        return float(np.mean(values))


def _std(values: np.ndarray | None) -> float:
    """PyTorch's ``std()``: unbiased (n - 1), or 0 for a single value."""
    if values is None or values.size == 0:
        return math.nan
    with np.errstate(all="ignore"):
        return float(np.std(values, ddof=1 if values.size > 1 else 0))


def _norm(values: np.ndarray | None) -> float:
    if values is None or values.size == 0:
        return math.nan
    with np.errstate(all="ignore"):
        return float(np.linalg.norm(values))


def _pct(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1%}"


__all__ = [
    "HealthMessage",
    "HealthMonitor",
    "HealthWarning",
    "LayerStats",
    "ParamStats",
    "saturated_fraction",
]
