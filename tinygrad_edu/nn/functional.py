"""Activations, dropout and losses as plain functions (PyTorch's ``torch.nn.functional``).

Every function here is composed from Tensor operations, so its gradient comes from the
primitives: nothing below is differentiated by hand. The losses are written in forms that stay
finite for logits of any size:

* cross_entropy goes through log_softmax, x - logsumexp(x), which shifts by the max;
* binary_cross_entropy_with_logits is max(x, 0) - x*y + log(1 + exp(-|x|));
* binary_cross_entropy on probabilities clamps its logs at -100, as PyTorch does, so a
  saturated sigmoid (p = 1.0 exactly) gives a large but finite loss.

Shapes: N is the batch size, C the number of classes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..creation import generator
from ..tensor import Tensor, maximum, where

# ---- activations ----------------------------------------------------------------------------


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return _tensor(x).relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), elementwise."""
    return _tensor(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x), elementwise."""
    return _tensor(x).tanh()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return _tensor(x).leaky_relu(negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _tensor(x).elu(alpha)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``: each slice becomes probabilities summing to 1."""
    return _tensor(x).softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``: log-probabilities, finite for logits of any size."""
    return _tensor(x).log_softmax(dim)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias: x (..., in), weight (out, in), bias (out,) -> (..., out).

    One primitive (``ops.Linear``) rather than three, for speed; its gradients are checked
    against the composition in the tests."""
    x = _tensor(x)
    shape = x.data.shape
    if not shape or weight.ndim != 2 or shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
            "(the input's last dimension must equal weight.shape[1])"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return ops.Linear.apply(x, weight, bias)


# ---- dropout and one-hot --------------------------------------------------------------------


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout probability p must be a number in [0, 1], got {p!r}")


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the survivors by
    1 / (1 - p), so the expected value is unchanged. The identity when not ``training`` or
    when p = 0; all zeros when p = 1. The mask comes from the library generator."""
    _check_p(p)
    x = _tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = generator().random(x.shape) >= p  # True with probability 1 - p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """Class indices of shape (...) -> int64 rows of shape (..., num_classes) with a single 1.
    ``num_classes=-1`` takes max(labels) + 1. Use ``.double()`` for float targets."""
    data = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {data.dtype}")
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        bad = data.min() if data.min() < 0 else data.max()
        raise ValueError(f"one_hot: class index {int(bad)} is out of range [0, {num_classes})")
    return Tensor(np.eye(num_classes, dtype=np.int64)[data])


# ---- losses ---------------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(loss: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _like(value: Any, input: Tensor, what: str, loss: str) -> Tensor:
    """``value`` as a Tensor of input's dtype (a float32 model keeps float32 losses). A tensor
    that requires grad is converted by a recorded cast, so its gradient still flows."""
    if isinstance(value, Tensor):
        if value.dtype == input.dtype:
            return value
        if value.requires_grad:
            return value.astype(input.dtype)
        value = value.data
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: {what} must be numbers, got dtype {array.dtype}")
    return Tensor(array, dtype=input.dtype)


def _same_shape(loss: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{loss}: input has shape {input.shape} but target has shape {target.shape}; they "
            "must be equal (reshape one of them, e.g. target.reshape(-1, 1))"
        )


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error, (input - target)^2 reduced; input and target of one shape."""
    _check_reduction("mse_loss", reduction)
    input = _tensor(input)
    target = _like(target, input, "target", "mse_loss")
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


# The smallest probability whose log is taken; below it log(p) counts as -100 (PyTorch's clamp).
_LOG_CLAMP = -100.0
_LOG_FLOOR = math.exp(_LOG_CLAMP)


