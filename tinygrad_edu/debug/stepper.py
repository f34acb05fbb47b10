"""See backpropagation happen: a page that steps through a trace, one node at a time.

``trace.to_html("neuron.html")`` writes one self-contained HTML file (no network, no server:
the graph is inline SVG drawn by Graphviz's ``dot``, the numbers inline JSON, the script and
the style inline) that walks through

1. the **forward pass**, operation by operation in the order they were created: the current
   operation and the value it makes are highlighted, values not computed yet are faded;
2. the **backward pass**, operation by operation in the order the engine ran them: the
   gradient arriving at the operation's output from each of its uses, and for each input the
   chain rule written out with the numbers, dL/d(input) = dL/d(output) x d(output)/d(input);
3. the ``.grad`` each leaf ends with.

Buttons (``prev``, ``next``), the arrow keys and a slider move through the steps; the table of
steps beside the graph jumps to a step when clicked. Without JavaScript the page lists every
step in order instead. In Jupyter a trace shows itself this way (``Trace._repr_html_``).

``TrainingRecorder`` (in ``trace.py``) makes the same page over several optimisation steps of a small model, with
the loss and the weights over the steps, and an extra step after each backward pass showing
how the optimiser moved every weight::

    recorder = tg.debug.TrainingRecorder(model)
    for step in range(5):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        recorder.record(loss)          # loss.backward(), traced
        optimizer.step()
    recorder.to_html("training.html")

The numbers are the trace's: values and gradients as the engine computed them, the local
derivative d(output)/d(input) from the operation's own backward (``TracedInput.jacobian``).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import graph
from ._core import Summary, format_values

# A trace, its steps and their inputs (``Trace``, ``TraceStep``, ``TracedInput``) are defined in
# trace.py, which imports this module; here they are only read, and typed as Any.

# How each operation's local derivative reads on paper: only words for the learner, never used
# to compute anything (the numbers come from the operation's backward).
LOCAL_RULES = {
    "Add": "d(a + b)/da = d(a + b)/db = 1: an addition passes the gradient on unchanged",
    "Sub": "d(a - b)/da = 1 and d(a - b)/db = -1",
    "Mul": "d(a*b)/da = b and d(a*b)/db = a: each factor receives the other factor",
    "Div": "d(a/b)/da = 1/b and d(a/b)/db = -a/b²",
    "Pow": "d(xᵖ)/dx = p·xᵖ⁻¹",
    "Neg": "d(-x)/dx = -1",
    "Exp": "d(eˣ)/dx = eˣ: the output itself",
    "Log": "d(log x)/dx = 1/x",
    "Sqrt": "d(√x)/dx = 1/(2√x)",
    "Abs": "d|x|/dx = sign(x)",
    "Tanh": "d tanh(x)/dx = 1 - tanh(x)² = 1 - output²",
    "Sigmoid": "dσ(x)/dx = σ(x)·(1 - σ(x)) = output·(1 - output)",
    "ReLU": "d relu(x)/dx = 1 where x > 0, else 0",
    "LeakyReLU": "1 where x > 0, else the negative slope",
    "Sum": "d(Σx)/dxᵢ = 1: every element receives the gradient of the sum",
    "Mean": "d(mean x)/dxᵢ = 1/n: every element receives the gradient of the mean over n",
    "Max": "the gradient goes to the largest element (shared among ties)",
    "MatMul": "Y = A @ B: dL/dA = dL/dY @ Bᵀ and dL/dB = Aᵀ @ dL/dY",
    "Linear": "y = x @ Wᵀ + b: dL/dx = dL/dy @ W, dL/dW = dL/dyᵀ @ x, dL/db = Σ over rows dL/dy",
    "Reshape": "the same numbers in another shape: the gradient is reshaped back",
    "Permute": "the same numbers with the axes reordered: the gradient is reordered back",
    "Expand": "each copy sends its gradient back, and the copies' gradients add up",
    "Index": "the picked elements receive the gradient, the others 0",
    "LogSoftmax": "d log_softmax(x)ᵢ/dxⱼ = δᵢⱼ - softmax(x)ⱼ",
    "Cast": "1: the same value in another dtype",
}

INFIX = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Pow": "**", "MatMul": "@"}

MAX_JACOBIAN_SHOWN = 64  # a Jacobian with more entries is described, not printed


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------


def trace_page(
    traces: Sequence[Any], *, title: str | None = None, runs: Sequence[RunInfo] | None = None
) -> str:
    """A complete HTML page stepping through ``traces`` (one after the other)."""
    builder = _Page(traces, runs, standalone=True)
    heading = title or builder.default_title()
    body = builder.fragment(heading)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_esc(heading)}</title>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"</head>\n<body class='tg-page'>\n{body}\n</body>\n</html>\n"
    )


def trace_fragment(
    traces: Sequence[Any], *, title: str | None = None, runs: Sequence[RunInfo] | None = None
) -> str:
    """The view as a fragment to embed (Jupyter): its ids are made unique and its keys work
    once it has been clicked."""
    builder = _Page(traces, runs, standalone=False)
    return builder.fragment(title or builder.default_title())


@dataclass
class ParamUpdate:
    """One parameter around an optimisation step: its value when the loss was computed, the
    gradient of that step, and its value after the optimiser's step."""

    name: str
    before: np.ndarray
    grad: np.ndarray | None
    after: np.ndarray | None


@dataclass
class RunInfo:
    """What the training view adds to one trace: a label, the loss, the parameters' update."""

    label: str
    loss: float | None = None
    params: list[ParamUpdate] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# Building the page: frames (one per step of the view), the graphs, the tables
# ----------------------------------------------------------------------------------------------


