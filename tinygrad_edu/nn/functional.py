"""Activations, normalisation, embedding, dropout and losses as plain functions (PyTorch's
``torch.nn.functional``).

Every function here is composed from Tensor operations, so its gradient comes from the
primitives: nothing below is differentiated by hand, except `Erf` (NumPy has no erf), a
primitive of its own whose backward is the one line 2/sqrt(pi) exp(-x^2). Kinks follow
PyTorch: hardtanh and relu6 pass no gradient at their ends, hardswish passes 0 at -3 and 1 at
3, softplus is linear only where beta * x > threshold. The losses are written in forms that
stay finite for logits of any size:

* cross_entropy goes through log_softmax, x - logsumexp(x), which shifts by the max;
* binary_cross_entropy_with_logits is max(x, 0) - x*y + log(1 + exp(-|x|));
* binary_cross_entropy on probabilities clamps its logs at -100, as PyTorch does, so a
  saturated sigmoid (p = 1.0 exactly) gives a large but finite loss.

Shapes: N is the batch size, C the number of classes.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import ops
from ..autograd import Function, Node, sum_axes
from ..creation import generator
from ..functions import pad as pad
from ..grad_mode import no_grad
from ..ops import math_for
from ..tensor import Tensor, maximum, to_tensor, where
from .conv import adaptive_avg_pool2d as adaptive_avg_pool2d
from .conv import avg_pool1d as avg_pool1d
from .conv import avg_pool2d as avg_pool2d
from .conv import conv1d as conv1d
from .conv import conv2d as conv2d
from .conv import conv_transpose2d as conv_transpose2d
from .conv import fold as fold
from .conv import max_pool1d as max_pool1d
from .conv import max_pool2d as max_pool2d
from .conv import unfold as unfold

# ---- activations ----------------------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return to_tensor(x).relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), elementwise."""
    return to_tensor(x).sigmoid()


def tanh(x: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x), elementwise."""
    return to_tensor(x).tanh()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return to_tensor(x).leaky_relu(negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return to_tensor(x).elu(alpha)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``: each slice becomes probabilities summing to 1."""
    return to_tensor(x).softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x - logsumexp(x) along ``dim``: log-probabilities, finite for logits of any size."""
    return to_tensor(x).log_softmax(dim)


# ---- more activations (GELU and friends) ------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt, elementwise.

    A primitive because NumPy has no erf. In float64 forward calls Python's ``math.erf`` (the
    C library's erf, as PyTorch's) on each element: exact, but a Python call per element. In
    float32 and float16 it uses `_erf_float32`, whole arrays at a time and within 4 units in
    the last place of float32 (15x faster than math.erf: GELU in a small transformer)."""

    @staticmethod
    def forward(ctx: Node, x):
        ctx.save_for_backward(x)
        return _erf(x)

    @staticmethod
    def backward(ctx: Node, grad):
        (x,) = ctx.saved_tensors
        return grad * (_TWO_OVER_SQRT_PI * math_for(ctx).exp(-(x * x)))  # erf' = 2/sqrt(pi) e^-x^2


def _erf(x: np.ndarray) -> np.ndarray:
    """erf of every element: exact (``math.erf``) in float64, `_erf_float32` in float32."""
    if x.dtype in (np.float32, np.float16):
        return _erf_float32(x)
    x = np.asarray(x, dtype=x.dtype if x.dtype.kind == "f" else np.float64)
    values = map(math.erf, x.reshape(-1).tolist())
    out = np.fromiter(values, dtype=x.dtype, count=x.size).reshape(x.shape)
    return out[()] if out.ndim == 0 else out


# erf and the normal CDF in float32, whole arrays at a time, from polynomials fitted on first
# use to math.erf and math.erfc (`_erf_polynomials`, `_normal_tail_fraction`); their errors,
# a unit or two in the last place, are about float32's rounding. In a tiny GPT (W8) they are 15x
# faster than math.erf per element.


def _erf_float32(x: np.ndarray) -> np.ndarray:
    """erf of a float32 (or float16) array, within 4 units in the last place (tested):

    * |x| < 1: erf(x) = x * A(x^2), A a polynomial of degree 6 (accurate relative to erf's
      value, however small);
    * |x| >= 1: erf(|x|) = 1 - erfc(|x|), `_erfc_float32`."""
    small, _ = _erf_polynomials()
    z = np.abs(x, dtype=np.float32)
    z_inside = np.minimum(z, 1)  # (past 1 the value is not used, only kept finite)
    inside = _horner(small, z_inside * z_inside) * z_inside
    outside = 1 - _erfc_float32(z)
    return np.copysign(_select(z < 1, inside, outside), x).astype(x.dtype, copy=False)