def _clamped_log(p: Tensor) -> Tensor:
    """max(log(p), -100) with a finite gradient even at p = 0.

    The clip comes before the log: clipping the log afterwards would leave 1/p = inf in the
    backward of log, and 0 * inf = NaN. Below the floor the gradient is 0. In float32,
    1 / exp(-100) overflows, so there the floor is the smallest normal number and the values
    below it are filled in as constants.
    """
    floor = max(_LOG_FLOOR, float(np.finfo(p.dtype).tiny))
    log_p = p.clip(min=floor).log()
    if floor > _LOG_FLOOR:
        below = p.data < floor
        if below.any():
            exact = np.log(np.maximum(p.data.astype(np.float64), _LOG_FLOOR))
            log_p = where(below, exact.astype(p.dtype), log_p)
    return log_p


def _check_probabilities(loss: str, what: str, values: np.ndarray, hint: str) -> None:
    """Raise a ValueError unless every value is in [0, 1]. NaN fails every comparison, so it is
    looked for on its own: ``p < 0`` alone would let it through."""
    nan = np.isnan(values)
    outside = ~nan & ((values < 0) | (values > 1))
    if not nan.any() and not outside.any():
        return
    found = []
    if nan.any():
        found.append(f"{int(nan.sum())} NaN")
    if outside.any():
        bad = values[outside]
        found.append(
            f"{bad.size} outside [0, 1], from {float(bad.min()):g} to {float(bad.max()):g}"
        )
    raise ValueError(
        f"{loss}: {what} must be probabilities in [0, 1], but it has {' and '.join(found)} "
        f"of {values.size} values{hint}"
    )


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities: -w * (y log p + (1 - y) log(1 - p)), with each
    log clamped at -100 as in PyTorch. input (probabilities in [0, 1]) and target (y) of one
    shape; ``weight`` broadcasts against them. For logits use
    ``binary_cross_entropy_with_logits``, which is exact where this one clamps.

    As in PyTorch, an input or target with a value outside [0, 1] or a NaN is a ValueError
    naming the argument: such values would otherwise give a plausible-looking loss."""
    _check_reduction("binary_cross_entropy", reduction)
    input = _tensor(input)
    target = _like(target, input, "target", "binary_cross_entropy")
    _same_shape("binary_cross_entropy", input, target)
    hint = "; for logits use binary_cross_entropy_with_logits"
    _check_probabilities("binary_cross_entropy", "input", input.data, hint)
    _check_probabilities("binary_cross_entropy", "target", target.data, "")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * _like(weight, input, "weight", "binary_cross_entropy")
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(input), computed from the logits x without ever
    forming sigmoid: max(x, 0) - x*y + log(1 + exp(-|x|)), finite for any x.
    With ``pos_weight`` q: (1 - y) x + (1 + (q - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    name = "binary_cross_entropy_with_logits"
    input = _tensor(input)
    target = _like(target, input, "target", name)
    _same_shape(name, input, target)
    # maximum shares the gradient at a tie, which makes the slope at x = 0 exactly 1/2 - y
    softplus_neg_abs = (-input.abs()).exp().log1p()
    if pos_weight is None:
        loss = maximum(input, 0) - input * target + softplus_neg_abs
    else:
        q = _like(pos_weight, input, "pos_weight", name)
        log_weight = 1 + (q - 1) * target
        loss = (1 - target) * input + log_weight * (softplus_neg_abs + maximum(-input, 0))
    if weight is not None:
        loss = loss * _like(weight, input, "weight", name)
    return _reduce(loss, reduction)


def _class_indices(loss: str, input: Tensor, target: Any) -> np.ndarray:
    """Check integer targets of shape (N,) against input (N, C); return them as an array."""
    indices = np.asarray(target.data if isinstance(target, Tensor) else target)
    n, c = input.shape
    if indices.shape != (n,):
        raise ValueError(
            f"{loss}: input of shape {input.shape} needs class indices of shape ({n},) or "
            f"class probabilities of shape {input.shape}, got target of shape {indices.shape}"
        )
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < 0 or high >= c:
            bad = low if low < 0 else high
            raise ValueError(
                f"{loss}: target contains class index {int(bad)}, out of range for {c} classes "
                f"(valid: 0 .. {c - 1})"
            )
    return indices


def _check_logits(loss: str, input: Tensor) -> None:
    if input.ndim != 2:
        raise ValueError(
            f"{loss}: input must have shape (N, C) (batch, classes) or (C,) (one sample), "
            f"got shape {input.shape}"
        )


def _one_sample(loss_fn: Any, input: Tensor, target: Any, weight: Any, reduction: str) -> Tensor:
    """A single sample, input (C,) with a class index or (C,) probabilities, as a batch of 1."""
    if isinstance(target, Tensor):
        target = target.reshape((1,) + target.shape)
    else:
        target = np.asarray(target)[None]
    loss = loss_fn(input.reshape(1, -1), target, weight, reduction)
    return loss.reshape(()) if reduction == "none" else loss


def _class_weight(loss: str, weight: Any, input: Tensor) -> Tensor:
    weight = _like(weight, input, "weight", loss)
    if weight.shape != (input.shape[1],):
        raise ValueError(
            f"{loss}: weight must have one entry per class, shape ({input.shape[1]},), "
            f"got {weight.shape}"
        )
    return weight


def nll_loss(input: Tensor, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -input[i, target[i]] for log-probabilities input (N, C) and
    class indices target (N,) (or input (C,) and one index). With class weights w the mean
    is sum(w_y * l) / sum(w_y)."""
    _check_reduction("nll_loss", reduction)
    input = _tensor(input)
    if input.ndim == 1:
        return _one_sample(nll_loss, input, target, weight, reduction)
    _check_logits("nll_loss", input)
    return _nll_loss(input, target, weight, reduction)