class _Page:
    def __init__(
        self, traces: Sequence[Any], runs: Sequence[RunInfo] | None, standalone: bool
    ) -> None:
        traces = list(traces)
        if not traces:
            raise ValueError("the step-through view needs at least one trace")
        for trace in traces:
            if not hasattr(trace, "forward") or not hasattr(trace, "steps"):
                raise TypeError(f"expected Trace objects, got {type(trace).__name__}")
        if runs is not None and len(runs) != len(traces):
            raise ValueError(f"{len(runs)} run descriptions for {len(traces)} traces")
        self.traces = traces
        self.infos = list(runs) if runs is not None else [None] * len(traces)
        self.standalone = standalone
        self.uid = "main" if standalone else uuid.uuid4().hex[:10]
        self.frames: list[dict] = []
        self.runs: list[dict] = []
        self.graphs: list[str] = []
        self.tables: list[str] = []
        for r, trace in enumerate(traces):
            _Run(self, r, trace, self.infos[r]).build()

    def default_title(self) -> str:
        trace = self.traces[0]
        if len(self.traces) == 1:
            return f"Backpropagation of {trace.root}, step by step"
        return f"Backpropagation over {len(self.traces)} steps"

    def ident(self, name: str) -> str:
        """An element id: as given on a page, made unique in a fragment."""
        return name if self.standalone else f"{name}-{self.uid}"

    def fragment(self, heading: str) -> str:
        data = {
            "frames": self.frames,
            "runs": self.runs,
            "globalKeys": self.standalone,
        }
        payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
        payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
        root = f"tg-stepper-{self.uid}"
        n = len(self.frames)
        controls = (
            f"<div class='tg-controls tg-needs-js'>"
            f"<button type='button' id='{self.ident('prev')}' data-role='prev' "
            f"title='previous step (←)'>◀ prev</button>"
            f"<button type='button' id='{self.ident('next')}' data-role='next' "
            f"title='next step (→)'>next ▶</button>"
            f"<input type='range' id='{self.ident('slider')}' data-role='slider' min='0' "
            f"max='{n - 1}' value='0' aria-label='step'>"
            f"<span id='{self.ident('counter')}' data-role='counter'>1 / {n}</span>"
            f"<button type='button' data-role='zoom' title='the graph at its full size, or "
            f"fitted to the page'>zoom graph</button>"
            f"<span class='tg-hint'>arrow keys ← → move too; click a row of the table</span>"
            "</div>"
        )
        graphs = "".join(self.graphs)
        tables = "".join(self.tables)
        first = self.frames[0]["html"] if self.frames else ""
        charts = _training_charts(self) if any(self.infos) else ""
        static = "".join(
            f"<li id='{self.ident(f'frame-{k}')}'>{frame['html']}</li>"
            for k, frame in enumerate(self.frames)
        )
        legend = (
            "<div class='tg-legend tg-needs-js'>"
            "<span><i class='tg-key tg-key-forward'></i>forward: this operation</span>"
            "<span><i class='tg-key tg-key-current'></i>backward: this operation</span>"
            "<span><i class='tg-key tg-key-done'></i>backward done</span>"
            "<span><i class='tg-key tg-key-reached'></i>has received gradient</span>"
            "<span><i class='tg-key tg-key-pending'></i>not computed yet</span>"
            "</div>"
        )
        script = _SCRIPT.replace("__ROOT__", root)
        return (
            f"<div class='tg-stepper' id='{root}' tabindex='0'>\n<style>{_STYLE}</style>\n"
            f"<h2 class='tg-title'>{_esc(heading)}</h2>\n{controls}\n"
            f"<div class='tg-main'>\n<div class='tg-left'>{legend}{graphs}"
            f"<div class='tg-panel tg-needs-js' data-role='panel'>{first}</div>{charts}</div>\n"
            f"<div class='tg-right'><div class='tg-tables'>{tables}</div></div>\n</div>\n"
            f"<section class='tg-static'><h3>Every step, in order</h3><ol start='0'>{static}"
            "</ol></section>\n"
            f"<script type='application/json' class='tg-data'>{payload}</script>\n"
            f"<script>{script}</script>\n</div>"
        )


