"""PyTorch's free functions: ``torch.exp(x)``, ``torch.sum(x, dim=1)``, ``torch.einsum(...)``.

Lecture code calls most operations both ways, ``x.exp()`` and ``torch.exp(x)``. Each function
here takes PyTorch's arguments, with PyTorch's names, and calls the Tensor method that does
the work, so it holds no gradient rule of its own. The few that have no method are composed
from methods and primitives the same way: ``einsum`` (one primitive, ``ops.Einsum``), ``pad``
(cropping by indexing, then ``ops.ConstantPad`` or indexing again), ``prod`` (the last of the
running products), ``where``, ``maximum``/``minimum`` on bool and integer tensors, and the
comparisons ``allclose``, ``isclose`` and ``equal``.

Several names here are also Python builtins (``sum``, ``max``, ``min``, ``abs``, ``round``,
``all``, ``any``, ``pow``): this module uses the builtins as ``builtins.max`` and so on.
"""

from __future__ import annotations

import builtins
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import ops
from .dtypes import get_default_dtype
from .tensor import Tensor, _axes, _operand_or_raise, dim_args, to_tensor
from .tensor import cat as _cat
from .tensor import matmul as _matmul
from .tensor import maximum as _maximum
from .tensor import minimum as _minimum
from .tensor import stack as _stack
from .tensor import where as _where


