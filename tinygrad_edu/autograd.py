"""The autograd machinery: grad mode, `Function`, and the backward pass.

How it fits together
--------------------
Every differentiable operation is a subclass of `Function` with two static methods side by side:

* ``forward(ctx, *inputs)`` computes the result from NumPy arrays and saves on ``ctx``
  whatever the derivative will need;
* ``backward(ctx, grad_output)`` receives dL/d(output) and returns dL/d(input), one per input.

``Function.apply`` runs ``forward`` and, when a gradient will be needed, records a node of the
graph: the ``ctx`` becomes the output tensor's ``grad_fn`` and remembers its ``parents`` (the
input tensors). Nothing else records the graph.

``backward()`` then visits the nodes in reverse topological order and applies the chain rule.
Why a topological order? A node used twice, as ``a`` in ``b = a + a``, receives gradient from
each use. It must have received *all* of it before it passes gradient on to its own parents,
and visiting the children of every node before the node itself guarantees exactly that.
Such an order comes for free: every node is numbered when it is created, and an operation's
inputs always exist before it runs, so newest first is a reverse topological order
(``run_backward``). Graph drawings use ``topological_order``, a depth-first walk.

A backward is written with arithmetic operators and a few array methods (``reshape``, ``sum``,
``swapaxes``, indexing), so that the same code runs on NumPy arrays (an ordinary backward, fast)
and on Tensors (``backward(create_graph=True)``, which records the backward pass as a graph of
its own so that gradients of gradients work). The few operations that have no operator go
through the helpers at the top of ``ops.py``.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------------------------
# Grad mode: thread-local, nestable, restored on exceptions.
# ----------------------------------------------------------------------------------------------


class _ThreadState(threading.local):
    """Per-thread switches. Class attributes are the defaults every new thread starts from."""

    grad_enabled = True
    scope = None  # the nn.Module being called, recorded on each node for graph drawing
    observer = None  # a debugging tool watching every step (see set_observer)


def set_observer(observer: Any) -> Any:
    """Let ``observer`` watch the engine in this thread; returns the previous one.

    An observer has two methods, called after each step: ``forward(function, args, ctx,
    output)`` after every operation (``ctx`` is None when nothing was recorded, e.g. under
    ``no_grad``), and ``backward(node, ctx, grad_output, input_grads)`` when a node's backward
    has run. The debugging tools (``tinygrad_edu.debug``) are observers; with none set, the
    engine pays one attribute check per operation.
    """
    previous = _state.observer
    _state.observer = observer
    return previous


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for backward."""
    return _state.grad_enabled