def _erfc_float32(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z >= 0 (float32), relative to its value: t * exp(P(t) - z^2) with
    t = 1 / (1 + z/2) and P a polynomial of degree 10 (erfc falls like exp(-z^2); what is left
    is smooth in t)."""
    _, large = _erf_polynomials()
    t = 1 / (1 + 0.5 * z)
    with np.errstate(over="ignore"):  # z^2 is inf for z > 1.8e19: then exp(-inf) = 0
        return t * np.exp(_horner(large, t) - z * z)


def _normal_cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi(x) = (1 + erf(x / sqrt(2))) / 2 of every element, and the Gaussian exp(-x^2 / 2)
    beside it (`_normal_cdf_float32` in float32)."""
    if x.dtype in (np.float32, np.float16):
        return _normal_cdf_float32(x)
    return 0.5 * (1 + _erf(x * math.sqrt(0.5))), np.exp(-0.5 * (x * x))


def _normal_cdf_float32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi(x), the standard normal CDF, of a float32 array, and g = exp(-x^2 / 2) (GELU's
    backward needs it too), in 19 passes over the array:

    * the lower tail h = Phi(-a), a = |x|, as R(a) * g, with R a ratio of polynomials of
      degrees 3 and 4 that stands for Phi(-a) * exp(a^2 / 2), evaluated as the continued
      fraction of `_normal_tail_fraction` (ten passes where the two polynomials and their
      quotient took fourteen); R(0) = 1/2 exactly, so that h is exactly 1/2 at 0;
    * Phi(x) = h for x < 0 and 1 - h otherwise, as |[x >= 0] - h| (h <= 1/2), so it is
      accurate relative to its value even far into the lower tail (where 1 + erf cancels).
    """
    shifts, numerators, scale = _normal_tail_fraction()
    a = np.abs(x, dtype=np.float32).reshape(-1)  # (a 0-d x as one element, to work in place)
    # Only a and one more array are written (in a training step a new array is not in the
    # cache and slow to write): the fraction in t, then g in a's array, h and Phi in t's.
    # Infinities need no special case: a level of inf is inf and the next one's fraction 0
    # (one of exactly 0 gives inf in turn), and past a = 1.8e19, a^2 is inf and g is 0.
    with np.errstate(divide="ignore", over="ignore"):
        t = a + shifts[-1]
        for shift, numerator in zip(shifts[-2::-1], numerators[::-1]):
            np.divide(numerator, t, out=t)  # a + shift + numerator / (the level below)
            t += a
            t += shift
        gauss = np.multiply(a, a, out=a)
        gauss *= np.float32(-0.5)
        # np.exp, not np.exp2: NumPy has an AVX2 exp for float32 and an exp2 only for
        # AVX-512; on an AVX2 CPU np.exp2 took 2 to 3 times np.exp's 190 us (and W8's
        # step 1.05 times as long), on an AVX-512 one 0.6 of its time
        np.exp(gauss, out=gauss)
    tail = np.divide(gauss, t, out=t)
    tail *= scale  # h
    cdf = np.subtract(x.reshape(-1) >= 0, tail, out=tail)  # 1 - h or -h
    np.abs(cdf, out=cdf)
    shape = np.shape(x)
    cdf, gauss = cdf.reshape(shape), gauss.reshape(shape)
    return cdf.astype(x.dtype, copy=False), gauss.astype(x.dtype, copy=False)


def _select(mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a where ``mask``, else b (float32), as arithmetic: mask * a + (1 - mask) * b, exact for
    finite a and b. np.where is much slower on a mask that changes at random."""
    chosen = mask.astype(np.float32)
    return chosen * a + (1 - chosen) * b


def _horner(coefficients: np.ndarray, v: np.ndarray) -> np.ndarray:
    """c0 + c1 v + c2 v^2 + ... as c0 + v (c1 + v (c2 + ...)), updating one array in place
    (a constant term of zero is not added)."""
    out = v * coefficients[-1]
    for c in coefficients[-2:0:-1]:
        out += c
        out *= v
    if coefficients[0] != 0:
        out += coefficients[0]
    return out


@functools.cache
def _normal_tail_rational() -> tuple[np.ndarray, np.ndarray]:
    """The coefficients (float64, lowest power first) of P, degree 3, and Q, degree 4, with
    P / Q = Phi(-a) * exp(a^2 / 2) = erfc(a / sqrt(2)) * exp(a^2 / 2) / 2 on 0 <= a <= 14 (past
    14, Phi(-a) is 0 in float32) and P(0) / Q(0) = 1/2 exactly.

    Fitted for relative error at Chebyshev points, with P(0) = 1/2 and Q(0) = 1 first: P - f Q
    = 0 is linear in the coefficients, solved by least squares with each point weighted by
    1 / (f Q), Q from the solution before (ten rounds settle it); then twenty rounds more in
    which each point's weight is also multiplied by the square root of its relative error
    (Lawson's method), which brings the largest error down from 5.3e-7 to 4.0e-7."""
    a = 7 - 7 * np.cos(np.pi * (np.arange(2000) + 0.5) / 2000)  # in (0, 14)
    f = np.array([0.5 * math.erfc(v / math.sqrt(2)) * math.exp(v * v / 2) for v in a])
    powers = a[:, None] ** np.arange(1, 5)  # a, a^2, a^3, a^4
    # unknowns p1..p3 and q1..q4: P - f Q = 0 with p0 = 1/2 and q0 = 1
    system = np.hstack([powers[:, :3], -f[:, None] * powers])
    q_values, lawson = np.ones_like(a), np.ones_like(a)
    for round in range(30):
        weight = lawson / (f * q_values)
        solution = np.linalg.lstsq(system * weight[:, None], (f - 0.5) * weight, rcond=None)[0]
        q_values = 1 + powers @ solution[3:]
        if round >= 10:
            error = np.abs((0.5 + powers[:, :3] @ solution[:3]) / q_values - f) / f
            lawson *= np.sqrt(error / error.max())
    return np.concatenate([[0.5], solution[:3]]), np.concatenate([[1.0], solution[3:]])


@functools.cache
def _normal_tail_fraction() -> tuple[np.ndarray, np.ndarray, np.float32]:
    """P / Q of `_normal_tail_rational` as a continued fraction, in float32: shifts
    s1..s4, numerators n1..n3 and a scale c with

        P(a) / Q(a) = c / (a + s1 + n1 / (a + s2 + n2 / (a + s3 + n3 / (a + s4)))),

    three passes a level (a division, two additions) where Horner's rule took fourteen for
    P, Q and the quotient. Euclid's algorithm gives it: Q = q1 P + r1 with q1 linear, then
    P = q2 r1 + r2, and so on, each quotient q_k = u_k a + v_k; dividing each level by its
    u_k leaves a alone (s_k = v_k / u_k, n_k = 1 / (u_k u_(k+1)), c = 1 / u1). In float32 it
    is as accurate as the polynomials (9.3 ulp of Phi at most where |x| <= 2, against 10.8).
    c is then set, within a unit in the last place of 1 / u1, so that the value at 0 is
    exactly 1/2."""
    numerator, denominator = _normal_tail_rational()
    quotients = []
    for _ in range(4):  # denominator = quotient * numerator + remainder, and again one down
        quotient, remainder = np.polynomial.polynomial.polydiv(denominator, numerator)
        quotients.append(quotient)
        denominator, numerator = numerator, remainder
    (v, u) = np.array(quotients).T  # q_k = u_k a + v_k
    shifts = (v / u).astype(np.float32)
    numerators = (1 / (u[:-1] * u[1:])).astype(np.float32)
    t = shifts[3]  # the fraction at a = 0, as the passes compute it
    for k in (2, 1, 0):
        t = numerators[k] / t + shifts[k]
    reciprocal = np.float32(1) / t
    scale = np.float32(0.5) / reciprocal  # then a unit in the last place either way if need be
    for candidate in (scale, np.nextafter(scale, np.float32(1)), np.nextafter(scale, np.float32(0))):
        if reciprocal * candidate == 0.5:
            return shifts, numerators, candidate
    raise RuntimeError("the normal tail's continued fraction misses 1/2 at 0")


@functools.cache
def _erf_polynomials() -> tuple[np.ndarray, np.ndarray]:
    """The coefficients (float32, lowest power first) of the fits above: A(z^2) = erf(z) / z
    on 0 < z <= 1, and P(t) = log(erfc(z) / t) + z^2 on 0 <= z <= 10, least squares at
    Chebyshev points."""
    fit = np.polynomial.Polynomial.fit
    z = 0.5 + 0.5 * np.cos(np.pi * (np.arange(400) + 0.5) / 400)  # in (0, 1)
    small = fit(z * z, [math.erf(v) / v for v in z], 6)
    z = 5 + 5 * np.cos(np.pi * (np.arange(1000) + 0.5) / 1000)  # in (0, 10)
    t = 1 / (1 + 0.5 * z)
    large = fit(t, np.log([math.erfc(v) for v in z]) - np.log(t) + z * z, 10)
    return tuple(p.convert().coef.astype(np.float32) for p in (small, large))


class Gelu(Function):
    """x * Phi(x), Phi(x) = (1 + erf(x / sqrt(2))) / 2 the standard normal CDF, as one node
    instead of five (a tiny GPT step, W8, takes about 3% less time). Its derivative is
    Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi) the normal density."""

    @staticmethod
    def forward(ctx: Node, x):
        cdf, gauss = (np.asarray(v) for v in _normal_cdf(x))  # (0-d: arrays, to work in place)
        ctx.save_for_backward(x)
        # The derivative, computed here in gauss's array while Phi and gauss are in the cache,
        # and kept for an ordinary backward only (freed with it): one array kept instead of
        # two, and a backward of one product (W8's step: 0.985 of its time)
        derivative = np.multiply(gauss, x, out=gauss)
        derivative *= 1 / math.sqrt(2 * math.pi)
        derivative += cdf
        ctx.derivative = derivative
        out = np.multiply(x, cdf, out=cdf)
        return out[()] if out.ndim == 0 else out  # (a 0-d tensor holds a NumPy scalar)

    @staticmethod
    def backward(ctx: Node, grad):
        if ctx.create_graph:  # Phi and exp(-x^2 / 2) again, from x's tensor, to be differentiated
            (x,) = ctx.saved_tensors
            cdf, gauss = 0.5 * (1 + Erf.apply(x * math.sqrt(0.5))), (-0.5 * (x * x)).exp()
            return grad * (cdf + x * gauss * (1 / math.sqrt(2 * math.pi)))  # phi = gauss / sqrt(2 pi)
        return grad * ctx.derivative


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF: x/2 * (1 + erf(x / sqrt(2))). With
    ``approximate="tanh"``: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))."""
    x = to_tensor(input)
    if approximate == "none":
        return Gelu.apply(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish). ``inplace`` is accepted for PyTorch's signature;
    the result is always a new tensor (so are the other ``inplace`` arguments below)."""
    x = to_tensor(input)
    return x * x.sigmoid()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, a smooth relu; x itself where beta * x > threshold
    (there the two agree to double precision, and exp would overflow for large x)."""
    x = to_tensor(input)
    scaled = x if beta == 1 else x * beta
    smooth = scaled.clip(max=threshold).exp().log1p()  # the clip only keeps exp finite
    return where(scaled.data > threshold, x, smooth if beta == 1 else smooth / beta)


def _softplus_any(x: Tensor) -> Tensor:
    """log(1 + exp(x)) for any x, as max(x, 0) + log(1 + exp(-|x|)). maximum shares the
    gradient at 0, so the slope there is exactly sigmoid(0) = 1/2."""
    return maximum(x, 0) + (-x.abs()).exp().log1p()


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]. The gradient is 1 strictly inside and 0 outside and
    at both ends (PyTorch's convention; ``clip`` instead passes it at the ends)."""
    x = to_tensor(input)
    inside = (x.data > min_val) & (x.data < max_val)
    return where(inside, x, np.clip(x.data, min_val, max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6), with gradient 0 at 0 and at 6."""
    return hardtanh(input, 0.0, 6.0)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)), with softplus computed so that it cannot overflow."""
    x = to_tensor(input)
    return x * _softplus_any(x).tanh()


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x / alpha) - 1): alpha * elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (x / alpha is taken)")
    x = to_tensor(input)
    return alpha * (x / alpha).elu(1.0)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), elementwise."""
    x = to_tensor(input)
    return x / (1 + x.abs())


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6: 0 for x <= -3, x for x >= 3, x (x + 3) / 6 between. relu6's
    convention at its ends gives PyTorch's slopes: 0 at x = -3 and 1 at x = 3."""
    x = to_tensor(input)
    return x * relu6(x + 3) / 6


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias: x (..., in), weight (out, in), bias (out,) -> (..., out).

    One primitive (``ops.Linear``) rather than three, for speed; its gradients are checked
    against the composition in the tests."""
    x = to_tensor(x)
    shape = x.data.shape
    if not shape or weight.ndim != 2 or shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
            "(the input's last dimension must equal weight.shape[1])"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return ops.Linear.apply(x, weight, bias)


# ---- normalisation ----------------------------------------------------------------------------


def _normalized_shape(normalized_shape: Any, layer: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of non-negative ints."""
    shape = (normalized_shape,) if np.ndim(normalized_shape) == 0 else tuple(normalized_shape)
    if not shape or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 for n in shape
    ):
        raise ValueError(
            f"{layer}: normalized_shape must be an int or a non-empty sequence of non-negative "
            f"ints, got {normalized_shape!r}"
        )
    return tuple(int(n) for n in shape)


