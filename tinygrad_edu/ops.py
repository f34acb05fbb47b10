"""The primitives: the small closed set of operations that carry every gradient rule. Read
this file third (after ``grad_mode.py`` and ``autograd.py``).

Each is a `Function`: ``forward`` computes on NumPy arrays, ``backward`` turns dL/d(output) into
dL/d(input) for each input. Everything else the library offers (var, logsumexp, the losses,
the layers) is composed from these, so this file is the one place to read a gradient rule. Seven
composites that networks run on every step (Linear, Mean, LogSoftmax, NLLLoss, CrossEntropy,
Standardize for batch normalisation and LayerNorm for layer normalisation) are primitives of
their own, for speed; each gives its measured gain, and the tests check it against its
composition.

Conventions that keep each backward short:

* Broadcasting is not a backward's business: it may return a gradient at the output's shape,
  and the engine sums it back to the input's shape (``autograd.sum_to_shape``).
* A backward is written with operators and ``reshape``/``sum``/``swapaxes``/indexing, which
  arrays and Tensors share, so the same code runs on arrays (an ordinary backward) and, under
  ``create_graph=True``, on Tensors, recording the backward pass as a graph of its own. What
  has no operator goes through ``math_for(ctx)``: NumPy's functions in an ordinary backward,
  the primitives themselves under ``create_graph``. (A few backwards that a training step
  leans on, cross-entropy's and normalisation's here, GELU's and attention's in
  ``nn/functional.py``, compute the same formula in place in the arrays they create, and keep
  the formula on Tensors for ``create_graph``: a speed trick, with its measured gain.)
* A backward saves only inputs and the output (``ctx.save_for_backward``); constants such as
  masks computed in forward (``x > 0``) are attributes of ``ctx``: their derivative is zero
  wherever it exists.
* At kinks the conventions are PyTorch's: relu'(0) = 0, abs'(0) = 0, clip passes the gradient
  on its closed interval, and ties of maximum/max share the gradient equally.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .autograd import (
    _BLAS_FLOATS,
    _LONGEST_ROW,
    Function,
    GradientPieces,
    Node,
    _vector_of,
    sum_axes,
    sum_to_shape,
)

# ---- what a backward calls that has no operator ----------------------------------------------


class ArrayMath:
    """On NumPy arrays: an ordinary backward."""

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)

    @staticmethod
    def expand(x: Any, shape: tuple) -> Any:
        # A fresh array filled by broadcasting: the backward of sum, on every step. Than
        # np.broadcast_to's read-only view, a W4 step as matrices takes 9% less time.
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out

    @staticmethod
    def permute(x: Any, axes: tuple) -> Any:
        return x.transpose(axes)

    @staticmethod
    def index_add(shape: tuple, index: Any, values: Any) -> Any:
        """zeros(shape) with ``values`` added at ``index``; repeated indices add up."""
        if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and len(shape) > 1:
            return _summed_rows(shape, index, values)  # an embedding's rows (np.add.at: 5x slower)
        out = np.zeros(shape, dtype=np.result_type(values))
        if _selects_each_once(index):  # slices: a plain assignment (np.add.at is 80x slower)
            out[index] = values
        else:
            np.add.at(out, index, values)
        return out

    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sinh = staticmethod(np.sinh)
    cosh = staticmethod(np.cosh)

    @staticmethod
    def cumsum(x: Any, axis: int) -> Any:
        return np.cumsum(x, axis=axis)

    @staticmethod
    def cumprod(x: Any, axis: int) -> Any:
        return np.cumprod(x, axis=axis)

    @staticmethod
    def einsum(equation: str, *operands: Any) -> Any:
        return _einsum(equation, operands)

    @staticmethod
    def where(condition: Any, a: Any, b: Any) -> Any:
        return np.where(condition, a, b)


def _selects_each_once(index: Any) -> bool:
    """Whether ``index`` is basic (slices, integers, ``...``, None): it then selects no
    element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer))
        for part in parts
    )


_ONE_HOT_LIMIT = 2**20  # the most entries `_summed_rows` gives a one-hot matrix (4 MB in float32)


