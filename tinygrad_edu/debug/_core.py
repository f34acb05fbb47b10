"""What the debugging tools share: watching the engine, creation sites, names and summaries.

The engine lets one *observer* per thread watch it (``autograd.set_observer``): after every
operation it calls ``observer.forward(function, args, ctx, output)``, and after every node's
backward ``observer.backward(node, ctx, grad_output, input_grads)``. Each tool here is an observer that
is installed for the length of a ``with`` block and removed afterwards, so that outside the
tools the engine does no extra work. Observers chain: a tool installed inside another passes
every call on to the one it replaced.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import autograd
from ..autograd import Context
from ..tensor import Tensor

# Frames of files inside this folder are the library's; the first frame outside is the user's.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


# ----------------------------------------------------------------------------------------------
# Observers
# ----------------------------------------------------------------------------------------------


class Observer:
    """An observer that passes every call on to the observer it replaced (if any)."""

    def __init__(self) -> None:
        self.previous: Any = None

    def forward(self, function: type, args: tuple, ctx: Context | None, output: Tensor) -> None:
        if self.previous is not None:
            self.previous.forward(function, args, ctx, output)

    def backward(self, node: Tensor, ctx: Context, grad_output: Any, input_grads: tuple) -> None:
        if self.previous is not None:
            self.previous.backward(node, ctx, grad_output, input_grads)


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Install ``observer`` for the ``with`` block; the previous one comes back on exit, also
    when the block raises."""
    observer.previous = autograd.set_observer(observer)
    try:
        yield observer
    finally:
        autograd.set_observer(observer.previous)
        observer.previous = None  # keep no link to another tool once the block is over


class ObserverContext:
    """Base of ``record_origins`` and ``detect_anomaly``: a context manager that is also a
    decorator. Each ``with`` (and each call of a decorated function) installs a new observer,
    and removes it on exit, also when the block raises."""

    def __init__(self) -> None:
        self._active: list[ExitStack] = []

    def make_observer(self) -> Observer:
        raise NotImplementedError

    def extra_contexts(self) -> list[AbstractContextManager]:
        """Other context managers to enter along with the observer."""
        return []

    def _enter(self) -> ExitStack:
        stack = ExitStack()
        with stack:  # if entering fails half-way, what was entered is left again
            for context in self.extra_contexts():
                stack.enter_context(context)
            stack.enter_context(observing(self.make_observer()))
            return stack.pop_all()

    def __enter__(self) -> None:
        self._active.append(self._enter())

    def __exit__(self, *exc: object) -> None:
        self._active.pop().close()

    def __call__(self, func: Callable) -> Callable:
        if not callable(func):
            raise TypeError(f"{type(self).__name__}() used as a decorator needs a function")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._enter():
                return func(*args, **kwargs)

        return wrapper


# ----------------------------------------------------------------------------------------------
# Where in the user's code an operation was created
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """A line of the user's code: the first frame outside tinygrad_edu when an op ran."""

    filename: str
    lineno: int
    function: str

    @property
    def line(self) -> str:
        """The source text of the line (empty if the file cannot be read)."""
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        text = f"{_short_path(self.filename)}:{self.lineno} in {self.function}"
        return f"{text}\n    {self.line}" if self.line else text


def _short_path(filename: str) -> str:
    """A path relative to the current folder when the file is inside it."""
    here = os.getcwd() + os.sep
    return filename[len(here) :] if filename.startswith(here) else filename


