"""Walking a recorded graph: its values in order, their names, and a model's module paths.

The one view of a graph that the tools share (``graph.py`` draws it, ``debug/`` traces and
checks it). A graph is reached from its output: every tensor made by an operation has a
``grad_fn`` (a `Node`) whose ``parents`` are the operation's inputs::

    values = walk.values([loss])            # every value, inputs before what uses them
    walk.inputs(values[-1])                 # the input values of the op that made the loss
    paths = walk.ModelPaths(model)
    paths.describe(node.scope)              # "0 (Linear)"

After an ordinary ``backward()`` the graph is freed but can still be walked: a freed node keeps
small inputs, and a `FreedValue` (shape, dtype, no values) in place of each large one. Tools that
run operations again need the values: ``live_values`` says so when they are gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .autograd import FreedValue
from .nn import Module, Parameter
from .tensor import Tensor

VALUE_TYPES = (Tensor, FreedValue)


def values(roots: Sequence[Any]) -> list:
    """Every value the roots were computed from, constants too, each after all the values it
    was computed from (a topological order).

    A depth-first walk with an explicit stack instead of recursion, so that a chain of 100,000
    operations needs no change of Python's recursion limit: a value goes into the order once
    everything it was computed from is in. Inputs are walked in argument order, so the order,
    and every picture drawn from it, is the same on every run.
    """
    order: list = []
    visited: set[int] = set()
    stack = [(root, False) for root in reversed(roots)]
    while stack:
        value, inputs_done = stack.pop()
        if inputs_done:
            order.append(value)
            continue
        if id(value) in visited:
            continue
        visited.add(id(value))
        stack.append((value, True))
        for parent in reversed(inputs(value)):
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


def live_values(roots: Sequence[Any], tool: str) -> list:
    """``values(roots)``, for a tool that needs the values an operation saw: a clear error if
    an earlier ``backward()`` freed them."""
    found = values(roots)
    if any(v.grad_fn is not None and v.grad_fn.released for v in found):
        raise RuntimeError(
            f"{tool}: the graph was freed by an earlier backward(), so its operations cannot "
            f"be run again. Call {tool} before backward(), or run the first backward with "
            "backward(retain_graph=True)."
        )
    return found


def inputs(value: Any) -> list:
    """The input values of the operation that made ``value`` (none for a leaf)."""
    node = value.grad_fn
    return [] if node is None else [p for p in node.parents if isinstance(p, VALUE_TYPES)]


def is_parameter(value: Any) -> bool:
    return isinstance(value, Parameter)


class ModelPaths:
    """Where each module and parameter sits in a model: PyTorch's dotted paths (``"0.weight"``).

    Without a model every lookup finds nothing, and modules are described by their class.
    """

    def __init__(self, model: Module | None = None) -> None:
        self.module_path: dict[int, str] = {}
        self.module_at: dict[str, Module] = {}
        self.parameter_path: dict[int, str] = {}
        self.owner: dict[int, Module] = {}  # id(parameter) -> the module that holds it
        if model is None:
            return
        for path, module in model.named_modules():
            self.module_path[id(module)] = path
            self.module_at[path] = module
        for path, parameter in model.named_parameters():
            self.parameter_path[id(parameter)] = path
            self.owner[id(parameter)] = self.module_at[path.rpartition(".")[0]]

    def path(self, module: Any) -> str | None:
        """``"0"``, ``"encoder.fc"``; ``""`` for the model itself; None outside the model."""
        return self.module_path.get(id(module))

    def parent(self, module: Any) -> Module | None:
        """The module that holds ``module`` in the model (None for the model, or outside it)."""
        path = self.path(module)
        return None if not path else self.module_at[path.rpartition(".")[0]]

    def describe(self, module: Any) -> str | None:
        """``"2 (Linear)"``, ``"model (Net)"`` for the model itself, the class outside it."""
        if module is None:
            return None
        cls = type(module).__name__
        path = self.path(module)
        if path is None:
            return cls
        return f"{path} ({cls})" if path else f"model ({cls})"

    def add_direct_parameters(self, module: Module) -> None:
        """Without a model: the parameters a module holds directly are its own, named by their
        attribute (or their ``name``)."""
        for local_name, parameter in module.named_parameters():
            if "." not in local_name and id(parameter) not in self.owner:
                self.owner[id(parameter)] = module
                self.parameter_path[id(parameter)] = parameter.name or local_name


class ValueNames:
    """A label for every value of a graph: its ``name``, its path in the model for a
    parameter, else ``t0, t1, ...`` in the order of ``values``."""

    def __init__(self, found: Sequence[Any], paths: ModelPaths | None = None) -> None:
        self.labels: dict[int, str] = dict(paths.parameter_path) if paths is not None else {}
        for i, value in enumerate(found):
            if value.name is not None:
                self.labels[id(value)] = value.name
            else:
                self.labels.setdefault(id(value), f"t{i}")

    def __call__(self, value: Any) -> str:
        return self.labels.get(id(value), value.name or "?")
