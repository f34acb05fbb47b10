"""``trace_backward``: the chain rule, step by step, as the engine applies it.

``backward()`` visits the operations of the graph from the loss back to the inputs. At each
one it takes the gradient arriving from above, dL/d(output), and turns it into a gradient for
each input, dL/d(input) = dL/d(output) * d(output)/d(input): one step of the chain rule.
``trace_backward`` runs that same backward pass and writes down every step, so that the
derivation a textbook does on paper comes out of the engine::

    trace = tg.trace_backward(loss)
    print(trace)                          # a table, one row per (step, input)
    trace[0].op, trace[0].grad_output     # structured steps, for code and tests
    trace.render_frames("frames/")        # the graph once per step, visited nodes highlighted
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import graph
from ..autograd import Node, sum_to_shape
from ..tensor import Tensor
from ..walk import ModelPaths, ValueNames, live_values
from ._core import Observer, Origin, Summary, as_array, observing, origin_of

# How the frames mark the progress of the backward pass.
DONE = {"fillcolor": "#f4cccc"}  # an operation whose backward has run
CURRENT = {"fillcolor": "#e06666", "penwidth": "3"}  # the operation of this step
REACHED = {"color": "#cc0000", "penwidth": "2.5"}  # a value that has received gradient


@dataclass
class TracedInput:
    """One input of a traced operation and the gradient the step sent to it."""

    position: int  # which argument of forward it was
    name: str
    value: Summary
    grad: Summary | None  # None: no gradient (the input is a constant)
    node: str | None = field(default=None, repr=False)  # its node in the drawing


@dataclass
class TraceStep:
    """One operation's backward: the gradient arriving from above and what it sent on."""

    index: int  # 1 for the first step of the backward pass
    op: str  # "Mul", "MatMul", ...
    module: str | None  # the module it ran in, "0 (Linear)" (None outside modules)
    output: str  # the name of the tensor the operation produced
    value: Summary  # that tensor's value
    grad_output: Summary  # dL/d(output), arriving from above
    inputs: list[TracedInput]  # the tensor inputs, with dL/d(input) sent to each
    origin: Origin | None = None  # the line of user code, when recorded
    box: str | None = field(default=None, repr=False)  # the operation's node in the drawing
    node: str | None = field(default=None, repr=False)  # the output's node in the drawing

    def input(self, name: str) -> TracedInput:
        """The input called ``name``."""
        for traced in self.inputs:
            if traced.name == name:
                return traced
        raise KeyError(f"step {self.index} ({self.op}) has no input named {name!r}")


