"""``detect_anomaly``: stop at the first NaN or infinity, and say which operation made it.

A NaN spreads: once one value of a network is NaN, everything computed from it is NaN too,
and the loss printed at the end of an epoch says nothing about where it started. Inside
``with tg.detect_anomaly():`` every operation's output is checked as it is computed, and so is
every gradient an operation's backward sends to its inputs; the first one that is not finite
raises `AnomalyError`, naming the operation and the line of your code that created it::

    with tg.detect_anomaly():
        loss = loss_fn(model(x), y)
        loss.backward()

Which values are anomalies, decided operation by operation:

* every NaN, in forward and in backward;
* an infinity an operation *creates* from finite inputs (an overflow: ``exp(1000)``, ``1 / 0``);
* not an infinity an operation was *given*: when one of its inputs (a tensor, an array or a
  number) already holds an infinity, infinities in its output are that input passed on. So a
  model that masks with ``-inf`` on purpose (``tg.where(mask, scores, -math.inf)``, attention
  masks) runs, and the NaN such a value may cause later is still caught where it appears.

Outside the block nothing is checked: the checking observer is removed on exit.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from ..autograd import Node
from ..tensor import Tensor
from ..walk import ModelPaths
from ._core import (
    Observer,
    ObserverContext,
    Origin,
    as_array,
    origin_of,
    user_origin,
)


class AnomalyError(RuntimeError):
    """A NaN or infinity appeared inside ``detect_anomaly()``.

    Attributes: ``op`` (the operation's name), ``phase`` ("forward" or "backward"),
    ``origin`` (the line of user code that created the operation, or None), ``kind``
    ("nan" or "inf").
    """

    def __init__(self, message: str, op: str, phase: str, origin: Origin | None, kind: str) -> None:
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.origin = origin
        self.kind = kind


class detect_anomaly(ObserverContext):
    """Context manager (and decorator): raise `AnomalyError` at the first NaN or infinity
    produced by an operation in forward, or sent by an operation's backward to its inputs.
    An infinity an operation was given as an input (a ``-inf`` mask) and passes on is not an
    anomaly; one it creates from finite inputs (an overflow) is.

    The error names the operation, the module it ran in, and the line of your code that
    created it, with the range of its inputs' values (a ``log`` of negative numbers shows up
    at once). Operations created inside the block remember their line (as
    ``tg.debug.record_origins`` does), so run the forward pass inside it too, not only
    ``backward()``.

    NumPy's floating-point warnings ("invalid value encountered in log", ...) are switched off
    inside the block (``np.errstate``), also for your own NumPy code there: every NaN or
    infinity they would warn about is reported by this check instead, with the operation
    named. Pass ``numpy_warnings=True`` to keep them (a warning turned into an error, as in a
    test suite, then comes first).
    """

    def __init__(self, numpy_warnings: bool = False) -> None:
        super().__init__()
        self.numpy_warnings = numpy_warnings

    def make_observer(self) -> Observer:
        return _AnomalyDetector()

    def extra_contexts(self) -> list[AbstractContextManager]:
        if self.numpy_warnings:
            return []
        return [np.errstate(divide="ignore", over="ignore", invalid="ignore")]


class _AnomalyDetector(Observer):
    def forward(self, function: type, args: tuple, ctx: Node | None, output: Tensor) -> None:
        if ctx is not None and origin_of(ctx) is None:
            ctx.origin = user_origin()
        data = output.data
        if data.dtype.kind in "fc" and not np.isfinite(data).all():
            if np.isnan(data).any() or not any(_holds_inf(arg) for arg in args):
                self._raise_forward(function, args, ctx, data)
        super().forward(function, args, ctx, output)

    def backward(self, node: Tensor, ctx: Node, grad_output: Any, input_grads: tuple) -> None:
        for position, (parent, grad) in enumerate(zip(ctx.parents, input_grads)):
            if grad is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                continue  # the engine drops this gradient
            array = as_array(grad)
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                self._raise_backward(ctx, position, parent, array, grad_output)
        super().backward(node, ctx, grad_output, input_grads)

    def _raise_forward(
        self, function: type, args: tuple, ctx: Node | None, data: np.ndarray
    ) -> None:
        op, parents = function.__name__, args
        origin = origin_of(ctx) if ctx is not None else user_origin()
        kind, count = _bad(data)
        cause = " from finite inputs (an overflow?)" if kind == "inf" else ""
        lines = [
            f"detect_anomaly: {op} produced {kind} in its output in the forward pass "
            f"({count} of {data.size} values){cause}",
            *_where(ctx, origin, created_here=True),
            *_describe_inputs(parents),
        ]
        raise AnomalyError("\n".join(lines), op, "forward", origin, kind)

    def _raise_backward(
        self, ctx: Node, position: int, parent: Tensor, grad: np.ndarray, grad_output: Any
    ) -> None:
        kind, count = _bad(grad)
        upstream = as_array(grad_output)
        arriving = "finite" if np.isfinite(upstream).all() else "already not finite"
        origin = origin_of(ctx)
        name = f" ({parent.name})" if parent.name else ""
        lines = [
            f"detect_anomaly: the backward of {ctx.name} sent {kind} to its input {position}"
            f"{name} ({count} of {grad.size} values); the gradient arriving from above was "
            f"{arriving}",
            *_where(ctx, origin, created_here=False),
            *_describe_inputs(ctx.parents),
        ]
        raise AnomalyError("\n".join(lines), ctx.name, "backward", origin, kind)


def _holds_inf(arg: Any) -> bool:
    """Whether an operation's argument (a tensor, an array or a number) holds an infinity."""
    if isinstance(arg, Tensor):
        arg = arg.data
    if isinstance(arg, float):
        return math.isinf(arg)
    if isinstance(arg, (np.ndarray, np.generic)) and arg.dtype.kind in "fc":
        return bool(np.isinf(arg).any())
    return False


def _bad(array: np.ndarray) -> tuple[str, int]:
    """Which kind of non-finite value the array holds ("nan" first), and how many."""
    nans = int(np.isnan(array).sum())
    if nans:
        return "nan", nans
    return "inf", int((~np.isfinite(array)).sum())


def _where(ctx: Node | None, origin: Origin | None, created_here: bool) -> list[str]:
    lines = []
    if ctx is not None and ctx.scope is not None:
        lines.append(f"  in module {ModelPaths().describe(ctx.scope)}")
    if origin is not None:
        lines.append(f"  created at {origin}")
    elif not created_here:
        lines.append(
            "  created before detect_anomaly() was entered: run the forward pass inside the "
            "block to see its line"
        )
    return lines


def _describe_inputs(parents: tuple) -> list[str]:
    """One line per tensor input: shape and range of values (what usually explains a NaN)."""
    lines = []
    for position, parent in enumerate(parents):
        if not isinstance(parent, Tensor):
            continue
        data = np.asarray(parent.data)
        name = f" ({parent.name})" if parent.name else ""
        text = f"  input {position}{name}: shape {data.shape}"
        if data.dtype.kind in "fiu":
            finite = data[np.isfinite(data)]
            if finite.size:
                text += f", values from {finite.min():.6g} to {finite.max():.6g}"
            if finite.size < data.size:
                text += f", {data.size - finite.size} not finite"
        lines.append(text)
    return lines
