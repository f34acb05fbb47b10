"""Checking gradients against finite differences.

``gradcheck(fn, inputs)`` builds the Jacobian of ``fn`` twice: numerically, by nudging each
input element by +-eps (central differences), and analytically, by one backward pass per
output element. They must agree element by element:

    |analytical - numerical| <= atol + rtol * |numerical|

It also checks what a wrong backward often gets wrong besides the values: gradient shapes and
dtypes, that a zero upstream gradient gives zero, that two backward passes agree, and that the
inputs are left unchanged. On failure it names the input, the worst element and both values.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when analytical and numerical gradients differ."""


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare the gradients that backward computes for ``fn(*inputs)`` with finite
    differences. Inputs that require grad are checked; use float64 inputs.

    Returns True when they agree; otherwise raises ``GradcheckError`` (or returns False with
    ``raise_exception=False``).

    >>> x = tg.randn(3, 4, requires_grad=True)
    >>> tg.gradcheck(lambda t: (t * t).sum(axis=1), [x])
    True
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    try:
        _check(fn, inputs, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs), computed by
    ``backward(create_graph=True)``. ``grad_outputs`` (the v) are random when not given."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with no_grad():
        outputs = _outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs
        )
    else:
        grad_outputs = tuple(
            g if isinstance(g, Tensor) else Tensor(g, requires_grad=True) for g in grad_outputs
        )
    n = len(inputs)
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivatives(*args: Any) -> tuple:
        xs, vs = args[:n], args[n:]
        outs = _outputs(fn(*xs))
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        if not pairs:
            return tuple(Tensor(np.zeros(xs[i].shape)) for i in differentiable)
        grads = grad(
            [o for o, _ in pairs],
            [xs[i] for i in differentiable],
            [v for _, v in pairs],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(
            Tensor(np.zeros(xs[i].shape)) if g is None else g for i, g in zip(differentiable, grads)
        )

    return gradcheck(first_derivatives, inputs + grad_outputs, eps, atol, rtol, raise_exception)


# ---- the checks ------------------------------------------------------------------------------


def _outputs(result: Any) -> tuple:
    outputs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for i, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: output {i} of fn is a {type(o).__name__}, not a Tensor")
    return outputs


def _check(fn: Callable, inputs: tuple, eps: float, atol: float, rtol: float) -> None:
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                "to be accurate (use .double())",
                stacklevel=3,
            )
    before = [np.array(x.data, copy=True) if isinstance(x, Tensor) else None for x in inputs]
    outputs = _outputs(fn(*_fresh_leaves(inputs, checked)))
    for k, x in enumerate(inputs):
        if before[k] is not None and not np.array_equal(before[k], x.data, equal_nan=True):
            raise GradcheckError(f"gradcheck: fn changed input {k} in place")
    numerical = _numerical_jacobians(fn, inputs, checked, outputs, eps)
    analytical = _analytical_jacobians(fn, inputs, checked, outputs)
    for (o, i), num in numerical.items():
        ana = analytical[(o, i)]
        _compare(num, ana, o, i, inputs[i].shape, outputs[o].shape, atol, rtol)
    _check_vjp_properties(fn, inputs, checked)


def one_sided_differences(
    f: Callable[[], Any], array: np.ndarray, index: tuple, eps: float, at_x: Any
) -> tuple[Any, Any]:
    """The finite differences of ``f`` in one element of ``array`` (which ``f`` reads):
    ``(f(x + eps) - f(x)) / eps`` and ``(f(x) - f(x - eps)) / eps``, with ``at_x = f(x)``.

    Their mean is the central difference, the numerical derivative (its error shrinks with
    eps^2); where the two disagree, ``f`` has a kink there. The element is nudged in place and
    put back, also when ``f`` raises. The one routine behind ``gradcheck`` and
    ``gradcheck_graph``.
    """
    original = array[index]
    try:
        array[index] = original + eps
        above = f()
        array[index] = original - eps
        below = f()
    finally:
        array[index] = original
    return (above - at_x) / eps, (at_x - below) / eps


def _numerical_jacobians(
    fn: Callable, inputs: tuple, checked: list, outputs: tuple, eps: float
) -> dict:
    """J[(o, i)] has shape (outputs[o].size, inputs[i].size): d output / d input by central
    differences, each input element nudged on a copy (the caller's tensors are not touched)."""
    sizes = [o.data.size for o in outputs]
    jacobians = {}
    for i in checked:
        nudged = np.array(inputs[i].data, dtype=inputs[i].dtype, copy=True)
        flat_outputs = functools.partial(_flat_outputs, fn, inputs, checked, i, nudged)
        at_x = flat_outputs()
        columns = []
        for flat in range(nudged.size):
            index = np.unravel_index(flat, nudged.shape)
            up, down = one_sided_differences(flat_outputs, nudged, index, eps, at_x)
            columns.append((up + down) / 2)
        full = np.stack(columns, axis=1) if columns else np.zeros((sum(sizes), 0))
        for o, rows in enumerate(np.split(full, np.cumsum(sizes)[:-1])):
            jacobians[(o, i)] = rows
    return jacobians