class _Run:
    """The frames of one trace: the inputs, each forward operation, the seed, each backward
    step, the leaves' gradients (and, in training, the optimiser's update)."""

    def __init__(self, page: _Page, index: int, trace: Any, info: RunInfo | None) -> None:
        self.page = page
        self.index = index
        self.trace = trace
        self.info = info
        drawing = trace._drawing
        self.drawing = drawing
        self.fields = drawing.fields if drawing is not None else {}
        self.braces = drawing.braces if drawing is not None else True
        self.rows: list[str] = []

    # ---- the frames --------------------------------------------------------------------------

    def build(self) -> None:
        page, trace = self.page, self.trace
        start = len(page.frames)
        computed = [f.node for f in trace.forward if f.node] + [
            f.box for f in trace.forward if f.box
        ]
        init_data = {step.node: "data ?" for step in trace.forward if self._data_field(step.node)}
        init_grad = {node: "grad None" for node, fields in self.fields.items() if fields}
        self._inputs_frame()
        for step in trace.forward:
            self._forward_frame(step)
        received: dict[str, np.ndarray | None] = {}
        self._seed_frame(received)
        for step in trace.steps:
            self._backward_frame(step, received)
        self._done_frame()
        if self.info is not None and self.info.params:
            self._update_frame()
        svg, reason = self._svg(received)
        label = self.info.label if self.info is not None else f"backward of {trace.root}"
        if self.info is not None and self.info.loss is not None:
            label += f": loss = {_fmt(self.info.loss)}"
        page.runs.append(
            {
                "start": start,
                "end": len(page.frames) - 1,
                "label": label,
                "graph": svg is not None,
                "data": init_data,
                "grad": init_grad,
                "pending": computed,
            }
        )
        heading = f"<h4>{_esc(label)}</h4>" if len(page.traces) > 1 else ""
        if svg is None:
            body = f"<p class='tg-nograph'>The graph is not drawn: {_esc(reason)}</p>"
        else:
            body = svg
        page.graphs.append(f"<div class='tg-graph' data-run='{self.index}'>{heading}{body}</div>")
        page.tables.append(
            f"<div class='tg-table' data-run='{self.index}'>{heading}"
            "<table class='tg-steps'><thead><tr><th>#</th><th>pass</th><th>operation</th>"
            "<th>value</th><th>gradient</th></tr></thead><tbody>"
            + "".join(self.rows)
            + "</tbody></table></div>"
        )

    def _frame(
        self, kind: str, phase: str, title: str, body: str, row: list[str], **extra: Any
    ) -> None:
        page = self.page
        k = len(page.frames)
        run_label = ""
        if len(page.traces) > 1:
            run_label = f"<p class='tg-run'>{_esc(self._run_label())}</p>"
        panel = (
            f"<div class='tg-frame tg-kind-{kind}' data-kind='{kind}'>{run_label}"
            f"<h3 class='tg-frame-title'>{_esc(title)}</h3>{body}</div>"
        )
        frame = {
            "run": self.index,
            "kind": kind,
            "phase": phase,
            "title": title,
            "html": panel,
            "box": None,
            "node": None,
            "inputs": [],
            "edges": [],
            "reveal": [],
            "done": [],
            "reach": [],
            "data": {},
            "grad": {},
        }
        frame.update(extra)
        page.frames.append(frame)
        cells = "".join(f"<td>{cell}</td>" for cell in [str(k), *row])
        self.rows.append(f"<tr data-frame='{k}' class='tg-row-{phase}'>{cells}</tr>")

    def _run_label(self) -> str:
        if self.info is not None:
            text = self.info.label
            if self.info.loss is not None:
                text += f" (loss {_fmt(self.info.loss)})"
            return text
        return f"trace {self.index + 1} of {len(self.page.traces)}"

    def _inputs_frame(self) -> None:
        trace = self.trace
        rows = "".join(
            f"<tr><td class='tg-name'>{_esc(leaf.name)}</td>"
            f"<td class='tg-num'>{_esc(str(leaf.value))}</td>"
            f"<td>{_esc(_shape_text(leaf.value))}</td></tr>"
            for leaf in trace.leaves
        )
        body = (
            f"<p>The forward pass computes {len(trace.forward)} operations, in the order they "
            "were created, from these values (the leaves of the graph):</p>"
            f"<table class='tg-values'><tr><th>value</th><th>data</th><th>shape</th></tr>"
            f"{rows}</table>"
        )
        nodes = [leaf.node for leaf in trace.leaves if leaf.node]
        self._frame(
            "inputs",
            "forward",
            "Forward pass: the inputs",
            body,
            ["forward", "inputs", f"{len(trace.leaves)} values", ""],
            inputs=nodes,
        )

    def _forward_frame(self, step: Any) -> None:
        trace = self.trace
        total = len(trace.forward)
        expression = _expression(step)
        numbers = _expression(step, values=True)
        where = f"<p class='tg-where'>in {_esc(step.module)}</p>" if step.module else ""
        rows = "".join(
            f"<tr><td class='tg-name'>{_esc(t.name)}</td><td class='tg-num'>"
            f"{_esc(str(t.value))}</td></tr>"
            for t in step.inputs
        )
        body = (
            f"{where}"
            f"<p class='tg-eq'><span class='tg-current-name'>{_esc(step.output)}</span>"
            f"{'' if expression == step.output else ' = ' + _esc(expression)}</p>"
            f"<p class='tg-eq tg-eq-numbers'>= {_esc(numbers)}</p>"
            f"<p class='tg-eq'>= <span class='tg-current-value tg-num'>{_esc(str(step.value))}"
            f"</span></p><table class='tg-values'><tr><th>input</th><th>value</th></tr>{rows}"
            f"</table>"
        )
        data = {}
        text = self._data_field(step.node)
        if text is not None:
            data[step.node] = text
        edges = [[t.node, step.box] for t in step.inputs if t.node and step.box]
        if step.box and step.node:
            edges.append([step.box, step.node])
        self._frame(
            "forward",
            "forward",
            f"Forward {step.index} of {total}: {step.op}",
            body,
            ["forward", _esc(step.op), f"{_esc(step.output)} = {_esc(str(step.value))}", ""],
            box=step.box,
            node=step.node,
            inputs=[t.node for t in step.inputs if t.node],
            edges=edges,
            reveal=[n for n in (step.box, step.node) if n],
            data=data,
        )

    def _seed_frame(self, received: dict) -> None:
        trace = self.trace
        root = self._root_node()
        body = (
            f"<p>The backward pass starts at the output with "
            f"<span class='tg-eq'>{_esc(_d(trace.root))} = "
            f"<span class='tg-num tg-grad-output'>{_esc(str(trace.seed))}</span></span>: "
            "the loss changes one for one with itself. It then visits the operations from the "
            "output back to the inputs, each only once every use of its output has sent its "
            f"gradient: {len(trace.steps)} steps.</p>"
        )
        grads = {}
        if root is not None:
            received[root] = _values(trace.seed)
            text = self._grad_text(root, received[root])
            if text is not None:
                grads[root] = text
        self._frame(
            "seed",
            "backward",
            f"Backward pass: start from {_d(trace.root)} = {trace.seed}",
            body,
            ["backward", "start", _esc(trace.root), _esc(str(trace.seed))],
            node=root,
            reach=[root] if root else [],
            grad=grads,
        )

    def _backward_frame(self, step: Any, received: dict) -> None:
        trace = self.trace
        where = f"<p class='tg-where'>in {_esc(step.module)}</p>" if step.module else ""
        origin = ""
        if step.origin is not None:
            origin = f"<p class='tg-origin'>created at {_esc(str(step.origin))}</p>"
        arrivals = "".join(
            f"<tr><td>{_esc(self._sender(sender))}</td>"
            f"<td class='tg-num'>{_esc(str(grad))}</td></tr>"
            for sender, grad in step.arrivals
        )
        uses = len(step.arrivals)
        total_word = "the sum: " if uses > 1 else ""
        arrival_text = (
            f"<p>Gradient arriving at <b class='tg-current-name'>{_esc(step.output)}</b> "
            f"(value <span class='tg-current-value tg-num'>{_esc(str(step.value))}</span>) "
            f"from {uses} use{'s' if uses != 1 else ''}:</p>"
            f"<table class='tg-arrivals'><tr><th>sent by</th><th>gradient</th></tr>{arrivals}"
            f"<tr class='tg-total'><td>{total_word}{_esc(_d(step.output))}</td>"
            f"<td class='tg-num tg-grad-output'>{_esc(str(step.grad_output))}</td></tr></table>"
        )
        chain_rows = "".join(self._chain_row(step, traced) for traced in step.inputs)
        rule = LOCAL_RULES.get(step.op)
        rule_text = f"<p class='tg-rule'>{_esc(step.op)}: {_esc(rule)}</p>" if rule else ""
        body = (
            f"{where}{origin}{arrival_text}"
            "<p>The chain rule, one input at a time: dL/d(input) = dL/d(output) × "
            "d(output)/d(input), the local derivative.</p>"
            f"<table class='tg-chain-table'>{chain_rows}</table>{rule_text}"
        )
        grads, reach = {}, []
        for traced in step.inputs:
            if traced.grad is None or traced.node is None:
                continue
            before = received.get(traced.node)
            grad = _values(traced.grad)
            if before is None or grad is None:
                received[traced.node] = grad if before is None else before
            else:
                received[traced.node] = before + grad
            reach.append(traced.node)
            text = self._grad_text(traced.node, received[traced.node])
            if text is not None:
                grads[traced.node] = text
        edges = [[t.node, step.box] for t in step.inputs if t.node and step.box]
        if step.box and step.node:
            edges.append([step.box, step.node])
        sent = ", ".join(str(t.grad) for t in step.inputs if t.grad is not None) or "nothing"
        self._frame(
            "backward",
            "backward",
            f"Backward {step.index} of {len(trace.steps)}: {step.op}",
            body,
            [
                "backward",
                _esc(step.op),
                f"{_esc(_d(step.output))} = {_esc(str(step.grad_output))}",
                f"sends {_esc(sent)}",
            ],
            box=step.box,
            node=step.node,
            inputs=[t.node for t in step.inputs if t.node],
            edges=edges,
            done=[step.box] if step.box else [],
            reach=reach,
            grad=grads,
        )

    def _chain_row(self, step: Any, traced: Any) -> str:
        name = _esc(traced.name)
        head = f"<tr class='tg-chain' data-input='{name}'>"
        if traced.grad is None:
            return (
                f"{head}<td colspan='7' class='tg-constant'>{name} is a constant (it does not "
                "require grad): nothing is sent to it</td></tr>"
            )
        local = traced.local(step.value.shape)
        grad_out = _values(step.grad_output)
        grad_in = _esc(str(traced.grad))
        lhs = f"<td class='tg-lhs'>{_esc(_d(traced.name))}</td><td>=</td>"
        symbolic = f"{_d(step.output)} × {_dd(step.output, traced.name)}"
        if local is None or grad_out is None or local.size > MAX_JACOBIAN_SHOWN:
            why = (
                f"the local derivative {_dd(step.output, traced.name)} is a "
                f"{step.value.shape} × {traced.value.shape} Jacobian, too big to print; "
                f"{step.op}'s backward multiplies by it without building it"
            )
            return (
                f"{head}{lhs}<td class='tg-grad-out tg-num'>{_esc(str(step.grad_output))}</td>"
                f"<td>×</td><td class='tg-local'>(Jacobian)</td><td>=</td>"
                f"<td class='tg-product tg-num'>{grad_in}</td></tr>"
                f"<tr class='tg-note'><td></td><td colspan='6'>{_esc(why)}</td></tr>"
            )
        if local.ndim == 0 and grad_out.size == 1:
            symbol, note = "×", ""
        elif local.shape == tuple(traced.value.shape) and local.shape == grad_out.shape:
            symbol, note = (
                "⊙",
                "elementwise: each element of the output depends on one input element",
            )
        else:
            symbol = "·"
            m = int(np.prod(step.value.shape, dtype=np.int64))
            note = (
                f"{_dd(step.output, traced.name)} is a Jacobian of {m} × {local.size // m}: "
                f"row i says how element i of {step.output} changes with each element of "
                f"{traced.name}, and the gradient (a row of {m}) times it adds up what every "
                f"element of {step.output} sends back"
            )
            local = local.reshape(m, -1)
        symbolic = symbolic.replace("×", symbol)
        note_row = (
            f"<tr class='tg-note'><td></td><td colspan='6'>{_esc(note)}</td></tr>" if note else ""
        )
        return (
            f"<tr class='tg-symbolic'><td class='tg-lhs'>{_esc(_d(traced.name))}</td><td>=</td>"
            f"<td colspan='5'>{_esc(symbolic)}</td></tr>"
            f"{head}<td></td><td>=</td>"
            f"<td class='tg-grad-out tg-num'>{_esc(format_values(np.asarray(grad_out)))}</td>"
            f"<td>{symbol}</td>"
            f"<td class='tg-local tg-num'>{_esc(format_values(np.asarray(local)))}</td>"
            f"<td>=</td><td class='tg-product tg-num'>{grad_in}</td></tr>{note_row}"
        )

    def _done_frame(self) -> None:
        trace = self.trace
        rows = []
        for leaf in trace.leaves:
            arrivals = trace.leaf_arrivals.get(leaf.name, [])
            if leaf.grad is None and not arrivals:
                continue
            parts = " + ".join(f"{g} (step {i})" for i, g in arrivals) or "nothing"
            rows.append(
                f"<tr data-leaf='{_esc(leaf.name)}'><td class='tg-name'>{_esc(leaf.name)}</td>"
                f"<td>{_esc(parts)}</td><td class='tg-num tg-leaf-grad'>"
                f"{_esc(str(leaf.grad))}</td></tr>"
            )
        body = (
            "<p>Every operation has run its backward. Each leaf that requires grad adds what "
            "its uses sent into <code>.grad</code> (a leaf used twice receives two "
            "gradients):</p>"
            "<table class='tg-values'><tr><th>leaf</th><th>received</th><th>.grad</th></tr>"
            f"{''.join(rows)}</table>"
        )
        leaves = [leaf.node for leaf in trace.leaves if leaf.node and leaf.grad is not None]
        self._frame(
            "done",
            "backward",
            "Backward pass done: the gradients in .grad",
            body,
            ["backward", "done", f"{len(rows)} leaves", ""],
            inputs=leaves,
        )

    def _update_frame(self) -> None:
        rows = []
        data = {}
        names = {leaf.name: leaf.node for leaf in self.trace.leaves}
        for p in self.info.params:
            after = "?" if p.after is None else format_values(_small(p.after))
            change = "?"
            if p.after is not None:
                change = format_values(_small(p.after - p.before))
            grad = "None" if p.grad is None else format_values(_small(p.grad))
            rows.append(
                f"<tr data-param='{_esc(p.name)}'><td class='tg-name'>{_esc(p.name)}</td>"
                f"<td class='tg-num'>{_esc(format_values(_small(p.before)))}</td>"
                f"<td class='tg-num'>{_esc(grad)}</td><td class='tg-num'>{_esc(after)}</td>"
                f"<td class='tg-num'>{_esc(change)}</td></tr>"
            )
            node = names.get(p.name)
            if node is not None and p.after is not None and self._data_field(node) is not None:
                data[node] = f"data {graph.format_array(np.asarray(p.after))}"
        body = (
            "<p>The optimiser's step moved every parameter against its gradient (plain SGD "
            "moves it by -lr × grad; momentum and Adam also use earlier gradients):</p>"
            "<table class='tg-values'><tr><th>parameter</th><th>before</th><th>grad</th>"
            f"<th>after</th><th>change</th></tr>{''.join(rows)}</table>"
        )
        self._frame(
            "update",
            "update",
            "The optimiser's step",
            body,
            ["update", "optimiser", f"{len(rows)} parameters", ""],
            inputs=[n for n in data],
            data=data,
        )

    # ---- helpers -----------------------------------------------------------------------------

    def _sender(self, index: int) -> str:
        if index == 0:
            return "the start of the pass (seed)"
        step = self.trace.steps[index - 1]
        return f"step {index} ({step.op} making {step.output})"

    def _root_node(self) -> str | None:
        if self.drawing is None:
            return None
        return self.drawing.root

    def _data_field(self, node: str | None) -> str | None:
        fields = self.fields.get(node) if node else None
        if fields is None and node is not None and self.drawing is not None:
            fields = self.drawing.base.index.fields.get(node)
        for text in fields or []:
            if text.startswith("data "):
                return text
        return None

    def _grad_text(self, node: str, grad: np.ndarray | None) -> str | None:
        if not self.fields.get(node) or grad is None:
            return None
        return f"grad {graph.format_array(np.asarray(grad))}"

    def _svg(self, received: dict) -> tuple[str | None, str]:
        """The drawing, with every gradient field as wide as its final value (the page
        rewrites the texts as it steps), each value's fields one under the other; laid out
        left to right or top to bottom, whichever shows it larger in a page's graph box."""
        trace = self.trace
        if self.drawing is None:
            return None, trace._no_drawing_reason
        best, best_scale = None, -1.0
        for rankdir in ("LR", "TB"):
            diagram = self.drawing.base.copy()
            diagram.attr(rankdir=rankdir)
            for node, fields in self.drawing.base.index.fields.items():
                grad = received.get(node)
                kept = self.fields.get(node)
                if kept and grad is not None:
                    fields = [*kept, f"grad {graph.format_array(np.asarray(grad))}"]
                # a record's fields stack in a column: in braces top to bottom, bare left to right
                diagram.node(node, label=graph.record_label(fields, rankdir == "TB"))
            try:
                svg = diagram.pipe(format="svg").decode("utf-8")
            except Exception as error:  # Graphviz's dot missing or failing: the page goes on
                return None, str(error).splitlines()[0]
            svg = svg[svg.find("<svg") :]
            scale = _fit_scale(svg)
            if scale > best_scale + 0.02:  # left to right unless top to bottom is larger
                best, best_scale = svg, scale
        return best, ""


