"""Optimizers: the rules that turn gradients into parameter updates.

Every optimizer here follows PyTorch's update rule step for step, with PyTorch's names and
defaults, so that what you learn carries over unchanged::

    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        opt.zero_grad()              # forget the previous gradients (they accumulate)
        loss = F.mse_loss(model(x), y)
        loss.backward()              # fill p.grad for every parameter
        opt.step()                   # p <- p - (something computed from p.grad)

In the formulas below ``g`` is the gradient of one parameter ``p``, ``t`` counts the steps
(1, 2, ...), and all operations are elementwise. An update is not part of any graph: it runs
under ``tg.no_grad()`` and changes ``p.data`` in place with NumPy (there is nothing to
differentiate, so nothing is derived by hand here). Long formulas are split into steps that
update a temporary in place (``update *= lr``) so that each step allocates as few arrays as
possible; on the NumPy scalars of 0-d parameters the same lines simply rebind the name. Its
state (momentum buffers, running averages) has the parameter's shape and dtype, so float32
models stay float32.

Parameter groups work as in PyTorch: pass a list of dicts, each with ``"params"`` and any
options that differ from the defaults::

    opt = tg.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                        {"params": model[2].parameters()}], lr=0.01, momentum=0.9)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class: keeps ``param_groups`` (a list of dicts, each with ``"params"`` and the
    options) and ``state`` (a dict from parameter to its own dict of buffers).

    A subclass defines ``_check_options(group)`` and ``_update(p, g, group, state)``, which
    changes ``p.data`` in place given the gradient array ``g``, and lists in ``_state_names``
    the entries its per-parameter state may hold (the first ``_required`` of them always).
    It may also update a whole group at once in ``_update_group(group, pairs)``, given the
    (parameter, gradient) pairs of the group's parameters that have a gradient, as Adam does.
    """

    _state_names: tuple[str, ...] = ()
    _required = 0

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors (or of dicts), got a "
                "single Tensor; write [tensor] or model.parameters()"
            )
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the others come from the
        defaults). Useful to train a new layer with another learning rate."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {param_group!r}")
        params = param_group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{self._name}: params must be an ordered sequence, not a set")
        elif params is None:
            raise ValueError(f'{self._name}: a parameter group needs a "params" entry')
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")

        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_options(group)

        seen = {id(p) for g in self.param_groups for p in g["params"]}
        offset = sum(len(g["params"]) for g in self.param_groups)
        for i, p in enumerate(params):
            where = f"parameter {offset + i}"
            if getattr(p, "name", None):
                where += f" ({p.name!r})"
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: {where} is a {type(p).__name__}, not a Tensor")
            where += f" of shape {p.shape}"
            if not p.requires_grad:
                raise ValueError(
                    f"{self._name}: {where} does not require grad, so it would never be "
                    "updated; create it with requires_grad=True (or leave it out)"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name}: {where} is not a leaf tensor (it was computed from other "
                    "tensors); optimize the tensors it was computed from"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{self._name}: {where} appears more than once in the parameter list; "
                    "each parameter may be given only once"
                )
            seen.add(id(p))
        self.param_groups.append(group)

    def _check_options(self, group: dict) -> None:
        """Raise ValueError for an option out of range."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter: set ``p.grad = None`` (the default, as in
        PyTorch), or fill it with zeros when ``set_to_none=False``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.grad_fn is None and _is_writable(p.grad.data):
                    p.grad.data[...] = 0
                else:
                    p.grad = Tensor(np.zeros(p.shape, dtype=p.dtype))

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (parameters with ``grad is None`` are
        skipped). ``closure``, if given, recomputes the loss (with backward) and its value is
        returned, as in PyTorch.

        All gradients are checked before any parameter changes, so a step that raises leaves
        every parameter as it was.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # First every gradient is checked, then every parameter updated.
        updates = []  # (group, [(p, g), ...]) for the parameters that have a gradient
        index = 0
        for group in self.param_groups:
            pairs = []
            for p in group["params"]:
                if p.grad is not None:
                    pairs.append((p, self._grad_array(p, index)))
                index += 1
            updates.append((group, pairs))
        for group, pairs in updates:
            for p, _ in pairs:
                data = p.data
                if isinstance(data, np.ndarray) and not data.flags.writeable:  # a broadcast view
                    p.data = data.copy()
            self._update_group(group, pairs)
            for p, _ in pairs:
                p._bump_version()  # changed in place: a graph that saved it can no longer use it
        return loss

    def _update_group(self, group: dict, pairs: list) -> None:
        """Update the parameters of one group, given ``pairs`` of (parameter, gradient)."""
        all_state = self.state
        for p, g in pairs:
            state = all_state.get(p)
            if state is None:  # the first step of this parameter
                state = all_state[p] = {}
            self._update(p, g, group, state)

    def _grad_array(self, p: Tensor, index: int) -> np.ndarray:
        grad = p.grad
        g = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
        data = p.data
        if g.shape != data.shape:
            raise ValueError(
                f"{self._name}.step: parameter {index} has shape {data.shape} but its gradient "
                f"has shape {g.shape}; no parameter was updated"
            )
        if g.dtype != data.dtype:
            g = np.asarray(g, dtype=data.dtype)
        return g

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        raise NotImplementedError

    # ---- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer, in PyTorch's layout:

        ``{"state": {0: {"step": 3, "exp_avg": array, ...}, 1: {...}},
        "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}, ...]}``

        Parameters are numbered across all groups in order; arrays are copies, so later
        steps do not change a snapshot. Save it with ``tg.save`` next to the model's
        ``state_dict()``: loading both resumes training exactly where it stopped.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = []
            for p in group["params"]:
                index_of[id(p)] = len(index_of)
                saved["params"].append(index_of[id(p)])
            groups.append(saved)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index_of[id(p)]] = {
                        k: v.copy() if isinstance(v, np.ndarray) else v
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot taken by ``state_dict()`` (possibly saved and loaded with
        ``tg.save`` / ``tg.load``). The number of groups, the number of parameters in each
        group, the options and the shape of every buffer are checked first; if anything
        does not match, a ValueError says what and nothing changes."""
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f'{name}: expected a dict with keys "state" and "param_groups"')
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state has {len(saved_groups)} parameter groups, this optimizer "
                f"has {len(self.param_groups)}"
            )
        params: dict[int, Tensor] = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}: group {i} of the state has {len(saved['params'])} parameters, "
                    f"this optimizer's has {len(group['params'])}"
                )
            missing = set(group) - set(saved)
            unexpected = set(saved) - set(group)
            if missing or unexpected:
                raise ValueError(
                    f"{name}: group {i} options do not match (missing {sorted(missing)}, "
                    f"unexpected {sorted(unexpected)}); is it the state of another optimizer?"
                )
            for index, p in zip(saved["params"], group["params"]):
                params[int(index)] = p
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            self._check_options(new_group)
            new_groups.append(new_group)

        new_state: dict[Tensor, dict[str, Any]] = {}
        for index, buffers in state_dict["state"].items():
            p = params.get(int(index))
            if p is None:
                raise ValueError(f"{name}: the state names parameter {index}, which no group has")
            unknown = set(buffers) - set(self._state_names)
            missing = [k for k in self._state_names[: self._required] if k not in buffers]
            if unknown or (buffers and missing):
                raise ValueError(
                    f"{name}: state of parameter {index} has unknown entries {sorted(unknown)} "
                    f"and lacks {missing}; {self._name} keeps {list(self._state_names)}"
                )
            restored = {}
            for key, value in buffers.items():
                if key == "step":
                    value = int(value)
                else:
                    value = np.asarray(value)
                    if value.shape != p.shape:
                        raise ValueError(
                            f"{name}: state {key!r} of parameter {index} has shape "
                            f"{value.shape}, but the parameter has shape {p.shape}"
                        )
                    value = value.astype(p.dtype, copy=True)
                restored[key] = value
            new_state[p] = restored

        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _plus_scaled(g: np.ndarray, c: float, x: np.ndarray) -> np.ndarray:
    """g + c x as a new array (one temporary instead of two)."""
    result = x * c
    result += g
    return result