def _summed_rows(shape: tuple, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A new array of ``shape`` holding, in each row r, the sum of the ``values[i]`` with
    ``rows[i] == r`` (zeros where there are none): the gradient of a lookup ``table[rows]``.

    That lookup is ``one_hot(rows) @ table``, so this is ``one_hot(rows)^T @ values``: one
    matrix product where the one-hot matrix is small (W8's two embeddings take 0.6 and 0.8 of
    the time of the way below; makemore's, 27 rows, a fifth of np.add.at's). Otherwise, or
    when the values hold inf or NaN (0 * inf would spread NaN to every row), sort the rows,
    then sum each run of equal rows in one ``np.add.reduceat``. A negative row counts from
    the end, as in indexing."""
    rows = rows.reshape(-1)
    values = values.reshape((len(rows),) + tuple(shape[1:]))
    dtype = np.result_type(values)
    if 0 < shape[0] * len(rows) <= _ONE_HOT_LIMIT and dtype in _BLAS_FLOATS:
        one_hot = np.zeros((shape[0], len(rows)), dtype=dtype)  # one_hot(rows)^T
        one_hot[rows, np.arange(len(rows))] = 1  # (indexing counts negative rows from the end)
        with np.errstate(invalid="ignore"):  # (inf * 0: the check below catches it)
            sums = one_hot @ values.reshape(len(rows), -1)
        if np.isfinite(sums).all():
            return sums.reshape(shape)
    out = np.zeros(shape, dtype=dtype)
    if len(rows):
        rows = np.where(rows < 0, rows + shape[0], rows)
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        out[rows[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


class GraphMath:
    """The same, as recorded operations on Tensors: ``backward(create_graph=True)``."""

    @staticmethod
    def exp(x: Any) -> Any:
        return Exp.apply(x)

    @staticmethod
    def log(x: Any) -> Any:
        return Log.apply(x)

    @staticmethod
    def expand(x: Any, shape: tuple) -> Any:
        return Expand.apply(x, shape)

    @staticmethod
    def permute(x: Any, axes: tuple) -> Any:
        return Permute.apply(x, axes)

    @staticmethod
    def index_add(shape: tuple, index: Any, values: Any) -> Any:
        return IndexAdd.apply(values, shape, index)

    @staticmethod
    def sin(x: Any) -> Any:
        return Sin.apply(x)

    @staticmethod
    def cos(x: Any) -> Any:
        return Cos.apply(x)

    @staticmethod
    def sinh(x: Any) -> Any:
        return Sinh.apply(x)

    @staticmethod
    def cosh(x: Any) -> Any:
        return Cosh.apply(x)

    @staticmethod
    def cumsum(x: Any, axis: int) -> Any:
        return Cumsum.apply(x, axis)

    @staticmethod
    def cumprod(x: Any, axis: int) -> Any:
        return Cumprod.apply(x, axis)

    @staticmethod
    def einsum(equation: str, *operands: Any) -> Any:
        return Einsum.apply(equation, *operands)

    @staticmethod
    def where(condition: Any, a: Any, b: Any) -> Any:
        return Where.apply(condition, a, b)


def math_for(ctx: Node) -> type:
    """The functions a backward on ``ctx`` computes with: `GraphMath` under create_graph."""
    return GraphMath if ctx.create_graph else ArrayMath


# ---- arithmetic ------------------------------------------------------------------------------


class Add(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        return a + b

    @staticmethod
    def backward(ctx: Node, grad):
        return grad, grad  # d(a+b)/da = d(a+b)/db = 1


class Sub(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        return a - b

    @staticmethod
    def backward(ctx: Node, grad):
        return grad, -grad  # d(a-b)/db = -1


class Mul(Function):
    """a * b. A Python number (the 0.5 of 0.5 * x) is not saved: the node keeps it among its
    arguments, and nothing else is needed (d(xc)/dx = c). A tuple fewer per node for the
    garbage collector: W5, 50,000 products by a number, took 0.93 and 0.90 of its time (two
    runs of six processes each, alternating with the code before)."""

    @staticmethod
    def forward(ctx: Node, a, b):
        if not (_is_number(a) or _is_number(b)):
            ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Node, grad):
        a, b = ctx.parents
        if _is_number(b):  # x * c: d/dx = c
            return grad * b, None
        if _is_number(a):  # c * x
            return None, grad * a
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # d(ab)/da = b, d(ab)/db = a (skipped for a constant tensor)
        return (grad * b if need_a else None), (grad * a if need_b else None)


PYTHON_NUMBERS = (float, int, bool)  # operands NumPy takes without changing a tensor's dtype


def _is_number(value: Any) -> bool:
    """A Python number: an argument that cannot change after forward, so need not be saved."""
    return type(value) in PYTHON_NUMBERS


class Div(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Node, grad):
        a, b = ctx.saved_tensors
        grad_a = grad / b  # d(a/b)/da = 1/b
        if not ctx.needs_input_grad[1]:  # dividing by a constant, such as a count
            return grad_a, None
        return grad_a, -grad_a * a / b  # d(a/b)/db = -a/b^2


class Pow(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            # d(a^b)/da = b a^(b-1), taken as 0 where b = 0 (PyTorch), even at a = 0 where
            # a^(b-1) is inf: there the exponent is moved to 0 and the factor b makes it 0
            zero_exponent = np.asarray(b) == 0
            grad_a = grad * b * a ** (b - 1 + zero_exponent)
        if need_b:
            # d(a^b)/db = a^b log a; PyTorch takes it as 0 where a = 0 and b >= 0
            zero_base = (np.asarray(a) == 0) & (np.asarray(b) >= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = grad * out * math_for(ctx).log(a + zero_base) * (1 - zero_base)
        return grad_a, grad_b


class Neg(Function):
    @staticmethod
    def forward(ctx: Node, x):
        return -x

    @staticmethod
    def backward(ctx: Node, grad):
        return -grad


# ---- elementwise functions ---------------------------------------------------------------


class Exp(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * out  # d/dx e^x = e^x


class Log(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad / x  # d/dx log x = 1/x


class Log1p(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.log1p(x)  # accurate log(1 + x) for tiny x

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + x)  # d/dx log(1 + x) = 1 / (1 + x)


class Sqrt(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad / (2 * out)  # d/dx sqrt(x) = 1 / (2 sqrt(x))


class Abs(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.sign = np.sign(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad * ctx.sign  # d/dx |x| = sign(x), 0 at 0


class ReLU(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (out > 0)  # 1 where x > 0 (there out > 0 too), else 0 (also at 0)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx: Node, x, negative_slope):
        ctx.slope = np.where(x > 0, 1, negative_slope).astype(x.dtype)
        return x * ctx.slope

    @staticmethod
    def backward(ctx: Node, grad):
        return grad * ctx.slope, None  # 1 where x > 0, else negative_slope (also at 0)


class ELU(Function):
    @staticmethod
    def forward(ctx: Node, x, alpha):
        positive = x > 0
        out = np.where(positive, x, alpha * np.expm1(np.minimum(x, 0)))
        ctx.positive = positive
        ctx.alpha = alpha
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        # 1 where x > 0, else alpha e^x = out + alpha (also at 0, as PyTorch)
        return grad * (ctx.positive + (out + ctx.alpha) * ~ctx.positive), None


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Node, x):
        # 1 / (1 + e^-x), computed in one array updated in place: for big arrays allocating
        # costs more than computing (a W2 step takes 5% less time than with the form below
        # alone, which W2's budget needs). Only where x < -709 (-88 in float32) does e^-x
        # overflow; then the form that cannot overflow is used instead.
        out = -x
        in_place = out if isinstance(out, np.ndarray) and out.dtype.kind == "f" else None
        try:
            with np.errstate(over="raise"):
                out = np.exp(out, out=in_place)
        except FloatingPointError:
            out = _sigmoid_without_overflow(x)
        else:
            out += 1
            out = np.reciprocal(out, out=in_place)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * (1 - out))  # s' = s (1 - s); grouped so NumPy reuses its temporaries


def _sigmoid_without_overflow(x: Any) -> Any:
    """sigmoid(x) with e = e^-|x|, which never exceeds 1: 1 / (1 + e) for x >= 0 and
    e / (1 + e) for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1 + e)


class Tanh(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)  # tanh' = 1 - tanh^2


class Clip(Function):
    @staticmethod
    def forward(ctx: Node, x, low, high):
        ctx.inside = np.ones(np.shape(x), dtype=bool)
        if low is not None:
            ctx.inside &= x >= low
        if high is not None:
            ctx.inside &= x <= high
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad * ctx.inside, None, None  # 1 on [low, high] (ends included), else 0