def _fit_scale(svg: str, width: float = 1000.0, height: float = 560.0) -> float:
    """How much an SVG drawing must shrink to fit a box of ``width`` x ``height`` pixels."""
    found = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if found is None:
        return 1.0
    w, h = (float(v) * 4 / 3 for v in found.groups())  # points to pixels
    return min(1.0, width / max(w, 1.0), height / max(h, 1.0))


# ----------------------------------------------------------------------------------------------
# Text helpers
# ----------------------------------------------------------------------------------------------


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _values(summary: Summary) -> np.ndarray | None:
    return None if summary.values is None else np.asarray(summary.values, dtype=float)


def _small(array: np.ndarray, limit: int = 16) -> np.ndarray:
    """An array to print: itself when small, else its first elements (flattened)."""
    array = np.asarray(array)
    return array if array.size <= limit else array.reshape(-1)[:limit]


def _shape_text(summary: Summary) -> str:
    return str(tuple(summary.shape)) if summary.shape else "scalar"


def _wrap(name: str) -> str:
    return name if name.replace("_", "").replace(".", "").isalnum() else f"({name})"


def _d(name: str) -> str:
    """dL/dname, with parentheses around a name that is an expression."""
    return f"dL/d{_wrap(name)}"


def _dd(out: str, inp: str) -> str:
    return f"d{_wrap(out)}/d{_wrap(inp)}"


