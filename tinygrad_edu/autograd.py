"""The engine: graph nodes, `Function`, and the backward pass. Read this file second.

How it fits together
--------------------
Every differentiable operation is a subclass of `Function` with two static methods side by side
(the library's own are in ``ops.py``):

* ``forward(ctx, *inputs)`` computes the result from NumPy arrays and saves on ``ctx``
  whatever the derivative will need;
* ``backward(ctx, grad_output)`` receives dL/d(output) and returns dL/d(input), one per input.

``Function.apply`` runs ``forward`` and, when a gradient will be needed, records a `Node` of the
graph: the ``ctx`` becomes the output tensor's ``grad_fn`` and keeps its ``parents`` (the
arguments ``forward`` got). Nothing else records the graph.

``backward()`` (``run_backward``) walks the nodes in reverse topological order and applies the
chain rule at each. That one function is the algorithm; the helpers after it each do one job
(add up a tensor's gradients, run a node's backward, fit a gradient to its input, hand out the
results, free the graph). The gradients of slices of a tensor are added up as pieces
(`GradientPieces`) and put together once, when the tensor's gradient is complete.

This module never imports ``Tensor``: ``tensor.py`` registers its class here
(``register_tensor_class``), and the engine only uses what every tensor has: its values, whether
it requires grad, its ``grad_fn`` and its ``grad``. It reads and writes them as the slots
``_data``, ``_requires_grad`` and ``_grad``: the public properties check what is assigned to
them, and going through them on every operation made a W4 step (benchmarks/) about 6% slower.

Tools built on the engine reach it through one hook, ``hooks``: the ``nn.Module`` being called
(recorded on each new node, for drawings) and an observer that is told of every step (the
debugging tools).
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import grad_mode

# ----------------------------------------------------------------------------------------------
# What the engine needs from outside: the tensor class, and the hook for tools
# ----------------------------------------------------------------------------------------------

_Tensor: Any = None  # the Tensor class, registered by tensor.py when it is defined


def register_tensor_class(cls: type) -> None:
    """Make ``cls`` the class of the tensors the engine creates and recognises."""
    global _Tensor
    _Tensor = cls


class _Hooks(threading.local):
    """The engine's one hook for the tools built on it, per thread.

    * ``scope``: the ``nn.Module`` whose ``forward`` is running; every new node records it, so
      that drawings can group operations by module (``nn.Module.__call__`` sets it).
    * ``observer``: a debugging tool watching the engine, or None. After every operation it
      gets ``observer.forward(function, args, node, output)`` (node None when nothing was
      recorded), and after every node's backward ``observer.backward(tensor, node,
      grad_output, input_grads)``. With none set, the engine pays one attribute check per step.
    """

    scope = None
    observer = None


hooks = _Hooks()


def set_scope(module: Any) -> Any:
    """Record ``module`` on every node created from now on in this thread; returns the
    previous scope, for the caller to put back."""
    previous = hooks.scope
    hooks.scope = module
    return previous


def set_observer(observer: Any) -> Any:
    """Let ``observer`` watch the engine in this thread; returns the previous one."""
    previous = hooks.observer
    hooks.observer = observer
    return previous


# ----------------------------------------------------------------------------------------------
# Node and Function
# ----------------------------------------------------------------------------------------------

KEEP_AFTER_FREE = 16  # a freed graph keeps values (and gradients) of at most this many elements


class Node:
    """One recorded call of a `Function`: a node of the graph, and the ``ctx`` its forward and
    backward receive. The output tensor's ``grad_fn``.

    ``parents`` are the arguments ``forward`` was called with: the input tensors (the node's
    parents in the graph) and any other argument, such as an axis. A forward may keep anything
    else it needs as an attribute (``ctx.axis = axis``); arrays for backward go through
    ``save_for_backward``. ``scope`` is the module that ran it, ``grad_output`` the gradient
    the last backward brought to its output (kept after the graph is freed only when small).
    """

    __slots__ = (
        "function",
        "_parents",
        "number",  # nodes are numbered as they are created: inputs always before their users
        "scope",
        "origin",  # where in the user's code it was created, when a debugging tool asks
        "grad_output",
        "released",
        "_saved",  # the values forward saved (and more once noted: see note_saved)
        "_saved_count",  # how many of them were saved, once noted (None before)
        "_output",  # the output tensor, only while this node's backward runs
        "_create_graph",
        "__dict__",
        "__weakref__",
    )

    def __init__(self, function: type[Function], parents: tuple) -> None:
        self.function = function
        self._parents = parents
        self.number = next(_node_numbers)
        self.scope = hooks.scope
        self.origin = None
        self.grad_output = None
        self.released = False
        self._saved: tuple = ()
        self._saved_count: int | None = None
        self._output = None
        self._create_graph = False

    @property
    def parents(self) -> tuple:
        """The arguments ``forward`` was called with. A tensor that was changed in place
        afterwards, inside a graph (``c += 1`` on a tensor that requires grad), is given as the
        value it had then: this node was computed from that one."""
        if not _changed_in_graph[0]:  # nothing was ever changed in place inside a graph
            return self._parents
        return tuple([value_as_of(p, self.number) for p in self._parents])

    @property
    def name(self) -> str:
        """The operation's name: ``Mul``, ``MatMul``, ..."""
        return self.function.__name__

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each argument of ``forward``: does it need a gradient? A backward may skip the
        work for the ones that do not."""
        return tuple([isinstance(p, _Tensor) and p._requires_grad for p in self.parents])

    @property
    def create_graph(self) -> bool:
        """True while this node's backward runs under ``backward(create_graph=True)``: its
        saved values are then the graph's tensors, and what it computes is recorded."""
        return self._create_graph

    @property
    def forward_args(self) -> list:
        """The arguments ``forward`` received: arrays in place of the input tensors."""
        return [p.data if isinstance(p, _Tensor) else p for p in self.parents]

    def save_for_backward(self, *values: Any) -> None:
        """Keep values for backward: the inputs and the output themselves (not copies), so
        that ``create_graph=True`` can use them as the tensors they are."""
        self._saved = values

    def note_saved(self, inputs: Sequence[Any], output: Any) -> None:
        """When forward returns: keep with the saved values the arrays it received and
        returned (to tell which tensor each saved value is) and the count of in-place changes
        so far (to tell whether one of them changed before backward)."""
        # one flat tuple, (*saved values, *inputs, output, count of changes): each object a
        # node keeps is one more for Python's garbage collector to scan, and W5 (100,000
        # nodes) spends a third of its forward pass in collections. With nested tuples a W5
        # step took 12% longer, and with the saved values in a tuple of their own 4% longer.
        self._saved_count = len(self._saved)
        self._saved = (*self._saved, *inputs, output, _in_place_changes[0])

    @property
    def saved_tensors(self) -> tuple:
        """The values given to ``save_for_backward``: NumPy arrays in an ordinary backward,
        and under ``create_graph=True`` the input and output tensors themselves, so that
        whatever backward computes from them is recorded."""
        if self.released:
            raise RuntimeError(FREED_MESSAGE)
        if self._saved_count is None:  # a node Function.apply did not record (tools make some)
            return self._saved
        values = self._saved[: self._saved_count]
        saved_at = self._saved[-1]
        if saved_at != _in_place_changes[0]:
            # something was changed in place since forward: was it a value saved here?
            for value in values:
                _check_unchanged(self, self._tensor_of(value), saved_at)
        if not self._create_graph:
            return values
        return tuple(self._graph_value(value) for value in values)

    def _tensor_of(self, value: Any) -> Any:
        """The tensor a saved value is: input ``i`` if it is the very array forward received
        as its argument ``i``, the output if it is the array forward returned, else None."""
        inputs, output = self._saved[self._saved_count : -2], self._saved[-2]
        if value is output and value is not None:
            return self._output
        for i, array in enumerate(inputs):
            if value is array:
                return self.parents[i]
        return None

    def _graph_value(self, value: Any) -> Any:
        """A saved value as the graph sees it, for backward(create_graph=True)."""
        graph_value = self._tensor_of(value)
        if graph_value is not None:  # a tensor, or an argument such as an exponent
            return graph_value
        raise RuntimeError(
            f"{self.name}.backward uses a value that forward computed and saved, which "
            "backward(create_graph=True) cannot differentiate through (its second derivative "
            "would silently be wrong). Save only inputs and the output with "
            "ctx.save_for_backward, and compute anything else from them in backward; keep "
            "constants such as masks as attributes of ctx."
        )

    def release(self, freed: dict) -> None:
        """Free what only backward needed: the saved values and every attribute forward set.
        The node stays in the graph for drawings: it keeps small inputs as they are, and in
        place of each large input that is not a parameter a `FreedValue` (shared through
        ``freed``, one per tensor)."""
        self._saved, self._saved_count = (), None
        # Forget what forward kept on ctx. Deleting the __dict__ (rather than clearing it)
        # makes no empty one for a node that has none: W5's backward, with the freeing of its
        # graph, takes about 5% less time.
        del self.__dict__
        self.released = True
        parents = self.parents if _changed_in_graph[0] else self._parents
        for parent in parents:
            if isinstance(parent, _Tensor) and parent._data.size > KEEP_AFTER_FREE:
                parents = _kept_after_free(parents, freed)
                break
        self._parents = parents

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


