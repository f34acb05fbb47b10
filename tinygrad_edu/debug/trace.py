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
    trace.to_html("backprop.html")        # a page that steps through forward and backward

Besides the backward steps, a trace keeps what a step-through view shows: the forward pass
(``trace.forward``, every operation in the order it was created, with the values it saw), the
leaves (``trace.leaves``), the gradient each use sent to a value (``step.arrivals``) and, for
small tensors, each operation's local derivative d(output)/d(input) (``traced.jacobian``),
obtained by running the operation's own backward once per element of its output.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import graph
from ..autograd import Node, sum_to_shape, whole_gradients
from ..tensor import Tensor
from ..walk import ModelPaths, ValueNames, live_values
from ._core import Observer, Origin, Summary, as_array, observing, origin_of
from .stepper import ParamUpdate, RunInfo, trace_fragment, trace_page

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
    # d(output)/d(input) as a matrix (output elements x input elements): row k is what the
    # operation's backward sends to this input when dL/d(output) is 1 at element k and 0
    # elsewhere. Kept when output and input have at most ``max_values`` elements, else None.
    jacobian: np.ndarray | None = field(default=None, repr=False)

    def local(self, output_shape: tuple) -> np.ndarray | None:
        """The local derivative as a learner writes it: one number for scalars, an array of
        the input's shape for an elementwise operation (the Jacobian's diagonal), else the
        Jacobian itself; None when it was not kept."""
        jacobian = self.jacobian
        if jacobian is None:
            return None
        if jacobian.size == 1:
            return jacobian.reshape(())
        if tuple(output_shape) == tuple(self.value.shape) and _is_diagonal(jacobian):
            return np.diagonal(jacobian).reshape(self.value.shape)
        return jacobian


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
    # dL/d(output) as it arrived, one entry per use of the output: (the step that sent it,
    # 0 for the seed of the pass, the gradient). They add up to ``grad_output``.
    arrivals: list[tuple[int, Summary]] = field(default_factory=list, repr=False)

    def input(self, name: str) -> TracedInput:
        """The input called ``name``."""
        for traced in self.inputs:
            if traced.name == name:
                return traced
        raise KeyError(f"step {self.index} ({self.op}) has no input named {name!r}")


@dataclass
class ForwardStep:
    """One operation of the forward pass, in the order the operations were created."""

    index: int  # 1 for the first operation
    op: str
    module: str | None
    output: str
    value: Summary
    inputs: list[TracedInput]  # the tensor inputs and their values (no gradients yet)
    args: list[str]  # every argument of forward as written: tensor names, other values' repr
    box: str | None = field(default=None, repr=False)
    node: str | None = field(default=None, repr=False)


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
        self.forward: list[ForwardStep] = []  # the operations, in the order they were created
        self.leaves: list[TracedInput] = []  # the values no operation made (grad: after)
        self.leaf_arrivals: dict[str, list[tuple[int, Summary]]] = {}  # what each use sent
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

    # ---- the step-through page ---------------------------------------------------------------

    def to_html(self, path: str | Path | None = None, *, title: str | None = None) -> str:
        """One self-contained HTML page that steps through the forward pass, node by node,
        then the backward pass, showing at each step the value, the gradient arriving from
        each use, and the chain rule with the numbers (see ``debug/stepper.py``). Written to
        ``path`` when given; returns the page's text."""
        page = trace_page([self], title=title)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def _repr_html_(self) -> str:
        """Jupyter shows a trace as the step-through view (click it, then use the arrow keys)."""
        return trace_fragment([self])


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
    local_derivatives: bool = True,
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
        local_derivatives: keep each small operation's Jacobian d(output)/d(input)
            (``TracedInput.jacobian``), found by running its backward once more per element
            of its output (a backward that is not a pure function of its arguments should
            pass False).

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
    _record_forward(trace, values, names, paths, drawing)
    recorder = _Recorder(trace, names, paths, drawing, values, local_derivatives)
    with observing(recorder):
        loss.backward(gradient, retain_graph=retain_graph)
    for value in values:
        if value.grad_fn is None and value.requires_grad and value.grad is not None:
            trace.leaf_grads[names(value)] = Summary.of(value.grad, max_values)
    for leaf in trace.leaves:
        leaf.grad = trace.leaf_grads.get(leaf.name)
        trace.leaf_arrivals[leaf.name] = recorder.sent.pop(leaf.position, [])
    return trace


