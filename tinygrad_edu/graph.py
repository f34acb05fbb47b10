"""Drawing the computation graph that produced a tensor, with Graphviz.

    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward(retain_graph=True)
    tg.draw_graph(o)                         # shows itself in Jupyter
    tg.draw_graph(o).pipe(format="svg")      # or .render("neuron", format="png")

The drawing reads the graph the engine recorded: every tensor made by an operation has a
``grad_fn`` (a ``Context``) that names the operation and links to its input tensors. A walk
from the output back along those links, with an explicit stack, finds every tensor, and the
drawing shows them in the direction of the forward pass:

* a **value** node per tensor, a record ``name | shape dtype | data ... | grad ...`` (data and
  grad only for tensors of at most ``max_values`` elements; ``grad None`` until a backward has
  filled it in);
* an **operation** node per recorded operation (``mul``, ``matmul``, ``tanh``, ...), with an
  edge from each input to the operation and from the operation to its result;
* colours by role: inputs that require grad, parameters, constants (no grad), intermediate
  results and the output, explained by a legend;
* the operations run inside each ``nn.Module`` call, and the module's parameters, in a
  labelled cluster (``0: Linear``), or, with ``collapse_modules=True``, as a single node.

Node names are given in the order of the walk (``v0, v1, ...`` for values, ``op0, op1, ...``
for operations, ``m0, ...`` for collapsed modules), so the same graph always gives the same
DOT text.

After ``backward()`` the drawing shows the gradients too: each leaf its ``.grad``, and each
computed value the gradient that flowed through it in the last backward (for values of at most
16 elements, the most a freed graph keeps; their ``.grad`` stays None, as in PyTorch, unless
``retain_grad()`` was called).

Graphviz (the Python package, and its ``dot`` program to render) is imported only when a
drawing is made: ``import tinygrad_edu`` works without it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import walk
from .tensor import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from graphviz import Digraph

INSTALL_MESSAGE = (
    "Graphviz's `dot` program was not found, so the graph cannot be rendered (building and "
    "printing it, e.g. print(diagram.source), works without it). Install Graphviz, then "
    "restart Python:\n"
    "    Debian/Ubuntu:  sudo apt install graphviz\n"
    "    macOS:          brew install graphviz\n"
    "    conda:          conda install graphviz\n"
    "    Windows:        winget install graphviz   (then add its bin folder to PATH)"
)

PACKAGE_MISSING_MESSAGE = (
    "Drawing a graph needs the graphviz Python package, which is not installed: "
    "pip install graphviz (and, to render pictures, Graphviz's dot program: "
    "sudo apt install graphviz, brew install graphviz or conda install graphviz)"
)

# How each role looks. Filled shapes in soft colours, so that the text stays readable.
STYLES: dict[str, dict[str, str]] = {
    "input": {"shape": "record", "style": "filled", "fillcolor": "#cfe2f3"},
    "parameter": {"shape": "record", "style": "filled", "fillcolor": "#fce5cd"},
    "constant": {"shape": "record", "style": "filled,dashed", "fillcolor": "#eeeeee"},
    "intermediate": {"shape": "record", "style": "filled", "fillcolor": "#ffffff"},
    "output": {"shape": "record", "style": "filled", "fillcolor": "#d9ead3", "penwidth": "2"},
    "operation": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff2cc"},
    "module": {"shape": "record", "style": "filled,rounded", "fillcolor": "#e6dff2"},
}

LEGEND_TEXT = {
    "input": "input (requires grad)",
    "parameter": "parameter",
    "constant": "constant (no grad)",
    "intermediate": "intermediate result",
    "output": "output",
    "operation": "operation",
    "module": "module (collapsed)",
}


@functools.cache
def _graphviz_classes() -> dict[str, type]:
    """The classes built on the graphviz package, made the first time a drawing needs them."""
    try:
        import graphviz  # optional: only drawings need it
    except ImportError:
        raise ImportError(PACKAGE_MISSING_MESSAGE) from None

    class GraphvizNotFoundError(graphviz.ExecutableNotFound):
        """Rendering needs Graphviz's ``dot`` program, and it is not installed (or not on
        PATH). A subclass of graphviz's own error, so code that catches that catches this."""

        def __init__(self, message: str = INSTALL_MESSAGE) -> None:
            RuntimeError.__init__(self, message)

    class Diagram(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering says how to install Graphviz when ``dot`` is
        missing. Everything else (``.source``, ``.render``, ``.pipe``, showing itself in
        Jupyter) is graphviz's own. ``index`` says which node draws which value."""

        index: NodeIndex | None = None

        def render(self, *args: Any, **kwargs: Any) -> str:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError() from error

        def pipe(self, *args: Any, **kwargs: Any) -> bytes | str:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError() from error

    return {"Diagram": Diagram, "GraphvizNotFoundError": GraphvizNotFoundError}


def __getattr__(name: str) -> type:
    """``graph.Diagram`` and ``graph.GraphvizNotFoundError`` exist once graphviz is imported,
    which happens the first time one of them (or a drawing) is asked for."""
    if name in ("Diagram", "GraphvizNotFoundError"):
        return _graphviz_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class NodeIndex:
    """Which node of a drawing draws what: for tools that add to a drawing (the frames of
    ``trace_backward``)."""

    values: dict[int, str] = field(default_factory=dict)  # id(value) -> "v3"
    operations: dict[int, str] = field(default_factory=dict)  # id(result) -> "op2" or "m0"
    fields: dict[str, list[str]] = field(default_factory=dict)  # "v3" -> its record's fields
    shows_grad: set[str] = field(default_factory=set)  # nodes whose last field is the grad


# ----------------------------------------------------------------------------------------------
# The public function
# ----------------------------------------------------------------------------------------------


def draw_graph(
    tensor: Tensor | Sequence[Tensor],
    model: Any = None,
    *,
    rankdir: str = "LR",
    max_values: int = 4,
    collapse_modules: bool = False,
    max_nodes: int = 500,
    legend: bool = True,
) -> Digraph:
    """Draw the graph of operations that produced ``tensor`` (or each tensor of a list).

    Args:
        tensor: the output to draw the graph of, e.g. a loss; a list draws several outputs.
        model: the ``nn.Module`` the graph went through, if any. With it, parameters are
            named by their path in the model (``0.weight``) and clusters by module path and
            class (``0: Linear``). Without it, clusters are named by the module's class, and
            parameters by their ``name``.
        rankdir: ``"LR"`` (left to right, the default) or ``"TB"`` (top to bottom).
        max_values: tensors with at most this many elements show their data and grad.
        collapse_modules: draw each module call as a single node (with the parameters it
            owns listed inside), showing only the values that pass between modules.
        max_nodes: refuse (``ValueError``) a graph with more nodes than this; Graphviz cannot
            lay out a much larger one readably, or quickly.
        legend: add a legend explaining the colours.

    Returns:
        A ``graphviz.Digraph`` (``.source`` is the DOT text; ``.pipe(format="svg")``,
        ``.render(...)``; in Jupyter it shows itself).

    Draw before or after ``backward()``: afterwards each value shows the gradient that
    reached it (leaves their ``.grad``; values freed by backward only when small).
    """
    if rankdir not in ("LR", "TB"):
        raise ValueError(f'draw_graph: rankdir must be "LR" or "TB", got {rankdir!r}')
    roots = _as_roots(tensor)
    values = walk.values(roots)
    names = _Names(model, values)
    layout = _Layout(values, roots, names, collapse_modules)
    _check_size(layout.node_count(), max_nodes, collapse_modules)
    return _build(layout, rankdir, max_values, legend)


def _as_roots(tensor: Tensor | Sequence[Tensor]) -> list[Tensor]:
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for root in roots:
        if not isinstance(root, Tensor):
            raise TypeError(f"draw_graph: expected a Tensor, got {type(root).__name__}")
    return roots


def _check_size(count: int, max_nodes: int, collapsed: bool) -> None:
    if count <= max_nodes:
        return
    advice = "" if collapsed else "pass collapse_modules=True to draw each module as one node, or "
    raise ValueError(
        f"draw_graph: the graph has {count} nodes, more than max_nodes={max_nodes}; Graphviz "
        f"cannot lay that out readably. To draw it anyway, {advice}pass a larger max_nodes, "
        "or draw a smaller computation (one example instead of a batch, fewer layers)."
    )


# ----------------------------------------------------------------------------------------------
# Names: parameters and modules
# ----------------------------------------------------------------------------------------------


class _Module:
    """One module seen in the graph: its cluster or collapsed node."""

    def __init__(self, index: int, label: str, parent: Any) -> None:
        self.index = index
        self.label = label
        self.parent = parent  # the enclosing module object (with a model), or None
        self.parameters: list[tuple[str, Tensor]] = []  # (local name, parameter)


class _Names:
    """Labels of parameters and modules (``walk.ModelPaths``), and the clusters drawn."""

    def __init__(self, model: Any, values: list) -> None:
        self.paths = walk.ModelPaths(model)
        self.modules: dict[int, _Module] = {}
        searched: set[int] = set(self.paths.module_path)
        for value in values:
            scope = None if value.grad_fn is None else value.grad_fn.scope
            if scope is not None and id(scope) not in searched:
                searched.add(id(scope))
                self.paths.add_direct_parameters(scope)

    @property
    def owner(self) -> dict[int, Any]:
        return self.paths.owner

    def is_parameter(self, value: Any) -> bool:
        return id(value) in self.paths.parameter_path or walk.is_parameter(value)

    def name(self, value: Any) -> str | None:
        return self.paths.parameter_path.get(id(value), value.name)

    def module(self, module: Any) -> _Module:
        """The cluster of ``module``, created (with those of its ancestors) on first use."""
        entry = self.modules.get(id(module))
        if entry is not None:
            return entry
        parent = self.paths.parent(module)
        if parent is not None:
            self.module(parent)
        path = self.paths.path(module)
        label = type(module).__name__ if not path else f"{path}: {type(module).__name__}"
        entry = _Module(len(self.modules), label, parent)
        self.modules[id(module)] = entry
        return entry


# ----------------------------------------------------------------------------------------------
# Layout: which nodes are drawn, in which cluster, joined by which edges
# ----------------------------------------------------------------------------------------------


class _Layout:
    """The nodes and edges to draw, independent of Graphviz.

    ``node_ids`` maps each drawn value (by ``id``) to its node name; ``boxes`` maps each
    operation, by the ``id`` of its result, to the node that draws it (its own ``op`` node, or
    the ``m`` node of the collapsed module it ran in).
    """

    def __init__(
        self, values: list[Tensor], roots: list[Tensor], names: _Names, collapse: bool
    ) -> None:
        self.values = values
        self.names = names
        self.collapse = collapse
        self.root_ids = {id(r) for r in roots}
        self.home: dict[int, Any] = {}  # id(value) -> module whose cluster holds it
        self.boxes: dict[int, str] = {}  # id(result) -> node drawing its operation
        self.hidden: set[int] = set()  # values drawn inside a collapsed module
        self.edges: list[tuple[str, str]] = []
        self._place()
        if collapse:
            self._hide_inner_values()
        self.node_ids = self._number_values()
        self._connect()

    def _place(self) -> None:
        ops = 0
        for value in self.values:
            ctx = value.grad_fn
            if ctx is None:
                self.home[id(value)] = self.names.owner.get(id(value))
            else:
                self.home[id(value)] = ctx.scope
                if self.collapse and ctx.scope is not None:
                    self.boxes[id(value)] = f"m{self.names.module(ctx.scope).index}"
                else:
                    self.boxes[id(value)] = f"op{ops}"
                    ops += 1
            if self.home[id(value)] is not None:
                self.names.module(self.home[id(value)])

    def _hide_inner_values(self) -> None:
        """A value made (or, for a parameter, held) by a collapsed module and used only
        inside that module is drawn as part of the module's node."""
        users: dict[int, set[str]] = {}
        for value in self.values:
            if value.grad_fn is not None:
                for parent in walk.inputs(value):
                    users.setdefault(id(parent), set()).add(self.boxes[id(value)])
        for value in self.values:
            home = self.home[id(value)]
            if home is None or id(value) in self.root_ids:
                continue
            box = f"m{self.names.module(home).index}"
            if users.get(id(value)) == {box}:
                self.hidden.add(id(value))
                if value.grad_fn is None:
                    local = self.names.name(value) or "parameter"
                    self.names.module(home).parameters.append((local.rpartition(".")[2], value))

    def _number_values(self) -> dict[int, str]:
        visible = [v for v in self.values if id(v) not in self.hidden]
        return {id(v): f"v{i}" for i, v in enumerate(visible)}

    def _connect(self) -> None:
        seen: set[tuple[str, str]] = set()
        for value in self.values:
            if value.grad_fn is None:
                continue
            box = self.boxes[id(value)]
            pairs = [(self.node_ids[id(p)], box) for p in walk.inputs(value) if id(p) in self.node_ids]
            if id(value) in self.node_ids:
                pairs.append((box, self.node_ids[id(value)]))
            for pair in pairs:
                if box.startswith("m") and pair in seen:
                    continue  # a collapsed module: one edge per value it reads or makes
                seen.add(pair)
                self.edges.append(pair)

    def drawn_modules(self) -> set[str]:
        return {box for box in self.boxes.values() if box.startswith("m")}

    def node_count(self) -> int:
        ops = {box for box in self.boxes.values() if box.startswith("op")}
        return len(self.node_ids) + len(ops) + len(self.drawn_modules())

    def role(self, value: Tensor) -> str:
        if id(value) in self.root_ids:
            return "output"
        if value.grad_fn is not None:
            return "intermediate"
        if self.names.is_parameter(value):
            return "parameter"
        return "input" if value.requires_grad else "constant"


# ----------------------------------------------------------------------------------------------
# Building the Digraph
# ----------------------------------------------------------------------------------------------


def _build(layout: _Layout, rankdir: str, max_values: int, legend: bool) -> Digraph:
    dot = _graphviz_classes()["Diagram"](
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica"},
    )
    braces = rankdir == "LR"  # keeps the fields of a record side by side in both directions
    clusters = _new_clusters(layout)
    roles: list[str] = []
    drawn_boxes: set[str] = set()
    dot.index = index = NodeIndex(values=layout.node_ids, operations=layout.boxes)
    for value in layout.values:
        graph = _graph_of(dot, clusters, layout, layout.home[id(value)])
        if id(value) in layout.node_ids:
            role = layout.role(value)
            node = layout.node_ids[id(value)]
            fields = _value_fields(value, layout, max_values)
            index.fields[node] = fields
            if _shows_grad(value, max_values):
                index.shows_grad.add(node)
            graph.node(node, record_label(fields, braces), **STYLES[role])
            roles.append(role)
        box = layout.boxes.get(id(value))
        if box is not None and box not in drawn_boxes:
            drawn_boxes.add(box)
            _draw_box(dot, clusters, layout, value, box, braces)
            roles.append("module" if box.startswith("m") else "operation")
    _attach_clusters(dot, clusters, layout)
    for tail, head in layout.edges:
        dot.edge(tail, head)
    if legend:
        _add_legend(dot, roles)
    return dot


def _draw_box(
    dot: Digraph, clusters: dict, layout: _Layout, value: Tensor, box: str, braces: bool
) -> None:
    """The node of the operation that made ``value``: an operation, or a collapsed module."""
    scope = value.grad_fn.scope
    if box.startswith("op"):
        graph = _graph_of(dot, clusters, layout, scope)
        graph.node(box, value.grad_fn.name.lower(), **STYLES["operation"])
        return
    module = layout.names.module(scope)
    graph = _graph_of(dot, clusters, layout, module.parent)
    fields = [module.label] + [f"{name} {_shape(p)}" for name, p in module.parameters]
    # a module's fields one under the other: the name on top, its parameters below
    graph.node(box, record_label(fields, not braces), **STYLES["module"])


def _graph_of(dot: Digraph, clusters: dict[int, Digraph], layout: _Layout, module: Any) -> Digraph:
    """Where the nodes of ``module`` go: its cluster, or (when it is collapsed into a node)
    the cluster of the nearest enclosing module that has one, or the diagram itself."""
    while module is not None and id(module) not in clusters:
        module = layout.names.module(module).parent
    return dot if module is None else clusters[id(module)]


def _new_clusters(layout: _Layout) -> dict[int, Digraph]:
    """An empty cluster per module that is not collapsed into a node."""
    collapsed = layout.drawn_modules()
    clusters = {}
    for key, module in layout.names.modules.items():
        if f"m{module.index}" in collapsed:
            continue
        clusters[key] = _graphviz_classes()["Diagram"](
            name=f"cluster_{module.index}",
            graph_attr={
                "label": module.label,
                "style": "rounded,dashed",
                "color": "#888888",
                "fontname": "Helvetica",
            },
        )
    return clusters


def _attach_clusters(dot: Digraph, clusters: dict[int, Digraph], layout: _Layout) -> None:
    """Put each cluster inside its parent's, innermost first, then in the diagram."""
    modules = layout.names.modules
    depth = {key: _depth(modules, key) for key in clusters}
    for key in sorted(clusters, key=lambda k: (-depth[k], modules[k].index)):
        cluster = clusters[key]
        if len(cluster.body) == 0:
            continue
        _graph_of(dot, clusters, layout, modules[key].parent).subgraph(cluster)


def _depth(modules: dict[int, _Module], key: int) -> int:
    depth = 0
    parent = modules[key].parent
    while parent is not None:
        depth += 1
        parent = modules[id(parent)].parent
    return depth


def _add_legend(dot: Digraph, roles: Iterable[str]) -> None:
    """A cluster with one sample node per role that appears in the drawing, in a row."""
    present = set(roles)
    shown = [role for role in LEGEND_TEXT if role in present]
    with dot.subgraph(name="cluster_legend") as legend:
        legend.attr(label="legend", style="rounded", color="#bbbbbb", fontname="Helvetica")
        for role in shown:
            shape = "ellipse" if role == "operation" else "box"
            legend.node(f"legend_{role}", LEGEND_TEXT[role], **dict(STYLES[role], shape=shape))
        for tail, head in zip(shown, shown[1:]):
            legend.edge(f"legend_{tail}", f"legend_{head}", style="invis")


# ----------------------------------------------------------------------------------------------
# Labels
# ----------------------------------------------------------------------------------------------


def _value_fields(value: Any, layout: _Layout, max_values: int) -> list[str]:
    """A value's record: name, shape and dtype, then for small values data and gradient."""
    fields = []
    name = layout.names.name(value)
    if name is not None:
        fields.append(name)
    fields.append(_shape(value))
    if value.data is not None and np.size(value.data) <= max_values:
        fields.append(f"data {format_array(np.asarray(value.data))}")
        if _shows_grad(value, max_values):
            grad = gradient_seen(value)
            fields.append(f"grad {'None' if grad is None else format_array(grad)}")
    return fields


def _shows_grad(value: Any, max_values: int) -> bool:
    return value.requires_grad and value.data is not None and np.size(value.data) <= max_values


def gradient_seen(value: Any) -> np.ndarray | None:
    """The gradient a drawing shows for ``value``: its ``.grad`` (a leaf, or a value that
    called ``retain_grad()``), else the gradient that flowed through it in the last backward,
    else None."""
    if value.grad is not None:
        return np.asarray(value.grad.data)
    node = value.grad_fn
    if node is not None and node.grad_output is not None:
        return np.asarray(node.grad_output)
    return None


def _shape(tensor: Tensor) -> str:
    return f"{tuple(tensor.shape)} {tensor.dtype}"


def format_array(array: np.ndarray) -> str:
    """Numbers with 4 decimals, nested in brackets like the array: ``[[1.0000, 2.0000]]``."""
    if array.ndim == 0:
        value = array.item()
        return f"{value:.4f}" if isinstance(value, float) else str(value)
    return "[" + ", ".join(format_array(row) for row in array) + "]"


def record_label(fields: list[str], braces: bool) -> str:
    """A record label with its fields side by side (``rankdir="LR"`` turns a record's
    fields to a column unless they are in braces)."""
    text = " | ".join(_escape(field) for field in fields)
    return "{ " + text + " }" if braces else text


def _escape(text: str) -> str:
    """Characters that have a meaning in a record label are written with a backslash."""
    for char in "\\{}|<>":
        text = text.replace(char, "\\" + char)
    return text