def _fits_normalized(shape: tuple, normalized: tuple) -> bool:
    """Whether ``shape`` ends with the ``normalized`` dimensions."""
    return len(shape) >= len(normalized) and shape[len(shape) - len(normalized) :] == normalized


def _check_normalized_input(layer: str, shape: tuple, normalized: tuple) -> None:
    if not _fits_normalized(shape, normalized):
        raise ValueError(
            f"{layer}: expected an input of shape (*, {', '.join(map(str, normalized))}), whose "
            f"last dimensions are normalized_shape={normalized}, got input of shape {shape}"
        )


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last dimensions, those of ``normalized_shape``, of each sample:
    y = (x - mean) / sqrt(var + eps) * weight + bias, mean and the biased variance taken over
    those dimensions. input (*, *normalized_shape); weight and bias of shape normalized_shape."""
    normalized = _normalized_shape(normalized_shape, "layer_norm")
    x = to_tensor(input)
    _check_normalized_input("layer_norm", x.shape, normalized)
    return _layer_norm(x, normalized, weight, bias, eps)


def _layer_norm(x: Tensor, normalized: tuple, weight: Any, bias: Any, eps: float) -> Tensor:
    """`layer_norm` of a Tensor whose shape ends with ``normalized``, a tuple of ints: the
    caller has checked both (nn.LayerNorm checks its input, and its shape at construction)."""
    if weight is not None and weight.shape != normalized:
        _raise_affine_shape("weight", weight, normalized)
    if bias is not None and bias.shape != normalized:
        _raise_affine_shape("bias", bias, normalized)
    return _normalise(ops.LayerNorm, x, (normalized, eps), weight, bias)


def _raise_affine_shape(name: str, value: Any, normalized: tuple) -> None:
    raise ValueError(
        f"layer_norm: {name} has shape {tuple(value.shape)}, expected normalized_shape "
        f"{normalized}"
    )


def _normalise(
    node: type[Function], x: Tensor, options: tuple, weight: Any, bias: Any
) -> Tensor:
    """``node.apply(x, *options, weight, bias)``, a normalisation (`ops.Standardize`,
    `ops.LayerNorm`) with its affine part, x_hat * weight + bias, in the node; weight and bias
    of another dtype than x's are applied after it, by the operators, so that PyTorch's type
    promotion decides the result's dtype."""
    if all(v is None or v.dtype == x.dtype for v in (weight, bias)):
        return node.apply(x, *options, weight, bias)
    y = node.apply(x, *options, None, None)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _check_batch_norm_input(layer: str, shape: tuple, training: bool) -> None:
    """Raise unless ``shape`` is (N, C, ...) with, in training, more than one value per
    channel (a variance needs two)."""
    if len(shape) < 2:
        raise ValueError(
            f"{layer}: expected an input of shape (N, C, ...), at least 2-D, got shape {shape}"
        )
    if training and shape[0] * math.prod(shape[2:]) == 1:
        raise ValueError(
            f"{layer}: Expected more than 1 value per channel when training, got input of "
            f"shape {shape}"
        )