class Maximum(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        # PyTorch's shares: all to the larger side, half to each at a tie, and where either
        # side is NaN (then so is the result) all to both, since neither is the smaller
        half = np.where(a == b, 0.5, 1.0)
        ctx.share_a, ctx.share_b = half * ~(a < b), half * ~(a > b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad * ctx.share_a, grad * ctx.share_b


class Where(Function):
    @staticmethod
    def forward(ctx: Node, condition, a, b):
        ctx.condition = np.asarray(condition, dtype=bool)
        return np.where(ctx.condition, a, b)

    @staticmethod
    def backward(ctx: Node, grad):
        # where, not a product with the mask: a NaN arriving for the side not chosen stays out
        m = math_for(ctx)
        return None, m.where(ctx.condition, grad, 0), m.where(ctx.condition, 0, grad)


class Cast(Function):
    @staticmethod
    def forward(ctx: Node, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad.astype(ctx.input_dtype), None


# ---- reductions ------------------------------------------------------------------------------


def _kept_shape(shape: tuple, axis: tuple | None) -> tuple:
    """The shape of a reduction with keepdims=True: reduced axes become 1."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx: Node, x, axis, keepdims):
        ctx.shape = x.shape
        ctx.kept_shape = _kept_shape(x.shape, axis)
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Node, grad):
        # each input element contributes once to its sum: copy the gradient back to each
        return math_for(ctx).expand(grad.reshape(ctx.kept_shape), ctx.shape), None, None


class Mean(Function):
    """The mean over ``axis`` (None: every element): the sum divided by ``count``, the number
    of elements each mean takes, as one node (sum then divide were two: W4's step as matrices,
    whose loss is a mean, took about 2% longer)."""

    @staticmethod
    def forward(ctx: Node, x, axis, keepdims, count):
        ctx.count = count
        return Sum.forward(ctx, x, axis, keepdims) / count

    @staticmethod
    def backward(ctx: Node, grad):
        # each input element contributes 1/count of itself to its mean
        return Sum.backward(ctx, grad / ctx.count)[0], None, None, None


class Max(Function):
    @staticmethod
    def forward(ctx: Node, x, axis, keepdims):
        out = x.max(axis=axis, keepdims=True)
        winners = (x == out) | (np.isnan(x) & np.isnan(out))  # a NaN is the max, as in PyTorch
        ctx.share = winners / winners.sum(axis=axis, keepdims=True)  # ties share equally
        ctx.kept_shape = out.shape
        if keepdims:
            return out
        if axis is None:
            return out.reshape(())
        return out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axis))

    @staticmethod
    def backward(ctx: Node, grad):
        return grad.reshape(ctx.kept_shape) * ctx.share, None, None


class LogSoftmax(Function):
    """x - log(sum(exp(x))) along an axis, as one node: the heart of cross-entropy, whose
    composition would be seven nodes (with NLLLoss, a W2K step takes a quarter less time
    than composed). Shifting x by its max keeps exp from overflowing, and the result never
    takes log(0)."""

    @staticmethod
    def forward(ctx: Node, x, axis):
        out = _log_softmax(x, axis)
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        # d out_i / d x_j = delta_ij - softmax_j, and softmax = e^out
        return grad - math_for(ctx).exp(out) * sum_axes(grad, (ctx.axis,), keepdims=True), None


class NLLLoss(Function):
    """-log_probs[i, target[i]], averaged (or summed) over the rows: the second half of
    cross-entropy as one node instead of four (pick, negate, sum, divide); a W2K step takes
    about 9% less time.

    ``ignored`` is None or a bool mask (N,) of the rows left out (PyTorch's ``ignore_index``):
    their loss is 0 (``reduction="none"``), they are not counted by the mean, and their
    gradient is 0. With every row left out the mean is NaN (0 / 0) and the gradient 0."""

    @staticmethod
    def forward(ctx: Node, log_probs, target, reduction, ignored):
        ctx.index = _kept_rows(target, ignored)
        ctx.shape, ctx.reduction = log_probs.shape, reduction
        return _negative_log_likelihood(log_probs, *ctx.index, reduction)

    @staticmethod
    def backward(ctx: Node, grad):
        # each row's loss depends only on its picked entry, with slope -1 (-1/n for the mean
        # over the n rows kept); the rows left out get nothing
        m, rows = math_for(ctx), ctx.index[0]
        if ctx.reduction == "none":
            per_row = -grad if len(rows) == ctx.shape[0] else -grad[rows]
        else:
            if ctx.reduction == "mean":
                grad = grad / max(len(rows), 1)  # no row kept: nothing to divide
            per_row = m.expand(-grad, rows.shape)
        return m.index_add(ctx.shape, ctx.index, per_row), None, None, None


def _kept_rows(target: np.ndarray, ignored: np.ndarray | None) -> tuple:
    """(rows, their targets): the index of the entries a negative log-likelihood picks, every
    row but those ``ignored`` (a bool mask (N,), or None)."""
    if ignored is None:
        return np.arange(len(target)), target
    rows = np.flatnonzero(~ignored)
    return rows, target[rows]


class CrossEntropy(Function):
    """log_softmax then nll_loss, for class indices, as one node: the loss of every classifier
    here. Its gradient is simply softmax - one_hot (one node instead of two: a W2K step takes
    about 3% less time). ``ignored`` (None or a bool mask (N,)) leaves rows out, as for
    `NLLLoss`."""

    @staticmethod
    def forward(ctx: Node, logits, target, reduction, ignored):
        log_probs = _log_softmax(logits, 1)
        ctx.index = _kept_rows(target, ignored)
        ctx.reduction, ctx.ignored = reduction, ignored
        ctx.log_probs = log_probs  # kept for an ordinary backward only (freed with it)
        ctx.save_for_backward(logits)
        return _negative_log_likelihood(log_probs, *ctx.index, reduction)

    @staticmethod
    def backward(ctx: Node, grad):
        (logits,) = ctx.saved_tensors
        if ctx.reduction == "none":
            grad = grad.reshape((-1, 1))  # one upstream gradient per row
        elif ctx.reduction == "mean":
            grad = grad / max(len(ctx.index[0]), 1)  # the mean is over the rows kept
        # d/dx_j of -log softmax(x)_t = softmax(x)_j - [j = t]
        if ctx.create_graph:  # the probabilities again, from the logits' tensor
            probs = LogSoftmax.apply(logits, 1).exp()
            one_hot = np.zeros(probs.shape, dtype=probs.dtype)
            one_hot[ctx.index] = 1
            grad_logits = (probs - one_hot) * grad
        else:  # the same in one new array (W8's step: 0.7 of this backward's time)
            grad_logits = np.exp(ctx.log_probs)
            grad_logits[ctx.index] -= 1
            grad_logits *= grad
        if ctx.ignored is not None:  # the rows left out do not depend on their logits
            grad_logits = grad_logits * (~ctx.ignored[:, None]).astype(grad_logits.dtype)
        return grad_logits, None, None, None


class Standardize(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias, the mean and the biased variance taken
    over ``axes``, weight and bias (either may be None) broadcast against x: batch_norm's
    node, one instead of nine (a W6 step, the makemore MLP with BatchNorm, takes 16% less time
    than composed). When ``stats`` is a dict, forward puts the batch's mean and variance in
    it: the running statistics need them. (layer_norm, whose axes are the last ones, has a
    node of its own, `LayerNorm`.)"""

    @staticmethod
    def forward(ctx: Node, x, axes, eps, stats, weight, bias):
        mean = _mean(x, axes)
        centred = x - mean
        var = _mean(centred * centred, axes)
        if stats is not None:
            stats["mean"], stats["var"] = mean, var
        ctx.axes, ctx.eps = axes, eps
        inv_std = 1 / np.sqrt(var + eps)
        x_hat = np.multiply(centred, inv_std, out=centred)  # (x - mean) / std, in place
        ctx.inv_std, ctx.x_hat = inv_std, x_hat  # kept for an ordinary backward only
        ctx.save_for_backward(x, *(() if weight is None else (weight,)))
        # (a copy without weight: the output may be changed in place, x_hat must not be)
        out = x_hat.copy() if weight is None else x_hat * weight
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        x, *weight = ctx.saved_tensors  # weight: [] or [weight]
        weight = weight[0] if weight else None
        need_x, _, _, _, need_weight, need_bias = ctx.needs_input_grad
        grad_bias = grad if need_bias else None  # (bias was broadcast: the engine sums it back)
        if ctx.create_graph:
            grad_x, grad_weight = _standardize_on_tensors(
                ctx, grad, x, weight, ctx.axes, need_x, need_weight
            )
            return grad_x, None, None, None, grad_weight, grad_bias
        if not (need_x or need_weight):  # (only the bias learns: nothing more to compute)
            return None, None, None, None, None, grad_bias
        # x_hat depends on x directly and through the mean and the variance, hence two terms
        # besides g = dL/dx_hat = grad * weight:
        #     dL/dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
        # computed in the arrays it creates: grad * x_hat serves dL/dweight and mean(g * x_hat),
        # and the means weighted by weight need no array for g
        inv_std, x_hat, axes = ctx.inv_std, ctx.x_hat, ctx.axes
        product = grad * x_hat
        grad_weight = sum_to_shape(product, weight.shape) if need_weight else None
        grad_x = None
        if need_x:
            mean_g = _weighted_mean(grad, weight, axes)
            if weight is None:
                grad_x = grad - mean_g
            else:
                grad_x = grad * weight
                grad_x -= mean_g
            mean_g_x_hat = _weighted_mean(product, weight, axes)
            spare = None if grad_weight is product else product  # (weight shaped like x)
            grad_x -= np.multiply(x_hat, mean_g_x_hat, out=spare)
            grad_x *= inv_std
        return grad_x, None, None, None, grad_weight, grad_bias


class LayerNorm(Function):
    """layer_norm's node: x standardised over its last dimensions, those of ``normalized``
    (a tuple), (x - mean) / sqrt(var + eps) * weight + bias, weight and bias (either may be
    None) of the normalized shape. x is seen as a matrix whose rows are its n = prod(normalized)
    last values, so that every mean is a matrix-vector product (`_row_means`) and the
    gradients of weight and bias are sums over the rows: a W8 step (a tiny GPT, five
    LayerNorms) takes 0.983, 0.993 and 0.995 of its time as a `Standardize` over the last axes
    (three A/Bs). Its weight and bias in the node, rather than a Mul and an Add after it, took W8 to
    about 0.96 of its time.

    Forward and backward scale rows by inv_std = 1 / sqrt(var + eps), one number per row, and
    columns by weight. Both at once are a product with the outer product inv_std weight^T, one
    BLAS call (`_row_and_column_scaled`) and then one flat pass, where NumPy takes twice the
    time of a flat pass for each broadcast (a (512, 64) array times a (512, 1) column or a
    (64,) row: 8.3 against 4.4 us). W8's step takes 0.993 and 0.994 of its time (two A/Bs), and
    LayerNorm alone, forward and backward at W8's shape, 125 us instead of 136."""

    @staticmethod
    def forward(ctx: Node, x, normalized, eps, weight, bias):
        n = math.prod(normalized)
        rows = x.reshape((x.size // n if n else 0, n))
        centred = rows - _row_means(rows)
        inv_std = 1 / np.sqrt(_row_means(centred * centred) + eps)  # a column (rows, 1)
        ctx.normalized, ctx.eps = normalized, eps
        ctx.centred, ctx.inv_std = centred, inv_std  # kept for an ordinary backward only
        ctx.save_for_backward(x, *(() if weight is None else (weight,)))
        out = _row_and_column_scaled(centred, inv_std, weight)  # x_hat * weight
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Node, grad):
        x, *weight = ctx.saved_tensors  # weight: [] or [weight]
        weight = weight[0] if weight else None
        need_x, _, _, need_weight, need_bias = ctx.needs_input_grad
        normalized = ctx.normalized
        if ctx.create_graph:
            axes = tuple(range(x.ndim - len(normalized), x.ndim))
            grad_x, grad_weight = _standardize_on_tensors(
                ctx, grad, x, weight, axes, need_x, need_weight
            )
            return grad_x, None, None, grad_weight, grad if need_bias else None
        centred, inv_std = ctx.centred, ctx.inv_std
        rows = grad.reshape(centred.shape)
        # weight's and bias's gradients: sums over the rows, of grad * x_hat and of grad
        grad_bias = sum_axes(rows, (0,)).reshape(normalized) if need_bias else None
        if not (need_x or need_weight):
            return None, None, None, None, grad_bias
        product = rows * centred  # grad * x_hat = product * inv_std, row by row
        grad_weight = (inv_std.T @ product).reshape(normalized) if need_weight else None
        grad_x = None
        if need_x:
            weight_row = None if weight is None else weight.reshape(-1)
            grad_x = _layer_norm_grad(rows, product, centred, inv_std, weight_row)
            grad_x = grad_x.reshape(x.shape)
        return grad_x, None, None, grad_weight, grad_bias


def _row_and_column_scaled(values: np.ndarray, inv_std: np.ndarray, weight: Any) -> np.ndarray:
    """values (rows, n) * inv_std (rows, 1) * weight (n,), in a new array: the outer product
    inv_std weight^T, one BLAS call (5 us at (512, 64); NumPy's matmul of a column by a row
    takes 38 us, its broadcast product 12), then values multiplied into it in place (a new
    array for the product, not yet in the cache, would take longer to write)."""
    if weight is None:
        return values * inv_std
    out = np.dot(inv_std, weight.reshape((1, -1)))
    out *= values
    return out


def _layer_norm_grad(
    grad: np.ndarray, product: np.ndarray, centred: np.ndarray, inv_std: np.ndarray, weight: Any
) -> np.ndarray:
    """dL/dx of layer_norm, for rows (rows, n): from dL/d(output) ``grad``, x - mean
    ``centred``, ``product`` = grad * centred (overwritten) and the column ``inv_std``. With
    x_hat = centred * inv_std and g = grad * weight, x_hat depends on x directly and through
    the mean and the variance, hence two terms besides g:

        dL/dx = inv_std (g - mean(g) - x_hat mean(g x_hat))
              = grad (inv_std weight^T) - centred inv_std^3 mean(weight product)
                - inv_std mean(weight grad),

    means over each row, so that only the first term scales columns."""
    mean_g = _row_means(grad, weight)
    mean_g_centred = _row_means(product, weight)
    grad_x = _row_and_column_scaled(grad, inv_std, weight)
    # inv_std^3 in float32 at least (it may overflow float16 where the product with centred
    # does not), cubed by products (NumPy's ** 3 of a float32 column took 30 us, these 2)
    inv_std = inv_std.astype(np.promote_types(inv_std.dtype, np.float32), copy=False)
    per_row = inv_std * inv_std * inv_std * mean_g_centred
    grad_x -= np.multiply(centred, per_row, out=product)
    grad_x -= inv_std * mean_g
    return grad_x


def _standardize_on_tensors(
    ctx: Node, grad: Any, x: Any, weight: Any, axes: tuple, need_x: bool, need_weight: bool
) -> tuple:
    """dL/dx and dL/dweight (at the output's shape) of a normalisation over ``axes``, the
    formula of `Standardize.backward` on Tensors, for create_graph (batch_norm's and
    layer_norm's): x_hat and 1 / sqrt(var + eps) again, from x's tensor."""
    centred = x - _mean(x, axes)
    inv_std = (_mean(centred * centred, axes) + ctx.eps) ** -0.5
    x_hat = centred * inv_std
    grad_x = None
    if need_x:
        g = grad if weight is None else grad * weight
        grad_x = inv_std * (g - _mean(g, axes) - x_hat * _mean(g * x_hat, axes))
    grad_weight = grad * x_hat if need_weight else None  # (the engine sums it back)
    return grad_x, grad_weight


def _mean(x: Any, axes: tuple[int, ...]) -> Any:
    """The mean over ``axes``, kept as length-1 axes; the sum is `sum_axes`' (fast for the
    first axes, as batch_norm's on (N, C))."""
    count = math.prod(x.shape[a] for a in axes)
    return sum_axes(x, axes, keepdims=True) / count


def _weighted_mean(values: np.ndarray, weight: Any, axes: tuple[int, ...]) -> np.ndarray:
    """mean(values * weight) over ``axes`` (kept as length-1 axes), weight broadcast against
    values: mean(values) * weight where weight is constant along ``axes`` (batch norm's),
    without an array for the product."""
    if weight is None:
        return _mean(values, axes)
    shape = (1,) * (values.ndim - weight.ndim) + weight.shape
    if all(shape[a] == 1 for a in axes):
        return _mean(values, axes) * weight
    return _mean(values * weight, axes)


def _row_means(rows: np.ndarray, weight: Any = None) -> np.ndarray:
    """mean(row * weight) of each row of a matrix, as a column (rows, 1): one matrix-vector
    product with weight / n (BLAS adds up layer norm's rows 4-6x faster than NumPy's sum).
    Rows longer than `_LONGEST_ROW`, and dtypes BLAS has not, take NumPy's mean (pairwise,
    more accurate on long rows)."""
    n = rows.shape[1]
    if n == 0:  # the mean of nothing: 0, as it is used (an empty row stays empty)
        return np.zeros((len(rows), 1), dtype=rows.dtype)
    if rows.dtype in _BLAS_FLOATS and n <= _LONGEST_ROW:
        per = _vector_of(1 / n, n, rows.dtype) if weight is None else weight * (1 / n)
        return (rows @ per)[:, None]
    return (rows if weight is None else rows * weight).mean(axis=1, keepdims=True)


def _log_softmax(x: Any, axis: int) -> Any:
    """x - log(sum(exp(x))) along ``axis``, shifted by the max so that exp cannot overflow
    (unless `_exp_unshifted` finds the shift is not needed). As in PyTorch, a row all -inf,
    or holding NaN or +inf, comes out NaN."""
    unshifted = _exp_unshifted(x, axis)
    if unshifted is not None:
        return x - np.log(unshifted[1])
    highest = _row_max(x, axis)
    finite = np.isfinite(highest)
    if x.size and finite.all():  # the usual case, no errstate to set (a W2K mini-batch's
        # cross-entropy took 30 us, now 26): each sum of exp is at least 1
        shifted = x - highest
        return shifted - np.log(sum_axes(np.exp(shifted), (axis,), keepdims=True))
    shifted = x - np.where(finite, highest, 0)  # (as `_finite_max`: never inf - inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = shifted - np.log(sum_axes(np.exp(shifted), (axis,), keepdims=True))
    return np.where(highest == np.inf, np.nan, out)  # PyTorch: x - inf is NaN at the inf


def _negative_log_likelihood(log_probs: Any, rows: Any, target: Any, reduction: str) -> Any:
    """-log_probs[rows[i], target[i]] for each i, then reduced as ``reduction`` says: the
    mean is over these rows (NaN for none, as in PyTorch); with ``"none"``, one loss per row
    of ``log_probs``, 0 for a row not in ``rows``."""
    losses = -log_probs[rows, target]
    if reduction == "none":
        if len(rows) == len(log_probs):
            return losses
        every_row = np.zeros(len(log_probs), dtype=losses.dtype)
        every_row[rows] = losses
        return every_row
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / len(losses) if len(losses) else total * np.nan  # 0 / 0 without a warning


_EXP_SAFE = 60.0  # exp(60) = 1.1e26: no sum of fewer than 10^12 such terms overflows float32
_SMALLEST_SUM = 1e-30  # a sum of exp at least this large lost nothing to underflow


def _exp_unshifted(x: Any, axis: int, keep: Any = None) -> tuple[Any, Any] | None:
    """exp(x) and its sums along ``axis`` (kept as a length-1 axis), or None when x must be
    shifted by its max along ``axis`` first. ``keep``, a boolean mask that broadcasts against
    x, leaves out the elements where it is False, as if they were -inf (their exp is 0).

    Softmax does not change when a row is shifted: the usual shift by the row's max only
    keeps exp from overflowing and a row's sum from underflowing. When no element exceeds 60
    nothing overflows, and when every row's sum is at least 1e-30 nothing that matters
    underflowed: the results are then as accurate as with the shift. A speed trick: the max
    of short rows is a slow reduction in NumPy (108 us of the 388 us of the attention forward
    in W8, rows of 32), the max of every element a fast one (5 us); a W8 step takes about 3%
    less time. NaN, +inf, a row all -inf and other dtypes take the shift (None)."""
    if type(x) is not np.ndarray or x.dtype not in _BLAS_FLOATS or x.size == 0:
        return None
    if not x.max() <= _EXP_SAFE:  # (False for NaN)
        return None
    exps = np.exp(x)
    if keep is not None:  # (a third of the time of writing -inf into x first)
        exps *= keep
    sums = sum_axes(exps, (axis,), keepdims=True)
    if not sums.min() >= _SMALLEST_SUM:
        return None
    return exps, sums


def _row_max(x: Any, axis: Any) -> Any:
    """The max along ``axis`` (kept as a length-1 axis); 0 where there are no elements."""
    if np.size(x) == 0:  # no elements to take a max of: shift by nothing
        return np.zeros_like(np.sum(x, axis=axis, keepdims=True))
    return x.max(axis=axis, keepdims=True)


def _finite_max(x: Any, axis: Any) -> Any:
    """The max along ``axis`` (kept as a length-1 axis), with infinities replaced by 0 so that
    x - max never computes inf - inf."""
    m = _row_max(x, axis)
    return np.where(np.isfinite(m), m, 0)


# ---- matrix product ------------------------------------------------------------------------


def row_major(matrices: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``matrices * scale`` with rows contiguous, for the right operand of a stacked matrix
    product: NumPy's matmul over a stack takes about twice as long when that operand is a
    transposed view, as k^T in attention is (in W8, 63 us for q k^T; 46 with this copy,
    which also applies the scale)."""
    return np.multiply(matrices, scale, order="C") if scale != 1 else np.ascontiguousarray(matrices)


def _stacked_right(b: Any) -> Any:
    """b, as `row_major` when it is a stack of transposed matrices (an array only)."""
    transposed = type(b) is np.ndarray and b.ndim > 2 and b.strides[-1] != b.itemsize
    return row_major(b) if transposed else b


class MatMul(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        ctx.save_for_backward(a, b)
        return a @ _stacked_right(b)

    @staticmethod
    def backward(ctx: Node, grad):
        a, b = ctx.saved_tensors
        a_1d, b_1d = a.ndim == 1, b.ndim == 1
        # Treat vectors as matrices, a row (1, n) or a column (n, 1), so one rule serves.
        if a_1d:
            a = a.reshape((1, -1))
            grad = grad.reshape(grad.shape[:-1] + (1,) + grad.shape[-1:])
        if b_1d:
            b = b.reshape((-1, 1))
            grad = grad.reshape(grad.shape + (1,))
        grad_a = grad_b = None
        need_a, need_b = ctx.needs_input_grad
        if need_a:
            grad_a = grad @ _stacked_right(b.swapaxes(-1, -2))  # d(AB)/dA: G B^T
            if a_1d:
                grad_a = grad_a.reshape(grad_a.shape[:-2] + grad_a.shape[-1:])
        if need_b:
            grad_b = a.swapaxes(-1, -2) @ grad  # d(AB)/dB: A^T G
            if b_1d:
                grad_b = grad_b.reshape(grad_b.shape[:-1])
        return grad_a, grad_b


class Linear(Function):
    """x @ weight.T + bias as one node. Every layer of every network here is one of these; as
    a composition it would be three nodes (a transpose, a matmul, an add), three times the
    bookkeeping, and one more array of the output's size for the sum: measured, a W2K step
    takes 18% less time, a W4 step as matrices 13% less."""

    @staticmethod
    def forward(ctx: Node, x, weight, bias):
        ctx.save_for_backward(x, weight)
        if x.ndim > 2:  # leading dimensions stacked into one, (N, in): one matrix product
            # instead of one per leading index (a (16, 32, 64) input took 1.6x as long)
            rows = x.reshape((-1, x.shape[-1])) @ weight.T
            out = rows.reshape(x.shape[:-1] + weight.shape[:1])
        else:
            out = x @ weight.T
        if bias is None:
            return out
        if bias.dtype != out.dtype:
            return out + bias  # NumPy's type promotion decides the result's dtype
        out += bias  # in place: no second array of the output's size
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        # Stack every leading dimension of x into one: rows of examples, (N, in) and (N, out).
        rows = grad.reshape((-1, grad.shape[-1]))
        grad_x = None
        if need_x:  # d(x W^T)/dx: G W
            grad_x = rows @ weight if x.ndim == 2 else (rows @ weight).reshape(x.shape)
        grad_weight = (
            rows.swapaxes(-1, -2) @ x.reshape((-1, x.shape[-1])) if need_weight else None
        )  # G^T x
        grad_bias = sum_axes(rows, (0,)) if need_bias else None  # added to every row
        return grad_x, grad_weight, grad_bias


# ---- shapes and indexing -------------------------------------------------------------------


class Reshape(Function):
    @staticmethod
    def forward(ctx: Node, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx: Node, x, axes):
        ctx.inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))  # where each axis went
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Node, grad):
        # move every axis back where it came from
        return math_for(ctx).permute(grad, ctx.inverse), None


class Expand(Function):
    @staticmethod
    def forward(ctx: Node, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad, None  # the engine sums the copies back to the input's shape


class Index(Function):
    @staticmethod
    def forward(ctx: Node, x, index):
        ctx.shape = x.shape
        ctx.index = index
        return x[index]

    @staticmethod
    def backward(ctx: Node, grad):
        # each selected element gets its gradient back; one picked twice gets both
        if not ctx.create_graph and _selects_each_once(ctx.index):
            return GradientPieces(ctx.shape, ctx.index, grad), None  # zeros elsewhere
        return math_for(ctx).index_add(ctx.shape, ctx.index, grad), None


class IndexAdd(Function):
    """zeros(shape) with ``values`` added at ``index`` (repeated indices accumulate): the
    backward of indexing, a primitive of its own so that it can be differentiated again."""

    @staticmethod
    def forward(ctx: Node, values, shape, index):
        ctx.index = index
        return ArrayMath.index_add(shape, index, values)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad[ctx.index], None, None


class IndexPut(Function):
    """``x`` with ``values`` written at ``index`` (``x[index] = values`` inside a graph, and
    PyTorch's ``scatter``): the gradient goes to ``values`` where they were written, and to
    ``x`` everywhere else."""

    @staticmethod
    def forward(ctx: Node, x, values, index):
        out = np.array(x, copy=True)
        out[index] = values
        ctx.index, ctx.kept = index, np.ones(np.shape(x), dtype=bool)
        ctx.kept[index] = False  # the positions of x that were not overwritten
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        need_x, need_values, _ = ctx.needs_input_grad
        grad_x = grad * ctx.kept if need_x else None
        return grad_x, (grad[ctx.index] if need_values else None), None


class Concatenate(Function):
    @staticmethod
    def forward(ctx: Node, axis, *tensors):
        ctx.axis = axis
        ctx.sizes = [t.shape[axis] for t in tensors]
        return np.concatenate(tensors, axis=axis)

    @staticmethod
    def backward(ctx: Node, grad):
        # cut the gradient into the pieces that were glued together
        grads, start = [], 0
        before = (slice(None),) * (ctx.axis % grad.ndim)
        for size in ctx.sizes:
            grads.append(grad[before + (slice(start, start + size),)])
            start += size
        return (None, *grads)


# ---- more of PyTorch's operations: elementwise math, gathering and scattering -----------------
#
# The math of their backwards that has no operator (sin, cos, cumsum, einsum ...) goes through
# `math_for(ctx)`, as everywhere in this file.


def _zeros_like(grad: Any) -> Any:
    """The gradient of a piecewise-constant function: zeros (a constant, also under
    create_graph), as PyTorch's ``zeros_like(grad)``; ``grad * 0`` would turn an infinite
    upstream gradient into NaN."""
    return np.zeros(grad.shape, dtype=grad.dtype)


_LN2 = float(np.log(2.0))  # Python floats: they keep a float32 gradient float32
_LN10 = float(np.log(10.0))


# ---- piecewise constant: zero gradient, as in PyTorch ------------------------------------------


class Floor(Function):
    @staticmethod
    def forward(ctx: Node, x):
        return np.floor(x)

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad)  # flat between the steps; PyTorch takes 0 at the steps too


class Ceil(Function):
    @staticmethod
    def forward(ctx: Node, x):
        return np.ceil(x)

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad)


class Trunc(Function):
    @staticmethod
    def forward(ctx: Node, x):
        return np.trunc(x)

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad)


class Round(Function):
    @staticmethod
    def forward(ctx: Node, x, decimals):
        # halves go to the even neighbour (2.5 -> 2), as in PyTorch; with decimals, x is scaled
        # by 10^decimals, rounded and scaled back
        return np.round(x, decimals)

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad), None


class Sign(Function):
    @staticmethod
    def forward(ctx: Node, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad)


class DivideRounded(Function):
    """a / b rounded towards zero (``rounding_mode="trunc"``) or down (``"floor"``, Python's
    ``//``, computed as Python does for floats: ``1.0 // 0.1`` is 9.0). Its gradient is 0 for
    both, as in PyTorch."""

    @staticmethod
    def forward(ctx: Node, a, b, rounding_mode):
        integer = np.result_type(a, b).kind in "biu"
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0: inf or nan, as PyTorch
            if rounding_mode == "floor":
                return np.floor_divide(a, b)
            if integer:  # exact: the quotient of the magnitudes, with the sign of a * b
                return np.sign(a) * np.sign(b) * np.floor_divide(np.abs(a), np.abs(b))
            return np.trunc(np.true_divide(a, b))

    @staticmethod
    def backward(ctx: Node, grad):
        return _zeros_like(grad), _zeros_like(grad), None


class Remainder(Function):
    """a - b * floor(a / b), with the sign of b (Python's ``%``, PyTorch's ``remainder``)."""

    @staticmethod
    def forward(ctx: Node, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):  # x % 0.0 is nan, as PyTorch
            ctx.quotient = np.floor_divide(a, b)  # piecewise constant: a constant here
            return np.remainder(a, b)

    @staticmethod
    def backward(ctx: Node, grad):
        # d/da = 1, d/db = -floor(a / b), as in PyTorch
        need_b = ctx.needs_input_grad[1]
        return grad, (grad * -ctx.quotient if need_b else None)


# ---- smooth elementwise functions ------------------------------------------------------------


class Sin(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad * math_for(ctx).cos(x)  # sin' = cos


class Cos(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad * -math_for(ctx).sin(x)  # cos' = -sin


class Tan(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.tan(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 + out * out)  # tan' = 1 + tan^2


class Asin(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.arcsin(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):  # inf at x = +-1, as in PyTorch
            return grad * (1 - x * x) ** -0.5  # asin' = 1 / sqrt(1 - x^2)


class Acos(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.arccos(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return grad * -((1 - x * x) ** -0.5)  # acos' = -1 / sqrt(1 - x^2)


class Atan(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.arctan(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + x * x)  # atan' = 1 / (1 + x^2)


class Atan2(Function):
    """The angle of the point (b, a): atan2(a, b), in (-pi, pi]."""

    @staticmethod
    def forward(ctx: Node, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx: Node, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):  # at (0, 0): nan, as PyTorch
            scaled = grad / (a * a + b * b)
            # d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)
            return (scaled * b if need_a else None), (scaled * -a if need_b else None)


class Sinh(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.sinh(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad * math_for(ctx).cosh(x)  # sinh' = cosh


class Cosh(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return np.cosh(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad * math_for(ctx).sinh(x)  # cosh' = sinh


class Expm1(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.expm1(x)  # accurate e^x - 1 for tiny x
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1)  # d/dx (e^x - 1) = e^x


class Exp2(Function):
    @staticmethod
    def forward(ctx: Node, x):
        out = np.exp2(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * _LN2)  # d/dx 2^x = 2^x ln 2


class Log2(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # -inf at 0, nan below, as PyTorch
            return np.log2(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad / (x * _LN2)  # d/dx log2 x = 1 / (x ln 2)


class Log10(Function):
    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad / (x * _LN10)  # d/dx log10 x = 1 / (x ln 10)


class Rsqrt(Function):
    @staticmethod
    def forward(ctx: Node, x):
        with np.errstate(divide="ignore", invalid="ignore"):  # inf at 0, as PyTorch
            out = 1 / np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out * out) * -0.5  # d/dx x^(-1/2) = -x^(-3/2) / 2


class Clamp(Function):
    """x limited to [low, high], where low and high may be tensors (broadcast) or None:
    min(max(x, low), high). As in PyTorch, x gets the gradient where low <= x <= high; low
    where x < low (and low < high); high where x > high, or everywhere low > high (the result
    is then high)."""

    @staticmethod
    def forward(ctx: Node, x, low, high):
        out = x if low is None else np.maximum(x, low)
        out = out if high is None else np.minimum(out, high)
        inside = np.ones(np.shape(x), dtype=bool)
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        ctx.inside = inside
        if low is not None:
            ctx.to_low = x < low if high is None else (x < low) & (low < high)
        if high is not None:
            ctx.to_high = x > high if low is None else (x > high) | (high < low)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        need_x, need_low, need_high = ctx.needs_input_grad
        return (
            grad * ctx.inside if need_x else None,
            grad * ctx.to_low if need_low else None,
            grad * ctx.to_high if need_high else None,
        )


# ---- gathering, scattering and running sums --------------------------------------------------


class MaskedFill(Function):
    """``value`` where ``mask`` is true, else x (broadcast). The gradients are selected, not
    multiplied by the mask, as PyTorch's: a NaN gradient where x was replaced (a softmax row
    masked to -inf everywhere) does not reach x."""

    @staticmethod
    def forward(ctx: Node, x, value, mask):
        ctx.mask = mask
        return np.where(mask, value, x)

    @staticmethod
    def backward(ctx: Node, grad):
        m = math_for(ctx)
        need_x, need_value, _ = ctx.needs_input_grad
        return (
            m.where(ctx.mask, 0, grad) if need_x else None,
            m.where(ctx.mask, grad, 0) if need_value else None,
            None,
        )


def _flip(axis: int, ndim: int) -> tuple:
    """The index that reverses ``axis``: ``x[_flip(1, 3)]`` is ``x[:, ::-1, :]``."""
    return (slice(None),) * axis + (slice(None, None, -1),) + (slice(None),) * (ndim - axis - 1)


class Cumsum(Function):
    @staticmethod
    def forward(ctx: Node, x, axis):
        ctx.axis = axis % x.ndim
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx: Node, grad):
        # x_k counts in every running sum from k on: its gradient is the sum of the upstream
        # gradient from k to the end, a running sum taken backwards
        reverse = _flip(ctx.axis, grad.ndim)
        return math_for(ctx).cumsum(grad[reverse], ctx.axis)[reverse], None


class Cumprod(Function):
    """Running products along an axis. The gradient of x_k is sum_{j >= k} g_j * prod_{i <= j,
    i != k} x_i; without zeros in x that is (the backwards running sum of g * out) / x_k, as
    PyTorch computes it. With a zero, dividing by it is impossible, and the products that
    leave x_k out are taken directly: an n x n table per row, O(n^2) memory."""

    @staticmethod
    def forward(ctx: Node, x, axis):
        ctx.axis = axis % x.ndim
        ctx.has_zero = bool(np.any(x == 0))
        out = np.cumprod(x, axis=axis)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Node, grad):
        x, out = ctx.saved_tensors
        m, axis = math_for(ctx), ctx.axis
        if not ctx.has_zero:
            reverse = _flip(axis, grad.ndim)
            return m.cumsum((grad * out)[reverse], axis)[reverse] / x, None
        return _cumprod_grad_with_zeros(m, grad, x, axis), None


def _cumprod_grad_with_zeros(m: type, grad: Any, x: Any, axis: int) -> Any:
    """sum_{j >= k} g_j * prod_{i <= j, i != k} x_i, for every k along ``axis``, without
    dividing: prod_{i < k} x_i (the running product before k) times prod_{k < i <= j} x_i
    (running products of a table whose row k holds x with the entries up to k set to 1)."""
    n = x.shape[axis]
    last = tuple(a for a in range(x.ndim) if a != axis) + (axis,)
    back = tuple(sorted(range(x.ndim), key=last.__getitem__))  # undoes ``last``
    x_last = m.permute(x, last)[..., None, :]  # (..., 1, n): row k of the table below
    g_last = m.permute(grad, last)[..., None, :]
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    after = m.cumprod(x_last * (i > k) + (i <= k), -1)  # [k, j]: prod_{k < i <= j} x_i
    before = m.cumprod(x_last * (i < k) + (i >= k), -1)[..., -1]  # [k]: prod_{i < k} x_i
    total = (g_last * after * (i >= k)).sum(axis=-1)  # [k]: sum_{j >= k} g_j * after[k, j]
    return m.permute(before * total, back)


# ---- einsum ----------------------------------------------------------------------------------


class Einsum(Function):
    """Einstein summation, ``np.einsum``. The equation is made explicit in forward (ellipses
    become letters, the output is written out), so every backward is one more einsum: the
    gradient of operand k is ``einsum("<output>,<the others> -> <operand k>", grad, *others)``.
    Letters only operand k has (summed over in forward) are broadcast back, and a letter
    repeated in operand k (a diagonal, ``"ii->i"``) gets its gradient on that diagonal."""

    @staticmethod
    def forward(ctx: Node, equation, *operands):
        inputs, output = einsum_subscripts(equation, [np.shape(op) for op in operands])
        ctx.inputs, ctx.output = inputs, output
        ctx.shapes = [np.shape(op) for op in operands]
        ctx.save_for_backward(*operands)
        out = _einsum(",".join(inputs) + "->" + output, operands)
        return np.array(out, copy=True) if len(operands) == 1 else out  # never a view of x

    @staticmethod
    def backward(ctx: Node, grad):
        operands = ctx.saved_tensors
        grads = [
            _einsum_operand_grad(ctx, grad, operands, k) if need else None
            for k, need in enumerate(ctx.needs_input_grad[1:])
        ]
        return (None, *grads)


def _einsum(equation: str, operands: Any) -> Any:
    return np.einsum(equation, *operands, optimize=len(operands) > 2)


def _einsum_operand_grad(ctx: Node, grad: Any, operands: tuple, k: int) -> Any:
    m = math_for(ctx)
    subscripts, shape = ctx.inputs[k], ctx.shapes[k]
    others = [(s, op) for j, (s, op) in enumerate(zip(ctx.inputs, operands)) if j != k]
    letters = list(dict.fromkeys(subscripts))  # each letter once, in order
    seen = set(ctx.output).union(*[set(s) for s, _ in others])
    target = "".join(c for c in letters if c in seen)
    equation = ",".join([ctx.output] + [s for s, _ in others]) + "->" + target
    g = m.einsum(equation, grad, *[op for _, op in others])
    size = dict(zip(subscripts, shape))  # operand k's own sizes
    # A letter only operand k has was summed over in forward: the output does not depend on
    # where along it, so the gradient is the same all along it (as along a letter that the
    # others have with length 1, broadcast)
    g = g.reshape(tuple(g.shape[target.index(c)] if c in target else 1 for c in letters))
    full = tuple(size[c] if n == 1 else n for c, n in zip(letters, g.shape))
    if full != g.shape:
        g = m.expand(g, full)
    if len(letters) == len(subscripts):  # no repeated letter: g is the gradient
        return g
    # a repeated letter: operand k was read on a diagonal; sum what was broadcast from a
    # length-1 axis, then put g on that diagonal
    broadcast = tuple(a for a, c in enumerate(letters) if size[c] == 1 and g.shape[a] != 1)
    if broadcast:
        g = g.sum(axis=broadcast, keepdims=True)
    grid = {
        c: np.arange(size[c]).reshape((-1,) + (1,) * (len(letters) - 1 - a))
        for a, c in enumerate(letters)
    }
    return m.index_add(shape, tuple(grid[c] for c in subscripts), g)


def einsum_subscripts(equation: str, shapes: list) -> tuple[list[str], str]:
    """The explicit form of an einsum equation for operands of ``shapes``: one string of
    letters per operand (an ellipsis replaced by letters the equation does not use, aligned
    from the right as broadcasting is) and the output's letters (when not given: the
    ellipsis's, then the letters used once, in alphabetical order, as PyTorch and NumPy)."""
    equation = equation.replace(" ", "")
    lhs, arrow, output = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) < len(shapes):
        raise ValueError("einsum(): more operands were provided than specified in the equation")
    if len(terms) > len(shapes):
        raise ValueError("einsum(): fewer operands were provided than specified in the equation")
    for position, c in enumerate(equation):
        if not (c.isascii() and c.isalpha()) and c not in ".,->":
            raise ValueError(
                f"einsum(): invalid subscript given at index {position} in the equation string, "
                "subscripts must be in [a-zA-Z]"
            )
    free = [c for c in _LETTERS if c not in equation]
    extra = [len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t]
    ellipsis = "".join(free[: max(extra, default=0)])
    inputs = [_explicit_term(t, s, ellipsis, i) for i, (t, s) in enumerate(zip(terms, shapes))]
    if not arrow:
        once = sorted(c for c in set("".join(terms)) if "".join(terms).count(c) == 1)
        output = ellipsis + "".join(c for c in once if c != ".")
    else:
        output = output.replace("...", ellipsis)
        for c in output:
            if output.count(c) > 1:
                raise ValueError(f"einsum(): output subscript {c} appears more than once")
            if not any(c in t for t in inputs):
                raise ValueError(
                    f"einsum(): output subscript {c} does not appear in the equation for any "
                    "input operand"
                )
    _check_einsum_sizes(inputs, shapes)
    return inputs, output


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _explicit_term(term: str, shape: tuple, ellipsis: str, i: int) -> str:
    if "..." in term:
        named = len(term) - 3
        if named > len(shape):
            raise ValueError(
                f"einsum(): the number of subscripts in the equation ({named}) is more than the "
                f"number of dimensions ({len(shape)}) for operand {i}"
            )
        kept = len(shape) - named
        return term.replace("...", ellipsis[len(ellipsis) - kept :])
    if "." in term or len(term) != len(shape):
        raise ValueError(
            f"einsum(): the number of subscripts in the equation ({len(term)}) does not match "
            f"the number of dimensions ({len(shape)}) for operand {i} and no ellipsis was given"
        )
    return term


def _check_einsum_sizes(inputs: list[str], shapes: list) -> None:
    """A letter has one size (or 1, broadcast) across operands, and one size within one."""
    sizes: dict[str, int] = {}
    for i, (term, shape) in enumerate(zip(inputs, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't "
                    f"match, {own[c]} != {n}"
                )
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum(): subscript {c} has size {sizes[c]} in one operand and {n} in "
                    f"operand {i}: the sizes of a subscript must be equal (or 1)"
                )


# ---- padding ---------------------------------------------------------------------------------


class ConstantPad(Function):
    """x surrounded by ``value``: ``widths`` gives (before, after) for every axis, all >= 0.
    The gradient is the upstream gradient with the padding cut off."""

    @staticmethod
    def forward(ctx: Node, x, widths, value):
        ctx.region = tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Node, grad):
        return grad[ctx.region], None, None
