"""`Tensor`: a NumPy array that remembers how it was computed. Read this file fourth.

A 0-d tensor is a scalar, so the same class carries a micrograd-style graph of single numbers
and a batched matrix graph. Every differentiable method here calls a primitive of ``ops.py``
or is composed from other methods; none of them holds a gradient rule of its own.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd, grad_mode, ops

if TYPE_CHECKING:  # pragma: no cover
    from .autograd import Node

Axis = int | Sequence[int] | None


class Tensor:
    """An n-dimensional array (a NumPy array in ``.data``) with automatic differentiation.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    Tensor([2., 4., 6.], dtype=float64)

    Dtypes follow NumPy: Python floats give float64, float32 arrays stay float32, ints stay ints;
    mixing with a Python number keeps the tensor's dtype. Only floating-point tensors can
    require grad.

    ``Tensor(2.0).data`` is a NumPy scalar (``np.float64(2.0)``), as are most 0-d results: it is
    what NumPy's own operations return for them. It has ``shape == ()``, a dtype and the
    arithmetic of a 0-d array, at a tenth of the cost, which is what makes a graph of scalars
    fast. Where an array is needed, ``t.numpy()`` gives one.
    """

    __slots__ = (
        "_data",
        "_grad",
        "_requires_grad",
        "grad_fn",
        "name",
        "_retains_grad",
        "_version_counter",  # None until the first in-place change (or a view shares it)
        "__weakref__",
    )

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self._data = _to_array(data, dtype)
        self._grad: Tensor | None = None
        self.grad_fn: Node | None = None
        self.name = name
        self._retains_grad = False
        self._version_counter: list[int] | None = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: Any, grad_fn: Node | None) -> Tensor:
        """Wrap an array computed by the library (no copy, no checks)."""
        t = object.__new__(cls)
        t._data = data
        t._grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t.name = None
        t._retains_grad = False
        t._version_counter = None
        return t

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meeting a Tensor. ``array * tensor`` and the other arithmetic and comparison
        operators with an array on the left are the Tensor's own (recorded) operations.
        ``array += tensor``, the update ``p.data += -lr * p.grad``, is NumPy's on the plain
        arrays, into the array. Any other NumPy function of a Tensor is a TypeError: call the
        Tensor's method (``t.exp()``), or pass ``t.numpy()``."""
        out = kwargs.get("out")
        if method == "__call__" and out is not None and not any(isinstance(o, Tensor) for o in out):
            return ufunc(*[x.data if isinstance(x, Tensor) else x for x in inputs], **kwargs)
        names = _OPERATOR_UFUNCS.get(ufunc)
        if method != "__call__" or kwargs or names is None or len(inputs) != 2:
            return NotImplemented
        left, right = inputs
        if isinstance(left, Tensor):
            return getattr(left, names[0])(right)
        return getattr(right, names[1])(left)  # the reflected operator: right is the Tensor

    # ---- attributes that check what they are given ---------------------------------------------

    @property
    def data(self) -> np.ndarray | np.generic:
        """The values: a NumPy array (a NumPy scalar for a 0-d tensor). Changing them through
        ``.data`` (``p.data += -lr * p.grad``) is invisible to autograd, as in PyTorch."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        array = _data_for(self, value)
        self._data = array[()] if array.ndim == 0 else array

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward. Settable on leaves of
        a floating dtype, as ``requires_grad_()``."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def grad(self) -> Tensor | None:
        """dL/d(self), summed over backward passes (leaves, and tensors that retain_grad())."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = None if value is None else _grad_for(self, value)

    @property
    def _version(self) -> int:
        """How many times the values were changed in place (PyTorch's ``t._version``)."""
        return 0 if self._version_counter is None else self._version_counter[0]

    def _bump_version(self) -> None:
        """Note an in-place change: backward refuses to use a value saved before it."""
        autograd.note_in_place_change(self._shared_version_counter())

    def _shared_version_counter(self) -> list[int]:
        """The counter, [version, when last changed], that a tensor sharing this one's memory
        (``detach()``) shares too."""
        if self._version_counter is None:
            self._version_counter = [0, 0]
        return self._version_counter

    # ---- what it is ------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (not produced by a recorded operation)."""
        return self.grad_fn is None

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied, as in PyTorch; a 0-d tensor's
        NumPy scalar comes back as a new 0-d array)."""
        return np.asarray(self.data)

    def item(self) -> float | int | bool:
        """The value of a single-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only a single-element tensor has one value, got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return np.asarray(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph: no grad_fn, requires no grad. It shares the
        memory, and so the version counter: an in-place change of either is seen by a graph
        that saved the other."""
        detached = Tensor._from_op(self.data, None)
        detached._version_counter = self._shared_version_counter()
        return detached

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (only on leaves, and only for floating dtypes)."""
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(
                f"only Tensors of floating point dtype can require gradients, but this tensor "
                f"is {self.dtype}; create it with dtype=float64 (or float32)"
            )
        if self.grad_fn is not None and bool(requires_grad) != self._requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this intermediate tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="Tensor(")
        extras = [f"dtype={self.dtype}"]
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with more than one element is ambiguous "
                f"(shape {self.shape}); use .any() or .all()"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = np.asarray(self.data)
        return array if dtype is None else array.astype(dtype)

    # Comparisons return tensors, so hashing must be by identity (tensors can key a dict).
    __hash__ = object.__hash__

    # ---- backward --------------------------------------------------------------------------

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad,
        and add it to the leaf's ``.grad``.

        ``gradient`` is dL/d(self), of self's shape; it may be left out for a single-element
        tensor (it is then 1). The graph is freed afterwards unless ``retain_graph=True``.
        ``create_graph=True`` records the backward pass itself, so the gradients can be
        differentiated again.
        """
        autograd.backward(self, gradient, retain_graph, create_graph)

    # ---- arithmetic ------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return _binary(ops.Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(ops.Add, self, other, reflected=True)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(ops.Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(ops.Sub, self, other, reflected=True)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(ops.Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(ops.Mul, self, other, reflected=True)

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(ops.Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(ops.Div, self, other, reflected=True)

    def __pow__(self, other: Any) -> Tensor:
        return _binary(ops.Pow, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(ops.Pow, self, other, reflected=True)

    def __matmul__(self, other: Any) -> Tensor:
        other = _operand(other)
        return NotImplemented if other is NotImplemented else matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        other = _operand(other)
        return NotImplemented if other is NotImplemented else matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def matmul(self, other: Any) -> Tensor:
        return matmul(self, other)

    # ---- comparisons: tensors of booleans that carry no gradient ----------------------------

    def _compare(self, other: Any, compare: Any) -> Tensor:
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        other = other.data if isinstance(other, Tensor) else other
        try:
            return Tensor._from_op(compare(self.data, other), None)
        except ValueError:
            raise autograd.broadcast_error(compare.__name__, self.data, other) from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def any(self) -> bool:
        return bool(np.any(self.data))

    def all(self) -> bool:
        return bool(np.all(self.data))

    # ---- in place: only where no graph can see it ------------------------------------------

    def _in_place(self, other: Any, ufunc: np.ufunc) -> Tensor:
        if grad_mode.is_grad_enabled() and (
            self.requires_grad or getattr(other, "requires_grad", False)
        ):
            raise RuntimeError(
                f"in-place {ufunc.__name__} on a tensor that requires grad would corrupt the "
                "graph: write x = x + y instead, or update parameters under tg.no_grad()"
            )
        other = other.data if isinstance(other, Tensor) else other
        result = ufunc(self.data, other)
        if np.shape(result) != self.shape:
            raise ValueError(
                f"in-place {ufunc.__name__}: the result has shape {np.shape(result)}, "
                f"but the tensor has shape {self.shape}"
            )
        if isinstance(self._data, np.ndarray) and self._data.flags.writeable:
            self._data[...] = result
        else:
            self._data = np.asarray(result, dtype=self.dtype)[()]
        self._bump_version()
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place(other, np.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place(other, np.subtract)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place(other, np.multiply)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place(other, np.true_divide)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self._in_place(0, np.multiply)

    def __setitem__(self, index: Any, value: Any) -> None:
        if grad_mode.is_grad_enabled() and self.requires_grad:
            raise RuntimeError(
                "assigning into a tensor that requires grad would corrupt the graph: build a "
                "new tensor (tg.where, tg.cat), or assign under tg.no_grad()"
            )
        if not (isinstance(self._data, np.ndarray) and self._data.flags.writeable):
            self._data = np.array(self._data)
        self._data[_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump_version()

    # ---- elementwise functions -------------------------------------------------------------

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.LeakyReLU.apply(self, negative_slope)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return ops.ELU.apply(self, alpha)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (NumPy's names)
        """Limit values to [min, max]; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return ops.Clip.apply(self, _plain(min), _plain(max))

    clamp = clip

    # ---- reductions ------------------------------------------------------------------------

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        axes = None if axis is None else _axes("sum", axis, self.ndim)
        return ops.Sum.apply(self, axes, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        axes = _axes("mean", axis, self.ndim)
        return self.sum(axes, keepdims) / _count(self.shape, axes)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Largest value; where several elements tie, they share the gradient equally, and a
        NaN is the largest (its position gets the gradient), as in PyTorch."""
        axes = _reducible_axes("max", axis, self.shape)
        return ops.Max.apply(self, axes, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Smallest value, min(x) = -max(-x); ties share the gradient equally."""
        axes = _reducible_axes("min", axis, self.shape)
        return -ops.Max.apply(-self, axes, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Variance, mean((x - mean(x))^2) * n / (n - ddof); ddof=0 as in NumPy."""
        axes = _axes("var", axis, self.ndim)
        centred = self - self.mean(axes, keepdims=True)
        return (centred * centred).sum(axes, keepdims) / (_count(self.shape, axes) - ddof)

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """sqrt(var). Where all values are equal (var = 0) the gradient is 0, as in PyTorch,
        instead of sqrt's 1/(2*0): there std is computed as sqrt(var + 1) * 0."""
        var = self.var(_axes("std", axis, self.ndim), keepdims, ddof)
        zero = var.data == 0
        if not zero.any():
            return var.sqrt()
        return (var + zero).sqrt() * ~zero

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m = max(x), which
        cannot overflow. m is a constant shift (a plain array, not part of the graph): it
        cancels in the derivative."""
        axes = _axes("logsumexp", axis, self.ndim)
        shift = ops._finite_max(self.data, axes)
        with np.errstate(divide="ignore"):  # over no elements: log(0) = -inf, as in PyTorch
            total = (self - shift).exp().sum(axes, keepdims=True).log() + shift
        return total if keepdims else total.reshape(_reduced_shape(self.shape, axes))

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along ``axis``, as exp(log_softmax(x)): it cannot overflow."""
        (axis,) = _axes("softmax", axis, self.ndim)
        return ops.LogSoftmax.apply(self, axis).exp()

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along ``axis``: log-probabilities without overflow or log(0)."""
        (axis,) = _axes("log_softmax", axis, self.ndim)
        return ops.LogSoftmax.apply(self, axis)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Index of the largest value (of the flattened tensor when axis is None)."""
        if axis is not None:
            (axis,) = _axes("argmax", axis, self.ndim)
        return Tensor._from_op(np.argmax(self.data, axis=axis, keepdims=keepdims), None)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Index of the smallest value (of the flattened tensor when axis is None)."""
        if axis is not None:
            (axis,) = _axes("argmin", axis, self.ndim)
        return Tensor._from_op(np.argmin(self.data, axis=axis, keepdims=keepdims), None)

    # ---- shapes ----------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one dimension may be -1."""
        shape = _shape_arg(shape)
        try:
            new_shape = _resolve_shape(self.shape, shape)
        except ValueError as error:
            raise ValueError(f"reshape: {error}") from None
        if new_shape == self.shape:
            return self
        return ops.Reshape.apply(self, new_shape)

    view = reshape

    def permute(self, *axes: Any) -> Tensor:
        """Reorder the axes: ``x.permute(2, 0, 1)`` (PyTorch's name for NumPy's transpose)."""
        axes = _shape_arg(axes)
        if (
            sorted(_axes("permute", axes, self.ndim)) != list(range(self.ndim))
            or len(axes) != self.ndim
        ):
            raise ValueError(f"permute: {axes} is not a permutation of the {self.ndim} axes")
        return ops.Permute.apply(self, tuple(a % self.ndim for a in axes))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (PyTorch's ``transpose``); the last two by default."""
        if self.ndim < 2:
            return self
        axes = list(range(self.ndim))
        a, b = _axes("transpose", (dim0, dim1), self.ndim, unique=False)
        axes[a], axes[b] = axes[b], axes[a]
        return ops.Permute.apply(self, tuple(axes))

    swapaxes = transpose

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-d tensors)."""
        return ops.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes ``start_dim..end_dim`` into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _axes("flatten", (start_dim, end_dim), self.ndim, unique=False)
        shape = self.shape
        return self.reshape(shape[:start] + (-1,) + shape[end + 1 :])

    def squeeze(self, axis: Axis = None) -> Tensor:
        """Remove axes of length 1 (all of them, or the ones named)."""
        if axis is None:
            axes = tuple(i for i, n in enumerate(self.shape) if n == 1)
        else:
            axes = _axes("squeeze", axis, self.ndim)
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(f"squeeze: axis {a} has length {self.shape[a]}, not 1")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of length 1 at position ``axis``."""
        (position,) = _axes("unsqueeze", axis, self.ndim + 1)
        return self.reshape(self.shape[:position] + (1,) + self.shape[position:])

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to a larger shape without copying (-1 keeps a dimension)."""
        shape = _shape_arg(shape)
        offset = len(shape) - self.ndim
        if -1 in shape[:offset] or offset < 0:
            raise ValueError(
                f"expand: cannot broadcast shape {self.shape} to {shape} (-1 can only keep an "
                "existing dimension)"
            )
        shape = tuple(self.shape[i - offset] if n == -1 else n for i, n in enumerate(shape))
        try:
            np.broadcast_shapes(self.shape, shape)
            if offset < 0 or np.broadcast_shapes(self.shape, shape) != shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {self.shape} to {shape}") from None
        if shape == self.shape:
            return self
        return ops.Expand.apply(self, shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return self.expand(tuple(shape))

    def astype(self, dtype: Any) -> Tensor:
        """A copy converted to ``dtype`` (the gradient is converted back)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":  # integers and booleans carry no gradient, as in PyTorch
            return Tensor._from_op(self.data.astype(dtype), None)
        return ops.Cast.apply(self, dtype)

    def float(self) -> Tensor:
        """Convert to float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self.astype(np.float64)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradient passes through unchanged)."""
        return ops.Cast.apply(self, self.dtype)

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy indexing: ints, slices, None, ..., integer arrays and boolean masks. An element
        selected twice receives both gradients."""
        return ops.Index.apply(self, _index(index))

    # ---- more of PyTorch's operations: elementwise math, gathering and scattering -------------


autograd.register_tensor_class(Tensor)  # the engine creates and recognises Tensors from now on

# ufunc -> (the Tensor's operator, its reflection), for ``array (op) tensor``
_OPERATOR_UFUNCS = {
    np.add: ("__add__", "__radd__"),
    np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"),
    np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"),
    np.matmul: ("__matmul__", "__rmatmul__"),
    np.less: ("__lt__", "__gt__"),
    np.less_equal: ("__le__", "__ge__"),
    np.greater: ("__gt__", "__lt__"),
    np.greater_equal: ("__ge__", "__le__"),
    np.equal: ("__eq__", "__eq__"),
    np.not_equal: ("__ne__", "__ne__"),
}


# ---- free functions ------------------------------------------------------------------------


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b``: vectors, matrices, and stacks of matrices (broadcast)."""
    if not isinstance(a, Tensor):
        a = _operand_or_raise(a)
    if not isinstance(b, Tensor):
        b = _operand_or_raise(b)
    try:
        return ops.MatMul.apply(a, b)
    except ValueError as error:  # NumPy's message speaks of gufunc signatures; ours of shapes
        raise _matmul_error(_shape(a), _shape(b), error) from None


def _matmul_error(a_shape: tuple, b_shape: tuple, error: ValueError) -> ValueError:
    if len(a_shape) == 0 or len(b_shape) == 0:
        return ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {a_shape} and {b_shape}"
        )
    inner_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if a_shape[-1] != inner_b:
        return ValueError(
            f"matmul: shapes {a_shape} and {b_shape} are not aligned: {a_shape[-1]} != {inner_b}"
        )
    return error  # batch dimensions that do not broadcast: the message already names them


def _shape(x: Any) -> tuple:
    return x.data.shape if isinstance(x, Tensor) else np.shape(x)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; where a == b each side receives half the gradient (PyTorch)."""
    return ops.Maximum.apply(*promote(_operand_or_raise(a), _operand_or_raise(b)))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum, min(a, b) = -max(-a, -b); ties share the gradient as in maximum."""
    a, b = _operand_or_raise(a), _operand_or_raise(b)
    try:
        return -maximum(-a, -b)
    except ValueError:
        raise autograd.broadcast_error("minimum", _plain(a), _plain(b)) from None


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (broadcast); the gradient goes to the
    side that was chosen."""
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if condition.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got {condition.dtype}")
    return ops.Where.apply(condition, *promote(_operand_or_raise(a), _operand_or_raise(b)))


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use tg.stack")
    (axis,) = _axes("cat", axis, ndim)
    for i, t in enumerate(tensors):
        if (
            t.ndim != ndim
            or t.shape[:axis] + t.shape[axis + 1 :]
            != tensors[0].shape[:axis] + tensors[0].shape[axis + 1 :]
        ):
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape}, which does not match {tensors[0].shape} "
                f"outside axis {axis}"
            )
    return ops.Concatenate.apply(axis, *tensors)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(
                f"stack: tensor {i} has shape {t.shape}, but tensor 0 has {tensors[0].shape}"
            )
    (axis,) = _axes("stack", axis, tensors[0].ndim + 1)
    return cat([t.unsqueeze(axis) for t in tensors], axis)


# ---- helpers -------------------------------------------------------------------------------


def _data_for(tensor: Tensor, value: Any) -> np.ndarray:
    """What ``tensor.data = value`` stores: the array of a Tensor, or an array of numbers."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f".data must be an array, a number or a Tensor, got {type(value).__name__} "
            f"(dtype {array.dtype})"
        )
    if tensor.requires_grad and array.dtype.kind != "f":
        raise TypeError(
            f".data of a tensor that requires grad must be floating point, got {array.dtype}"
        )
    return array