def _expression(step: Any, values: bool = False) -> str:
    """How the operation reads: ``x1 * w1`` (or with the inputs' values)."""
    by_position = {t.position: t for t in step.inputs}
    words = []
    for position, arg in enumerate(step.args):
        traced = by_position.get(position)
        if traced is None:
            words.append(arg)
        else:
            words.append(str(traced.value) if values else traced.name)
    symbol = INFIX.get(step.op)
    if symbol is not None and len(words) == 2:
        return f"{words[0]} {symbol} {words[1]}"
    if step.op == "Neg" and len(words) == 1:
        return f"-{words[0]}"
    shown = [w for i, w in enumerate(words) if i in by_position or w not in ("None", "False")]
    return f"{step.op.lower()}({', '.join(shown)})"


# ----------------------------------------------------------------------------------------------
# Training: the loss and the weights over the steps, as inline SVG line charts
# ----------------------------------------------------------------------------------------------


def _training_charts(page: _Page) -> str:
    infos = [info for info in page.infos if info is not None]
    losses = [info.loss for info in infos]
    charts = []
    if all(loss is not None for loss in losses):
        charts.append(_line_chart("loss", {"loss": [float(v) for v in losses]}, len(infos)))
    series: dict[str, list[float]] = {}
    total = sum(int(np.size(p.before)) for p in infos[0].params) if infos else 0
    if infos and 0 < total <= 40:
        for j, p in enumerate(infos[0].params):
            size = int(np.size(p.before))
            for e in range(size):
                label = p.name if size == 1 else f"{p.name}[{e}]"
                values = [float(np.ravel(info.params[j].before)[e]) for info in infos]
                after = infos[-1].params[j].after
                values.append(float(np.ravel(after)[e]) if after is not None else values[-1])
                series[label] = values
        charts.append(
            _line_chart("parameters (before each step, and at the end)", series, len(infos))
        )
    return "".join(charts)


