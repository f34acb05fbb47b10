"""What the debugging tools share: watching the engine, creation sites and summaries.

The engine lets one *observer* per thread watch it (``autograd.hooks``): after every operation
it calls ``observer.forward(function, args, ctx, output)``, and after every node's backward
``observer.backward(tensor, ctx, grad_output, input_grads)``. Each tool here is an observer
that is installed for the length of a ``with`` block and removed afterwards, so that outside
the tools the engine does no extra work. Observers chain: a tool installed inside another
passes every call on to the one it replaced. Walking and naming a graph is ``walk.py``'s.
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import autograd
from ..autograd import Node
from ..grad_mode import ContextDecorator
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

    def forward(self, function: type, args: tuple, ctx: Node | None, output: Tensor) -> None:
        if self.previous is not None:
            self.previous.forward(function, args, ctx, output)

    def backward(self, node: Tensor, ctx: Node, grad_output: Any, input_grads: tuple) -> None:
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


class ObserverContext(ContextDecorator):
    """Base of ``record_origins`` and ``detect_anomaly``: a context manager that is also a
    decorator. Each ``with`` (and each call of a decorated function) installs a new observer,
    and removes it on exit, also when the block raises."""

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

    def _exit(self, stack: ExitStack) -> None:
        stack.close()


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


def origin_of(ctx: Node | None) -> Origin | None:
    """The creation site recorded on a node, or None."""
    return None if ctx is None else getattr(ctx, "origin", None)


class _OriginRecorder(Observer):
    def forward(self, function: type, args: tuple, ctx: Node | None, output: Tensor) -> None:
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