def _record_forward(
    trace: Trace, values: list, names: ValueNames, paths: ModelPaths, drawing: _Drawing | None
) -> None:
    """The leaves, then every operation in the order it was created (``Node.number``), each
    with the values it saw: the forward pass as it ran."""
    n = trace.max_values
    for position, value in enumerate(values):
        if value.grad_fn is None:
            node = drawing.value_node(value) if drawing else None
            trace.leaves.append(
                TracedInput(position, names(value), Summary.of(value, n), None, node)
            )
    made = sorted((v for v in values if v.grad_fn is not None), key=lambda v: v.grad_fn.number)
    for value in made:
        ctx = value.grad_fn
        inputs, args = [], []
        for position, parent in enumerate(ctx.parents):
            if isinstance(parent, Tensor):
                node = drawing.value_node(parent) if drawing else None
                inputs.append(
                    TracedInput(position, names(parent), Summary.of(parent, n), None, node)
                )
                args.append(names(parent))
            else:
                args.append(_short_repr(parent))
        trace.forward.append(
            ForwardStep(
                index=len(trace.forward) + 1,
                op=ctx.name,
                module=paths.describe(ctx.scope),
                output=names(value),
                value=Summary.of(value, n),
                inputs=inputs,
                args=args,
                box=drawing.op_node(value) if drawing else None,
                node=drawing.value_node(value) if drawing else None,
            )
        )


def _short_repr(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) and value.size <= 8 else value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Recorder(Observer):
    """Writes down each step as the engine runs it (the graph is still intact then)."""

    def __init__(
        self,
        trace: Trace,
        names: ValueNames,
        paths: ModelPaths,
        drawing: _Drawing | None,
        values: list[Tensor],
        local_derivatives: bool,
    ) -> None:
        super().__init__()
        self.trace = trace
        self.names = names
        self.paths = paths
        self.drawing = drawing
        self.root = values[-1]  # the loss: the last value of a topological order
        self.local_derivatives = local_derivatives
        # what each use sent to a value so far, by the value's position in the trace's order
        # of values (its ``t<i>`` number): (the step that sent it, the gradient)
        self.sent: dict[int, list[tuple[int, Summary]]] = {}
        self.position = {id(v): i for i, v in enumerate(values)}

    def backward(self, node: Tensor, ctx: Node, grad_output: Any, input_grads: tuple) -> None:
        n = self.trace.max_values
        index = len(self.trace.steps) + 1
        jacobians = self._jacobians(node, ctx) if self.local_derivatives else {}
        inputs = []
        for position, (parent, grad) in enumerate(zip(ctx.parents, input_grads)):
            if not isinstance(parent, Tensor):
                continue  # an axis, a shape, a Python number: not part of the graph
            sent = None
            if grad is not None and parent.requires_grad:
                sent = Summary.of(_fit(as_array(grad), parent.shape), n)
                where = self.position.get(id(parent))
                if where is not None:
                    self.sent.setdefault(where, []).append((index, sent))
            inputs.append(
                TracedInput(
                    position,
                    self.names(parent),
                    Summary.of(parent, n),
                    sent,
                    node=self.drawing.value_node(parent) if self.drawing else None,
                    jacobian=jacobians.get(position),
                )
            )
        arrivals = self.sent.pop(self.position.get(id(node), -1), [])
        if node is self.root:
            arrivals.insert(0, (0, self.trace.seed))
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
            arrivals=arrivals,
        )
        self.trace.steps.append(step)
        super().backward(node, ctx, grad_output, input_grads)

    def _jacobians(self, node: Tensor, ctx: Node) -> dict[int, np.ndarray]:
        """d(output)/d(input) for each small input that requires grad, row by row: row k is
        the operation's own backward applied to the k-th unit vector of the output's shape
        (the graph is still intact while the observer runs)."""
        n = self.trace.max_values
        size = int(np.prod(node.shape, dtype=np.int64))
        wanted = {
            position: parent
            for position, parent in enumerate(ctx.parents)
            if isinstance(parent, Tensor) and parent.requires_grad and 0 < parent.data.size <= n
        }
        if not wanted or not 0 < size <= n or node.dtype.kind != "f":
            return {}
        rows: dict[int, list[np.ndarray]] = {position: [] for position in wanted}
        ctx._output = node
        try:
            for k in range(size):
                unit = np.zeros(node.shape, dtype=node.dtype)
                unit.flat[k] = 1
                grads = ctx.function.backward(ctx, unit)
                grads = whole_gradients(grads)
                for position, parent in wanted.items():
                    grad = grads[position] if position < len(grads) else None
                    if grad is None:
                        rows[position].append(np.zeros(parent.data.size, dtype=node.dtype))
                    else:
                        rows[position].append(_fit(as_array(grad), parent.shape).ravel())
        except Exception:  # a backward that cannot run twice: no local derivative, no harm
            return {}
        finally:
            ctx._output = None
        return {position: np.array(r, dtype=float) for position, r in rows.items()}