def _per_channel(shape: tuple, name: str, values: Any) -> Any:
    """``values`` (C,) reshaped to (1, C, 1, ...), to broadcast against an input of ``shape``
    (as they are for an input (N, C): they broadcast so already)."""
    channels = shape[1]
    if tuple(np.shape(values)) != (channels,):
        raise ValueError(
            f"batch_norm: {name} has shape {tuple(np.shape(values))}, but the input of shape "
            f"{shape} has {channels} channels (dimension 1): expected ({channels},)"
        )
    if len(shape) == 2:
        return values
    return values.reshape((1, channels) + (1,) * (len(shape) - 2))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel: input (N, C, *) -> y = (x - mean) / sqrt(var + eps) * weight +
    bias, with weight and bias of shape (C,).

    ``training=True``: mean and the biased variance of the batch, over every axis but 1; the
    running statistics, if given, are then updated in place, PyTorch's way:
    running = (1 - momentum) * running + momentum * batch statistic, with the *unbiased*
    variance (times n / (n - 1), n values per channel) for running_var.
    ``training=False``: running_mean and running_var (constants) stand in for the batch's.
    """
    x = to_tensor(input)
    _check_batch_norm_input("batch_norm", x.shape, training)
    given = dict(running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    c = {name: _per_channel(x.shape, name, v) for name, v in given.items() if v is not None}
    if training:
        stats: dict = {}  # the batch's mean and variance, for the running statistics
        axes = (0, *range(2, x.ndim))
        y = _normalise(ops.Standardize, x, (axes, eps, stats), c.get("weight"), c.get("bias"))
        count = x.numel() // x.shape[1]
        _update_running_stats(
            running_mean, running_var, stats["mean"], stats["var"], count, momentum
        )
        return y
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: running_mean and running_var must be given when training=False "
            "(evaluation uses them in place of the batch statistics)"
        )
    # the running statistics are constants: no gradient goes to them
    y = (x - _array(c["running_mean"])) / np.sqrt(_array(c["running_var"]) + eps)
    if weight is not None:
        y = y * c["weight"]
    if bias is not None:
        y = y + c["bias"]
    return y


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _update_running_stats(
    running_mean: Any, running_var: Any, mean: Any, var: Any, count: int, momentum: float
) -> None:
    """Move the running statistics (Tensors or arrays, updated in place) toward the batch's
    ``mean`` and biased ``var`` (arrays), the latter made unbiased: times count / (count - 1),
    ``count`` values per channel."""
    with no_grad():
        if running_mean is not None:
            batch_mean = np.reshape(mean, -1)
            running_mean[...] = (1 - momentum) * _array(running_mean) + momentum * batch_mean
        if running_var is not None:
            unbiased = np.reshape(var, -1) * (count / (count - 1))
            running_var[...] = (1 - momentum) * _array(running_var) + momentum * unbiased


# ---- embedding --------------------------------------------------------------------------------


def _embedding_indices(input: Any, num_embeddings: int, layer: Any) -> np.ndarray:
    """The integer indices in ``input`` (any shape) as an array, checked to be row numbers of
    a table of ``num_embeddings`` rows. Negative indices are refused (NumPy would count them
    from the end; PyTorch raises)."""
    data = _array(input)
    if data.dtype.kind not in "iu":
        example = f" such as {data.flat[0].item()!r}" if data.size else ""
        raise TypeError(
            f"{layer}: indices must be integers, got {data.dtype} indices{example} (for "
            f"num_embeddings={num_embeddings}); convert them, e.g. tg.Tensor(idx, dtype=tg.int64)"
        )
    bad = _out_of_range(data, num_embeddings)
    if bad is not None:
        raise IndexError(
            f"{layer}: index {bad} is out of range for num_embeddings={num_embeddings} "
            f"(valid indices: 0 .. {num_embeddings - 1})"
        )
    return data


def _out_of_range(indices: np.ndarray, size: int) -> int | None:
    """An index of ``indices`` outside [0, size) (the lowest if any is negative), or None."""
    if not indices.size:
        return None
    low, high = indices.min(), indices.max()
    if low < 0 or high >= size:
        return int(low if low < 0 else high)
    return None


def _padding_index(padding_idx: int | None, num_embeddings: int, layer: Any) -> int | None:
    """``padding_idx`` as a row number in [0, num_embeddings) (a negative one counts from the
    end, as in PyTorch), or None."""
    if padding_idx is None:
        return None
    if (
        isinstance(padding_idx, bool)
        or not isinstance(padding_idx, (int, np.integer))
        or not -num_embeddings <= padding_idx < num_embeddings
    ):
        raise ValueError(
            f"{layer}: padding_idx must be an int in [-{num_embeddings}, {num_embeddings}) "
            f"(within num_embeddings={num_embeddings}), got {padding_idx!r}"
        )
    return int(padding_idx) % num_embeddings


def _embedding(input: Any, weight: Tensor, padding_idx: int | None, layer: Any) -> Tensor:
    """``embedding`` with errors that name ``layer``: a name, or nn.Embedding itself, whose
    repr names it."""
    if weight.ndim != 2:
        raise ValueError(
            f"{layer}: weight must be a 2-D table (num_embeddings, embedding_dim), got shape "
            f"{weight.shape}"
        )
    num_embeddings = weight.shape[0]
    indices = _embedding_indices(input, num_embeddings, layer)
    padding_idx = _padding_index(padding_idx, num_embeddings, layer)
    rows = weight[indices]  # backward: the rows added into the table (ops._summed_rows)
    if padding_idx is None:
        return rows
    # the padding row is looked up as it is, but sends no gradient back to the table
    return where(np.expand_dims(indices != padding_idx, -1), rows, rows.detach())


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of a table: input, integer indices of any shape (...), and weight
    (num_embeddings, embedding_dim) -> weight[input], of shape (..., embedding_dim).

    An index used several times receives the sum of its gradients. Rows at ``padding_idx`` are
    returned as they are but receive no gradient. An index outside [0, num_embeddings) is an
    IndexError, indices that are not integers a TypeError."""
    return _embedding(input, weight, padding_idx, "embedding")