def _line_chart(title: str, series: dict[str, list[float]], steps: int) -> str:
    """A small SVG chart: one polyline per series over the steps, a marker on the current one."""
    width, height, pad = 440, 170, 34
    left = 62
    all_values = [v for values in series.values() for v in values if np.isfinite(v)]
    if not all_values:
        return ""
    lo, hi = min(all_values), max(all_values)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    count = max(len(values) for values in series.values())
    span = max(count - 1, 1)

    def x(i: int) -> float:
        return left + (width - left - pad) * i / span

    def y(v: float) -> float:
        return height - pad + (2 * pad - height) * (v - lo) / (hi - lo)

    colours = ["#3c78d8", "#cc0000", "#6aa84f", "#e69138", "#674ea7", "#45818e", "#a61c00"]
    lines = []
    for n, (label, values) in enumerate(series.items()):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if np.isfinite(v))
        colour = colours[n % len(colours)]
        lines.append(
            f"<polyline fill='none' stroke='{colour}' stroke-width='1.6' points='{points}'>"
            f"<title>{_esc(label)}</title></polyline>"
        )
    marks = "".join(
        f"<line class='tg-step-mark' data-run='{i}' x1='{x(i):.1f}' x2='{x(i):.1f}' "
        f"y1='{pad - 6}' y2='{height - pad + 6}'/>"
        for i in range(steps)
    )
    axes = (
        f"<line x1='{left}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' "
        "stroke='#999'/>"
        f"<text x='{left - 4}' y='{y(hi) + 4:.1f}' text-anchor='end'>{hi:.4g}</text>"
        f"<text x='{left - 4}' y='{y(lo) + 4:.1f}' text-anchor='end'>{lo:.4g}</text>"
        f"<text x='{width / 2}' y='{height - 8}' text-anchor='middle'>optimisation step</text>"
    )
    return (
        f"<figure class='tg-chart'><figcaption>{_esc(title)}</figcaption>"
        f"<svg viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        f"role='img' aria-label='{_esc(title)}'>{axes}{marks}{''.join(lines)}</svg></figure>"
    )


# ----------------------------------------------------------------------------------------------
# Style and script (inline: the page needs nothing else)
# ----------------------------------------------------------------------------------------------