def _is_diagonal(matrix: np.ndarray) -> bool:
    return matrix.shape[0] == matrix.shape[1] and not np.any(matrix - np.diag(np.diagonal(matrix)))


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


# ----------------------------------------------------------------------------------------------
# Several optimisation steps: the step-through view of training
# ----------------------------------------------------------------------------------------------


class TrainingRecorder:
    """Record the backward pass of several optimisation steps of a small model, for the
    step-through view over the steps (`to_html`), with the loss and weights as they move.

    ``record(loss)`` runs ``loss.backward()`` (through ``trace_backward``, so ``.grad`` is
    filled exactly as usual) after noting every parameter's value; call ``optimizer.step()``
    after it as usual. The next ``record`` (or ``to_html``) sees what the step did. As a
    ``tg.train.fit`` callback it records every batch: ``fit(..., callbacks=[recorder])``.

    Args:
        model: the ``nn.Module`` being trained (names parameters ``0.weight`` ...).
        max_values: tensors with at most this many elements show their numbers.
        max_steps: record at most this many steps; later ``record`` calls only run
            ``loss.backward()`` (``skipped`` counts them): a page of hundreds of steps helps
            no one.
    """

    def __init__(self, model: Any, *, max_values: int = 16, max_steps: int = 50) -> None:
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"TrainingRecorder: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self.max_values = max_values
        self.max_steps = max_steps
        self.traces: list[Trace] = []
        self.losses: list[float] = []
        self.skipped = 0
        self._before: list[dict[str, np.ndarray]] = []
        self._grads: list[dict[str, np.ndarray | None]] = []

    def record(self, loss: Tensor) -> Trace | None:
        """Run ``loss.backward()`` and trace it; returns the trace (None once ``max_steps``
        steps are recorded)."""
        if len(self.traces) >= self.max_steps:
            self.skipped += 1
            loss.backward()
            return None
        before = self._parameters()
        trace = trace_backward(loss, model=self.model, max_values=self.max_values)
        self.traces.append(trace)
        self.losses.append(float(np.asarray(loss.data).reshape(-1)[0]))
        self._before.append(before)
        self._grads.append(
            {
                name: None if p.grad is None else np.array(p.grad.data, copy=True)
                for name, p in self.model.named_parameters()
            }
        )
        return trace

    def on_backward(self, loss: Tensor) -> None:
        """``tg.train.fit``'s callback: run (and trace) the backward pass of each batch."""
        self.record(loss)

    def runs(self) -> list[RunInfo]:
        """Each recorded step: its loss and every parameter before and after the step."""
        infos = []
        now = self._parameters()
        for i, before in enumerate(self._before):
            after = self._before[i + 1] if i + 1 < len(self._before) else now
            params = [
                ParamUpdate(name, value, self._grads[i].get(name), after.get(name))
                for name, value in before.items()
            ]
            label = f"optimisation step {i + 1}"
            infos.append(RunInfo(label, self.losses[i], params))
        return infos

    def to_html(self, path: str | Path | None = None, *, title: str | None = None) -> str:
        """The step-through page over every recorded step (``debug/stepper.py``); written to
        ``path`` when given; returns the page's text."""
        if not self.traces:
            raise ValueError("TrainingRecorder.to_html: nothing recorded yet; call record(loss)")
        heading = title or f"Training {type(self.model).__name__}: {len(self.traces)} steps"
        page = trace_page(self.traces, title=heading, runs=self.runs())
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def _repr_html_(self) -> str:
        if not self.traces:
            return "<p>TrainingRecorder: nothing recorded yet</p>"
        return trace_fragment(self.traces, runs=self.runs())

    def _parameters(self) -> dict[str, np.ndarray]:
        return {name: np.array(p.data, copy=True) for name, p in self.model.named_parameters()}