Context = Node  # the name of ``ctx``'s class in earlier versions
_node_numbers = itertools.count()
_in_place_changes = [0]  # how many in-place changes this process made (see saved_tensors)
_changed_in_graph = [0]  # how many of those were recorded in a graph (see Node.parents)


def note_changed_in_graph(tensor: Any, previous: Any, node: Node) -> None:
    """``tensor`` now stands for the result of ``node``, an in-place operation recorded in a
    graph; nodes created before it were computed from ``previous``, the value it had."""
    _changed_in_graph[0] += 1
    tensor._replaced = (tensor._replaced or ()) + ((node.number, previous),)


def value_as_of(value: Any, number: int) -> Any:
    """What ``value`` stood for when node ``number`` was created (see note_changed_in_graph)."""
    for limit, previous in getattr(value, "_replaced", None) or ():
        if number < limit:
            return previous
    return value


def note_in_place_change(counter: list) -> None:
    """Count an in-place change of a tensor whose version counter is ``counter``, a list
    [version, the count of changes at its latest change] that tensors sharing memory share."""
    _in_place_changes[0] += 1
    counter[0] += 1
    counter[1] = _in_place_changes[0]


def _check_unchanged(node: Node, tensor: Any, saved_at: int) -> None:
    """PyTorch's check: a tensor changed in place after forward saved it would silently give a
    wrong gradient, so backward refuses it."""
    counter = getattr(tensor, "_version_counter", None)
    if counter is None or counter[1] <= saved_at:
        return
    which = "its output"
    if tensor is not node._output:
        which = f"input {next(i for i, p in enumerate(node.parents) if p is tensor)}"
    name = f" {tensor.name!r}" if tensor.name else ""
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {which} of {node.name}, the tensor{name} of shape "
        f"{tuple(tensor.shape)} and dtype {tensor.dtype}, is at version {counter[0]}, changed "
        "after it was saved for backward. Change a copy instead (x = x + y, or x.clone()), or "
        "run the change after backward()."
    )