def _cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype`` first (PyTorch's ``dtype=`` argument), or as it is."""
    return x if dtype is None or np.dtype(dtype) == x.dtype else x.astype(dtype)


# ---- elementwise math ------------------------------------------------------------------------


def exp(input: Tensor) -> Tensor:
    return to_tensor(input).exp()


def exp2(input: Tensor) -> Tensor:
    return to_tensor(input).exp2()


def expm1(input: Tensor) -> Tensor:
    return to_tensor(input).expm1()


def log(input: Tensor) -> Tensor:
    return to_tensor(input).log()


def log2(input: Tensor) -> Tensor:
    return to_tensor(input).log2()


def log10(input: Tensor) -> Tensor:
    return to_tensor(input).log10()


def log1p(input: Tensor) -> Tensor:
    return to_tensor(input).log1p()


def sqrt(input: Tensor) -> Tensor:
    return to_tensor(input).sqrt()


def rsqrt(input: Tensor) -> Tensor:
    return to_tensor(input).rsqrt()


def square(input: Tensor) -> Tensor:
    return to_tensor(input).square()


def reciprocal(input: Tensor) -> Tensor:
    return to_tensor(input).reciprocal()


def abs(input: Tensor) -> Tensor:
    return to_tensor(input).abs()


absolute = abs


def neg(input: Tensor) -> Tensor:
    return -to_tensor(input)


negative = neg


def sign(input: Tensor) -> Tensor:
    return to_tensor(input).sign()


def floor(input: Tensor) -> Tensor:
    return to_tensor(input).floor()


def ceil(input: Tensor) -> Tensor:
    return to_tensor(input).ceil()


def trunc(input: Tensor) -> Tensor:
    return to_tensor(input).trunc()


fix = trunc


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    return to_tensor(input).round(decimals)


def sin(input: Tensor) -> Tensor:
    return to_tensor(input).sin()


def cos(input: Tensor) -> Tensor:
    return to_tensor(input).cos()


def tan(input: Tensor) -> Tensor:
    return to_tensor(input).tan()


def asin(input: Tensor) -> Tensor:
    return to_tensor(input).asin()


def acos(input: Tensor) -> Tensor:
    return to_tensor(input).acos()


def atan(input: Tensor) -> Tensor:
    return to_tensor(input).atan()


arcsin, arccos, arctan = asin, acos, atan


def atan2(input: Tensor, other: Any) -> Tensor:
    """The angle of the point (other, input), elementwise, in (-pi, pi]."""
    return to_tensor(input).atan2(other)


arctan2 = atan2


def sinh(input: Tensor) -> Tensor:
    return to_tensor(input).sinh()


def cosh(input: Tensor) -> Tensor:
    return to_tensor(input).cosh()


def tanh(input: Tensor) -> Tensor:
    return to_tensor(input).tanh()


def sigmoid(input: Tensor) -> Tensor:
    return to_tensor(input).sigmoid()


def relu(input: Tensor) -> Tensor:
    return to_tensor(input).relu()


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``input`` limited to [min, max]; numbers or tensors (broadcast), either may be None."""
    return to_tensor(input).clamp(min, max)


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    return to_tensor(input).clamp(min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    return to_tensor(input).clamp(max=max)


def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """input + weight * (end - input)."""
    return to_tensor(input).lerp(end, weight)


# ---- arithmetic as functions -----------------------------------------------------------------


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha * other."""
    return to_tensor(input).add(other, alpha=alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input - alpha * other."""
    return to_tensor(input).sub(other, alpha=alpha)


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    return to_tensor(input) * other


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other; ``rounding_mode`` "trunc" or "floor" rounds the quotient."""
    return to_tensor(input).div(other, rounding_mode=rounding_mode)


divide = div


def true_divide(input: Any, other: Any) -> Tensor:
    return to_tensor(input) / other


def floor_divide(input: Any, other: Any) -> Tensor:
    return to_tensor(input).floor_divide(other)


def remainder(input: Any, other: Any) -> Tensor:
    return to_tensor(input).remainder(other)


def pow(input: Any, exponent: Any) -> Tensor:
    """input ** exponent; either may be a number."""
    return input**exponent if isinstance(input, Tensor) else _operand_or_raise(input) ** exponent


# ---- logical and bitwise: no gradient ----------------------------------------------------------


def logical_and(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).logical_and(other)


def logical_or(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).logical_or(other)


def logical_xor(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).logical_xor(other)


def logical_not(input: Tensor) -> Tensor:
    return to_tensor(input).logical_not()


def bitwise_and(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).bitwise_and(other)


def bitwise_or(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).bitwise_or(other)


def bitwise_xor(input: Tensor, other: Any) -> Tensor:
    return to_tensor(input).bitwise_xor(other)


def bitwise_not(input: Tensor) -> Tensor:
    return ~to_tensor(input)


# ---- gathering, scattering, running sums -------------------------------------------------------


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    return input.masked_fill(mask, value)


def gather(input: Tensor, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    return input.gather(dim, index)


def scatter(
    input: Tensor,
    dim: int,
    index: Any,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    return input.scatter_add(dim, index, src)


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    return input.index_select(dim, index)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return input.cumsum(dim, dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return input.cumprod(dim, dtype=dtype)


# ---- reductions --------------------------------------------------------------------------------
#
# PyTorch also takes NumPy's names ``axis`` and ``keepdims`` for ``dim`` and ``keepdim``.


def sum(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
    return _cast(input, dtype).sum(dim=dim, keepdim=keepdim)


def mean(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
    return _cast(input, dtype).mean(dim=dim, keepdim=keepdim)


def prod(
    input: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: int | None = None,
    keepdims: bool | None = None,
) -> Tensor:
    """The product of the elements (along ``dim``): the last of the running products, so its
    gradient is cumprod's, zeros included."""
    dim, keepdim = dim_args("prod", dim, keepdim, axis, keepdims)
    x = _cast(input, dtype)
    if dim is None:
        flat = x.reshape(-1)
        total = flat.cumprod(0)[-1] if flat.shape[0] else _empty_product(flat, ())
        return total.reshape((1,) * x.ndim) if keepdim else total
    (d,) = _axes("prod", dim, builtins.max(x.ndim, 1))
    if x.ndim == 0:
        return x.cumprod(0)
    if x.shape[d] == 0:
        shape = x.shape[:d] + ((1,) if keepdim else ()) + x.shape[d + 1 :]
        return _empty_product(x, shape)
    return x.cumprod(d)[(slice(None),) * d + (slice(-1, None) if keepdim else -1,)]


def _empty_product(x: Tensor, shape: tuple) -> Tensor:
    """The product of no elements: 1, of NumPy's dtype for a product of ``x``'s."""
    return Tensor(np.ones(shape, dtype=np.prod(np.ones(0, dtype=x.dtype)).dtype))


def max(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Any:
    """``max(x)``: the largest value; ``max(x, dim)``: ``(values, indices)``; ``max(x, y)``:
    the elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    dim, keepdim = dim_args("max", dim, keepdim, axis, keepdims)
    return input.max(dim=dim, keepdim=keepdim)


def min(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Any:
    """As `max`, for the smallest."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    dim, keepdim = dim_args("min", dim, keepdim, axis, keepdims)
    return input.min(dim=dim, keepdim=keepdim)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The largest values along ``dim`` (every dimension when ``()``, PyTorch's default)."""
    return input.amax(None if dim == () else dim, keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return input.amin(None if dim == () else dim, keepdim)


def argmax(
    input: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: int | None = None,
) -> Tensor:
    dim, keepdim = dim_args("argmax", dim, keepdim, axis, None)
    return input.argmax(dim=dim, keepdim=keepdim)


def argmin(
    input: Tensor,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    axis: int | None = None,
) -> Tensor:
    dim, keepdim = dim_args("argmin", dim, keepdim, axis, None)
    return input.argmin(dim=dim, keepdim=keepdim)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim`` (a stable sort either way); the gradient of
    the values goes back to the element each came from."""
    return input.sort(dim, descending, stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (a stable sort either way)."""
    return input.argsort(dim, descending, stable)


def topk(
    input: Tensor, k: int, dim: int | None = None, largest: bool = True, sorted: bool = True
) -> Any:
    """``(values, indices)`` of the ``k`` largest (or, with ``largest=False``, smallest)
    elements along ``dim`` (the last by default), always in order, largest (smallest) first:
    ``sorted=False`` allows any order, so this one too."""
    return input.topk(k, -1 if dim is None else dim, largest, sorted)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return _cast(input, dtype).softmax(dim)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    return _cast(input, dtype).log_softmax(dim)


def logsumexp(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    dim, keepdim = dim_args("logsumexp", dim, keepdim, axis, keepdims)
    if dim is None:
        raise TypeError("logsumexp() missing 1 required positional argument: 'dim'")
    return input.logsumexp(dim=dim, keepdim=keepdim)


def var(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Variance, unbiased (divided by N - 1) by default; ``var(x, False)`` or
    ``correction=0`` divides by N."""
    if isinstance(dim, bool):  # var(x, unbiased)
        dim, unbiased = None, dim
    dim, keepdim = dim_args("var", dim, keepdim, axis, keepdims)
    return input.var(dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)


def std(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
) -> Tensor:
    """sqrt(var), with var's arguments."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    dim, keepdim = dim_args("std", dim, keepdim, axis, keepdims)
    return input.std(dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element is nonzero (along ``dim``): a bool tensor."""
    return _logical_reduction("all", np.all, input, dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether some element is nonzero (along ``dim``): a bool tensor."""
    return _logical_reduction("any", np.any, input, dim, keepdim)


def _logical_reduction(op: str, reduce: Any, input: Any, dim: Any, keepdim: bool) -> Tensor:
    data = np.asarray(input.data if isinstance(input, Tensor) else input)
    axes = _axes(op, dim, data.ndim)
    return Tensor._from_op(np.asarray(reduce(data, axis=axes, keepdims=keepdim))[()], None)


# ---- comparisons -------------------------------------------------------------------------------


def _values(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def isclose(
    input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """|input - other| <= atol + rtol * |other|, elementwise (broadcast): a bool tensor."""
    close = np.isclose(_values(input), _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan)
    return Tensor._from_op(np.asarray(close)[()], None)


def allclose(
    input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every element is close (``isclose``): a Python bool."""
    return bool(
        np.allclose(_values(input), _values(other), rtol=rtol, atol=atol, equal_nan=equal_nan)
    )


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether both have the same shape and the same values: a Python bool."""
    return bool(np.array_equal(_values(input), _values(other)))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` is true, else ``other`` (broadcast; either may be a
    number, which takes the tensor's dtype as in PyTorch: ``where(c, x32, 0.0)`` is float32,
    ``where(c, 1.0, 0.0)`` of the default dtype). ``where(condition)`` alone is ``nonzero(as_tuple=True)``:
    the indices of the true elements, one int64 tensor per dimension."""
    if input is None and other is None:
        return tuple(Tensor(i) for i in np.nonzero(_values(condition)))
    if input is None or other is None:
        raise TypeError("where: give both input and other (or neither)")
    return _where(condition, *_with_number_dtypes(input, other))


_KIND = {"b": 0, "u": 1, "i": 1, "f": 2}


def _number_kind(x: Any) -> int | None:
    """bool 0, int 1, float 2 for a Python number; None for anything else."""
    if isinstance(x, np.generic) or not isinstance(x, numbers.Real):
        return None  # a tensor, an array, or a NumPy scalar (which has a dtype)
    if isinstance(x, bool):
        return 0
    return 1 if isinstance(x, numbers.Integral) else 2


def _with_number_dtypes(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's dtypes for two operands of which some are Python numbers: a number takes
    the other operand's dtype if it is of the same kind or a lower one (bool < int < float);
    a number of a higher kind gives the default dtype of its kind (int64; for floats
    ``get_default_dtype()``)."""
    kinds = [_number_kind(a), _number_kind(b)]
    if kinds == [None, None]:
        return a, b
    number_kind = builtins.max(k for k in kinds if k is not None)
    others = [v for v, k in zip((a, b), kinds) if k is None]
    dtype = [np.dtype(np.bool_), np.dtype(np.int64), get_default_dtype()][number_kind]
    if others:
        other_dtype = _values(others[0]).dtype
        if _KIND[other_dtype.kind] >= number_kind:
            dtype = other_dtype
    return tuple(
        np.asarray(v, dtype=dtype)[()] if k is not None else _cast(to_tensor(v), dtype)
        for v, k in zip((a, b), kinds)
    )


def maximum(input: Any, other: Any) -> Tensor:
    """The elementwise maximum; ties share the gradient. On bool and integer tensors (no
    gradient) NumPy's maximum: for bools, logical or."""
    return _maximum(input, other)


def minimum(input: Any, other: Any) -> Tensor:
    """The elementwise minimum; for bools, logical and."""
    return _minimum(input, other)


# ---- matrix products ---------------------------------------------------------------------------


def matmul(input: Any, other: Any) -> Tensor:
    return _matmul(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (2-d only; ``matmul`` broadcasts)."""
    _check_ndim("mm", {"input": input, "mat2": mat2}, 2)
    return _matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Products of two batches of matrices, (b, n, m) @ (b, m, p) -> (b, n, p), no broadcast."""
    _check_ndim("bmm", {"input": input, "mat2": mat2}, 3)
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(
            f"bmm: batch1 and batch2 must have the same number of matrices, got {input.shape[0]} "
            f"and {mat2.shape[0]}"
        )
    return _matmul(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """A matrix times a vector."""
    _check_ndim("mv", {"input": input}, 2)
    _check_ndim("mv", {"vec": vec}, 1)
    return _matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two vectors of the same length."""
    _check_ndim("dot", {"input": input, "other": other}, 1)
    if input.shape != other.shape:
        raise ValueError(
            f"dot: inconsistent tensor size, expected tensors of the same length, got "
            f"{input.shape[0]} and {other.shape[0]}"
        )
    return _matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """out[i, j] = input[i] * vec2[j]."""
    _check_ndim("outer", {"input": input, "vec2": vec2}, 1)
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def _check_ndim(op: str, tensors: dict, ndim: int) -> None:
    kind = {1: "a vector (1-d)", 2: "a matrix (2-d)", 3: "a 3-d tensor (a batch of matrices)"}
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != ndim:
            raise ValueError(f"{op}: {name} must be {kind[ndim]}, got shape {t.shape}")


def einsum(equation: Any, *operands: Any) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``, ``"bij,bjk->bik"`` a
    batched product, ``"i,j->ij"`` an outer product, ``"ii->"`` a trace, ``"...ij->...ji"`` a
    transpose of the last two dimensions. Without ``->`` the output has the ellipsis's
    dimensions, then the letters used once, in alphabetical order. The operands may be given
    as one list; the sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` works too.
    Differentiable: each operand's gradient is another einsum."""
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation, *operands))
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return ops.Einsum.apply(equation, *[to_tensor(op) for op in operands])


def _sublist_equation(args: tuple) -> tuple[str, tuple]:
    """``(a, [0, 1], b, [1, 2], [0, 2])`` -> ``("ab,bc->ac", (a, b))``."""
    letters = ops._LETTERS

    def term(sublist: Sequence) -> str:
        return "".join("..." if s is Ellipsis else letters[s] for s in sublist)

    operands, terms = args[0::2], [term(s) for s in args[1::2]]
    if len(args) % 2:  # an output sublist at the end
        operands, output = operands[:-1], "->" + term(args[-1])
    else:
        output = ""
    return ",".join(terms) + output, operands


# ---- padding -----------------------------------------------------------------------------------


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: Any = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the last dimensions: ``pad`` is (left, right) for
    the last dimension, then (top, bottom) for the one before, and so on, as PyTorch's
    ``F.pad``. ``mode``: "constant" (with ``value``, 0 by default), "reflect" (mirrored
    without repeating the edge), "replicate" (the edge repeated) or "circular" (wrapped
    around). The gradient is the output's gradient at the places each element went to."""
    widths = _pad_widths(input, pad)
    if mode != "constant" and mode not in _PAD_INDEX:
        raise ValueError(
            f"pad: unrecognised padding mode {mode!r}; use 'constant', 'reflect', 'replicate' "
            "or 'circular'"
        )
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
    padded = len(pad) // 2
    if mode != "constant" and (padded > 3 or input.ndim - padded not in (1, 2)):
        raise NotImplementedError(
            f"pad: {mode} padding pads the last 1, 2 or 3 dimensions of a tensor with one or two "
            f"more (channels, or batch and channels): got {len(pad)} pad sizes for a tensor of "
            f"shape {input.shape}"
        )
    x = input
    if mode in ("constant", "circular"):  # negative widths cut first, as in PyTorch
        x, widths = _crop(input, widths)
    if not builtins.any(before or after for before, after in widths):
        return x
    if mode == "constant":
        return ops.ConstantPad.apply(x, tuple(widths), 0 if value is None else value)
    # reflect and replicate: output position i shows the input at i - before, mirrored or
    # clipped into range; circular: wrapped around the (cut) input
    for axis, (before, after) in enumerate(widths):
        if before or after:
            index = _PAD_INDEX[mode](np.arange(-before, x.shape[axis] + after), x.shape[axis])
            x = x[(slice(None),) * axis + (index,)]
    return x


def _pad_widths(input: Tensor, pad: Sequence[int]) -> list[tuple[int, int]]:
    """(before, after) for every dimension, from PyTorch's pad tuple (last dimension first)."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise ValueError(
            f"pad: padding length should be less than or equal to two times the input "
            f"dimension but got padding length {len(pad)} and input of dimension {input.ndim}"
        )
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        axis = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if input.shape[axis] + before + after < 0:
            raise ValueError(
                f"pad: the input size {input.shape[axis]}, plus negative padding {before} and "
                f"{after} resulted in a negative output size, which is invalid. Check dimension "
                f"{axis} of your input."
            )
        widths[axis] = (before, after)
    return widths


def _crop(x: Tensor, widths: list) -> tuple[Tensor, list[tuple[int, int]]]:
    """``x`` cut where a width is negative (by indexing), and the widths left to pad."""
    if not builtins.any(before < 0 or after < 0 for before, after in widths):
        return x, widths
    low, high = builtins.min, builtins.max
    for axis, ((b, a), n) in enumerate(zip(widths, x.shape)):
        if n + low(b, 0) + low(a, 0) < 0:
            raise ValueError(
                f"pad: the negative padding {b} and {a} cuts more than the size {n} of "
                f"dimension {axis}"
            )
    x = x[tuple(slice(-low(b, 0), n + low(a, 0)) for (b, a), n in zip(widths, x.shape))]
    return x, [(high(b, 0), high(a, 0)) for b, a in widths]


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    if np.any(index <= -n) or np.any(index >= 2 * n - 1):
        raise ValueError(
            f"pad: reflect padding must be less than the size of the dimension it pads ({n})"
        )
    index = np.abs(index)
    return np.where(index >= n, 2 * (n - 1) - index, index)


def _replicate(index: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        raise ValueError("pad: replicate padding needs a dimension of size at least 1")
    return np.clip(index, 0, n - 1)


def _circular(index: np.ndarray, n: int) -> np.ndarray:
    if np.any(index < -n) or np.any(index >= 2 * n):
        raise ValueError(
            f"pad: circular padding may wrap around at most once (the size of the dimension, {n})"
        )
    return index % n


_PAD_INDEX = {"reflect": _reflect, "replicate": _replicate, "circular": _circular}


# ---- shapes ------------------------------------------------------------------------------------


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    return input.reshape(tuple(shape))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return input.transpose(dim0, dim1)


swapaxes = transpose


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    return input.permute(*dims)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    return input.squeeze(dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    return input.unsqueeze(dim)


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension."""
    return _cat(tensors, dim if axis is None else axis)


concat = concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of one shape along a new dimension."""
    return _stack(tensors, dim if axis is None else axis)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tensor.split(split_size_or_sections, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return input.chunk(chunks, dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    return input.unbind(dim)


def flip(input: Tensor, dims: Sequence[int]) -> Tensor:
    return input.flip(*dims) if isinstance(dims, (list, tuple)) else input.flip(dims)