_STYLE = """
.tg-stepper{font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;outline:none}
.tg-stepper .tg-title{font-size:20px;margin:4px 0 8px}
.tg-stepper .tg-needs-js{display:none}
.tg-stepper.tg-js .tg-needs-js{display:block}
.tg-stepper.tg-js .tg-controls{display:flex}
.tg-stepper.tg-js .tg-static{display:none}
.tg-stepper .tg-controls{gap:10px;align-items:center;margin:6px 0 10px;flex-wrap:wrap}
.tg-stepper .tg-controls button{font-size:15px;padding:4px 14px;cursor:pointer}
.tg-stepper .tg-controls input[type=range]{width:320px}
.tg-stepper .tg-hint{color:#777;font-size:12px}
.tg-stepper .tg-main{display:flex;gap:16px;align-items:flex-start}
.tg-stepper .tg-left{flex:1 1 0;min-width:0}
.tg-stepper .tg-right{flex:0 0 440px;min-width:0}
.tg-stepper .tg-graph{overflow:auto;border:1px solid #ddd;border-radius:6px;padding:4px;
  background:#fff;max-height:60vh;margin-bottom:8px}
.tg-stepper .tg-graph svg{max-width:100%;height:auto}
.tg-stepper.tg-zoomed .tg-graph svg{max-width:none}
.tg-stepper .tg-graph h4,.tg-stepper .tg-table h4{margin:2px 4px;font-size:13px;color:#555}
.tg-stepper .tg-panel{border:1px solid #ccc;border-radius:6px;padding:8px 12px;
  background:#fbfbfb;margin-bottom:10px}
.tg-stepper .tg-frame-title{font-size:16px;margin:2px 0 6px}
.tg-stepper .tg-kind-forward .tg-frame-title,.tg-stepper .tg-kind-inputs .tg-frame-title
  {color:#1c4587}
.tg-stepper .tg-kind-backward .tg-frame-title,.tg-stepper .tg-kind-seed .tg-frame-title
  {color:#990000}
.tg-stepper .tg-where{color:#555;margin:2px 0}
.tg-stepper .tg-origin{color:#555;font-family:monospace;white-space:pre-wrap;margin:2px 0}
.tg-stepper .tg-eq{font-family:Menlo,Consolas,monospace;margin:3px 0}
.tg-stepper .tg-num{font-family:Menlo,Consolas,monospace}
.tg-stepper .tg-rule{color:#38761d;font-style:italic}
.tg-stepper .tg-run{color:#666;margin:0}
.tg-stepper table{border-collapse:collapse;margin:4px 0}
.tg-stepper td,.tg-stepper th{padding:2px 6px;text-align:left;vertical-align:top}
.tg-stepper .tg-values td,.tg-stepper .tg-values th,.tg-stepper .tg-arrivals td,
.tg-stepper .tg-arrivals th{border-bottom:1px solid #e5e5e5}
.tg-stepper .tg-total td{font-weight:bold}
.tg-stepper .tg-chain-table td{font-family:Menlo,Consolas,monospace}
.tg-stepper .tg-chain .tg-product{font-weight:bold;color:#990000}
.tg-stepper .tg-note td{font-family:Helvetica,Arial,sans-serif;color:#777;font-size:12px}
.tg-stepper .tg-constant{color:#777}
.tg-stepper .tg-tables{max-height:88vh;overflow:auto;border:1px solid #ddd;border-radius:6px}
@media (max-width:900px){.tg-stepper .tg-main{display:block}}
.tg-stepper .tg-steps{font-size:12px;width:100%}
.tg-stepper .tg-steps td{border-bottom:1px solid #eee;font-family:Menlo,Consolas,monospace;
  max-width:150px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tg-stepper .tg-steps tr{cursor:pointer}
.tg-stepper .tg-steps tr.tg-row-backward td:nth-child(2){color:#990000}
.tg-stepper .tg-steps tr.tg-row-forward td:nth-child(2){color:#1c4587}
.tg-stepper .tg-steps tr.tg-row-current{background:#fff2cc;outline:2px solid #e69138}
.tg-stepper .tg-legend{font-size:12px;color:#444;margin:0 0 4px}
.tg-stepper .tg-legend span{margin-right:12px;white-space:nowrap}
.tg-stepper .tg-key{display:inline-block;width:12px;height:12px;border-radius:3px;
  margin-right:4px;vertical-align:-2px;border:1px solid #999}
.tg-stepper .tg-key-forward{background:#6fa8dc}
.tg-stepper .tg-key-current{background:#e06666}
.tg-stepper .tg-key-done{background:#f4cccc}
.tg-stepper .tg-key-reached{background:#fff;border:2.5px solid #cc0000}
.tg-stepper .tg-key-pending{background:#eee;opacity:.5}
.tg-stepper g.node.tg-pending,.tg-stepper g.edge.tg-pending{opacity:.22}
.tg-stepper g.node.tg-done>ellipse{fill:#f4cccc}
.tg-stepper g.node.tg-reached>polygon:first-of-type{stroke:#cc0000;stroke-width:2.5px}
.tg-stepper g.node.tg-input>polygon:first-of-type,.tg-stepper g.node.tg-input>ellipse
  {stroke:#e69138;stroke-width:3px}
.tg-stepper.tg-phase-forward g.node.tg-current>ellipse{fill:#6fa8dc;stroke:#1c4587;
  stroke-width:3px}
.tg-stepper.tg-phase-forward g.node.tg-output>polygon:first-of-type{fill:#cfe2f3;
  stroke:#1c4587;stroke-width:3px}
.tg-stepper.tg-phase-backward g.node.tg-current>ellipse{fill:#e06666;stroke:#990000;
  stroke-width:3px}
.tg-stepper.tg-phase-backward g.node.tg-output>polygon:first-of-type{fill:#f4cccc;
  stroke:#990000;stroke-width:3px}
.tg-stepper.tg-phase-update g.node.tg-input>polygon:first-of-type{fill:#d9ead3;
  stroke:#38761d;stroke-width:3px}
.tg-stepper g.edge.tg-edge-on>path{stroke-width:2.5px}
.tg-stepper.tg-phase-forward g.edge.tg-edge-on>path{stroke:#1c4587}
.tg-stepper.tg-phase-forward g.edge.tg-edge-on>polygon{fill:#1c4587;stroke:#1c4587}
.tg-stepper.tg-phase-backward g.edge.tg-edge-on>path{stroke:#cc0000}
.tg-stepper.tg-phase-backward g.edge.tg-edge-on>polygon{fill:#cc0000;stroke:#cc0000}
.tg-stepper .tg-chart{margin:6px 0;display:inline-block}
.tg-stepper .tg-chart figcaption{font-size:12px;color:#555}
.tg-stepper .tg-chart text{font-size:10px;fill:#555}
.tg-stepper .tg-step-mark{stroke:#e69138;stroke-width:2;opacity:0}
.tg-stepper .tg-step-mark.tg-on{opacity:1}
.tg-stepper .tg-static ol{padding-left:28px}
.tg-stepper .tg-static li{border-bottom:1px solid #eee;padding:6px 0}
"""

