"""``gradcheck_graph``: check every operation of a graph on its own.

``tg.gradcheck`` checks a whole function: when it fails, the wrong gradient could come from any
of the operations inside. ``gradcheck_graph`` looks at a graph that has already been built (a
loss, before ``backward``) and checks each operation separately, at the very values it saw:

1. run the operation's ``forward`` again on float64 copies of its arguments;
2. pick a random upstream gradient ``g`` shaped like its output and run its ``backward``;
3. nudge each element of each floating input by +-eps and measure how ``sum(g * forward)``
   changes (central differences): that is what ``backward`` should have returned.

An operation whose backward disagrees is wrong by itself, wherever it sits in the network, and
the report names the first one, with its module and (if recorded) the line that created it.

At a kink (relu at exactly 0, abs at 0) the two one-sided differences disagree and no
derivative exists, so such elements are skipped rather than flagged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import Node, sum_to_shape, whole_gradients
from ..gradcheck import one_sided_differences
from ..tensor import Tensor
from ..walk import ModelPaths, ValueNames, live_values
from ._core import NO_ORIGIN_HINT, Origin, origin_of


@dataclass
class OpResult:
    """The check of one operation."""

    index: int  # position among the graph's operations, in the order forward created them
    op: str
    module: str | None  # "2 (Swish)" with a model, "Swish" without, None outside modules
    origin: Origin | None  # where the user's code created it, when recorded
    output: str  # the name of the tensor it produced
    ok: bool
    checked: int = 0  # elements compared
    skipped: str | None = None  # why the operation was not checked
    kinks: int = 0  # elements skipped because the forward has a kink there
    # the worst disagreement: input, element, both values
    input: str | None = None
    element: tuple = ()
    analytical: float = 0.0
    numerical: float = 0.0

    def where(self) -> str:
        """Module and creation site, as the report prints them."""
        parts = [] if self.module is None else [f"in module {self.module}"]
        parts.append(f"created at {self.origin}" if self.origin is not None else NO_ORIGIN_HINT)
        return "\n  ".join(parts)

    def __str__(self) -> str:
        if self.skipped is not None:
            return f"{self.op} -> {self.output}: not checked ({self.skipped})"
        if self.ok:
            return f"{self.op} -> {self.output}: ok ({self.checked} elements)"
        return (
            f"{self.op} -> {self.output}: backward disagrees with finite differences of its "
            f"forward\n  input {self.input}, element {self.element}: backward gives "
            f"{self.analytical:.6g}, finite differences {self.numerical:.6g} (difference "
            f"{abs(self.analytical - self.numerical):.3g})\n  {self.where()}"
        )


@dataclass
class GraphCheck:
    """What ``gradcheck_graph`` found. True (``bool(report)``) when every operation agrees."""

    results: list[OpResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[OpResult]:
        return [r for r in self.results if not r.ok]

    @property
    def first_failure(self) -> OpResult | None:
        """The first operation, in the order forward created them, whose backward is wrong."""
        failures = self.failures
        return failures[0] if failures else None

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self) -> Iterator[OpResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __str__(self) -> str:
        skipped = sum(r.skipped is not None for r in self.results)
        head = (
            f"gradcheck_graph: {len(self.results) - skipped} operations checked"
            + (f", {skipped} skipped" if skipped else "")
            + "; "
        )
        first = self.first_failure
        if first is None:
            return head + "every backward agrees with finite differences of its forward"
        count = len(self.failures)
        which = "it" if count == 1 else f"the first of them (all {count} are in .failures)"
        return head + f"{count} disagree{'s' if count == 1 else ''}; {which}:\n{first}"


def gradcheck_graph(
    loss: Tensor,
    model: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 64,
    seed: int = 0,
) -> GraphCheck:
    """Check the backward of every operation in the graph of ``loss`` against finite
    differences of its own forward, at the values it saw.

    Args:
        loss: the output of the graph; call this before ``backward()`` (or after
            ``backward(retain_graph=True)``): an ordinary backward frees the graph.
        model: the ``nn.Module`` the graph went through; modules are then named by their path
            (``"2 (Swish)"``), otherwise by their class.
        eps, atol, rtol: as for ``tg.gradcheck``; an element passes when
            ``|backward - numerical| <= atol + rtol * |numerical|``.
        max_elements: check at most this many elements of each input (chosen at random);
            every element of smaller inputs.
        seed: for the random upstream gradients and the choice of elements.

    Returns:
        A `GraphCheck`: ``.ok``, ``.results`` (one `OpResult` per operation, in the order the
        forward pass created them) and ``.first_failure``. ``print`` it for a report.

    The check runs in float64 whatever the graph's dtype. To see the line of your code that
    created each operation, build the graph inside ``with tg.debug.record_origins():``.
    A ``Function`` whose forward is random (a fresh dropout mask on every call) cannot be
    checked this way and will be reported as disagreeing.
    """
    values = live_values([loss], "gradcheck_graph")
    paths = ModelPaths(model)
    names = ValueNames(values, paths)
    rng = np.random.default_rng(seed)
    report = GraphCheck()
    for value in values:
        ctx = value.grad_fn
        if ctx is None:
            continue
        result = OpResult(
            index=len(report.results),
            op=ctx.name,
            module=paths.describe(ctx.scope),
            origin=origin_of(ctx),
            output=names(value),
            ok=True,
        )
        _check_op(ctx, result, names, rng, eps, atol, rtol, max_elements)
        report.results.append(result)
    return report


def _check_op(
    ctx: Node,
    result: OpResult,
    names: ValueNames,
    rng: np.random.Generator,
    eps: float,
    atol: float,
    rtol: float,
    max_elements: int,
) -> None:
    """Compare one operation's backward with central differences; fill in ``result``."""
    function = ctx.function
    args = [_float64_copy(a) for a in ctx.forward_args]
    checked = [
        i
        for i, p in enumerate(ctx.parents)
        if isinstance(p, Tensor) and p.requires_grad and p.dtype.kind == "f"
    ]
    if not checked:
        result.skipped = "no input needs a gradient"
        return
    out = np.asarray(function.forward(Node(function, ctx.parents), *args))
    if out.dtype != np.float64:
        result.skipped = f"its output is {out.dtype} even from float64 inputs"
        return
    g = rng.standard_normal(out.shape)
    fresh = Node(function, ctx.parents)
    function.forward(fresh, *args)
    grads = function.backward(fresh, g)
    grads = whole_gradients(grads)
    if len(grads) != len(args):
        result.ok = False
        result.input = f"(backward returned {len(grads)} gradients for {len(args)} arguments)"
        return

    def objective(arguments: list) -> float:
        """sum(g * forward): its gradient is exactly what backward returns for upstream g."""
        value = function.forward(Node(function, ctx.parents), *arguments)
        return float(np.sum(g * np.asarray(value, dtype=np.float64)))

    base = objective(args)
    worst = -np.inf
    for i in checked:
        analytical = _as_input_grad(grads[i], args[i])
        for element in _elements(args[i], max_elements, rng):
            up, down = one_sided_differences(lambda: objective(args), args[i], element, eps, base)
            if abs(up - down) > atol + rtol * max(abs(up), abs(down)):
                result.kinks += 1  # one-sided slopes differ: no derivative here
                continue
            numerical = (up + down) / 2
            ana = float(analytical[element])
            result.checked += 1
            error = abs(ana - numerical) - (atol + rtol * abs(numerical))
            if not np.isfinite(ana) or error > worst:
                worst = np.inf if not np.isfinite(ana) else error
                result.input = names(ctx.parents[i])
                result.element = tuple(int(n) for n in element)
                result.analytical, result.numerical = ana, numerical
    result.ok = worst <= 0


def _float64_copy(arg: Any) -> Any:
    """A copy of an array argument (a NumPy scalar becomes a 0-d array), float64 if floating."""
    if isinstance(arg, (np.ndarray, np.generic)):
        dtype = np.float64 if arg.dtype.kind == "f" else arg.dtype
        return np.array(arg, dtype=dtype, copy=True)
    return arg


def _as_input_grad(grad: Any, arg: np.ndarray) -> np.ndarray:
    """The gradient backward returned for an input, summed back to the input's shape."""
    if grad is None:
        return np.zeros(arg.shape)
    grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
    if grad.shape != arg.shape:
        grad = sum_to_shape(grad, arg.shape)
    return grad


def _elements(array: np.ndarray, max_elements: int, rng: np.random.Generator) -> list[tuple]:
    """The indices to check: all of them, or ``max_elements`` chosen at random."""
    flat = np.arange(array.size)
    if array.size > max_elements:
        flat = np.sort(rng.choice(array.size, size=max_elements, replace=False))
    return [np.unravel_index(k, array.shape) for k in flat]
