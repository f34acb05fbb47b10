"""The primitives: the small closed set of operations that carry every gradient rule. Read
this file third (after ``grad_mode.py`` and ``autograd.py``).

Each is a `Function`: ``forward`` computes on NumPy arrays, ``backward`` turns dL/d(output) into
dL/d(input) for each input. Everything else the library offers (mean, var, logsumexp, the
losses, the layers) is composed from these, so this file is the one place to read a gradient
rule. Three composites that networks run on every step (Linear, LogSoftmax, NLLLoss) are
primitives of their own, for speed; each gives its measured gain, and the tests check it
against its composition.

Conventions that keep each backward short:

* Broadcasting is not a backward's business: it may return a gradient at the output's shape,
  and the engine sums it back to the input's shape (``autograd.sum_to_shape``).
* A backward is written with operators and ``reshape``/``sum``/``swapaxes``/indexing, which
  arrays and Tensors share, so the same code runs on arrays (an ordinary backward) and, under
  ``create_graph=True``, on Tensors, recording the backward pass as a graph of its own. What
  has no operator goes through ``math_for(ctx)``: NumPy's functions in an ordinary backward,
  the primitives themselves under ``create_graph``.
* A backward saves only inputs and the output (``ctx.save_for_backward``); constants such as
  masks computed in forward (``x > 0``) are attributes of ``ctx``: their derivative is zero
  wherever it exists.
* At kinks the conventions are PyTorch's: relu'(0) = 0, abs'(0) = 0, clip passes the gradient
  on its closed interval, and ties of maximum/max share the gradient equally.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Function, Node

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
        out = np.zeros(shape, dtype=np.result_type(values))
        np.add.at(out, index, values)
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
    @staticmethod
    def forward(ctx: Node, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Node, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # d(ab)/da = b, d(ab)/db = a (skipped for a constant, such as the 0.5 of 0.5 * x)
        return (grad * b if need_a else None), (grad * a if need_b else None)


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
        return None, grad * ctx.condition, grad * ~ctx.condition


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
        return grad - math_for(ctx).exp(out) * grad.sum(axis=ctx.axis, keepdims=True), None


class NLLLoss(Function):
    """-log_probs[i, target[i]], averaged (or summed) over the rows: the second half of
    cross-entropy as one node instead of four (pick, negate, sum, divide); a W2K step takes
    about 9% less time."""

    @staticmethod
    def forward(ctx: Node, log_probs, target, reduction):
        rows = np.arange(len(target))
        ctx.index, ctx.shape, ctx.reduction = (rows, target), log_probs.shape, reduction
        return _negative_log_likelihood(log_probs, rows, target, reduction)

    @staticmethod
    def backward(ctx: Node, grad):
        # each row's loss depends only on its picked entry, with slope -1 (-1/N for the mean)
        m, rows = math_for(ctx), ctx.index[0]
        if ctx.reduction == "mean":
            grad = grad / len(rows)
        per_row = -grad if ctx.reduction == "none" else m.expand(-grad, rows.shape)
        return m.index_add(ctx.shape, ctx.index, per_row), None, None


def _log_softmax(x: Any, axis: int) -> Any:
    """x - log(sum(exp(x))) along ``axis``, shifted by the max so that exp cannot overflow."""
    shifted = x - _finite_max(x, axis)
    with np.errstate(divide="ignore", invalid="ignore"):  # a row all -inf is NaN, as in PyTorch
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _negative_log_likelihood(log_probs: Any, rows: Any, target: Any, reduction: str) -> Any:
    """-log_probs[i, target[i]] for every row i, then reduced as ``reduction`` says."""
    losses = -log_probs[rows, target]
    if reduction == "none":
        return losses
    total = losses.sum()
    return total / len(losses) if reduction == "mean" else total


def _finite_max(x: Any, axis: Any) -> Any:
    """The max along ``axis`` (kept as a length-1 axis), with infinities replaced by 0 so that
    x - max never computes inf - inf."""
    if np.size(x) == 0:  # no elements to take a max of: shift by nothing
        return np.zeros_like(np.sum(x, axis=axis, keepdims=True))
    m = x.max(axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


# ---- matrix product ------------------------------------------------------------------------


class MatMul(Function):
    @staticmethod
    def forward(ctx: Node, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

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
            grad_a = grad @ b.swapaxes(-1, -2)  # d(AB)/dA: G B^T
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
        grad_x = grad @ weight if need_x else None  # d(x W^T)/dx: G W
        grad_weight = (
            rows.swapaxes(-1, -2) @ x.reshape((-1, x.shape[-1])) if need_weight else None
        )  # G^T x
        grad_bias = rows.sum(axis=0) if need_bias else None  # the bias is added to every row
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