def _subtract(p: Tensor, update: Any) -> None:
    """``p.data -= update``: in place for an array (without going through the ``.data``
    setter, whose checks an update needs not); a 0-d parameter's NumPy scalar is rebound."""
    data = p.data
    if isinstance(data, np.ndarray):
        data -= update
    else:
        p.data = data - update


def _shrink(p: Tensor, group: dict) -> None:
    """AdamW's decoupled weight decay, p ← p (1 - lr λ), as PyTorch computes it."""
    factor = 1 - group["lr"] * group["weight_decay"]
    data = p.data
    if isinstance(data, np.ndarray):
        data *= factor
    else:
        p.data = data * factor


def _is_writable(data: Any) -> bool:
    return isinstance(data, np.ndarray) and data.flags.writeable


def _check_non_negative(optimizer: str, group: dict, *names: str) -> None:
    for name in names:
        value = group[name]
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"{optimizer}: invalid {name} {value!r}: must be >= 0")


def _check_betas(optimizer: str, betas: Any) -> None:
    if len(betas) != 2:
        raise ValueError(f"{optimizer}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{optimizer}: invalid betas[{i}] {beta!r}: must be in [0, 1)")


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum and weight decay.

    With weight decay ``λ``, momentum ``μ``, dampening ``τ`` and learning rate ``lr``::

        g ← g + λ p                              (if λ ≠ 0)
        b ← g                                    (first step)
        b ← μ b + (1 - τ) g                      (later steps)
        g ← g + μ b   (nesterov)   or   g ← b    (if μ ≠ 0)
        p ← p - lr g

    Plain ``SGD(params, lr)`` is ``p ← p - lr g``, the update of the source documents.
    """

    _state_names = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict) -> None:
        _check_non_negative("SGD", group, "lr", "momentum", "dampening", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            g = _plus_scaled(g, weight_decay, p.data)  # a new array: p.grad stays unchanged
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype)
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += g if dampening == 0 else (1 - dampening) * g
            g = _plus_scaled(g, momentum, buf) if group["nesterov"] else buf
        _subtract(p, lr * g)


class Adam(Optimizer):
    r"""Adam: a running mean of the gradient divided by the root of a running mean of its
    square, both corrected for starting at zero.

    With ``β1, β2 = betas`` and step count ``t``::

        g ← g + λ p                              (if weight_decay λ ≠ 0)
        m ← β1 m + (1 - β1) g
        v ← β2 v + (1 - β2) g²
        v̂max ← max(v̂max, v)                      (amsgrad: use v̂max instead of v below)
        p ← p - lr / (1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + ε)
    """

    _state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _required = 3
    _decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)
        self._flat_groups: dict[int, _FlatAdam] = {}  # id(group) -> its flat state

    def _check_options(self, group: dict) -> None:
        _check_non_negative(self._name, group, "lr", "eps", "weight_decay")
        _check_betas(self._name, group["betas"])

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            if self._decoupled:
                _shrink(p, group)
            else:
                g = _plus_scaled(g, group["weight_decay"], p.data)  # Adam: L2 in the gradient
        m, v = state["exp_avg"], state["exp_avg_sq"]
        scratch = np.empty_like(m)
        _adam_moments(g, m, v, group["betas"], scratch)
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"]
            np.maximum(v, state["exp_avg_sq"], out=v)
        _subtract(p, _adam_update(m, v, group, state["step"], scratch))

    def _update_group(self, group: dict, pairs: list) -> None:
        """Adam's rule on a whole group at once when it can be (`_FlatAdam`): one NumPy call
        per step of the rule for all the parameters, instead of one per parameter. (Not for a
        subclass with its own ``_update``: that rule is the one to follow.)"""
        flat = _FlatAdam.of(self, group, pairs) if type(self)._update is Adam._update else None
        if flat is None:
            super()._update_group(group, pairs)
        else:
            flat.step(self, group, pairs)


def _adam_moments(g: Any, m: np.ndarray, v: np.ndarray, betas: tuple, scratch: np.ndarray) -> None:
    """Adam's running means, in place: m ← β1 m + (1 - β1) g and v ← β2 v + (1 - β2) g²
    (``scratch``: an array shaped like ``m`` to compute in)."""
    beta1, beta2 = betas
    np.subtract(g, m, out=scratch)
    scratch *= 1 - beta1
    m += scratch  # m + (1 - β1)(g - m) = β1 m + (1 - β1) g
    np.multiply(g, 1 - beta2, out=scratch)
    scratch *= g
    v *= beta2
    v += scratch


def _adam_update(m: np.ndarray, v: np.ndarray, group: dict, t: int, out: np.ndarray) -> Any:
    """Adam's step at step count ``t``, lr / (1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + ε), computed
    in ``out`` (an array shaped like ``m``), which is returned."""
    beta1, beta2 = group["betas"]
    np.sqrt(v, out=out)
    out /= (1 - beta2**t) ** 0.5
    out += group["eps"]
    np.divide(m, out, out=out)
    out *= group["lr"] / (1 - beta1**t)
    return out


class _FlatAdam:
    """Adam's state for a whole parameter group, laid out flat: one buffer per running mean,
    with each parameter's ``exp_avg`` and ``exp_avg_sq`` a view of its part. The rule then
    takes one NumPy call per line for the whole group rather than one per parameter, which is
    what its time goes to at the sizes learners train (an Adam step of W2K's four parameters
    takes about 34 us instead of 46, a tiny GPT's, W8, 270 instead of 440). The state stays
    per parameter as PyTorch's (state_dict, load_state_dict and in-place changes work on the
    views).

    Used when every parameter of the group that has a gradient is an array of one dtype and
    all are at the same step (the others, and amsgrad, go parameter by parameter, on the same
    views); rebuilt whenever a state was replaced (load_state_dict).
    """

    def __init__(self, params: tuple, state: dict) -> None:
        dtype = params[0].data.dtype
        ends = np.cumsum([p.data.size for p in params]).tolist()
        parts = [slice(start, end) for start, end in zip([0, *ends], ends)]
        self.params, self.dtype = params, dtype
        self.exp_avg, self.exp_avg_sq = np.zeros(ends[-1], dtype), np.zeros(ends[-1], dtype)
        self.grad, self.scratch, self.update = (np.empty(ends[-1], dtype) for _ in range(3))
        self.updates = [self.update[part].reshape(p.shape) for p, part in zip(params, parts)]
        self.views = []
        for p, part in zip(params, parts):
            views = self.exp_avg[part].reshape(p.shape), self.exp_avg_sq[part].reshape(p.shape)
            entry = state.setdefault(p, {})
            entry.setdefault("step", 0)
            for name, view in zip(("exp_avg", "exp_avg_sq"), views):
                if name in entry:
                    view[...] = entry[name]
                entry[name] = view
            self.views.append(views)

    @staticmethod
    def of(optimizer: Adam, group: dict, pairs: list) -> _FlatAdam | None:
        """The group's flat state (built if need be), or None where the rule must go
        parameter by parameter."""
        if group["amsgrad"] or len(pairs) < 2:
            return None
        state, flat = optimizer.state, optimizer._flat_groups.get(id(group))
        if flat is not None and flat._serves(pairs, state):
            return flat
        dtype, steps = pairs[0][0].data.dtype, set()
        for p, _ in pairs:
            if not isinstance(p.data, (np.ndarray, np.generic)) or p.data.dtype != dtype:
                return None
            steps.add(state[p]["step"] if p in state else 0)
        if len(steps) > 1:
            return None
        flat = optimizer._flat_groups[id(group)] = _FlatAdam(tuple(p for p, _ in pairs), state)
        return flat

    def _serves(self, pairs: list, state: dict) -> bool:
        """Whether these are still the group's parameters, at one step, with their states
        its views."""
        if len(pairs) != len(self.params) or self.views[0][0].base is not self.exp_avg:
            return False  # (a deep copy of the optimizer copies views apart from the buffers)
        steps = set()
        for (p, _), q, (m, v) in zip(pairs, self.params, self.views):
            entry, data = state.get(p), p.data
            if p is not q or entry is None:
                return False
            steps.add(entry["step"])
            if entry.get("exp_avg") is not m or entry.get("exp_avg_sq") is not v:
                return False
            if data.shape != m.shape or data.dtype != self.dtype:
                return False
        return len(steps) == 1

    def step(self, optimizer: Adam, group: dict, pairs: list) -> None:
        state = optimizer.state
        for p, _ in pairs:
            state[p]["step"] += 1
        t = state[pairs[0][0]]["step"]
        g = np.concatenate([grad.reshape(-1) for _, grad in pairs], out=self.grad)
        if group["weight_decay"] != 0:
            if optimizer._decoupled:
                for p, _ in pairs:
                    _shrink(p, group)
            else:  # Adam: L2 in the gradient, g + λ p
                flat_p = np.concatenate([p.data.reshape(-1) for p, _ in pairs], out=self.scratch)
                g = _plus_scaled(g, group["weight_decay"], flat_p)
        _adam_moments(g, self.exp_avg, self.exp_avg_sq, group["betas"], self.scratch)
        _adam_update(self.exp_avg, self.exp_avg_sq, group, t, self.update)
        for (p, _), update in zip(pairs, self.updates):
            _subtract(p, update)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter): instead of adding ``λ p``
    to the gradient, the weights shrink directly before the Adam step::

        p ← p (1 - lr λ)
        (then Adam's update with weight_decay = 0)

    so the decay is not rescaled by Adam's per-element step size. Default ``λ = 1e-2``.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by the root of a running mean of its square.

    With smoothing constant ``α``::

        g ← g + λ p                              (if weight_decay λ ≠ 0)
        v ← α v + (1 - α) g²
        a ← α a + (1 - α) g;  d ← √(v - a²) + ε  (centered)
        d ← √v + ε                               (not centered; ε outside the root)
        b ← μ b + g / d;  p ← p - lr b           (if momentum μ > 0)
        p ← p - lr g / d                         (otherwise)
    """

    _state_names = ("step", "square_avg", "grad_avg", "momentum_buffer")
    _required = 2

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict) -> None:
        _check_non_negative("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p.data)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p.data)
        state["step"] += 1
        if weight_decay != 0:
            g = _plus_scaled(g, weight_decay, p.data)
        square = g * (1 - alpha)
        square *= g
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += square  # v = α v + (1 - α) g²
        if group["centered"]:
            grad_avg = state["grad_avg"]
            delta = g - grad_avg
            delta *= 1 - alpha
            grad_avg += delta  # a = α a + (1 - α) g
            denom = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denom = np.sqrt(square_avg)
        denom += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / denom
            _subtract(p, lr * buf)
        else:
            update = g / denom
            update *= lr
            _subtract(p, update)


class Adagrad(Optimizer):
    r"""Adagrad: divide the gradient by the root of the sum of all its past squares, so
    parameters with large past gradients take smaller steps.

    With learning rate decay ``δ`` and step count ``t``::

        g ← g + λ p                              (if weight_decay λ ≠ 0)
        lr_t ← lr / (1 + (t - 1) δ)
        s ← s + g²                               (s starts at initial_accumulator_value)
        p ← p - lr_t g / (√s + ε)
    """

    _state_names = ("step", "sum")
    _required = 2

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict) -> None:
        _check_non_negative(
            "Adagrad", group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"
        )

    def _update(self, p: Tensor, g: np.ndarray, group: dict, state: dict) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = _plus_scaled(g, group["weight_decay"], p.data)
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        denom = np.sqrt(state["sum"])
        denom += group["eps"]
        update = g / denom
        update *= lr
        _subtract(p, update)