_SCRIPT = r"""
(function () {
  var me = document.currentScript;
  var root = (me && me.closest && me.closest('.tg-stepper')) ||
             document.getElementById('__ROOT__');
  if (!root || root.getAttribute('data-ready')) return;
  root.setAttribute('data-ready', '1');
  var data = JSON.parse(root.querySelector('script.tg-data').textContent);
  var frames = data.frames, runs = data.runs;
  root.classList.add('tg-js');
  function role(name) { return root.querySelector('[data-role=' + name + ']'); }
  var panel = role('panel'), slider = role('slider'), counter = role('counter');
  var prevButton = role('prev'), nextButton = role('next');
  var graphs = root.querySelectorAll('.tg-graph'), tables = root.querySelectorAll('.tg-table');
  var rows = root.querySelectorAll('tr[data-frame]');
  var marks = root.querySelectorAll('.tg-step-mark');
  var STATES = ['tg-pending', 'tg-done', 'tg-reached', 'tg-current', 'tg-output', 'tg-input',
                'tg-edge-on'];

  function field(g, prefix) {
    var texts = g.querySelectorAll('text');
    for (var i = 0; i < texts.length; i++) {
      if (texts[i].textContent.indexOf(prefix) === 0) return texts[i];
    }
    return null;
  }
  // For each run's drawing: its nodes and edges by their Graphviz names.
  var maps = runs.map(function (run, r) {
    var div = null;
    for (var i = 0; i < graphs.length; i++) {
      if (graphs[i].getAttribute('data-run') === String(r)) div = graphs[i];
    }
    var map = {nodes: {}, edges: {}};
    if (!div) return map;
    div.querySelectorAll('g.node').forEach(function (g) {
      var title = g.querySelector('title');
      if (!title) return;
      var data = field(g, 'data '), grad = field(g, 'grad ');
      map.nodes[title.textContent] = {
        g: g, data: data, grad: grad,
        data0: data && data.textContent, grad0: grad && grad.textContent
      };
    });
    div.querySelectorAll('g.edge').forEach(function (g) {
      var title = g.querySelector('title');
      if (title) map.edges[title.textContent.replace('&#45;', '-')] = g;
    });
    return map;
  });

  var current = 0;
  function show(k) {
    k = Math.max(0, Math.min(frames.length - 1, k));
    current = k;
    var f = frames[k], run = runs[f.run], map = maps[f.run];
    graphs.forEach(function (div) {
      div.style.display = div.getAttribute('data-run') === String(f.run) ? '' : 'none';
    });
    tables.forEach(function (div) {
      div.style.display = div.getAttribute('data-run') === String(f.run) ? '' : 'none';
    });
    // Replay the run up to this frame: what is computed, what has its gradient, the texts.
    var pending = {}, done = {}, reached = {}, dataText = {}, gradText = {};
    run.pending.forEach(function (n) { pending[n] = true; });
    Object.keys(run.data).forEach(function (n) { dataText[n] = run.data[n]; });
    Object.keys(run.grad).forEach(function (n) { gradText[n] = run.grad[n]; });
    for (var j = run.start; j <= k; j++) {
      var g = frames[j];
      g.reveal.forEach(function (n) { delete pending[n]; });
      g.done.forEach(function (n) { done[n] = true; });
      g.reach.forEach(function (n) { reached[n] = true; });
      Object.keys(g.data).forEach(function (n) { dataText[n] = g.data[n]; });
      Object.keys(g.grad).forEach(function (n) { gradText[n] = g.grad[n]; });
    }
    Object.keys(map.nodes).forEach(function (name) {
      var node = map.nodes[name], cls = node.g.classList;
      STATES.forEach(function (s) { cls.remove(s); });
      if (pending[name]) cls.add('tg-pending');
      if (done[name]) cls.add('tg-done');
      if (reached[name]) cls.add('tg-reached');
      if (node.data) node.data.textContent = dataText[name] || node.data0;
      if (node.grad) node.grad.textContent = gradText[name] || node.grad0;
    });
    Object.keys(map.edges).forEach(function (key) {
      var cls = map.edges[key].classList, ends = key.split('->');
      STATES.forEach(function (s) { cls.remove(s); });
      if (pending[ends[0]] || pending[ends[1]]) cls.add('tg-pending');
    });
    function mark(name, cls) {
      if (name && map.nodes[name]) map.nodes[name].g.classList.add(cls);
    }
    f.inputs.forEach(function (n) { mark(n, 'tg-input'); });
    mark(f.node, 'tg-output');
    mark(f.box, 'tg-current');
    f.edges.forEach(function (e) {
      var g = map.edges[e[0] + '->' + e[1]];
      if (g) { g.classList.remove('tg-pending'); g.classList.add('tg-edge-on'); }
    });
    ['forward', 'backward', 'update'].forEach(function (p) {
      root.classList.toggle('tg-phase-' + p, f.phase === p);
    });
    panel.innerHTML = f.html;
    slider.value = String(k);
    counter.textContent = (k + 1) + ' / ' + frames.length + ' \u00b7 ' + f.title;
    prevButton.disabled = k === 0;
    nextButton.disabled = k === frames.length - 1;
    rows.forEach(function (row) {
      var on = row.getAttribute('data-frame') === String(k);
      row.classList.toggle('tg-row-current', on);
      if (on) {
        var box = row.closest('.tg-tables');
        if (box && (row.offsetTop < box.scrollTop ||
                    row.offsetTop + row.offsetHeight > box.scrollTop + box.clientHeight)) {
          box.scrollTop = row.offsetTop - box.clientHeight / 3;
        }
      }
    });
    marks.forEach(function (m) {
      m.classList.toggle('tg-on', m.getAttribute('data-run') === String(f.run));
    });
    root.setAttribute('data-frame', String(k));
  }
  role('zoom').addEventListener('click', function () { root.classList.toggle('tg-zoomed'); });
  prevButton.addEventListener('click', function () { show(current - 1); });
  nextButton.addEventListener('click', function () { show(current + 1); });
  slider.addEventListener('input', function () { show(parseInt(slider.value, 10)); });
  rows.forEach(function (row) {
    row.addEventListener('click', function () {
      show(parseInt(row.getAttribute('data-frame'), 10));
    });
  });
  (data.globalKeys ? document : root).addEventListener('keydown', function (e) {
    if (e.target && e.target.tagName === 'INPUT') return;
    var moves = {ArrowRight: 1, ArrowLeft: -1};
    if (e.key in moves) { show(current + moves[e.key]); e.preventDefault(); }
    else if (e.key === 'Home') { show(0); e.preventDefault(); }
    else if (e.key === 'End') { show(frames.length - 1); e.preventDefault(); }
  });
  show(0);
})();
"""

__all__ = ["ParamUpdate", "RunInfo", "trace_fragment", "trace_page"]