class Trace:
    """The steps of one backward pass, in the order the engine ran them.

    Iterate over it, index it (``trace[0]`` is the first step) or ``print`` it. With Graphviz
    installed, ``render_frames(folder)`` draws the graph once per step.
    """

    def __init__(self, root: str, seed: Summary, max_values: int) -> None:
        self.root = root
        self.seed = seed  # dL/dL, the gradient the pass starts from
        self.max_values = max_values
        self.steps: list[TraceStep] = []
        self.leaf_grads: dict[str, Summary] = {}  # .grad of each leaf after the pass
        self._drawing: _Drawing | None = None
        self._no_drawing_reason = "the graph was not drawn"

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> TraceStep:
        return self.steps[index]

    def __repr__(self) -> str:
        return f"<Trace of the backward of {self.root}: {len(self.steps)} steps>"

    def __str__(self) -> str:
        return format_table(self)

    # ---- frames ------------------------------------------------------------------------------

    def frames(self) -> list[Any]:
        """The graph once before the first step and once after each step: operations already
        visited in light red, the current one in strong red, values that have received their
        gradient outlined in red, with the gradient so far in their label."""
        if self._drawing is None:
            raise RuntimeError(f"trace_backward: no frames: {self._no_drawing_reason}")
        return [self._drawing.frame(self, k) for k in range(len(self.steps) + 1)]

    def render_frames(self, out_dir: str | Path, format: str = "svg") -> list[Path]:
        """Write the frames as ``step_000.svg, step_001.svg, ...`` in ``out_dir`` (needs
        Graphviz's ``dot``); returns their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for k, frame in enumerate(self.frames()):
            path = out / f"step_{k:03d}.{format}"
            path.write_bytes(frame.pipe(format=format))
            paths.append(path)
        return paths


# ----------------------------------------------------------------------------------------------
# The public function
# ----------------------------------------------------------------------------------------------


def trace_backward(
    loss: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    *,
    model: Any = None,
    max_values: int = 4,
    draw: bool = True,
) -> Trace:
    """Run ``loss.backward(gradient, retain_graph)`` (filling ``.grad`` exactly as it does) and
    return a `Trace` of every step, in the order the engine ran them.

    Args:
        loss: the tensor to backpropagate from.
        gradient, retain_graph: as for ``Tensor.backward``.
        model: the ``nn.Module`` the graph went through, if any; names parameters and modules
            by their path in it (``0.weight``, ``2 (Linear)``).
        max_values: tensors with at most this many elements are kept (and printed) in full;
            bigger ones as their shape and norm.
        draw: capture a drawing of the graph for ``Trace.frames`` / ``render_frames``.

    Each step records the operation, the module it ran in, its inputs' values, dL/d(output)
    arriving from above and dL/d(input) sent to each input (summed back to the input's shape
    when it was broadcast). Tensors without a ``name`` are called ``t0, t1, ...`` in the order
    the forward pass made them.
    """
    values = live_values([loss], "trace_backward")
    paths = ModelPaths(model)
    names = ValueNames(values, paths)
    seed = gradient if gradient is not None else np.ones(loss.shape, dtype=loss.dtype)
    trace = Trace(names(loss), Summary.of(seed, max_values), max_values)
    drawing = None
    if draw:
        try:
            drawing = _Drawing(loss, values, model, max_values)
        except ValueError as error:  # too big for Graphviz
            trace._no_drawing_reason = str(error)
    trace._drawing = drawing
    recorder = _Recorder(trace, names, paths, drawing)
    with observing(recorder):
        loss.backward(gradient, retain_graph=retain_graph)
    for value in values:
        if value.grad_fn is None and value.requires_grad and value.grad is not None:
            trace.leaf_grads[names(value)] = Summary.of(value.grad, max_values)
    return trace


class _Recorder(Observer):
    """Writes down each step as the engine runs it (the graph is still intact then)."""

    def __init__(
        self, trace: Trace, names: ValueNames, paths: ModelPaths, drawing: _Drawing | None
    ) -> None:
        super().__init__()
        self.trace = trace
        self.names = names
        self.paths = paths
        self.drawing = drawing

    def backward(self, node: Tensor, ctx: Node, grad_output: Any, input_grads: tuple) -> None:
        n = self.trace.max_values
        inputs = []
        for position, (parent, grad) in enumerate(zip(ctx.parents, input_grads)):
            if not isinstance(parent, Tensor):
                continue  # an axis, a shape, a Python number: not part of the graph
            sent = None
            if grad is not None and parent.requires_grad:
                sent = Summary.of(_fit(as_array(grad), parent.shape), n)
            inputs.append(
                TracedInput(
                    position,
                    self.names(parent),
                    Summary.of(parent, n),
                    sent,
                    node=self.drawing.value_node(parent) if self.drawing else None,
                )
            )
        step = TraceStep(
            index=len(self.trace.steps) + 1,
            op=ctx.name,
            module=self.paths.describe(ctx.scope),
            output=self.names(node),
            value=Summary.of(node, n),
            grad_output=Summary.of(grad_output, n),
            inputs=inputs,
            origin=origin_of(ctx),
            box=self.drawing.op_node(node) if self.drawing else None,
            node=self.drawing.value_node(node) if self.drawing else None,
        )
        self.trace.steps.append(step)
        super().backward(node, ctx, grad_output, input_grads)


def _fit(grad: np.ndarray, shape: tuple) -> np.ndarray:
    try:
        return sum_to_shape(grad, shape)
    except ValueError:  # a wrong backward; the engine itself will say so
        return grad


# ----------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------

HEADER = ("step", "operation", "output = value", "dL/d(output)", "input = value", "dL/d(input)")


def format_table(trace: Trace) -> str:
    """The trace as a table: one row per input of each step."""
    rows = []
    for step in trace.steps:
        op = step.op if step.module is None else f"{step.op} in {step.module}"
        first = [str(step.index), op, f"{step.output} = {step.value}", str(step.grad_output)]
        blank = [""] * 4
        for k, traced in enumerate(step.inputs):
            sent = "(constant: none)" if traced.grad is None else str(traced.grad)
            rows.append((first if k == 0 else blank) + [f"{traced.name} = {traced.value}", sent])
        if not step.inputs:
            rows.append(first + ["", ""])
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        f"backward of {trace.root}: {len(trace.steps)} steps, in the order the engine ran them "
        f"(it starts from dL/d{trace.root} = {trace.seed})",
        "",
        _row(HEADER, widths),
    ]
    lines += [_row(row, widths) for row in rows]
    if trace.leaf_grads:
        lines += ["", "gradients in .grad after the pass:"]
        width = max(len(name) for name in trace.leaf_grads)
        lines += [f"  {name:<{width}}  {value}" for name, value in trace.leaf_grads.items()]
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: list[int]) -> str:
    step, *rest = cells
    text = f"{step:>{widths[0]}}  " + "  ".join(f"{c:<{w}}" for c, w in zip(rest, widths[1:]))
    return text.rstrip()


# ----------------------------------------------------------------------------------------------
# The frames: tg.draw_graph's drawing, with highlights added per step
# ----------------------------------------------------------------------------------------------


class _Drawing:
    """The graph drawn once, before backward frees it (``tg.draw_graph``), with the node of
    each tensor and operation, so that each frame only adds attributes to nodes that exist."""

    def __init__(self, loss: Tensor, values: list[Tensor], model: Any, max_values: int) -> None:
        self.base = graph.draw_graph(loss, model, max_values=max_values)
        index = self.base.index
        self.values = index.values  # id(tensor) -> "v3"
        self.ops = index.operations  # id(tensor) -> "op2", the operation that made it
        self.braces = True  # draw_graph's default rankdir "LR" keeps record fields in braces
        # Each value's label without its grad field, so that frames can show the gradient
        # received so far; None for values whose drawing shows no grad.
        self.fields: dict[str, list[str] | None] = {
            node: fields[:-1] if node in index.shows_grad else None
            for node, fields in index.fields.items()
        }
        self.root = self.values[id(loss)]

    def value_node(self, tensor: Tensor) -> str | None:
        return self.values.get(id(tensor))

    def op_node(self, tensor: Tensor) -> str | None:
        return self.ops.get(id(tensor))

    def frame(self, trace: Trace, k: int) -> Any:
        """The drawing after ``k`` steps (``k = 0``: before the first)."""
        frame = self.base.copy()
        received: dict[str, Any] = {self.root: trace.seed.values}
        for step in trace.steps[:k]:
            for traced in step.inputs:
                if traced.grad is None or traced.node is None:
                    continue
                before = received.get(traced.node)
                grad = traced.grad.values
                if before is None or grad is None:
                    received[traced.node] = grad if before is None else before
                else:
                    received[traced.node] = before + grad
        for step in trace.steps[:k]:
            if step.box is not None:
                frame.node(step.box, **(CURRENT if step.index == k else DONE))
        for node, grad in received.items():
            attrs = dict(REACHED)
            fields = self.fields.get(node)
            if fields is not None and grad is not None:
                text = graph.format_array(np.asarray(grad))
                attrs["label"] = graph.record_label([*fields, f"grad {text}"], self.braces)
            frame.node(node, **attrs)
        with frame.subgraph(name="cluster_legend") as legend:  # the same cluster: added to it
            legend.node("legend_done", "backward done", shape="ellipse", style="filled", **DONE)
            legend.node("legend_current", "this step", shape="ellipse", style="filled", **CURRENT)
            legend.node("legend_reached", "has gradient", shape="box", **REACHED)
        frame.attr(label=_caption(trace, k), labelloc="t", fontname="Helvetica", fontsize="14")
        return frame


def _caption(trace: Trace, k: int) -> str:
    total = len(trace.steps)
    if k == 0:
        return f"backward of {trace.root}: start, dL/d{trace.root} = {trace.seed} ({total} steps)"
    step = trace.steps[k - 1]
    where = "" if step.module is None else f" in {step.module}"
    sent = ", ".join(f"dL/d{t.name} = {t.grad}" for t in step.inputs if t.grad is not None)
    return (
        f"step {k} of {total}: {step.op}{where}, dL/d{step.output} = {step.grad_output} "
        f"arrives; sends {sent or 'nothing'}"
    )