def _flat_outputs(fn: Callable, inputs: tuple, checked: list, i: int, x: np.ndarray) -> Any:
    """Every output of ``fn`` as one float64 vector, with input ``i`` given the values ``x``."""
    args = _fresh_leaves(inputs, checked)
    args[i] = Tensor(x, requires_grad=True)  # a copy of the values
    # grad mode stays on: fn may itself differentiate (gradgradcheck's fn does)
    outs = _outputs(fn(*args))
    return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in outs])


def _fresh_leaves(inputs: tuple, checked: list) -> list:
    """Copies of the checked inputs as new leaves, so the caller's .grad is never touched."""
    args = list(inputs)
    for i in checked:
        args[i] = Tensor(inputs[i].data, requires_grad=True)
    return args


def _analytical_jacobians(fn: Callable, inputs: tuple, checked: list, outputs: tuple) -> dict:
    """J[(o, i)]: row r is the gradient of output element r, from one backward pass each."""
    args = _fresh_leaves(inputs, checked)
    outs = _outputs(fn(*args))
    jacobians = {}
    for o, out in enumerate(outs):
        rows = {i: [] for i in checked}
        for r in range(out.data.size):
            seed = np.zeros(out.shape, dtype=np.float64)
            seed.flat[r] = 1.0
            grads = _vjp(out, [args[i] for i in checked], seed, f"output {o}")
            for i, g in zip(checked, grads):
                rows[i].append(g.reshape(-1))
        for i in checked:
            size = inputs[i].data.size
            jacobians[(o, i)] = np.stack(rows[i]) if rows[i] else np.zeros((0, size))
    return jacobians


def _vjp(out: Tensor, leaves: list, seed: np.ndarray, what: str) -> list:
    """seed^T d out / d leaves, as arrays of the leaves' shapes (zeros for unused leaves)."""
    if not out.requires_grad:
        return [np.zeros(leaf.shape) for leaf in leaves]
    grads = grad(out, leaves, Tensor(seed.astype(out.dtype)), retain_graph=True, allow_unused=True)
    result = []
    for k, (leaf, g) in enumerate(zip(leaves, grads)):
        if g is None:
            result.append(np.zeros(leaf.shape))
            continue
        if g.shape != leaf.shape:
            raise GradcheckError(
                f"gradcheck: the gradient for input {k} has shape {g.shape}, but the input has "
                f"shape {leaf.shape} ({what})"
            )
        if g.dtype != leaf.dtype:
            raise GradcheckError(
                f"gradcheck: the gradient for input {k} is {g.dtype}, but the input is "
                f"{leaf.dtype} ({what})"
            )
        result.append(np.asarray(g.data, dtype=np.float64))
    return result


def _compare(
    num: np.ndarray,
    ana: np.ndarray,
    o: int,
    i: int,
    in_shape: tuple,
    out_shape: tuple,
    atol: float,
    rtol: float,
) -> None:
    if num.size == 0:
        return
    error = np.abs(ana - num)
    allowed = atol + rtol * np.abs(num)
    bad = ~(error <= allowed)  # NaN counts as a failure
    if not bad.any():
        return
    excess = np.where(np.isnan(error), np.inf, error - allowed)
    row, col = np.unravel_index(np.argmax(excess), num.shape)
    in_index = np.unravel_index(col, in_shape) if in_shape else ()
    out_index = np.unravel_index(row, out_shape) if out_shape else ()
    raise GradcheckError(
        f"gradcheck: Jacobian mismatch for output {o} with respect to input {i}; "
        f"{int(bad.sum())} of {bad.size} entries differ. "
        f"Worst: d output{list(map(int, out_index))} / "
        f"d input{list(map(int, in_index))}: numerical {num[row, col]:.8g}, analytical "
        f"{ana[row, col]:.8g}, difference {error[row, col]:.3g} > allowed {allowed[row, col]:.3g} "
        f"(atol + rtol * |numerical|)"
    )


def _check_vjp_properties(fn: Callable, inputs: tuple, checked: list) -> None:
    """Cheap checks a wrong backward often fails: zero in gives zero out, and two backward
    passes through one graph give the same result."""
    args = _fresh_leaves(inputs, checked)
    outs = [o for o in _outputs(fn(*args)) if o.requires_grad]
    leaves = [args[i] for i in checked]
    rng = np.random.default_rng(0)
    for o, out in enumerate(outs):
        zero = _vjp(out, leaves, np.zeros(out.shape), f"output {o}")
        for k, g in zip(checked, zero):
            if np.any(g != 0):
                raise GradcheckError(
                    f"gradcheck: a zero upstream gradient gave a non-zero gradient for input {k}"
                )
        seed = rng.standard_normal(out.shape)
        first = _vjp(out, leaves, seed, f"output {o}")
        second = _vjp(out, leaves, seed, f"output {o}")
        for k, a, b in zip(checked, first, second):
            if not np.array_equal(a, b, equal_nan=True):
                raise GradcheckError(
                    f"gradcheck: two backward passes gave different gradients for input {k}"
                )