def _grad_for(tensor: Tensor, value: Any) -> Tensor:
    """What ``tensor.grad = value`` stores: a Tensor of the tensor's shape and dtype."""
    if isinstance(value, (numbers.Number, np.generic)):
        raise TypeError(
            f".grad must be None or a tensor of shape {tensor.shape}, got the number {value!r}; "
            "to clear gradients set .grad = None or call zero_grad()"
        )
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f".grad must be numbers, got {type(value).__name__} ({array.dtype})")
    if array.shape != tensor.shape:
        raise ValueError(
            f"assigned grad has shape {array.shape}, but the tensor has shape {tensor.shape}"
        )
    if isinstance(value, Tensor) and value.dtype == tensor.dtype:
        return value
    return Tensor._from_op(np.array(array, dtype=tensor.dtype), None)


def _to_array(data: Any, dtype: Any) -> np.ndarray | np.generic:
    """Convert user data to a fresh array (a NumPy scalar for 0-d data), with errors that say
    what was wrong."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor data must be numbers, got a string: {data!r}")
    try:
        array = np.array(data, dtype=None if dtype is None else np.dtype(dtype))
    except ValueError as error:
        if "inhomogeneous" in str(error) or "sequence" in str(error):
            raise ValueError(
                "Tensor data is ragged: nested lists must have the same length at every level"
            ) from None
        raise ValueError(f"Tensor data cannot be converted to {dtype}: {error}") from None
    except TypeError as error:
        raise TypeError(f"Tensor data must be numbers: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numbers (bool, int or float), got dtype {array.dtype} "
            f"from {type(data).__name__}"
        )
    return array[()] if array.ndim == 0 else array  # [()] is the scalar in a 0-d array


def _operand(x: Any) -> Any:
    """The other side of a binary operator: a Tensor, a number, or an array (a constant). An
    array is copied, as Tensor() copies it: the graph keeps the values it was computed from,
    whatever the caller does to the array before backward."""
    if isinstance(x, _READY_OPERANDS):
        return x
    if isinstance(x, np.ndarray):
        return x.copy() if x.dtype.kind in "biuf" else NotImplemented
    if isinstance(x, (list, tuple)):
        return _to_array(x, None)
    if isinstance(x, numbers.Real):
        return x
    return NotImplemented


_READY_OPERANDS = (Tensor, float, int, np.generic)


def _binary(function: type, tensor: Tensor, other: Any, reflected: bool = False) -> Any:
    """``tensor (op) other`` for an arithmetic operator, or ``other (op) tensor`` when
    ``reflected``. The other side may be a Tensor, a number or an array (NotImplemented for
    anything else, as Python expects)."""
    other = _operand(other)
    if other is NotImplemented:
        return NotImplemented
    if type(other) not in _PYTHON_NUMBERS:  # NumPy keeps the tensor's dtype for those
        tensor, other = promote(tensor, other)
    return function.apply(other, tensor) if reflected else function.apply(tensor, other)


_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}
_PYTHON_NUMBERS = (float, int, bool)


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's type promotion where it differs from NumPy's: a 0-d operand (a NumPy scalar,
    a 0-d array or a 0-d tensor) of the same or a lower kind (bool < int < float) takes the
    dtype of a tensor with dimensions, so that ``x32 * np.float64(2)`` and ``x32 /
    np.sqrt(64)`` stay float32; one of a higher kind gives its own dtype (an int tensor times a
    0-d float32 is float32). Python numbers already act so in NumPy, and everything else
    (two 0-d operands, or two with dimensions) follows NumPy."""
    if type(a) in _PYTHON_NUMBERS or type(b) in _PYTHON_NUMBERS:
        return a, b
    a_data, b_data = _plain(a), _plain(b)
    if a_data.dtype == b_data.dtype or (a_data.ndim == 0) == (b_data.ndim == 0):
        return a, b
    b_0d = b_data.ndim == 0
    dims, zero_d = (a, b) if b_0d else (b, a)
    if _KIND_ORDER[zero_d.dtype.kind] <= _KIND_ORDER[dims.dtype.kind]:
        zero_d = _as_dtype(zero_d, dims.dtype)
    else:
        dims = _as_dtype(dims, zero_d.dtype)
    return (dims, zero_d) if b_0d else (zero_d, dims)


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    return x.astype(dtype) if isinstance(x, Tensor) else np.asarray(x, dtype=dtype)[()]