def _nll_loss(input: Tensor, target: Any, weight: Any, reduction: str) -> Tensor:
    """nll_loss once input (N, C) and reduction are known to be valid (cross_entropy calls
    it directly, so as not to check them twice). The target is checked here."""
    indices = _class_indices("nll_loss", input, target)
    if weight is None:
        return ops.NLLLoss.apply(input, indices, reduction)
    loss = -input[np.arange(input.shape[0]), indices]
    w = _class_weight("nll_loss", weight, input)[indices]
    loss = loss * w
    return loss.sum() / w.sum() if reduction == "mean" else _reduce(loss, reduction)


def cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy of logits input (N, C) against either class indices (N,) of an integer
    dtype, or class probabilities (N, C) of a float dtype (one-hot rows are a special case);
    a single sample may be given as input (C,) with one index or (C,) probabilities:
    -sum_c y_c log softmax(x)_c per row. Goes through log_softmax, so it is finite for any
    logits. With class weights w: indices take a weighted mean, probabilities a mean over N."""
    _check_reduction("cross_entropy", reduction)
    input = _tensor(input)
    if input.ndim == 1:
        return _one_sample(cross_entropy, input, target, weight, reduction)
    _check_logits("cross_entropy", input)
    array = target.data if isinstance(target, Tensor) else np.asarray(target)
    kind = array.dtype.kind
    if kind in "iu":
        if array.shape == input.shape:
            raise TypeError(
                f"cross_entropy: target of shape {input.shape} holds integers; one-hot rows are "
                "class probabilities and must be floating point (use target.double())"
            )
        return _nll_loss(input.log_softmax(1), target, weight, reduction)
    if kind != "f":
        raise TypeError(
            "cross_entropy: target must hold integer class indices or float class "
            f"probabilities, got dtype kind {kind!r}"
        )
    target = _like(target, input, "target", "cross_entropy")
    if target.shape != input.shape:
        raise ValueError(
            f"cross_entropy: float targets are class probabilities and need the input's shape "
            f"{input.shape}, got {target.shape} (class indices must have an integer dtype)"
        )
    log_p = input.log_softmax(1)
    if weight is not None:
        log_p = log_p * _class_weight("cross_entropy", weight, input)
    return _reduce(-(target * log_p).sum(1), reduction)