# ---- dropout and one-hot --------------------------------------------------------------------


def _check_p(p: float) -> None:
    _check_dropout("dropout", "the probability p", p)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the survivors by
    1 / (1 - p), so the expected value is unchanged. The identity when not ``training`` or
    when p = 0; all zeros when p = 1. The mask comes from the library generator."""
    _check_p(p)
    x = to_tensor(x)
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
    input = to_tensor(input)
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
    input = to_tensor(input)
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
    input = to_tensor(input)
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


def _class_indices(
    loss: str, input: Tensor, target: Any, ignore_index: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Check integer targets of shape (N,) against input (N, C); return them as an array, and
    None or, if some equal ``ignore_index``, the bool mask (N,) of those (left out of the
    loss). The others must be class indices, in 0 .. C - 1."""
    indices = np.asarray(target.data if isinstance(target, Tensor) else target)
    n, c = input.shape
    if indices.shape != (n,):
        raise ValueError(
            f"{loss}: input of shape {input.shape} needs class indices of shape ({n},) or "
            f"class probabilities of shape {input.shape}, got target of shape {indices.shape}"
        )
    bad = _out_of_range(indices, c)
    ignored = None
    if bad is not None or 0 <= ignore_index < c:  # then some target may be ignore_index
        ignored = indices == ignore_index
        ignored = ignored if ignored.any() else None
        bad = _out_of_range(indices if ignored is None else indices[~ignored], c)
    if bad is not None:
        raise ValueError(
            f"{loss}: target contains class index {bad}, out of range for {c} classes "
            f"(valid: 0 .. {c - 1}, or ignore_index={ignore_index} to leave a row out)"
        )
    return indices, ignored