class _GradModeContext:
    """Base of ``no_grad`` / ``enable_grad`` / ``set_grad_enabled``: a context manager that is
    also a decorator. Each ``with`` remembers the previous mode and restores it on exit, even
    when an exception leaves the block."""

    _mode = True

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_state.grad_enabled)
        _state.grad_enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        if not callable(func):
            raise TypeError(f"{type(self).__name__}() used as a decorator needs a function")

        mode = self._mode

        # The previous mode lives in a local variable of each call, not on ``self``: calls of
        # one decorated function from several threads (or recursive calls) stay independent.
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _state.grad_enabled
            _state.grad_enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                _state.grad_enabled = previous

        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator: operations inside record no graph and keep no reference
    to their inputs. Use it for evaluation and for updating parameters by hand.

    >>> with tg.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator: record operations again inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` acts as ``no_grad()``, ``set_grad_enabled(True)`` as
    ``enable_grad()``; as in PyTorch it also takes effect when called as a plain function."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        self._before_call: bool | None = _state.grad_enabled
        _state.grad_enabled = self._mode

    def __enter__(self) -> None:
        if self._before_call is None:  # a later ``with`` of the same object
            super().__enter__()
            return
        # ``with set_grad_enabled(m):`` the call already switched the mode; exit restores
        # the mode from before the call.
        self._previous.append(self._before_call)
        self._before_call = None
        _state.grad_enabled = self._mode

    def __call__(self, func: Callable) -> Callable:
        # As a decorator the mode applies only inside ``func``: undo the switch of the call.
        if self._before_call is not None:
            _state.grad_enabled = self._before_call
            self._before_call = None
        return super().__call__(func)


def set_scope(module: object) -> object:
    """Record ``module`` as the scope of every node created from now on in this thread, and
    return the previous scope. ``nn.Module.__call__`` sets its module for the time of its
    forward (and restores the previous one after), so that graph drawings can group
    operations by module."""
    previous = _state.scope
    _state.scope = module
    return previous


# ----------------------------------------------------------------------------------------------
# Context and Function
# ----------------------------------------------------------------------------------------------


_node_numbers = itertools.count()  # numbers every node of every graph, in creation order


class Context:
    """What one call of a `Function` remembers for its backward: a node of the graph.

    ``parents`` holds the arguments ``forward`` was called with: the input Tensors (the node's
    parents in the graph) and any other argument, such as an axis. ``number`` counts the nodes
    in the order they were created (backward visits them newest first). A Function's
    ``forward`` may store anything else on ``ctx`` (``ctx.axis = axis``).
    """

    # Slots keep a node small: no per-node dict unless a forward stores extra attributes.
    # The two inputs of a binary operation (most nodes) get a slot each instead of a tuple: a
    # graph of scalars then holds two objects per node for Python's garbage collector to
    # track (the tensor and this node), not three, and the collector takes a quarter less time.
    __slots__ = (
        "function",
        "_first",
        "_second",
        "_parents",  # the tuple of inputs, for any other number of them (else None)
        "number",
        "scope",
        "_saved",
        "_as_tensors",
        "released",
        "__dict__",
        "__weakref__",
    )

    def __init__(self, function: type[Function], parents: tuple) -> None:
        self.function = function
        if len(parents) == 2:
            self._first, self._second = parents
            self._parents = None
        else:
            self._parents = parents
        self.number = next(_node_numbers)
        self.scope = _state.scope
        self._saved: tuple = ()
        self._as_tensors: tuple | None = None  # set during backward(create_graph=True)
        self.released = False

    @property
    def parents(self) -> tuple:
        """The arguments ``forward`` was called with (an empty tuple once the graph is freed)."""
        if self._parents is None:
            return (self._first, self._second)
        return self._parents

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each argument of ``forward``: does it need a gradient? A backward may skip the
        work for the ones that do not."""
        if self._parents is None:  # two inputs: read from their slots
            first, second = self._first, self._second
            return (
                isinstance(first, Tensor) and first.requires_grad,
                isinstance(second, Tensor) and second.requires_grad,
            )
        return tuple([_needs_grad(parent) for parent in self._parents])

    @property
    def forward_args(self) -> list:
        """The arguments ``forward`` received: arrays in place of the input tensors."""
        return [p.data if isinstance(p, Tensor) else p for p in self.parents]

    @property
    def name(self) -> str:
        """The operation's name: ``Mul``, ``MatMul``, ..."""
        return self.function.__name__

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays for backward. Save the inputs and the output themselves (not copies) so
        that ``create_graph=True`` can see them as the tensors of the graph."""
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        """The values passed to ``save_for_backward``: NumPy arrays in an ordinary backward;
        during ``backward(create_graph=True)`` every saved input or output is the Tensor itself,
        so that whatever backward computes from it is recorded."""
        if self.released:
            raise RuntimeError(_FREED_MESSAGE)
        if self._as_tensors is None:
            return self._saved
        return tuple(_as_graph_tensor(value, self._as_tensors) for value in self._saved)

    def release(self) -> None:
        """Drop the saved arrays and the links to the inputs: the graph is freed."""
        self._saved = ()
        self._first = self._second = None
        self._parents = ()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


def _needs_grad(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _as_graph_tensor(value: Any, tensors: tuple) -> Any:
    for tensor in tensors:
        if isinstance(tensor, Tensor) and value is tensor.data:
            return tensor
    return value


class Function:
    """Base class of every differentiable operation, the library's own and yours.

    Subclass it with two static methods and call it with ``MyOp.apply(*inputs)``::

        class Cube(tg.Function):
            @staticmethod
            def forward(ctx, x):              # x is a NumPy array
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):          # grad is dL/d(output), shaped like the output
                (x,) = ctx.saved_tensors
                return grad * 3 * x ** 2      # d/dx x^3 = 3x^2

    ``backward`` returns one gradient per argument of ``forward`` (``None`` for arguments that
    are not tensors, or that need no gradient). Gradients of broadcast inputs are summed back
    to the input's shape by the engine, so ``backward`` may return them at the output's shape.
    ``tg.gradcheck`` compares your backward with finite differences.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad_output: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and, if any input requires grad (and grad
        mode is on), record the call as a node of the graph."""
        arrays, record = [], False
        for arg in args:
            if isinstance(arg, Tensor):
                arrays.append(arg.data)
                record = record or arg.requires_grad
            else:
                arrays.append(arg)
        state = _state
        record = record and state.grad_enabled
        ctx = Context(cls, args) if record else _Scratch()
        try:
            data = cls.forward(ctx, *arrays)
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            raise broadcast_error(cls.__name__.lower(), *arrays) from None
        if not isinstance(data, _ARRAY_TYPES):
            data = np.asarray(data)
        out = Tensor._from_op(data, ctx if record else None)
        if state.observer is not None:
            state.observer.forward(cls, args, out.grad_fn, out)
        return out


_ARRAY_TYPES = (np.ndarray, np.generic)  # what forward may return (anything else is converted)


def broadcast_error(op: str, *values: Any) -> ValueError:
    """The error for operands whose shapes do not broadcast, naming the op and every shape."""
    shapes = [
        str(np.shape(v)) for v in values if isinstance(v, (np.ndarray, np.generic, int, float))
    ]
    listed = ", ".join(shapes[:-1]) + " and " + shapes[-1] if len(shapes) > 1 else "".join(shapes)
    return ValueError(
        f"{op}: shapes {listed} cannot be broadcast together "
        "(dimensions must be equal, or one of them 1, counting from the right)"
    )


class _Scratch:
    """A throwaway ctx for forward under ``no_grad``: accepts attributes, keeps nothing."""

    needs_input_grad = ()

    def save_for_backward(self, *values: Any) -> None:
        pass


# ----------------------------------------------------------------------------------------------
# The backward pass
# ----------------------------------------------------------------------------------------------

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to use its saved values after "
    "they were freed). The first backward() freed the graph; call backward(retain_graph=True) "
    "the first time if you need to backpropagate through it again."
)


def sum_to_shape(grad: Any, shape: tuple) -> Any:
    """Sum a gradient back to the shape of the input it belongs to.

    This is the only place that knows about broadcasting: when ``x`` of shape ``(3, 1)`` was
    broadcast to ``(2, 3, 4)`` in the forward pass, each element of ``x`` was used ``2 * 4``
    times, so its gradient is the sum over those uses.
    """
    grad_shape = grad.shape
    if grad_shape == shape:
        return grad
    extra = len(grad_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad_shape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def topological_order(roots: Sequence[Tensor], only_requires_grad: bool = True) -> list[Tensor]:
    """Every tensor the roots depend on, parents before children (for drawings and tools;
    backward itself walks the nodes newest first, see ``run_backward``).

    By default only the tensors that require grad (what backward visits); with
    ``only_requires_grad=False`` the constants too (what a drawing of the graph shows).
    An explicit stack instead of recursion, so a chain of 100,000 operations needs no change
    of Python's recursion limit. Parents are visited in argument order, so the order (and
    every picture drawn from it) is the same on every run.
    """
    order: list[Tensor] = []
    visited: set[Tensor] = set()  # tensors hash by identity
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        ctx = node.grad_fn
        if ctx is None:
            continue
        if ctx.released:
            raise RuntimeError(_FREED_MESSAGE)
        for parent in reversed(ctx.parents):
            if not isinstance(parent, Tensor) or parent in visited:
                continue
            if parent.requires_grad or not only_requires_grad:
                stack.append((parent, False))
    return order


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> dict[Tensor, Any]:
    """Backpropagate ``root_grads`` from ``roots``.

    With ``inputs=None`` (``Tensor.backward``) gradients accumulate into ``.grad`` of every leaf
    that requires grad. Otherwise (``tg.grad``) nothing is written to ``.grad`` and the
    gradients of ``inputs`` are returned, keyed by tensor.

    The walk visits computed tensors newest first. Each node is numbered when it is created
    (``Context.number``), and the inputs of an operation always exist before the operation
    runs, so every tensor that uses ``x`` is newer than ``x``: newest first is a reverse
    topological order. A heap hands out the newest tensor that has received gradient; by
    then every tensor that uses it has passed its share on.
    """
    grads: dict[Tensor, Any] = {}  # dL/d(tensor), summed over every use of the tensor
    for root, grad in zip(roots, root_grads):
        grads[root] = grads[root] + grad if root in grads else grad
    # The computed tensors whose backward is still to run: a heap of their negated node
    # numbers (the smallest, i.e. the newest, comes out first) and the tensor of each number.
    # A heap of plain ints compares faster than one of (number, tensor) pairs.
    pending = {-root.grad_fn.number: root for root in grads if root.grad_fn is not None}
    waiting = list(pending)
    heapq.heapify(waiting)
    wanted = None if inputs is None else set(inputs)
    results: dict[Tensor, Any] = {}
    to_accumulate: list[tuple[Tensor, Any]] = []
    visited: list[Context] = []
    grad_was_enabled = _state.grad_enabled
    _state.grad_enabled = create_graph  # the backward pass is recorded only with create_graph
    observer = _state.observer
    try:
        while waiting:
            node = pending.pop(heapq.heappop(waiting))
            grad = grads.pop(node)
            ctx = node.grad_fn
            if ctx.released:
                raise RuntimeError(_FREED_MESSAGE)
            if wanted is not None:
                if node in wanted:
                    results[node] = grad
            elif node._retains_grad:
                to_accumulate.append((node, grad))
            visited.append(ctx)
            if create_graph:
                input_grads = _backward_recorded(node, ctx, grad)
            else:
                input_grads = ctx.function.backward(ctx, grad)  # the chain rule, one step
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            if observer is not None:
                observer.backward(node, ctx, grad, input_grads)
            parents = ctx.parents
            if len(input_grads) != len(parents):
                raise _count_error(ctx, input_grads)
            for parent, parent_grad in zip(parents, input_grads):
                if parent_grad is None or not isinstance(parent, Tensor) or not parent.requires_grad:
                    continue
                data = parent.data  # an ndarray, or a NumPy scalar (a 0-d result)
                # A NumPy scalar of the input's own type has its shape and dtype: only arrays
                # and mixed types need the check (on a graph of scalars, most edges skip it).
                if type(data) is np.ndarray or type(parent_grad) is not type(data):
                    if parent_grad.shape != data.shape or parent_grad.dtype != data.dtype:
                        parent_grad = _fit_to_input(ctx, parent_grad, data)
                previous = grads.get(parent)
                if previous is not None:  # a tensor used several times: add up every use
                    grads[parent] = previous + parent_grad
                    continue
                grads[parent] = parent_grad
                if parent.grad_fn is not None:  # computed: its own backward is still to come
                    key = -parent.grad_fn.number
                    pending[key] = parent
                    heapq.heappush(waiting, key)
        # What is left in ``grads`` belongs to leaves. Only now that the whole walk has
        # succeeded is anything written: a backward that raises half-way leaves every .grad as
        # it was and the graph intact.
        if wanted is not None:
            results.update((leaf, grad) for leaf, grad in grads.items() if leaf in wanted)
        else:
            to_accumulate.extend(grads.items())
            for node, grad in to_accumulate:
                _accumulate_leaf_grad(node, grad, create_graph)
    finally:
        _state.grad_enabled = grad_was_enabled
    if not retain_graph:
        for ctx in visited:
            ctx.release()
    return results


def _backward_recorded(node: Tensor, ctx: Context, grad: Tensor) -> Any:
    """Run a node's backward under ``create_graph=True``: its saved values are then seen as the
    graph's tensors, so that the gradient it computes is itself a recorded graph."""
    ctx._as_tensors = (node, *ctx.parents)
    try:
        return ctx.function.backward(ctx, grad)
    finally:
        ctx._as_tensors = None


def _count_error(ctx: Context, input_grads: tuple) -> RuntimeError:
    return RuntimeError(
        f"{ctx.name}.backward returned {len(input_grads)} gradients, but forward took "
        f"{len(ctx.parents)} inputs: return one gradient (or None) per input"
    )


def _fit_to_input(ctx: Context, grad: Any, data: Any) -> Any:
    """A gradient at the shape (summed over broadcasting) and dtype of its input ``data``."""
    if grad.shape != data.shape:
        try:
            grad = sum_to_shape(grad, data.shape)
        except ValueError:
            raise RuntimeError(
                f"{ctx.name}.backward returned a gradient of shape {np.shape(grad)} for an "
                f"input of shape {data.shape}: it must have the input's shape (or one that "
                "broadcasts to the output's shape)"
            ) from None
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    return grad


def _accumulate_leaf_grad(leaf: Tensor, grad: Any, create_graph: bool) -> None:
    """Leaves accumulate: ``leaf.grad += grad``, as in PyTorch. Call ``zero_grad()`` (or set
    ``.grad = None``) between steps."""
    if create_graph:
        if not isinstance(grad, Tensor):
            grad = Tensor._from_op(grad, None)
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad
    elif leaf.grad is None:
        # A copy the leaf owns: the incoming array may be shared with another input (the two
        # inputs of an add receive the same array) or be a read-only broadcast view.
        leaf.grad = Tensor._from_op(np.array(grad, dtype=leaf.dtype), None)
    else:
        leaf.grad = Tensor._from_op(leaf.grad.data + grad, None)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated
    into ``.grad`` (PyTorch's ``torch.autograd.grad``).

    >>> (dx,) = tg.grad(y, x, create_graph=True)   # dx can be differentiated again
    """
    outputs = _as_tensor_tuple(outputs, "outputs")
    inputs = _as_tensor_tuple(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif not isinstance(grad_outputs, (tuple, list)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    root_grads = [
        initial_gradient(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)
    ]
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outputs, root_grads, retain_graph, create_graph, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(t)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                "to get None for it"
            )
        if g is not None and not isinstance(g, Tensor):
            g = Tensor._from_op(np.array(g, dtype=t.dtype), None)
        result.append(g)
    return tuple(result)


def _as_tensor_tuple(value: Any, what: str) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"grad: {what} must be Tensors, got {type(v).__name__}")
    return values


def initial_gradient(root: Tensor, gradient: Any, create_graph: bool, op: str) -> Any:
    """Check the seed gradient of a backward pass and return it as an array (or Tensor)."""
    if not root.requires_grad:
        raise RuntimeError(
            f"{op}: this tensor does not require grad and has no grad_fn, so there is nothing "
            "to differentiate; create the inputs with requires_grad=True"
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{op}: gradient can be left out only for a single-element output, but the "
                f"output has shape {root.shape}; pass gradient= of that shape (or reduce the "
                "output first, e.g. .sum())"
            )
        one = root.dtype.type(1)  # dL/dL = 1
        gradient = one if root.ndim == 0 else np.full(root.shape, one)
        return Tensor(gradient) if create_graph else gradient
    elif np.shape(gradient) != root.shape:
        raise ValueError(
            f"{op}: gradient has shape {np.shape(gradient)} but the output has shape {root.shape}"
        )
    if create_graph:
        # the seed may itself be part of a graph (gradgradcheck differentiates through it)
        seed = gradient if isinstance(gradient, Tensor) else Tensor(gradient)
        return seed if seed.dtype == root.dtype else seed.astype(root.dtype)
    gradient = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    return gradient.astype(root.dtype, copy=False)


# tensor.py imports this module at its end, after defining Tensor; importing Tensor here, at
# the end, lets either module be imported first.
from .tensor import Tensor  # noqa: E402