class FreedValue:
    """What a freed node keeps in place of a large input: the facts a drawing shows (shape,
    dtype, name, the node that made it), without the values."""

    __slots__ = ("shape", "dtype", "name", "requires_grad", "grad_fn")
    data = None
    grad = None

    def __init__(self, tensor: Any) -> None:
        data = tensor._data
        self.shape, self.dtype, self.name = data.shape, data.dtype, tensor.name
        self.requires_grad, self.grad_fn = tensor._requires_grad, tensor.grad_fn

    @property
    def ndim(self) -> int:
        return len(self.shape)


def _kept_after_free(parents: tuple, freed: dict) -> tuple:
    """``parents`` as a freed node keeps them: each large tensor that is not the user's own (a
    parameter, or another input that requires grad) replaced by its `FreedValue`, one per
    tensor (kept in ``freed``). One loop, without a call per parent: W4's step as matrices
    takes about 1.5% less time."""
    kept = []
    for value in parents:
        if (
            isinstance(value, _Tensor)
            and value._data.size > KEEP_AFTER_FREE
            and (value.grad_fn is not None or not value._requires_grad)
        ):
            freed_value = freed.get(id(value))
            if freed_value is None:
                freed_value = freed[id(value)] = FreedValue(value)
            value = freed_value
        kept.append(value)
    return tuple(kept)


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
    def forward(ctx: Node, *args: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Node, grad_output: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run ``forward`` on the arrays of ``args`` and, if any input requires grad (and grad
        mode is on), record the call as a node of the graph."""
        arrays, record = [], False
        for arg in args:
            if isinstance(arg, _Tensor):
                arrays.append(arg._data)
                record = record or arg._requires_grad
            else:
                arrays.append(arg)
        record = record and grad_mode.state.enabled
        node = Node(cls, args) if record else _Unrecorded()
        try:
            data = cls.forward(node, *arrays)
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            raise broadcast_error(cls.__name__.lower(), *arrays) from None
        if not isinstance(data, (np.ndarray, np.generic)):
            data = np.asarray(data)
        if record and node._saved:
            node.note_saved(arrays, data)
        out = _Tensor._from_op(data, node if record else None)
        if hooks.observer is not None:
            hooks.observer.forward(cls, args, out.grad_fn, out)
        return out


class _Unrecorded:
    """The ``ctx`` of a forward that records nothing (under ``no_grad``): it accepts
    attributes and saved values, and keeps nothing."""

    needs_input_grad = ()
    create_graph = False

    def save_for_backward(self, *values: Any) -> None:
        pass


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


# ----------------------------------------------------------------------------------------------
# The backward pass
# ----------------------------------------------------------------------------------------------

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to use its saved values after "
    "they were freed). The first backward() freed the graph; call backward(retain_graph=True) "
    "the first time if you need to backpropagate through it again."
)


def newest_first(roots: Sequence[Any]) -> list:
    """Every computed tensor that requires grad in the graph of ``roots``, the newest first: a
    walk with an explicit stack (no recursion, so a chain of 100,000 operations is no problem)
    that files each tensor under its node's number, then the numbers sorted."""
    found: dict[int, Any] = {}  # -(node number) -> tensor
    stack = [root for root in roots if root.grad_fn is not None]
    as_created = _changed_in_graph[0]  # (read `parents` only then: it costs a call per node)
    while stack:
        tensor = stack.pop()
        node = tensor.grad_fn
        if -node.number in found:
            continue
        found[-node.number] = tensor
        if node.released:
            raise RuntimeError(FREED_MESSAGE)
        for parent in node.parents if as_created else node._parents:
            if isinstance(parent, _Tensor) and parent.grad_fn is not None and parent._requires_grad:
                stack.append(parent)
    return [found[key] for key in sorted(found)]


def run_backward(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> dict:
    """Backpropagate ``seeds`` (dL/d(root), one per root) through the graph of ``roots``.

    Without ``inputs`` (``Tensor.backward``) the gradients add up into ``.grad`` of every leaf
    that requires grad (and of tensors that called ``retain_grad()``). With ``inputs``
    (``tg.grad``) nothing is written and their gradients are returned, keyed by tensor.

    Why a topological order? A tensor used twice, like ``a`` in ``b = a * a + a``, receives a
    gradient from each use, and it must have *all* of it before it passes gradient on to what
    it was computed from. Visiting the tensors in reverse topological order, every tensor after
    all the tensors that use it, guarantees exactly that.
    """
    # A topological order for free: each node was numbered when it was created, and the inputs
    # of an operation always exist before it, so newest first puts every tensor after all the
    # tensors that use it. (A depth-first topological sort took W5, a chain of 100,000
    # operations, from 0.66 to 0.78 of PyTorch's time, over its budget of 0.7.)
    order = newest_first(roots)
    keep = set(inputs) if inputs is not None else {t for t in order if t._retains_grad}
    grads: dict = {}  # dL/d(tensor), summed over the uses seen so far
    for root, seed in zip(roots, seeds):
        _add_to(grads, root, seed)
    kept: dict = {}  # gradients of non-leaf tensors to hand out at the end
    visited: list[Node] = []
    grad_was_enabled = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph  # record the backward pass only for create_graph
    try:
        for tensor in order:
            node = tensor.grad_fn
            grad = grads.pop(tensor, None)
            if grad is None:  # no gradient reaches it (its users returned None)
                continue
            if type(grad) is GradientPieces:  # (slices of it were used: see below)
                grad = grad.whole()
            if tensor_hooks:  # Tensor.register_hook: may look at or replace the gradient
                grad = run_tensor_hooks(tensor, grad)
            if tensor in keep:
                kept[tensor] = grad
            # The chain rule, one step: dL/d(input) = dL/d(output) * d(output)/d(input)
            input_grads = _local_backward(tensor, node, grad, create_graph)  # one per parent
            visited.append(node)
            parents = node.parents if _changed_in_graph[0] else node._parents
            for parent, parent_grad in zip(parents, input_grads, strict=True):
                if parent_grad is not None and isinstance(parent, _Tensor) and parent._requires_grad:
                    _add_to(grads, parent, _fit_to_input(node, parent_grad, parent._data))
    finally:
        grad_mode.state.enabled = grad_was_enabled
    # Only now that every step has succeeded is anything handed out: a backward that raises
    # half-way leaves every .grad as it was, and the graph intact.
    for leaf, grad in grads.items():  # what is left are the leaves, their gradients complete
        if leaf.grad_fn is None:
            grad = whole(grad)
            kept[leaf] = run_tensor_hooks(leaf, grad) if tensor_hooks else grad
    results = _hand_out(kept, inputs, create_graph)
    if not retain_graph:
        release_graph(visited)
    return results


# id(tensor) -> the hooks of Tensor.register_hook (an entry goes when its tensor does)
tensor_hooks: dict[int, list] = {}


def add_tensor_hook(tensor: Any, hook: Any) -> list:
    """Register ``hook`` on ``tensor``; returns the tensor's list of hooks."""
    if id(tensor) not in tensor_hooks:
        tensor_hooks[id(tensor)] = []
        weakref.finalize(tensor, tensor_hooks.pop, id(tensor), None)
    tensor_hooks[id(tensor)].append(hook)
    return tensor_hooks[id(tensor)]


def run_tensor_hooks(tensor: Any, grad: Any) -> Any:
    """Call the hooks ``tensor.register_hook`` registered, in order, on its gradient (as a
    Tensor); a hook that returns a tensor replaces the gradient, as in PyTorch."""
    for hook in list(tensor_hooks.get(id(tensor), ())):
        given = grad if isinstance(grad, _Tensor) else _Tensor._from_op(grad, None)
        result = hook(given)
        if result is not None:
            if np.shape(result) != np.shape(grad):
                raise RuntimeError(
                    f"a hook returned a gradient of shape {np.shape(result)} for a tensor of "
                    f"shape {np.shape(grad)}"
                )
            grad = result if isinstance(grad, _Tensor) else np.asarray(_plain_array(result))
    return grad


def _plain_array(value: Any) -> Any:
    return value._data if isinstance(value, _Tensor) else value


def _add_to(grads: dict, tensor: Any, grad: Any) -> None:
    """Add one use's gradient to what ``tensor`` has received so far."""
    previous = grads.get(tensor)
    if previous is None:
        grads[tensor] = grad
    elif type(previous) is GradientPieces:
        previous.add(grad)
    elif type(grad) is GradientPieces:
        grads[tensor] = grad.add(previous)
    else:
        grads[tensor] = previous + grad


class GradientPieces:
    """The gradient of a tensor of which only slices were used, kept as its pieces until it is
    needed whole: pairs (index, values) of the gradients of ``x[index]`` for basic indices
    (slices, integers), and ``rest``, the sum of any other gradients, or None.

    Indexing's backward returns one. As an array each piece would be zeros of x's size with
    the values at the index, and the engine would add those arrays up: ``q, k, v =
    x.split(...)`` made three arrays of x's size and two sums, and ``x[:, t]`` at each of T
    steps of a recurrent network T arrays and T - 1 sums. `whole` makes one array and writes
    the pieces into it (W8, a tiny GPT step: 0.991 of the time in two A/Bs)."""

    __slots__ = ("shape", "dtype", "pieces", "rest")

    def __init__(self, shape: tuple, index: Any, values: Any) -> None:
        self.shape, self.dtype = shape, values.dtype
        self.pieces = [(index, values)]
        self.rest = None

    def add(self, grad: Any) -> GradientPieces:
        """Add ``grad`` (an array, or more pieces) to this gradient; returns it."""
        if type(grad) is GradientPieces:
            self.pieces += grad.pieces
            grad = grad.rest
        if grad is not None:
            self.rest = grad if self.rest is None else self.rest + grad
        return self

    def whole(self) -> np.ndarray:
        """The gradient as one new array: ``rest`` (or zeros) with each piece added at its
        index (a basic index selects no element twice, so ``+=`` there adds each value)."""
        if self.rest is None:
            joined = self._joined()
            if joined is not None:
                return joined
            out = np.zeros(self.shape, dtype=self.dtype)
        else:  # (a copy: rest may be another tensor's gradient too)
            out = np.array(self.rest, dtype=self.dtype)
        for index, values in self.pieces:
            out[index] += values
        return out

    def _joined(self) -> np.ndarray | None:
        """The pieces one after the other along an axis, when they are slices that cover it
        once (those of ``split`` and ``chunk``), as one ``np.concatenate``; else None. (W8's
        q, k, v: 70-85 us a step instead of 125-145 for zeros and three additions into them;
        the step 0.997 and 0.988 of its time in A/B.)"""
        first = self.pieces[0][0]
        axis = len(first) - 1 if type(first) is tuple else 0
        if not 0 <= axis < len(self.shape):  # (x[()] of a 0-d x)
            return None
        spans = []
        for index, values in self.pieces:
            index = index if type(index) is tuple else (index,)
            if len(index) != axis + 1 or type(index[axis]) is not slice:
                return None
            if any(part != slice(None) for part in index[:axis]):
                return None
            start, stop, step = index[axis].indices(self.shape[axis])
            if step != 1:
                return None
            spans.append((start, stop, values))
        spans.sort(key=lambda span: span[0])
        covered = 0
        for start, stop, _ in spans:
            if start != covered:  # a gap, or an overlap
                return None
            covered = max(stop, start)
        if covered != self.shape[axis]:
            return None
        return np.concatenate([values for _, _, values in spans], axis=axis, dtype=self.dtype)


def whole(grad: Any) -> Any:
    """``grad`` as an array (or Tensor, or None), its pieces put together if it has some."""
    return grad.whole() if type(grad) is GradientPieces else grad


def whole_gradients(returned: Any) -> tuple:
    """What a backward returned, one gradient or a tuple of them, as a tuple of whole
    gradients: for the tools that look at them (`_local_backward` tells the observer)."""
    if type(returned) is not tuple:
        returned = (returned,)
    return tuple([whole(g) for g in returned])


def _local_backward(tensor: Any, node: Node, grad: Any, create_graph: bool) -> tuple:
    """Run ``node``'s backward on dL/d(output) = ``grad``; returns one gradient per parent.

    Under ``create_graph`` the node's saved values are seen as the graph's tensors while it
    runs, so that the gradient it computes is itself a recorded graph. The gradient that
    arrived is remembered on the node (drawings show it), and the observer is told.
    """
    plain = grad._data if isinstance(grad, _Tensor) else grad
    node.grad_output = plain if plain.size <= KEEP_AFTER_FREE else None  # for drawings
    if not (node._saved or create_graph):  # nothing saved: nothing to see as tensors
        input_grads = node.function.backward(node, grad)
    elif not create_graph:
        node._output = tensor  # (saved_tensors names it if it was changed in place)
        input_grads = node.function.backward(node, grad)
        node._output = None
    else:
        node._output, node._create_graph = tensor, True
        try:
            input_grads = node.function.backward(node, grad)
        finally:
            node._output, node._create_graph = None, False
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(node._parents):
        raise RuntimeError(
            f"{node.name}.backward returned {len(input_grads)} gradients, but forward took "
            f"{len(node._parents)} inputs: return one gradient (or None) per input"
        )
    if hooks.observer is not None:  # (the tools look at arrays)
        input_grads = whole_gradients(input_grads)
        hooks.observer.backward(tensor, node, grad, input_grads)
    return input_grads


def _fit_to_input(node: Node, grad: Any, data: Any) -> Any:
    """The gradient at the shape (summed over broadcasting) and dtype of its input ``data``
    (`GradientPieces` are made at their input's shape)."""
    if grad.shape != data.shape:
        try:
            grad = sum_to_shape(grad, data.shape)
        except ValueError:
            raise RuntimeError(
                f"{node.name}.backward returned a gradient of shape {np.shape(grad)} for an "
                f"input of shape {data.shape}: it must have the input's shape (or one that "
                "broadcasts to the output's shape)"
            ) from None
    if grad.dtype != data.dtype:  # (pieces too: a tensor hook may have changed the dtype)
        grad = whole(grad).astype(data.dtype)
    return grad


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
        grad = sum_axes(grad, axes, keepdims=True)
    return grad.reshape(shape)


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SMALLEST = 16384  # below this many values NumPy's sum is faster: ours costs ~4 us in Python
_LONGEST_ROW = 4096  # a longer row is summed by NumPy, pairwise, for its accuracy


def sum_axes(x: Any, axes: tuple[int, ...], keepdims: bool = False) -> Any:
    """``x.sum(axis=axes, keepdims=keepdims)``, as one matrix-vector product with a vector of
    ones when ``axes`` are the first or the last axes of a contiguous float32 / float64 array.

    A speed trick: BLAS adds up the rows of a (512, 64) array 4-6x faster than NumPy's
    ``sum`` (2.5 against 15 us), and a layer's bias gradient, a broadcast's gradient and the
    means of a LayerNorm are such sums (a tiny GPT step, W8, takes about 7% less time). BLAS
    adds in its own order, so the last bits may differ from NumPy's; rows of the last axes
    longer than ``_LONGEST_ROW`` are left to NumPy's pairwise sum, which loses less accuracy
    on long rows. Anything else (small arrays, a Tensor under create_graph, other axes, other
    dtypes, a sum of every element) is ``x.sum``."""
    if (
        type(x) is not np.ndarray
        or x.size < _SMALLEST
        or x.size == 0
        or x.dtype not in _BLAS_FLOATS
        or not x.flags.c_contiguous
    ):
        return x.sum(axis=axes, keepdims=keepdims)
    nd, count = x.ndim, len(axes)
    if not 0 < count < nd:
        return x.sum(axis=axes, keepdims=keepdims)
    # (the axes and shapes worked out in few steps: on a slow machine the Python of a first
    # version took 7 us of a 12 us column sum of a (512, 64) array, this one 3)
    given, axes = axes, [axes[0] % nd] if count == 1 else sorted({a % nd for a in axes})
    if len(axes) != count:  # an axis given twice: NumPy's error
        return x.sum(axis=given, keepdims=keepdims)
    if axes[-1] == count - 1:  # the first axes: ones (rows,) @ (rows, rest)
        kept = x.shape[count:]
        rows = x.size // math.prod(kept)
        total = _vector_of(1, rows, x.dtype) @ x.reshape(rows, -1)
        reduced = (1,) * count + kept
    elif axes[0] == nd - count:  # the last axes: (rest, row) @ ones (row,)
        kept = x.shape[: nd - count]
        row = x.size // math.prod(kept)
        if row > _LONGEST_ROW:  # (NumPy's pairwise sum: see above)
            return x.sum(axis=given, keepdims=keepdims)
        total = x.reshape(-1, row) @ _vector_of(1, row, x.dtype)
        reduced = kept + (1,) * count
    else:
        return x.sum(axis=given, keepdims=keepdims)
    return total.reshape(reduced if keepdims else kept)


@functools.lru_cache(maxsize=64)
def _vector_of(value: float, n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of n values ``value``, made once: with ones a matrix-vector product
    sums rows or columns (`sum_axes`), with 1 / n it averages them (`ops._row_means`)."""
    vector = np.full(n, value, dtype=dtype)
    vector.flags.writeable = False
    return vector


def _hand_out(grads: dict, inputs: Sequence[Any] | None, create_graph: bool) -> dict:
    """``tg.grad``: the gradients of ``inputs``. ``backward()``: add each gradient to the
    ``.grad`` of its tensor (leaves, and tensors that called ``retain_grad()``)."""
    if inputs is not None:
        wanted = set(inputs)
        return {t: g for t, g in grads.items() if t in wanted}
    for tensor, grad in grads.items():
        _accumulate(tensor, grad, create_graph)
    return {}


def _accumulate(tensor: Any, grad: Any, create_graph: bool) -> None:
    """``tensor.grad += grad``, as in PyTorch: call ``zero_grad()`` (or set ``.grad = None``)
    between steps."""
    # (``_grad``, not the checked ``.grad``: the engine's gradients have the tensor's shape)
    if create_graph:
        if not isinstance(grad, _Tensor):
            grad = _Tensor._from_op(grad, None)
        tensor._grad = grad if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        # A copy the tensor owns: the incoming array may be shared with another input (the two
        # inputs of an add receive the same array) or be a read-only broadcast view.
        tensor._grad = _Tensor._from_op(np.array(grad, dtype=tensor.dtype), None)
    else:
        tensor._grad = _Tensor._from_op(tensor.grad.data + grad, None)


def release_graph(nodes: Sequence[Node]) -> None:
    """Free the saved values of ``nodes`` (PyTorch's default after backward); the nodes stay,
    so the graph can still be drawn, and a second backward through them raises."""
    freed: dict = {}
    for node in nodes:
        node.release(freed)


# ----------------------------------------------------------------------------------------------
# The entry points: Tensor.backward and tg.grad
# ----------------------------------------------------------------------------------------------


def backward(
    tensor: Any, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
) -> None:
    """``tensor.backward()``: add dL/d(leaf) to ``.grad`` of every leaf that requires grad."""
    seed = initial_gradient(tensor, gradient, create_graph, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([tensor], [seed], retain_graph, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
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
    seeds = [initial_gradient(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outputs, seeds, retain_graph, create_graph, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(t)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                "to get None for it"
            )
        if g is not None and not isinstance(g, _Tensor):
            g = _Tensor._from_op(np.array(g, dtype=t.dtype), None)
        result.append(g)
    return tuple(result)


def _as_tensor_tuple(value: Any, what: str) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for v in values:
        if not isinstance(v, _Tensor):
            raise TypeError(f"grad: {what} must be Tensors, got {type(v).__name__}")
    return values


def initial_gradient(root: Any, gradient: Any, create_graph: bool, op: str) -> Any:
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
        return _Tensor(gradient) if create_graph else gradient
    if np.shape(gradient) != root.shape:
        raise ValueError(
            f"{op}: gradient has shape {np.shape(gradient)} but the output has shape {root.shape}"
        )
    if create_graph:
        # the seed may itself be part of a graph (gradgradcheck differentiates through it)
        seed = gradient if isinstance(gradient, _Tensor) else _Tensor(gradient)
        return seed if seed.dtype == root.dtype else seed.astype(root.dtype)
    gradient = gradient.data if isinstance(gradient, _Tensor) else np.asarray(gradient)
    return gradient.astype(root.dtype, copy=False)