def _check_ignore_index(loss: str, ignore_index: Any) -> None:
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
        raise TypeError(
            f"{loss}: ignore_index must be an int (a target value to leave out, -100 by "
            f"default), got {type(ignore_index).__name__} {ignore_index!r}"
        )


def _class_loss_input(loss: str, input: Any, reduction: str, ignore_index: Any) -> Tensor:
    """The input of a loss on class indices as a Tensor, its reduction and ignore_index checked."""
    _check_reduction(loss, reduction)
    _check_ignore_index(loss, ignore_index)
    return to_tensor(input)


def _check_logits(loss: str, input: Tensor) -> None:
    if input.ndim != 2:
        raise ValueError(
            f"{loss}: input must have shape (N, C) (batch, classes) or (C,) (one sample), "
            f"got shape {input.shape}"
        )


def _one_sample(
    loss_fn: Any, input: Tensor, target: Any, weight: Any, reduction: str, ignore_index: int
) -> Tensor:
    """A single sample, input (C,) with a class index or (C,) probabilities, as a batch of 1."""
    if isinstance(target, Tensor):
        target = target.reshape((1,) + target.shape)
    else:
        target = np.asarray(target)[None]
    loss = loss_fn(
        input.reshape(1, -1), target, weight, reduction=reduction, ignore_index=ignore_index
    )
    return loss.reshape(()) if reduction == "none" else loss


def _class_weight(loss: str, weight: Any, input: Tensor) -> Tensor:
    weight = _like(weight, input, "weight", loss)
    if weight.shape != (input.shape[1],):
        raise ValueError(
            f"{loss}: weight must have one entry per class, shape ({input.shape[1]},), "
            f"got {weight.shape}"
        )
    return weight


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> Tensor:
    """Negative log-likelihood: -input[i, target[i]] for log-probabilities input (N, C) and
    class indices target (N,) (or input (C,) and one index). With class weights w the mean
    is sum(w_y * l) / sum(w_y). Rows whose target is ``ignore_index`` are left out: their
    loss is 0 (``reduction="none"``), the mean is over the other rows (NaN if there are
    none, as in PyTorch) and their gradient is 0."""
    input = _class_loss_input("nll_loss", input, reduction, ignore_index)
    if input.ndim == 1:
        return _one_sample(nll_loss, input, target, weight, reduction, ignore_index)
    _check_logits("nll_loss", input)
    return _nll_loss(input, target, weight, reduction, ignore_index)


def _nll_loss(input: Tensor, target: Any, weight: Any, reduction: str, ignore_index: int) -> Tensor:
    """nll_loss once input (N, C) and reduction are known to be valid (cross_entropy calls
    it directly, so as not to check them twice). The target is checked here."""
    indices, ignored = _class_indices("nll_loss", input, target, ignore_index)
    if weight is None:
        return ops.NLLLoss.apply(input, indices, reduction, ignored)
    return _weighted_nll(
        input, indices, ignored, _class_weight("nll_loss", weight, input), reduction
    )


def _weighted_nll(
    input: Tensor, indices: np.ndarray, ignored: Any, weight: Tensor, reduction: str
) -> Tensor:
    """The weighted nll_loss, -weight[y] * input[i, y] per row, the mean divided by the sum of
    the rows' weights. Rows ``ignored`` (None or bool (N,)) are left out: 0 for them with
    ``"none"``; otherwise only the other rows are read, and the mean is NaN if none is left
    (as in PyTorch, with a gradient of 0)."""
    if reduction == "none":
        classes = indices if ignored is None else np.where(ignored, 0, indices)  # (any class:
        loss = -input[np.arange(input.shape[0]), classes] * weight[classes]  # replaced by 0)
        return loss if ignored is None else where(ignored, 0.0, loss)
    rows, classes = ops._kept_rows(indices, ignored)
    w = weight[classes]
    total = (-input[rows, classes] * w).sum()
    if reduction == "sum":
        return total
    return total / w.sum() if len(rows) else total * np.nan


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> Tensor:
    """Cross-entropy of logits input (N, C) against either class indices (N,) of an integer
    dtype, or class probabilities (N, C) of a float dtype (one-hot rows are a special case);
    a single sample may be given as input (C,) with one index or (C,) probabilities:
    -sum_c y_c log softmax(x)_c per row. Goes through log_softmax, so it is finite for any
    logits. With class weights w: indices take a weighted mean, probabilities a mean over N.
    Class indices equal to ``ignore_index`` are left out, as in `nll_loss` (nanoGPT pads its
    targets with -1 and passes ``ignore_index=-1``); it does not apply to probabilities."""
    input = _class_loss_input("cross_entropy", input, reduction, ignore_index)
    if input.ndim == 1:
        return _one_sample(cross_entropy, input, target, weight, reduction, ignore_index)
    _check_logits("cross_entropy", input)
    array = target.data if isinstance(target, Tensor) else np.asarray(target)
    kind = array.dtype.kind
    if kind in "iu":
        if array.shape == input.shape:
            raise TypeError(
                f"cross_entropy: target of shape {input.shape} holds integers; one-hot rows are "
                "class probabilities and must be floating point (use target.double())"
            )
        if weight is None:
            indices, ignored = _class_indices("cross_entropy", input, target, ignore_index)
            return ops.CrossEntropy.apply(input, indices, reduction, ignored)
        return _nll_loss(input.log_softmax(1), target, weight, reduction, ignore_index)
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


