"""Gradient clipping, PyTorch's ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Call them between ``loss.backward()`` and ``optimizer.step()``: they change the ``.grad`` of
the parameters in place, so that one bad batch cannot throw the weights far away::

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

Nothing here is part of a graph: both run under ``tg.no_grad()`` on the gradients' arrays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _gradients(what: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` of every parameter that has one (a single Tensor or an iterable)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(
            f"{what}: parameters must be a Tensor or an iterable of Tensors "
            f"(model.parameters()), got {type(parameters).__name__}"
        ) from None
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{what}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return [p.grad for p in parameters if p.grad is not None]


def _number(what: str, name: str, value: Any) -> float:
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: {name} must be a number, got {value!r}")
    value = float(value)
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{what}: {name} must be >= 0, got {value!r}")
    return value


def _replace(grad: Tensor, values: Any) -> None:
    """Write ``values`` into the gradient tensor, in place where its array allows."""
    data = grad.data
    if isinstance(data, np.ndarray) and data.flags.writeable:
        data[...] = values
    else:  # a NumPy scalar (0-d gradient) or a read-only broadcast view
        grad.data = np.asarray(values, dtype=grad.dtype)[()]


def _vector_norm(array: np.ndarray, p: float) -> Any:
    """The p-norm of all elements: max |x| for p = inf, (sum |x|^p)^(1/p) otherwise (the
    number of nonzero elements for p = 0)."""
    a = np.abs(np.asarray(array).ravel())
    if p == math.inf:
        return a.max(initial=0).astype(a.dtype)
    if p == 0:
        return np.asarray(np.count_nonzero(a), dtype=a.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return np.sqrt(np.dot(a, a))
    return (a**p).sum() ** (1.0 / p)


@no_grad()
def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    r"""Scale all gradients together so that their total norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of every gradient's norm (the
    same as the norm of all gradients joined into one vector; ``float("inf")`` for the
    largest absolute value). With ``clip_coef = max_norm / (total_norm + 1e-6)``, every
    gradient is multiplied by ``clip_coef`` when it is below 1 and left alone otherwise.

    ``parameters``: a Tensor or an iterable of them (``model.parameters()``); those whose
    ``grad`` is None are skipped. Returns the total norm *before* clipping as a 0-d Tensor
    (0 when no parameter has a gradient). A NaN or infinite norm makes the gradients NaN,
    as in PyTorch, unless ``error_if_nonfinite=True``, which raises a RuntimeError instead
    and leaves them alone. ``foreach`` is accepted for PyTorch's signature; it changes
    nothing here.
    """
    what = "clip_grad_norm_"
    grads = _gradients(what, parameters)
    max_norm = _number(what, "max_norm", max_norm)
    try:
        norm_type = float(norm_type)  # PyTorch also accepts "inf"
    except (TypeError, ValueError):
        raise TypeError(f"{what}: norm_type must be a number, got {norm_type!r}") from None
    if not norm_type >= 0:
        raise ValueError(f"{what}: norm_type must be >= 0 (or inf), got {norm_type!r}")
    if not grads:
        return Tensor(0.0)
    norms = [_vector_norm(g.data, norm_type) for g in grads]
    dtype = np.result_type(*norms)
    total = _vector_norm(np.array(norms, dtype=dtype), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"{what}: the total norm of order {norm_type} of the gradients is {total}, so they "
            "cannot be clipped (a NaN or inf in a gradient; tg.detect_anomaly() finds where it "
            "came from). Pass error_if_nonfinite=False to scale them by it anyway."
        )
    coef = np.minimum(max_norm / (total + 1e-6), 1.0)  # NaN stays NaN, as in PyTorch
    with np.errstate(invalid="ignore"):  # an infinite norm: inf * 0 is NaN, as in PyTorch
        for g in grads:
            _replace(g, g.data * coef.astype(g.dtype))
    return Tensor(total)


@no_grad()
def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clip every gradient element to ``[-clip_value, clip_value]``, in place.

    ``parameters``: a Tensor or an iterable of them; those whose ``grad`` is None are
    skipped. NaN stays NaN. ``foreach`` is accepted for PyTorch's signature only.
    """
    what = "clip_grad_value_"
    grads = _gradients(what, parameters)
    clip_value = _number(what, "clip_value", clip_value)
    for g in grads:
        _replace(g, np.clip(g.data, -clip_value, clip_value))
