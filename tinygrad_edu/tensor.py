"""`Tensor`: a NumPy array that remembers how it was computed. Read this file fourth.

A 0-d tensor is a scalar, so the same class carries a micrograd-style graph of single numbers
and a batched matrix graph. Every differentiable method here calls a primitive of ``ops.py``
or is composed from other methods; none of them holds a gradient rule of its own.
"""

from __future__ import annotations

import collections
import math
import numbers
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd, grad_mode, ops
from .dtypes import get_default_dtype, to_dtype

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
        "_replaced",  # the values it stood for before in-place changes inside a graph
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
        self._replaced: tuple | None = None
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
        t._replaced = None
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
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

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

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` each time backward has this tensor's whole gradient (as a
        Tensor); if it returns a tensor, that replaces the gradient. Returns a handle whose
        ``.remove()`` unregisters it, as in PyTorch."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: the hook must be callable, got {type(hook).__name__}")
        return _HookHandle(autograd.add_tensor_hook(self, hook), hook)

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

    # ---- in place ----------------------------------------------------------------------------
    # As in PyTorch: outside a graph the values change where they are; inside one (a tensor that
    # requires grad, or a value that does) the change is recorded, and the tensor stands for
    # the result from then on. A leaf that requires grad cannot change in place outside no_grad.

    def _in_place(self, other: Any, function: type, ufunc: np.ufunc) -> Tensor:
        if grad_mode.is_grad_enabled() and (
            self.requires_grad or getattr(other, "requires_grad", False)
        ):
            return self._record_in_place(lambda previous: _binary(function, previous, other))
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

    def _record_in_place(self, compute: Any) -> Tensor:
        """Record an in-place change in the graph: ``compute(previous)`` gives the new value
        from a tensor that stands for the old one, and this tensor takes it over."""
        if self.grad_fn is None and self.requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation: "
                "change it under tg.no_grad() (as an optimizer step does), or compute a new "
                "tensor (x = x + y)"
            )
        # The new value is a new array: the old one stays as it was for what saved it.
        previous = Tensor._from_op(self._data, self.grad_fn)
        previous._requires_grad, previous.name = self._requires_grad, self.name
        if self._version_counter is not None:
            previous._version_counter = list(self._version_counter)
        result = compute(previous)
        if result.shape != self.shape:
            raise ValueError(
                f"in-place operation: the result has shape {result.shape}, but the tensor has "
                f"shape {self.shape}"
            )
        if result.dtype != self.dtype:
            result = result.astype(self.dtype)
        autograd.note_changed_in_graph(self, previous, result.grad_fn)
        self._data, self.grad_fn, self._requires_grad = result._data, result.grad_fn, True
        self._bump_version()
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place(other, ops.Add, np.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place(other, ops.Sub, np.subtract)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place(other, ops.Mul, np.multiply)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place(other, ops.Div, np.true_divide)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self._in_place(0, ops.Mul, np.multiply)

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _index(index)
        if grad_mode.is_grad_enabled() and (
            self.requires_grad or getattr(value, "requires_grad", False)
        ):
            value = _operand_or_raise(value)
            self._record_in_place(lambda previous: ops.IndexPut.apply(previous, value, index))
            return
        if not (isinstance(self._data, np.ndarray) and self._data.flags.writeable):
            self._data = np.array(self._data)
        self._data[index] = value.data if isinstance(value, Tensor) else value
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


    # ---- reductions: PyTorch's dim/keepdim, NumPy's axis/keepdims as aliases ------------------

    def sum(
        self, dim: Axis = None, keepdim: bool = False, *, dtype: Any = None, axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(x, _axes("sum", dim, x.ndim), keepdim)

    def mean(
        self, dim: Axis = None, keepdim: bool = False, *, dtype: Any = None, axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
        x = self if dtype is None else self.to(dtype)
        axes = _axes("mean", dim, x.ndim)
        return ops.Mean.apply(x, axes, keepdim, _count(x.shape, axes))

    def max(
        self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Any:
        """``x.max()``: the largest value (where several tie they share the gradient equally,
        and a NaN is the largest, as in PyTorch). ``x.max(dim)``: ``(values, indices)`` along
        ``dim``, the gradient going to each index. ``x.max(other)``: ``maximum(x, other)``."""
        if isinstance(dim, Tensor):
            return maximum(self, dim)
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(
        self, dim: Any = None, keepdim: bool = False, *, axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Any:
        """As ``max``, for the smallest value: ``min()``, ``min(dim)``, ``min(other)``."""
        if isinstance(dim, Tensor):
            return minimum(self, dim)
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def _extreme(self, op: str, dim: Any, keepdim: bool, axis: Any, keepdims: Any) -> Any:
        numpy_form = axis is not None or keepdims is not None or isinstance(dim, (tuple, list))
        dim, keepdim = dim_args(op, dim, keepdim, axis, keepdims)
        if dim is None or numpy_form:  # values only, ties sharing the gradient (amax, amin)
            axes = _reducible_axes(op, dim, self.shape)
            if op == "max":
                return ops.Max.apply(self, axes, keepdim)
            return -ops.Max.apply(-self, axes, keepdim)
        (d,) = _reducible_axes(op, dim, self.shape) or (0,)
        indices = self.argmax(d, keepdim=True) if op == "max" else self.argmin(d, keepdim=True)
        values = self.gather(d, indices) if self.ndim else self
        if not keepdim and self.ndim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return ValuesIndices(values, indices)

    def amax(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        """The largest value along ``dim`` (all by default); ties share the gradient equally,
        and a NaN is the largest, as in PyTorch."""
        return ops.Max.apply(self, _reducible_axes("amax", dim, self.shape), keepdim)

    def amin(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        """The smallest value along ``dim``, amin(x) = -amax(-x)."""
        return -ops.Max.apply(-self, _reducible_axes("amin", dim, self.shape), keepdim)

    def var(
        self, dim: Axis = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Axis = None, keepdims: bool | None = None,
        ddof: float | None = None,
    ) -> Tensor:
        """Variance, sum((x - mean(x))^2) / (N - correction): PyTorch's unbiased estimate
        (correction 1) by default; ``unbiased=False`` (or NumPy's ``ddof=0``) divides by N. A
        correction of N or more gives inf (or nan), as in PyTorch, never a negative value."""
        dim, keepdim = dim_args("var", dim, keepdim, axis, keepdims)
        correction = _correction("var", unbiased, correction, ddof)
        axes = _axes("var", dim, self.ndim)
        centred = self - self.mean(axes, keepdim=True)
        divisor = max(_count(self.shape, axes) - correction, 0)
        if divisor == 0:
            warnings.warn(
                "var(): degrees of freedom is <= 0: the correction is at least the number of "
                "values, so the result is inf or nan (as in PyTorch)",
                UserWarning,
                stacklevel=2,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            return (centred * centred).sum(axes, keepdim) / divisor

    def std(
        self, dim: Axis = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis: Axis = None, keepdims: bool | None = None,
        ddof: float | None = None,
    ) -> Tensor:
        """sqrt(var), with var's arguments. Where all values are equal (var = 0) the gradient
        is 0, as in PyTorch, instead of sqrt's 1/(2*0): there std is sqrt(var + 1) * 0."""
        dim, keepdim = dim_args("std", dim, keepdim, axis, keepdims)
        _axes("std", dim, self.ndim)  # so that a wrong dim names std
        var = self.var(dim, unbiased, keepdim, correction=correction, ddof=ddof)
        zero = var.data == 0
        if not zero.any():
            return var.sqrt()
        return (var + zero).sqrt() * ~zero

    def logsumexp(
        self, dim: Axis = None, keepdim: bool = False, *, axis: Axis = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m = max(x), which
        cannot overflow. m is a constant shift (a plain array, not part of the graph): it
        cancels in the derivative."""
        dim, keepdim = dim_args("logsumexp", dim, keepdim, axis, keepdims)
        axes = _axes("logsumexp", dim, self.ndim)
        shift = ops._finite_max(self.data, axes)
        with np.errstate(divide="ignore"):  # over no elements: log(0) = -inf, as in PyTorch
            total = (self - shift).exp().sum(axes, keepdim=True).log() + shift
        return total if keepdim else total.reshape(_reduced_shape(self.shape, axes))

    def softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along ``dim``, as exp(log_softmax(x)): it cannot overflow."""
        dim, _ = dim_args("softmax", dim, False, axis, None)
        _axes("softmax", dim, self.ndim)  # so that a wrong dim names softmax
        return self.log_softmax(dim).exp()

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """x - logsumexp(x) along ``dim`` (the last by default): log-probabilities without
        overflow or log(0)."""
        dim, _ = dim_args("log_softmax", dim, False, axis, None)
        dim = -1 if dim is None else dim
        if self.ndim == 0:
            _axes("log_softmax", dim, 0)
            return ops.LogSoftmax.apply(self.reshape(1), 0).reshape(())
        (d,) = _axes("log_softmax", dim, self.ndim)
        return ops.LogSoftmax.apply(self, d)

    def argmax(
        self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Index of the largest value along ``dim`` (of the flattened tensor when None)."""
        return self._arg_extreme("argmax", np.argmax, dim, keepdim, axis, keepdims)

    def argmin(
        self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Index of the smallest value along ``dim`` (of the flattened tensor when None)."""
        return self._arg_extreme("argmin", np.argmin, dim, keepdim, axis, keepdims)

    def _arg_extreme(self, op: str, find: Any, dim: Any, keepdim: Any, axis: Any, kd: Any):
        dim, keepdim = dim_args(op, dim, keepdim, axis, kd)
        if dim is not None:
            axes = _reducible_axes(op, dim, self.shape)
            dim = axes[0] if axes else None
        found = find(np.asarray(self.data), axis=dim, keepdims=keepdim and dim is not None)
        return Tensor._from_op(np.asarray(found, dtype=np.int64)[()], None)

    def all(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        """Whether every element is true (along ``dim``): a bool tensor, as in PyTorch."""
        axes = _axes("all", dim, self.ndim)
        return Tensor._from_op(np.all(self.data, axis=axes, keepdims=keepdim), None)

    def any(self, dim: Axis = None, keepdim: bool = False) -> Tensor:
        """Whether any element is true (along ``dim``): a bool tensor, as in PyTorch."""
        axes = _axes("any", dim, self.ndim)
        return Tensor._from_op(np.any(self.data, axis=axes, keepdims=keepdim), None)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """``(values, indices)`` sorted along ``dim``; the gradient goes back to each index."""
        indices = self.argsort(dim, descending)
        (d,) = _axes("sort", dim, max(self.ndim, 1))
        return ValuesIndices(self.gather(d, indices) if self.ndim else self, indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort the tensor along ``dim`` (a stable sort)."""
        (d,) = _axes("argsort", dim, max(self.ndim, 1))
        data = np.asarray(self.data).reshape(self.shape or (1,))
        order = np.argsort(-data if descending else data, axis=d, kind="stable")
        return Tensor._from_op(order.reshape(self.shape).astype(np.int64), None)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """``(values, indices)`` of the k largest (or smallest) elements along ``dim``."""
        (d,) = _axes("topk", dim, max(self.ndim, 1))
        size = self.shape[d] if self.ndim else 1
        if not 0 <= k <= size:
            raise IndexError(f"topk: k ({k}) is out of range for dimension {d} of size {size}")
        order = self.argsort(d, descending=largest).data
        indices = Tensor._from_op(np.take(order, np.arange(k), axis=d) if self.ndim else order, None)
        return ValuesIndices(self.gather(d, indices) if self.ndim else self, indices)

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
        (a,), (b,) = _axes("transpose", dim0, self.ndim), _axes("transpose", dim1, self.ndim)
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

    def squeeze(self, dim: Axis = None, *, axis: Axis = None) -> Tensor:
        """Remove dimensions of size 1 (all of them, or those of ``dim`` that are 1: as in
        PyTorch, naming a dimension of another size leaves it alone)."""
        dim, _ = dim_args("squeeze", dim, False, axis, None)
        axes = _axes("squeeze", dim, self.ndim) if dim is not None else range(self.ndim)
        kept = tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1)
        return self.reshape(kept)

    def unsqueeze(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Insert a dimension of size 1 at position ``dim``."""
        dim, _ = dim_args("unsqueeze", dim, False, axis, None)
        if dim is None:
            raise TypeError("unsqueeze() missing 1 required positional argument: 'dim'")
        (position,) = _axes("unsqueeze", dim, self.ndim + 1)
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
        dtype = to_dtype(dtype, "astype")
        if dtype.kind != "f":  # integers and booleans carry no gradient, as in PyTorch
            return Tensor._from_op(self.data.astype(dtype), None)
        return ops.Cast.apply(self, dtype)

    def float(self) -> Tensor:
        """Convert to float32 (PyTorch's float)."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """Convert to float64."""
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """Convert to int64 (no gradient flows through integers)."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """Convert to int32."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        return self.astype(np.bool_)

    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """``to(dtype)``, ``to(other_tensor)`` (its dtype), ``to('cpu')`` or ``to(device,
        dtype)``, as in PyTorch. The CPU is the only device: another one is an error."""
        dtype = to_arguments(args, dtype, device)
        if dtype is None or to_dtype(dtype, "to") == self.dtype:
            return self.clone() if copy else self
        return self.astype(dtype)

    @property
    def device(self) -> str:
        """Where the values are: always the CPU."""
        return "cpu"

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dimensions (the rest zero); the gradient passes
        where the values were kept."""
        keep = np.tril(np.ones(self.shape[-2:], dtype=bool), diagonal)
        return where(keep, self, 0)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dimensions (the rest zero)."""
        keep = np.triu(np.ones(self.shape[-2:], dtype=bool), diagonal)
        return where(keep, self, 0)

    def cpu(self) -> Tensor:
        return self

    def type(self, dtype: Any = None) -> Any:
        """With no argument the type's name (``'torch.FloatTensor'`` style); with a dtype,
        ``to(dtype)``."""
        if dtype is None:
            return f"torch.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
        return self.to(dtype)

    def size(self, dim: int | None = None) -> Any:
        """The shape (``size()``), or the size of one dimension (``size(dim)``)."""
        if dim is None:
            return self.shape
        (d,) = _axes("size", dim, max(self.ndim, 1))
        return self.shape[d] if self.ndim else 1

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self.ndim

    def nelement(self) -> int:
        return self.numel()

    def t(self) -> Tensor:
        """The transpose of a matrix (a vector or a scalar as it is), as PyTorch's ``t()``."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but it has {self.ndim}")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def contiguous(self) -> Tensor:
        """The tensor itself: NumPy arrays need no contiguous copy for any operation here."""
        return self

    def view(self, *shape: Any) -> Tensor:
        """``reshape``, with PyTorch's name (a view when NumPy can make one)."""
        return self.reshape(*shape)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradient passes through unchanged)."""
        return ops.Cast.apply(self, self.dtype)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, each without it."""
        (d,) = _axes("unbind", dim, self.ndim)
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
        listed sizes."""
        (d,) = _axes("split", dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n:
                raise ValueError(
                    f"split: sizes {sizes} add up to {sum(sizes)}, but dimension {d} has {n}"
                )
        if min(sizes) < 0:
            raise ValueError(f"split: sizes must not be negative, got {sizes}")
        lead, start, pieces = (slice(None),) * d, 0, []
        for size in sizes:  # (the checks of narrow are done above, once for all the pieces)
            pieces.append(ops.Index.apply(self, lead + (slice(start, start + size),)))
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` pieces of equal size (the last may be smaller), as PyTorch."""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        (d,) = _axes("chunk", dim, self.ndim)
        return self.split(max(-(-self.shape[d] // chunks), 1), d)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """The ``length`` elements from ``start`` along ``dim``."""
        (d,) = _axes("narrow", dim, self.ndim)
        if start < 0:
            start += self.shape[d]
        if not (0 <= start and start + length <= self.shape[d] and length >= 0):
            raise IndexError(
                f"narrow: start {start} and length {length} exceed dimension {d} of size "
                f"{self.shape[d]}"
            )
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def flip(self, *dims: Any) -> Tensor:
        """Reverse the order along each of ``dims``."""
        axes = _axes("flip", _shape_arg(dims), self.ndim)
        return self[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(self.ndim))]

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor ``sizes[i]`` times along each dimension (NumPy's ``tile``)."""
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(
                f"repeat: give at least as many sizes ({len(sizes)}) as dimensions ({self.ndim})"
            )
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        expanded = x.reshape(tuple(v for n in x.shape for v in (1, n)))
        tiled = expanded.expand(tuple(v for k, n in zip(sizes, x.shape) for v in (k, n)))
        return tiled.reshape(tuple(k * n for k, n in zip(sizes, x.shape)))

    def repeat_interleave(self, repeats: Any, dim: int | None = None) -> Tensor:
        """Repeat each element ``repeats`` times (along ``dim``; of the flattened tensor when
        None)."""
        x = self.reshape(-1) if dim is None else self
        (d,) = _axes("repeat_interleave", 0 if dim is None else dim, x.ndim)
        counts = np.broadcast_to(np.asarray(_plain(repeats)), (x.shape[d],))
        picks = np.repeat(np.arange(x.shape[d]), counts)
        return x[(slice(None),) * d + (picks,)]

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        """Split dimension ``dim`` into ``sizes`` (one of them may be -1)."""
        (d,) = _axes("unflatten", dim, self.ndim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor as its number, as in PyTorch."""
        if self.data.size == 1 and spec:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __index__(self) -> int:
        """A 0-d integer tensor used as an index: ``data[i:i + 8]``."""
        if self.ndim != 0 or self.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data)

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy indexing: ints, slices, None, ..., integer arrays and boolean masks. An element
        selected twice receives both gradients."""
        return ops.Index.apply(self, _index(index))

    # ---- more of PyTorch's operations: elementwise math, gathering and scattering -------------

    def _floating(self) -> Tensor:
        """Self if floating point; integers and booleans in the default dtype, as PyTorch's
        float-valued functions (sin, rsqrt, reciprocal ...) take them."""
        if self.dtype.kind == "f":
            return self

        return self.astype(get_default_dtype())

    def _integer_result(self, values: Any) -> Tensor:
        """The result of a rounding or a sign of an integer tensor: no gradient, its dtype."""
        return Tensor._from_op(np.asarray(values, dtype=self.dtype)[()], None)

    def floor(self) -> Tensor:
        """The largest integer <= x, elementwise. Its gradient is 0 (PyTorch's)."""
        if self.dtype.kind != "f":
            return self._integer_result(self.data)
        return ops.Floor.apply(self)

    def ceil(self) -> Tensor:
        """The smallest integer >= x, elementwise; gradient 0."""
        if self.dtype.kind != "f":
            return self._integer_result(self.data)
        return ops.Ceil.apply(self)

    def trunc(self) -> Tensor:
        """x rounded towards zero, elementwise; gradient 0."""
        if self.dtype.kind != "f":
            return self._integer_result(self.data)
        return ops.Trunc.apply(self)

    fix = trunc

    def round(self, decimals: int = 0) -> Tensor:
        """x rounded to ``decimals`` decimal places, halves to even (``2.5 -> 2``), as in
        PyTorch; gradient 0."""
        if self.dtype.kind != "f":
            return self._integer_result(np.round(self.data, decimals))
        return ops.Round.apply(self, int(decimals))

    def __round__(self, ndigits: int | None = None) -> Tensor:
        """``round(x)``: ``x.round()`` (PyTorch's Tensor has no ``__round__``: there
        ``round(x)`` is a TypeError)."""
        return self.round(0 if ndigits is None else ndigits)

    def sign(self) -> Tensor:
        """-1, 0 or 1 as x is negative, zero or positive; gradient 0."""
        if self.dtype == np.bool_:
            return self._integer_result(self.data)
        if self.dtype.kind != "f":
            return self._integer_result(np.sign(self.data))
        return ops.Sign.apply(self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x)."""
        return ops.Rsqrt.apply(self._floating())

    def log2(self) -> Tensor:
        return ops.Log2.apply(self._floating())

    def log10(self) -> Tensor:
        return ops.Log10.apply(self._floating())

    def exp2(self) -> Tensor:
        """2^x."""
        return ops.Exp2.apply(self._floating())

    def expm1(self) -> Tensor:
        """e^x - 1, accurate for tiny x."""
        return ops.Expm1.apply(self._floating())

    def sin(self) -> Tensor:
        return ops.Sin.apply(self._floating())

    def cos(self) -> Tensor:
        return ops.Cos.apply(self._floating())

    def tan(self) -> Tensor:
        return ops.Tan.apply(self._floating())

    def asin(self) -> Tensor:
        """The inverse of sin, in [-pi/2, pi/2] (nan outside [-1, 1])."""
        with np.errstate(invalid="ignore"):
            return ops.Asin.apply(self._floating())

    def acos(self) -> Tensor:
        """The inverse of cos, in [0, pi] (nan outside [-1, 1])."""
        with np.errstate(invalid="ignore"):
            return ops.Acos.apply(self._floating())

    def atan(self) -> Tensor:
        return ops.Atan.apply(self._floating())

    def sinh(self) -> Tensor:
        return ops.Sinh.apply(self._floating())

    def cosh(self) -> Tensor:
        return ops.Cosh.apply(self._floating())

    arcsin, arccos, arctan = asin, acos, atan

    def atan2(self, other: Any) -> Tensor:
        """The angle of the point (other, self) elementwise, in (-pi, pi] (broadcast)."""
        other = _operand_or_raise(other)
        other = other._floating() if isinstance(other, Tensor) else other
        return ops.Atan2.apply(*promote(self._floating(), other))

    arctan2 = atan2

    def square(self) -> Tensor:
        """x * x (booleans become int64, as in PyTorch)."""
        x = self.astype(np.int64) if self.dtype == np.bool_ else self
        return x * x

    def neg(self) -> Tensor:
        return -self

    negative = neg

    def reciprocal(self) -> Tensor:
        """1 / x (integers give the default dtype, as in PyTorch)."""
        return 1 / self._floating()

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """self + weight * (end - self): from self (weight 0) to end (weight 1), computed as
        PyTorch does (from end when |weight| >= 0.5, for accuracy)."""
        end = _operand_or_raise(end)
        diff = end - self
        if isinstance(weight, Tensor):
            near_start = np.abs(weight.data) < 0.5
            return where(near_start, self + weight * diff, end - diff * (1 - weight))
        weight = _operand_or_raise(weight)
        if np.ndim(weight) == 0 and abs(weight) < 0.5:
            return self + weight * diff
        if np.ndim(weight) == 0:
            return end - diff * (1 - weight)
        return where(np.abs(weight) < 0.5, self + weight * diff, end - diff * (1 - weight))

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit values to [min, max] (numbers or tensors, broadcast; either may be None):
        min(max(x, min), max). The gradient passes to x where min <= x <= max, to min where x
        < min, to max where x > max (and everywhere min > max, where the result is max)."""
        if min is None and max is None:
            raise ValueError("clamp (clip): at least one of 'min' or 'max' must not be None")
        if not isinstance(min, Tensor) and not isinstance(max, Tensor):
            return ops.Clip.apply(self, _plain(min), _plain(max))
        x, bounds = self, []
        for bound in (min, max):
            if bound is not None:
                x, bound = promote(x, _operand_or_raise(bound))
            bounds.append(bound)
        return ops.Clamp.apply(x, *bounds)

    clip = clamp

    def clamp_min(self, min: Any) -> Tensor:  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max: Any) -> Tensor:  # noqa: A002
        return self.clamp(max=max)

    # arithmetic as methods, and the operators PyTorch adds to Python's

    def add(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """self + alpha * other."""
        return self + (other if alpha == 1 else _operand_or_raise(other) * alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """self - alpha * other."""
        return self - (other if alpha == 1 else _operand_or_raise(other) * alpha)

    subtract = sub

    def mul(self, other: Any) -> Tensor:
        return self * other

    multiply = mul

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """self / other; with ``rounding_mode="trunc"`` rounded towards zero, with ``"floor"``
        rounded down (Python's ``//``); the rounded forms have gradient 0, as in PyTorch."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"{rounding_mode!r}"
            )
        return self._rounded_division(other, rounding_mode)

    divide = div

    def true_divide(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def __abs__(self) -> Tensor:
        return self.abs()

    def absolute(self) -> Tensor:
        return self.abs()

    def __floordiv__(self, other: Any) -> Tensor:
        """``x // y``: x / y rounded down, PyTorch's ``floor_divide`` (gradient 0)."""
        return self._rounded_division(other, "floor")

    def __rfloordiv__(self, other: Any) -> Tensor:
        return self._rounded_division(other, "floor", reflected=True)

    def floor_divide(self, other: Any) -> Tensor:
        return self._rounded_division(other, "floor")

    def __mod__(self, other: Any) -> Tensor:
        """``x % y``: the remainder with the sign of y (Python's ``%``, PyTorch's
        ``remainder``); its gradient is 1 for x and -floor(x / y) for y."""
        return self._rounded_division(other, ops.Remainder)

    def __rmod__(self, other: Any) -> Tensor:
        return self._rounded_division(other, ops.Remainder, reflected=True)

    def remainder(self, other: Any) -> Tensor:
        return self._rounded_division(other, ops.Remainder)

    def _rounded_division(self, other: Any, mode: Any, reflected: bool = False) -> Any:
        """x // y (``mode`` "floor"), x / y towards zero ("trunc") or x % y (``ops.Remainder``),
        with the operands' dtypes as the arithmetic operators give them."""
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        if type(other) not in _PYTHON_NUMBERS:
            a, b = promote(a, b)
        divisor = np.asarray(_plain(b))
        if np.result_type(_plain(a), divisor).kind in "biu" and np.any(divisor == 0):
            raise ZeroDivisionError("integer division (or remainder) by zero")
        if mode is ops.Remainder:
            return ops.Remainder.apply(a, b)
        return ops.DivideRounded.apply(a, b, mode)

    # logical and bitwise operations: bool tensors, no gradient

    def _bitwise(self, other: Any, ufunc: np.ufunc, op: str, reflected: bool = False) -> Any:
        """``x & y``, ``x | y``, ``x ^ y`` on bool and integer tensors (and Python ints and
        bools), as NumPy's ``ufunc``; floating point is a TypeError, as in PyTorch."""
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        for value in (self, other):
            dtype = np.asarray(_plain(value)).dtype
            if dtype.kind not in "biu":
                raise TypeError(
                    f"{op} is only for bool and integer tensors, got {dtype}; for a float tensor "
                    f"compare first (x > 0), or use logical_{op.removeprefix('bitwise_')}"
                )
        a, b = (self, other) if type(other) in _PYTHON_NUMBERS else promote(self, other)
        a, b = (_plain(b), _plain(a)) if reflected else (_plain(a), _plain(b))
        try:
            return Tensor._from_op(ufunc(a, b), None)
        except ValueError:
            raise autograd.broadcast_error(op, a, b) from None

    def __and__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_and, "bitwise_and")

    def __rand__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_and, "bitwise_and", reflected=True)

    def __or__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_or, "bitwise_or")

    def __ror__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_or, "bitwise_or", reflected=True)

    def __xor__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_xor, "bitwise_xor")

    def __rxor__(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_xor, "bitwise_xor", reflected=True)

    def bitwise_and(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_and, "bitwise_and")

    def bitwise_or(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_or, "bitwise_or")

    def bitwise_xor(self, other: Any) -> Tensor:
        return self._bitwise(other, np.bitwise_xor, "bitwise_xor")

    def __invert__(self) -> Tensor:
        """``~x``: logical not of a bool tensor, bitwise not of an integer one."""
        if self.dtype.kind not in "biu":
            raise TypeError(
                f"~ (operator.invert) is only implemented on integer and Boolean-type tensors, "
                f"got {self.dtype}; for a float tensor compare first (x == 0) or use logical_not"
            )
        return Tensor._from_op(np.invert(self.data), None)

    bitwise_not = __invert__

    def _logical(self, other: Any, ufunc: np.ufunc) -> Tensor:
        """A bool tensor: any nonzero value counts as true."""
        other = _plain(_operand_or_raise(other))
        try:
            return Tensor._from_op(ufunc(self.data, other), None)
        except ValueError:
            raise autograd.broadcast_error(ufunc.__name__, self.data, other) from None

    def logical_and(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_and)

    def logical_or(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_or)

    def logical_xor(self, other: Any) -> Tensor:
        return self._logical(other, np.logical_xor)

    def logical_not(self) -> Tensor:
        return Tensor._from_op(np.logical_not(self.data), None)

    # gathering, scattering and running sums

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` (bool, broadcast) is true, else x. The gradient reaches x
        where the mask is false, and ``value`` (a 0-d tensor) from everywhere it is true."""
        mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(
                f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}"
            )
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise ValueError(
                    "masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                    f"{value.ndim} dimension(s)"
                )
            value = value if value.dtype == self.dtype else value.astype(self.dtype)
        elif isinstance(value, (numbers.Number, np.generic)):
            value = np.asarray(value).astype(self.dtype)[()]  # as PyTorch: self's dtype
        else:
            raise TypeError(
                f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}"
            )
        return ops.MaskedFill.apply(self, value, mask)

    def gather(self, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
        """out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on): picks along ``dim``
        at ``index``, which has x's number of dimensions and no larger size than x in the
        others. The gradient is added back at the picked places (a scatter_add)."""
        d, index = self._index_along("gather", dim, index)
        return ops.Index.apply(self, self._open_grid(index, d))

    def scatter(
        self, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: str | None = None
    ) -> Tensor:
        """A copy of x with ``src`` written along ``dim`` at ``index``: out[index[i][j]][j] =
        src[i][j] for dim 0. ``src`` is a tensor (its leading part the size of index is used)
        or a number (``value``). The gradient of x is zero where something was written; src's
        is read back at index."""
        if reduce is not None:
            if reduce == "add":
                return self.scatter_add(dim, index, src)
            raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported here")
        if (src is None) == (value is None):
            raise TypeError("scatter: give src (a tensor or a number) or value (a number)")
        source = _operand_or_raise(value if src is None else src)
        if np.ndim(source) == 0 and not isinstance(source, Tensor):  # a number: written as is
            d, index = self._index_along("scatter", dim, index)
            return ops.IndexPut.apply(self, source, self._open_grid(index, d))
        source = to_tensor(source)
        self._same_dtype("scatter", source)
        d, index = self._index_along("scatter", dim, index, source, "src")
        grid = self._open_grid(index, d)
        return ops.IndexPut.apply(self, self._leading(source, index.shape), grid)

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """A copy of x with ``src`` added along ``dim`` at ``index``: out[index[i][j]][j] +=
        src[i][j] for dim 0; repeated indices add up. The gradient of x passes unchanged;
        src's is read back at index."""
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
        self._same_dtype("scatter_add", src)
        d, index = self._index_along("scatter_add", dim, index, src, "src")
        grid = self._open_grid(index, d)
        return self + ops.IndexAdd.apply(self._leading(src, index.shape), self.shape, grid)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The slices at ``index`` (a vector of integers) along ``dim``."""
        array = index.data if isinstance(index, Tensor) else np.asarray(index)
        self._check_integer_index("index_select", array)
        if array.ndim > 1:
            raise ValueError(
                f"index_select(): Index is supposed to be a vector, got {array.ndim} dimensions"
            )
        (d,) = _axes("index_select", dim, self.ndim)
        self._check_index_range("index_select", array, d, self.shape[d])
        return ops.Index.apply(self, (slice(None),) * d + (array.reshape(-1),))

    def _index_along(
        self, op: str, dim: int, index: Any, src: Tensor | None = None, src_name: str = ""
    ) -> tuple[int, np.ndarray]:
        """``dim`` as an axis and ``index`` as an integer array, checked as PyTorch checks
        gather's and scatter's: as many dimensions as x, no larger than x apart from ``dim``
        (and than src everywhere), values in [0, size of dim)."""
        array = index.data if isinstance(index, Tensor) else np.asarray(index)
        self._check_integer_index(op, array)
        (d,) = _axes(op, dim, self.ndim)
        if array.ndim != self.ndim:
            raise ValueError(
                f"{op}(): Index tensor must have the same number of dimensions as input tensor: "
                f"index has {array.ndim}, the tensor {self.ndim}"
            )
        if src is not None and src.ndim != array.ndim:
            raise ValueError(
                f"{op}(): Index tensor must have the same number of dimensions as {src_name} "
                f"tensor: index has {array.ndim}, {src_name} {src.ndim}"
            )
        too_big = any(n > self.shape[a] for a, n in enumerate(array.shape) if a != d)
        if src is not None:
            too_big = too_big or any(n > m for n, m in zip(array.shape, src.shape))
        if too_big:
            also = "" if src is None else f" and to be no larger than {src_name} {list(src.shape)}"
            raise ValueError(
                f"{op}(): Expected index {list(array.shape)} to be no larger than self "
                f"{list(self.shape)} apart from dimension {d}{also}"
            )
        self._check_index_range(op, array, d, self.shape[d])
        return d, array

    def cumsum(self, dim: int, *, dtype: Any = None) -> Tensor:
        """Running sums along ``dim``: out[k] = x[0] + ... + x[k]."""
        return self._running("cumsum", ops.Cumsum, dim, dtype)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        """Running products along ``dim``: out[k] = x[0] * ... * x[k] (zeros included in the
        gradient, as in PyTorch)."""
        return self._running("cumprod", ops.Cumprod, dim, dtype)

    def _running(self, op: str, function: type, dim: int, dtype: Any) -> Tensor:
        x = self if dtype is None else self.astype(dtype)
        if x.ndim == 0:
            _axes(op, dim, 1)
            return function.apply(x.reshape(1), 0).reshape(())
        (d,) = _axes(op, dim, x.ndim)
        return function.apply(x, d)

    @staticmethod
    def _open_grid(index: np.ndarray, dim: int) -> tuple:
        """The NumPy index that picks ``x[..., index[i, j, k], ...]`` at every position (i, j,
        k) of ``index``: ``index`` itself for ``dim``, and for every other axis its positions
        0, 1, ... (as ``np.ix_`` makes them, broadcasting to the index's shape)."""
        ndim = index.ndim
        return tuple(
            index if a == dim else np.arange(n).reshape((n,) + (1,) * (ndim - a - 1))
            for a, n in enumerate(index.shape)
        )

    @staticmethod
    def _leading(src: Tensor, shape: tuple) -> Tensor:
        """The part of ``src`` of ``shape`` at its start (all of it when it is that shape)."""
        if src.shape == shape:
            return src
        return src[tuple(slice(0, n) for n in shape)]

    @staticmethod
    def _check_integer_index(op: str, index: np.ndarray) -> None:
        if index.dtype.kind not in "iu":
            raise TypeError(f"{op}(): Expected dtype int64 for index, got {index.dtype}")

    @staticmethod
    def _check_index_range(op: str, index: np.ndarray, dim: int, size: int) -> None:
        """Every index in [0, size): negative ones are out of range too, as in PyTorch."""
        bad = index[(index < 0) | (index >= size)]
        if bad.size:
            raise IndexError(
                f"{op}(): index {bad.flat[0]} is out of bounds for dimension {dim} with size {size}"
            )

    def _same_dtype(self, op: str, src: Tensor) -> None:
        if src.dtype != self.dtype:
            raise TypeError(
                f"{op}(): Expected self.dtype to be equal to src.dtype: the tensor is "
                f"{self.dtype}, src {src.dtype}"
            )


autograd.register_tensor_class(Tensor)  # the engine creates and recognises Tensors from now on


class _HookHandle:
    """What ``Tensor.register_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Any) -> None:
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        self.hooks[:] = [hook for hook in self.hooks if hook is not self.hook]

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
    np.floor_divide: ("__floordiv__", "__rfloordiv__"),
    np.remainder: ("__mod__", "__rmod__"),
    np.bitwise_and: ("__and__", "__rand__"),
    np.bitwise_or: ("__or__", "__ror__"),
    np.bitwise_xor: ("__xor__", "__rxor__"),
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
    """Elementwise maximum; where a == b each side receives half the gradient (PyTorch). On
    bools and integers (no gradient) NumPy's maximum: for bools, logical or."""
    a, b = promote(_operand_or_raise(a), _operand_or_raise(b))
    if np.result_type(_plain(a), _plain(b)).kind != "f":
        return Tensor._from_op(np.maximum(_plain(a), _plain(b)), None)
    return ops.Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum, min(a, b) = -max(-a, -b); ties share the gradient as in maximum."""
    a, b = _operand_or_raise(a), _operand_or_raise(b)
    if np.result_type(_plain(a), _plain(b)).kind != "f":  # bools and ints: no gradient
        return Tensor._from_op(np.minimum(_plain(a), _plain(b)), None)
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
    tensors = [to_tensor(t) for t in tensors]
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
    tensors = [to_tensor(t) for t in tensors]
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
    if type(other) is Tensor:
        if other._data.dtype != tensor._data.dtype:  # (one dtype: nothing to promote)
            tensor, other = promote(tensor, other)
    elif type(other) not in _PYTHON_NUMBERS:  # NumPy keeps the tensor's dtype for those
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        if type(other) not in _PYTHON_NUMBERS:
            tensor, other = promote(tensor, other)
    return function.apply(other, tensor) if reflected else function.apply(tensor, other)


_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}
_PYTHON_NUMBERS = ops.PYTHON_NUMBERS


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's type promotion where it differs from NumPy's: a 0-d operand (a NumPy scalar,
    a 0-d array or a 0-d tensor) of the same or a lower kind (bool < int < float) takes the
    dtype of a tensor with dimensions, so that ``x32 * np.float64(2)`` and ``x32 /
    np.sqrt(64)`` stay float32; one of a higher kind gives its own dtype (an int tensor times a
    0-d float32 is float32). Between alike operands (both 0-d, or both with dimensions) a
    higher kind wins (an int64 tensor and a float32 tensor give float32), and within a kind
    NumPy's promotion holds. Python numbers already act so in NumPy."""
    if type(a) in _PYTHON_NUMBERS or type(b) in _PYTHON_NUMBERS:
        return a, b
    a_data, b_data = _plain(a), _plain(b)
    if a_data.dtype == b_data.dtype:
        return a, b
    if (a_data.ndim == 0) == (b_data.ndim == 0):  # alike: a higher kind wins, as in PyTorch
        a_kind, b_kind = _KIND_ORDER[a_data.dtype.kind], _KIND_ORDER[b_data.dtype.kind]
        if a_kind < b_kind:
            return _as_dtype(a, b_data.dtype), b
        if b_kind < a_kind:
            return a, _as_dtype(b, a_data.dtype)
        return a, b  # the same kind: NumPy's promotion, which PyTorch shares
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


def to_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a new Tensor of it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _plain(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _axes(op: str, axis: Axis, ndim: int, unique: bool = True) -> tuple[int, ...] | None:
    """Normalise an axis argument to a tuple of non-negative ints, checking the range."""
    if type(axis) is int and -ndim <= axis < ndim:  # the usual case, one dim in range, first
        return (axis % ndim,)
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
        if ndim == 0 and a in (0, -1):  # a 0-d tensor has dims 0 and -1, of nothing to reduce
            continue
        if not -ndim <= a < ndim:
            low, high = -max(ndim, 1), max(ndim, 1) - 1
            raise IndexError(
                f"{op}: dim {a} is out of range for a tensor with {ndim} dimensions (expected "
                f"a dim in [{low}, {high}])"
            )
        result.append(int(a) % ndim)
    if unique and len(set(result)) != len(result):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(result)


ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What max(dim), min(dim), sort and topk return, as PyTorch's named tuples."


def dim_args(op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple[Any, bool]:
    """PyTorch's ``dim``/``keepdim``, or NumPy's ``axis``/``keepdims`` as aliases."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give dim or axis, not both (they are the same argument)")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _correction(op: str, unbiased: Any, correction: Any, ddof: Any) -> float:
    """var/std's correction: PyTorch's ``correction`` (1 by default), ``unbiased`` (True is 1,
    False is 0), or NumPy's ``ddof``; at most one of them."""
    given = [name for name, v in (("unbiased", unbiased), ("correction", correction),
                                  ("ddof", ddof)) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: give one of unbiased, correction and ddof, got {given}")
    if unbiased is not None:
        return 1.0 if unbiased else 0.0
    value = correction if correction is not None else ddof
    return 1.0 if value is None else float(value)


_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
    "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor",
}


def is_device(value: Any) -> bool:
    return isinstance(value, str) or type(value).__name__ == "device"


def to_arguments(args: tuple, dtype: Any, device: Any) -> Any:
    """The dtype that ``to(*args, dtype=, device=)`` asks for (None for none), as PyTorch reads
    them: a Tensor stands for its dtype, a device string or ``tg.device`` for the device (the
    CPU, checked), anything else for a dtype. Tensor.to and Module.to share it."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif is_device(arg):
            device = arg
        else:
            dtype = arg
    if device is not None:
        check_device(device)
    return dtype


def check_device(device: Any) -> None:
    """Accept the CPU (``'cpu'``, ``'cpu:0'`` or a device object), refuse any other device."""
    name = device if isinstance(device, str) else getattr(device, "type", str(device))
    if name.split(":")[0] != "cpu":
        raise RuntimeError(
            f"device {device!r} is not available: tinygrad_edu runs on the CPU only "
            "(use device='cpu'; tg.cuda.is_available() is False)"
        )


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
    """``new``, a shape for the elements of a tensor of shape ``old``, as a tuple of ints, its
    -1 (if any) worked out; a ValueError if it cannot hold them."""
    size = math.prod(old)
    # the usual cases first, without the general case's passes over the shape: every size a
    # non-negative int (W8, ten views a step: 0.991 and 0.995 of its time), or one of them
    # -1, as in view(-1) and view(-1, vocab) (W6, three a step: 1.2 us each instead of 4-5)
    if all(type(n) is int and n >= -1 for n in new):
        product = math.prod(new)  # (with one -1: minus the product of the others)
        if product == size and -1 not in new:
            return new
        if product < 0 and size % -product == 0 and new.count(-1) == 1:
            return tuple([size // -product if n == -1 else n for n in new])
    if sum(1 for n in new if n == -1) > 1:
        raise ValueError(f"only one dimension can be -1, got {new}")
    if any(n < -1 for n in new):
        raise ValueError(f"sizes must be non-negative (or -1, worked out), got {new}")
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