# ---- attention --------------------------------------------------------------------------------
# Each query looks at every key, turns the similarities into weights that sum to 1, and returns
# the weighted mean of the values: weights = softmax(Q K^T * scale + mask), output = weights V.
# A boolean attn_mask says which pairs take part (True = may look); a float one is added.


def _shape(x: Any) -> tuple:
    return tuple(x.shape) if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def _mask_array(mask: Any, what: str, name: str) -> Any:
    """A mask as PyTorch accepts it: a boolean array, or a float Tensor or array (kept as a
    Tensor when it is one, so that a learned bias gets its gradient)."""
    data = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    kind = np.asarray(data).dtype.kind
    if kind == "b":
        return np.asarray(data)
    if kind != "f":
        raise TypeError(
            f"{what}: {name} must be boolean or floating point, got dtype {np.asarray(data).dtype}"
        )
    return mask if isinstance(mask, Tensor) else data


def _softmax_rows(scores: Tensor, mask: Any, empty_rows_to_zero: bool) -> Tensor:
    """softmax over the last axis of ``scores`` with ``mask`` applied first: a boolean mask
    puts -inf where it is False, a float mask is added.

    A row whose scores are all -inf (a query every key of which is masked) has no softmax:
    with ``empty_rows_to_zero`` its weights are 0 (PyTorch's scaled_dot_product_attention),
    otherwise NaN (PyTorch's MultiheadAttention with need_weights=True)."""
    if mask is not None:
        if np.asarray(_plain(mask)).dtype == bool:
            scores = where(mask, scores, -math.inf)
        else:
            scores = scores + mask
    if mask is None:
        return scores.softmax(axis=-1)
    empty = np.isneginf(scores.data).all(axis=-1, keepdims=True)
    if not empty.any():
        return scores.softmax(axis=-1)
    if empty_rows_to_zero:  # give those rows finite scores, then zero their weights
        weights = where(empty, 0.0, scores).softmax(axis=-1)
        return where(empty, 0.0, weights)
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN rows on purpose, no warning
        return scores.softmax(axis=-1)


def _plain(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _check_dropout(what: str, name: str, p: Any) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{what}: {name} must be a probability in [0, 1], got {p!r}")


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    r"""softmax(query key^T * scale + mask) value, PyTorch's
    ``F.scaled_dot_product_attention``.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
    leading (batch, head) dimensions broadcast.

    - ``attn_mask``: broadcastable to (..., L, S). Boolean: True where the query may look at
      the key (the others get weight exactly 0); float: added to the scores (``-inf`` masks).
      A query left with no key at all gets weights 0, hence output 0, as in PyTorch.
    - ``is_causal``: query i looks at keys 0..i only (the lower-triangular (L, S) mask);
      not together with ``attn_mask``.
    - ``scale``: 1 / sqrt(E) unless given.
    - ``dropout_p``: each weight is dropped with this probability (and the others scaled by
      1 / (1 - p)), with the library's generator. Unlike a Dropout layer this knows nothing
      of training mode: pass ``dropout_p=0.0`` for evaluation, as in PyTorch.
    """
    what = "scaled_dot_product_attention"
    query, key, value = to_tensor(query), to_tensor(key), to_tensor(value)
    scores_shape = _check_qkv(what, query, key, value)
    _check_dropout(what, "dropout_p", dropout_p)
    if is_causal and attn_mask is not None:
        raise ValueError(
            f"{what}: give attn_mask or is_causal=True, not both (is_causal is the mask)"
        )
    L, S = query.shape[-2], key.shape[-2]
    if is_causal:
        mask: Any = _causal_mask(L, S)
    elif attn_mask is not None:
        mask = _mask_array(attn_mask, what, "attn_mask")
        _check_broadcast(what, mask, scores_shape, query, key)
    else:
        mask = None
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if dropout_p == 0 and (mask is None or np.asarray(_plain(mask)).dtype == bool):
        return Attention.apply(query, key, value, mask, scale)
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, S)
    weights = _softmax_rows(scores, mask, empty_rows_to_zero=True)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value


@functools.lru_cache(maxsize=16)
def _causal_mask(queries: int, keys: int) -> np.ndarray:
    """The lower-triangular (queries, keys) boolean mask of ``is_causal``, made once per shape
    and read-only (every step of a Transformer asks for the same one)."""
    mask = np.tril(np.ones((queries, keys), dtype=bool))
    mask.flags.writeable = False
    return mask