def user_origin() -> Origin | None:
    """The first frame of the call stack that is outside the library: the user's line."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return Origin(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def origin_of(ctx: Context | None) -> Origin | None:
    """The creation site recorded on a node, or None."""
    return None if ctx is None else getattr(ctx, "origin", None)


class _OriginRecorder(Observer):
    def forward(self, function: type, args: tuple, ctx: Context | None, output: Tensor) -> None:
        if ctx is not None and origin_of(ctx) is None:
            ctx.origin = user_origin()
        super().forward(function, args, ctx, output)


class record_origins(ObserverContext):
    """Remember, for every operation recorded inside the block, the line of your code that
    created it (``ctx.origin``), so that ``gradcheck_graph`` can say where a wrong operation
    comes from. Looking up the line costs a few microseconds per operation, which is why it
    is only done when asked::

        with tg.debug.record_origins():
            loss = loss_fn(model(x), y)
        print(tg.gradcheck_graph(loss, model=model))
    """

    def make_observer(self) -> Observer:
        return _OriginRecorder()


NO_ORIGIN_HINT = (
    "where it was created was not recorded: run the forward pass inside "
    "`with tg.debug.record_origins():` (or `with tg.detect_anomaly():`) to see the line"
)


# ----------------------------------------------------------------------------------------------
# Names of modules and tensors
# ----------------------------------------------------------------------------------------------


class ModuleNames:
    """Module paths from the model (``"2 (Swish)"``), or the class name without one."""

    def __init__(self, model: Any = None) -> None:
        self.paths: dict[int, str] = {}
        if model is not None:
            for path, module in model.named_modules():
                self.paths[id(module)] = path

    def __call__(self, module: Any) -> str | None:
        if module is None:
            return None
        cls = type(module).__name__
        path = self.paths.get(id(module))
        if path is None:
            return cls
        return f"{path} ({cls})" if path else f"model ({cls})"


class TensorNames:
    """A label for every tensor of a graph: its ``name``, its path in the model for a
    parameter, else ``t0, t1, ...`` in the order the forward pass made them."""

    def __init__(self, values: Sequence[Tensor], model: Any = None) -> None:
        self.labels: dict[int, str] = {}
        if model is not None:
            for path, parameter in model.named_parameters():
                self.labels[id(parameter)] = path
        for i, value in enumerate(values):
            if value.name is not None:
                self.labels[id(value)] = value.name
            else:
                self.labels.setdefault(id(value), f"t{i}")

    def __call__(self, tensor: Tensor) -> str:
        return self.labels.get(id(tensor), tensor.name or "?")


def graph_values(roots: Sequence[Tensor], tool: str) -> list[Tensor]:
    """Every tensor of the graph, constants too, parents first; a clear error if backward
    already freed it."""
    try:
        return autograd.topological_order(list(roots), only_requires_grad=False)
    except RuntimeError:
        raise RuntimeError(
            f"{tool}: the graph was freed by an earlier backward(), so its operations cannot "
            f"be looked at any more. Call {tool} before backward(), or run the first backward "
            "with backward(retain_graph=True)."
        ) from None


# ----------------------------------------------------------------------------------------------
# Summaries of arrays
# ----------------------------------------------------------------------------------------------


def as_array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


@dataclass
class Summary:
    """A value as a trace keeps it: shape and norm always, the values themselves (a copy)
    for small arrays."""

    shape: tuple
    norm: float
    values: np.ndarray | None

    @classmethod
    def of(cls, value: Any, max_values: int) -> Summary:
        array = as_array(value)
        with np.errstate(all="ignore"):
            norm = float(np.linalg.norm(array.ravel())) if array.size else 0.0
        kept = np.array(array, copy=True) if array.size <= max_values else None
        return cls(tuple(array.shape), norm, kept)

    def item(self) -> float:
        """The value of a single-element summary as a Python number."""
        if self.values is None or self.values.size != 1:
            raise ValueError(f"item(): this value has shape {self.shape}, not one element")
        return self.values.item()

    def __str__(self) -> str:
        if self.values is not None:
            return format_values(self.values)
        return f"{self.shape} |{self.norm:.4g}|"


def format_values(array: np.ndarray) -> str:
    """Numbers with 6 significant digits, nested in brackets like the array."""
    if array.ndim == 0:
        value = array.item()
        if isinstance(value, float):
            return f"{value + 0.0:.6g}"  # + 0.0: no "-0"
        return str(value)
    return "[" + ", ".join(format_values(row) for row in array) + "]"