def _operand_or_raise(x: Any) -> Any:
    operand = _operand(x)
    if operand is NotImplemented:
        raise TypeError(f"expected a Tensor, number or array, got {type(x).__name__}")
    return operand


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _plain(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _axes(op: str, axis: Axis, ndim: int, unique: bool = True) -> tuple[int, ...] | None:
    """Normalise an axis argument to a tuple of non-negative ints, checking the range."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    result = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        result.append(int(a) % ndim)
    if unique and len(set(result)) != len(result):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(result)


def _reducible_axes(op: str, axis: Axis, shape: tuple) -> tuple[int, ...] | None:
    """The axes of a max or min, which has no value over no elements."""
    axes = _axes(op, axis, len(shape))
    if axes is None and math.prod(shape) == 0:
        raise ValueError(
            f"{op}: the tensor is empty (shape {shape}); give the dim to reduce over, as in "
            f"x.{op}(0)"
        )
    for a in axes or ():
        if shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size.")
    return axes


def _count(shape: tuple, axes: tuple | None) -> int:
    """How many elements a reduction over ``axes`` combines."""
    if axes is None:
        return math.prod(shape)
    return math.prod([shape[a] for a in axes])


def _reduced_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return ()
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _shape_arg(shape: tuple) -> tuple:
    """Accept both f(2, 3) and f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _resolve_shape(old: tuple, new: tuple) -> tuple:
    size = math.prod(old)
    if sum(1 for n in new if n == -1) > 1:
        raise ValueError(f"only one dimension can be -1, got {new}")
    known = int(math.prod([n for n in new if n != -1]))
    if -1 in new:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape a tensor of shape {old} ({size} elements) into {new}")
        new = tuple(size // known if n == -1 else n for n in new)
    elif known != size:
        raise ValueError(f"cannot reshape a tensor of shape {old} ({size} elements) into {new}")
    return tuple(int(n) for n in new)


def _index(index: Any) -> Any:
    """Tensors used as indices become their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index