class Attention(Function):
    """softmax(q k^T * scale, where mask) v as one node, for a boolean mask (or none) and no
    dropout, instead of seven (a tiny GPT step, W8, takes about 5% less time). A row
    whose keys are all masked gets weights 0. With S = q k^T * scale and W its softmax::

        dL/dv = W^T G,   dL/dW = G v^T,   dL/dS = W * (dL/dW - rowsum(dL/dW * W)),
        dL/dq = dL/dS k * scale,   dL/dk = (dL/dS)^T q * scale
    """

    @staticmethod
    def forward(ctx: Node, q, k, v, mask, scale):
        weights = _attention_weights(q, k, mask, scale)
        ctx.mask, ctx.scale = mask, scale
        ctx.weights = weights  # kept for an ordinary backward only (freed with it)
        ctx.save_for_backward(q, k, v)
        return weights @ v

    @staticmethod
    def backward(ctx: Node, grad):
        q, k, v = ctx.saved_tensors
        if ctx.create_graph:  # the weights again, as operations on q's and k's tensors
            scores = (q @ k.swapaxes(-1, -2)) * ctx.scale
            weights = _softmax_rows(scores, ctx.mask, empty_rows_to_zero=True)
            grad_weights = grad @ v.swapaxes(-1, -2)
            grad_scores = weights * (grad_weights - (grad_weights * weights).sum(-1, keepdim=True))
            grad_scores = grad_scores * ctx.scale
            grad_v = weights.swapaxes(-1, -2) @ grad
            return grad_scores @ k, grad_scores.swapaxes(-1, -2) @ q, grad_v, None, None
        # the same, in place in dL/dW's array (W8's step: 0.94 of this backward's time)
        weights = ctx.weights
        grad_scores = grad @ ops.row_major(v.swapaxes(-1, -2))
        grad_scores -= sum_axes(grad_scores * weights, (-1,), True)
        grad_scores *= weights
        grad_scores *= ctx.scale
        return (
            _product_laid_out_as(q, grad_scores, k),
            _product_laid_out_as(k, grad_scores.swapaxes(-1, -2), q),
            _product_laid_out_as(v, weights.swapaxes(-1, -2), grad),
            None,
            None,
        )


def _product_laid_out_as(like: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b (a holding every batch dimension), the gradient of ``like``, written in memory in
    the order of ``like``'s axes (`np.empty_like`) when it has ``like``'s shape. In a
    Transformer, q, k and v are transposed views, (batch, heads, T, hs) of a (batch, T,
    heads, hs) array: their gradients laid out the same way go back through the transpose and
    the view without a copy (W8: six copies of 14 us a step; BLAS writes the strided result
    as fast)."""
    if a.shape[:-1] + b.shape[-1:] != like.shape:  # like's batch dimensions were broadcast
        return a @ b
    return np.matmul(a, b, out=np.empty_like(like))


def _attention_weights(q: np.ndarray, k: np.ndarray, mask: Any, scale: float) -> np.ndarray:
    """softmax over the last axis of q k^T * scale, with -inf where ``mask`` is False; a row
    all masked gets weights 0 (arrays: `_softmax_rows` is the same on Tensors)."""
    scores = q @ ops.row_major(k.swapaxes(-1, -2), scale)  # (scaling k: half the values of S)
    # No shift by the rows' max where none is needed, and the exps of masked scores zeroed (the
    # mask is checked to broadcast to the scores' shape); otherwise -inf where it is False.
    unshifted = ops._exp_unshifted(scores, -1, mask)
    if unshifted is not None:
        weights, total = unshifted
    else:
        if mask is not None:
            np.copyto(scores, -np.inf, where=~mask)  # in place: 2.5x faster than np.where
        scores -= ops._finite_max(scores, -1)  # a row all -inf (or no keys): shift by nothing
        weights = np.exp(scores, out=scores)
        total = sum_axes(weights, (-1,), keepdims=True)
        total[total == 0] = 1  # a row all masked: 0 / 1
    weights /= total
    return weights


def _check_qkv(what: str, query: Tensor, key: Tensor, value: Tensor) -> tuple:
    """Check the shapes and dtypes of query, key and value; return the scores' shape."""
    def shapes() -> str:  # (for the messages only)
        return f"query {query.shape}, key {key.shape}, value {value.shape}"

    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(
            f"{what}: query (..., L, E), key (..., S, E) and value (..., S, Ev) need at least "
            f"2 dimensions, got {shapes()}"
        )
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"{what}: key's last dimension must equal query's (E), got {shapes()}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"{what}: value must have as many rows as key (S), got {shapes()}")
    try:
        batch = query.shape[:-2]
        if not batch == key.shape[:-2] == value.shape[:-2]:  # (np.broadcast_shapes: 1.7 us)
            batch = np.broadcast_shapes(batch, key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{what}: the leading (batch) dimensions do not broadcast: {shapes()}"
        ) from None
    dtypes = {query.dtype, key.dtype, value.dtype}
    if len(dtypes) > 1 or query.dtype.kind != "f":
        raise TypeError(
            f"{what}: query, key and value must have one floating dtype, got {query.dtype}, "
            f"{key.dtype} and {value.dtype}"
        )
    return tuple(batch) + (query.shape[-2], key.shape[-2])


def _check_broadcast(what: str, mask: Any, scores_shape: tuple, query: Any, key: Any) -> None:
    shape = _shape(mask)
    try:
        fits = np.broadcast_shapes(shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{what}: attn_mask of shape {shape} does not broadcast to the scores' shape "
            f"{scores_shape} (..., L, S), for query {_shape(query)} and key {_shape(key)}"
        )
