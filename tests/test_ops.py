"""Every primitive and composite operation, checked three ways over shapes drawn by hypothesis
(broadcasting and 0-d included):

* gradients against finite differences: ``tg.gradcheck`` (the full Jacobian) and a backward
  with a random, non-uniform upstream gradient (a plain ``sum()`` would hide a wrong permute);
* second derivatives: ``tg.gradgradcheck``;
* forward values against a table of NumPy reference functions, in float64 and float32, with
  the dtype rules (float32 stays float32, gradients included).

Random inputs are kept away from kinks and domain edges (each case names its domain); the kinks
themselves are tested exactly in test_ops_kinks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import Tensor, ops

pytestmark = pytest.mark.usefixtures("grad_mode_restored")

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECOND_ORDER = settings(SETTINGS, max_examples=12)


# ---- domains: where random inputs are drawn, away from kinks and domain edges ---------------


def real(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def away_from(*kinks: float, gap: float = 0.1) -> Callable:
    """Uniform on [-2, 2], with points closer than ``gap`` to a kink pushed out of that band."""

    def draw(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        x = rng.uniform(-2.0, 2.0, shape)
        for k in kinks:
            x = np.where(np.abs(x - k) < gap, k + np.where(x >= k, 1.5, -1.5) * gap, x)
        return x

    return draw


off_zero = away_from(0.0)


def distinct(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """All values at least 0.2 apart: no ties for max / min."""
    size = int(np.prod(shape, dtype=np.int64))
    spread = rng.permutation(size).reshape(shape) * 0.3 - 1.0
    return spread + rng.uniform(-0.05, 0.05, shape)


def even_grid(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return 2.0 * rng.integers(-2, 3, shape) + rng.uniform(-0.3, 0.3, shape)


def odd_grid(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Never within 0.4 of an even_grid value: maximum(even, odd) has no ties."""
    return even_grid(rng, shape) + 1.0


# ---- strategies: each draws an Example (float64 input arrays, keyword arguments) ------------


@dataclass
class Example:
    arrays: tuple
    kwargs: dict = field(default_factory=dict)


seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def rng_of(draw: Callable) -> np.random.Generator:
    return np.random.default_rng(draw(seeds))


@st.composite
def unary(draw, domain=real, shape_strategy=shapes, **kwargs: st.SearchStrategy) -> Example:
    shape = draw(shape_strategy)
    rng = rng_of(draw)
    return Example((domain(rng, shape),), {k: draw(v) for k, v in kwargs.items()})


@st.composite
def binary(draw, domain_a=real, domain_b=real) -> Example:
    a_shape, b_shape = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
    ).input_shapes
    rng = rng_of(draw)
    return Example((domain_a(rng, a_shape), domain_b(rng, b_shape)))


@st.composite
def reduction(draw, domain=real, min_dims=0, min_side=1, ddof=False) -> Example:
    """A shape and an axis argument (None, an int or a tuple), keepdims, maybe ddof."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=3))
    ndim = len(shape)
    choices = [st.none(), hnp.valid_tuple_axes(ndim, min_size=min(1, ndim))]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    axis = draw(st.one_of(*choices))
    kwargs = {"axis": axis, "keepdims": draw(st.booleans())}
    if ddof:
        axes = range(ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
        kwargs["ddof"] = draw(st.integers(0, min(1, count - 1)))
    return Example((domain(rng_of(draw), shape),), kwargs)


@st.composite
def along_axis(draw, domain=real) -> Example:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Example((domain(rng_of(draw), shape),), {"axis": axis})


@st.composite
def matmul_inputs(draw) -> Example:
    """Every case of @: vector.vector, matrix.vector, vector.matrix, matrix.matrix, and stacks
    of matrices (and vectors against stacks) with broadcast batch dimensions."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=2)
    ).input_shapes
    case = draw(
        st.sampled_from(["vv", "mv", "vm", "mm", "batched", "vector@batched", "batched@vector"])
    )
    a_shape, b_shape = {
        "vv": ((k,), (k,)),
        "mv": ((n, k), (k,)),
        "vm": ((k,), (k, m)),
        "mm": ((n, k), (k, m)),
        "batched": (batch_a + (n, k), batch_b + (k, m)),
        "vector@batched": ((k,), batch_b + (k, m)),
        "batched@vector": (batch_a + (n, k), (k,)),
    }[case]
    rng = rng_of(draw)
    return Example((real(rng, a_shape), real(rng, b_shape)))


@st.composite
def index_inputs(draw) -> Example:
    """x[index] with basic indices (ints, slices with any step, None, ...), integer arrays
    (repeats included: their gradients must add up), boolean masks, and a mix."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["basic", "integer", "mask", "mixed"]))
    if kind == "integer" and ndim:
        result = hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=5)
        index = draw(hnp.integer_array_indices(shape, result_shape=result))
    elif kind == "mask":
        mask_dims = draw(st.integers(0, ndim))
        index = draw(hnp.arrays(np.bool_, shape[:mask_dims]))
    elif kind == "mixed" and ndim >= 2:
        rows = draw(hnp.arrays(np.intp, 5, elements=st.integers(-shape[1], shape[1] - 1)))
        index = (slice(None, None, -1), rows)
    else:
        index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return Example((real(rng_of(draw), shape),), {"index": index})


@st.composite
def reshape_inputs(draw) -> Example:
    shape = draw(shapes)
    target = draw(st.permutations(shape)) if shape else ()
    if target and draw(st.booleans()):
        target = tuple(target)
        slot = draw(st.integers(0, len(target) - 1))
        target = target[:slot] + (-1,) + target[slot + 1 :]
    return Example((real(rng_of(draw), shape),), {"shape": tuple(target)})


@st.composite
def permute_inputs(draw) -> Example:
    shape = draw(shapes)
    axes = draw(st.permutations(range(len(shape))))
    return Example((real(rng_of(draw), shape),), {"axes": tuple(axes)})


@st.composite
def transpose_inputs(draw) -> Example:
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    dim0, dim1 = draw(st.integers(-ndim, ndim - 1)), draw(st.integers(-ndim, ndim - 1))
    return Example((real(rng_of(draw), shape),), {"dim0": dim0, "dim1": dim1})


@st.composite
def flatten_inputs(draw) -> Example:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start, end = start - draw(st.sampled_from([0, ndim])), end - draw(st.sampled_from([0, ndim]))
    return Example((real(rng_of(draw), shape),), {"start_dim": start, "end_dim": end})


@st.composite
def squeeze_inputs(draw) -> Example:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = draw(st.none() | (st.sampled_from(ones) if ones else st.none()))
    return Example((real(rng_of(draw), shape),), {"axis": axis})


@st.composite
def unsqueeze_inputs(draw) -> Example:
    shape = draw(shapes)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return Example((real(rng_of(draw), shape),), {"axis": axis})


@st.composite
def expand_inputs(draw) -> Example:
    shape = draw(shapes)
    other = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=4, max_side=3))
    return Example((real(rng_of(draw), shape),), {"shape": np.broadcast_shapes(shape, other)})


@st.composite
def cat_inputs(draw) -> Example:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    rng = rng_of(draw)
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        piece = list(shape)
        piece[axis] = draw(st.integers(1, 3))
        arrays.append(real(rng, tuple(piece)))
    return Example(tuple(arrays), {"axis": axis})


@st.composite
def stack_inputs(draw) -> Example:
    shape = draw(shapes)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    rng = rng_of(draw)
    count = draw(st.integers(1, 3))
    return Example(tuple(real(rng, shape) for _ in range(count)), {"axis": axis})


@st.composite
def where_inputs(draw) -> Example:
    c_shape, a_shape, b_shape = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)
    ).input_shapes
    rng = rng_of(draw)
    condition = rng.random(c_shape) < 0.5
    return Example((real(rng, a_shape), real(rng, b_shape)), {"condition": condition})


@st.composite
def clip_inputs(draw) -> Example:
    bounds = draw(st.sampled_from([(-0.5, 0.5), (None, 0.5), (-0.5, None), (1.0, 1.5)]))
    kinks = [b for b in bounds if b is not None]
    x = away_from(*kinks)(rng_of(draw), draw(shapes))
    return Example((x,), {"low": bounds[0], "high": bounds[1]})


# ---- NumPy references -------------------------------------------------------------------


def np_axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=np_axis(axis), keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=np_axis(axis), keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=np_axis(axis))


def np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def np_flatten(x: np.ndarray, start_dim: int, end_dim: int) -> np.ndarray:
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])


def np_squeeze(x: np.ndarray, axis: Any) -> np.ndarray:
    return np.squeeze(x, axis=axis)


# ---- the table ------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    fn: Callable  # on Tensors (and keyword arguments)
    ref: Callable  # the same on NumPy arrays
    inputs: st.SearchStrategy


CASES = [
    # arithmetic, with either side a tensor, a Python number or an array
    Case("add", lambda a, b: a + b, np.add, binary()),
    Case("sub", lambda a, b: a - b, np.subtract, binary()),
    Case("mul", lambda a, b: a * b, np.multiply, binary()),
    Case("div", lambda a, b: a / b, np.divide, binary(real, off_zero)),
    Case("pow", lambda a, b: a**b, np.power, binary(positive, real)),
    Case("neg", lambda x: -x, np.negative, unary()),
    Case("radd_number", lambda x: 1.5 + x, lambda x: 1.5 + x, unary()),
    Case("rsub_number", lambda x: 1.5 - x, lambda x: 1.5 - x, unary()),
    Case("rmul_number", lambda x: 2.5 * x, lambda x: 2.5 * x, unary()),
    Case("rdiv_number", lambda x: 2.0 / x, lambda x: 2.0 / x, unary(off_zero)),
    Case(
        "sub_array",
        lambda x: x - np.array([1.0, -2.0, 0.5]),
        lambda x: x - np.array([1.0, -2.0, 0.5]),
        unary(shape_strategy=hnp.broadcastable_shapes((3,), max_side=3)),
    ),
    Case(
        "rmul_array",
        lambda x: np.array([[2.0], [-1.0]]) * x,
        lambda x: np.array([[2.0], [-1.0]]) * x,
        unary(shape_strategy=hnp.broadcastable_shapes((2, 1), max_side=3)),
    ),
    Case("square", lambda x: x**2, np.square, unary()),
    Case("cube", lambda x: x**3, lambda x: x**3, unary()),
    Case(
        "pow_number",
        lambda x, p: x**p,
        lambda x, p: x**p,
        unary(positive, p=st.sampled_from([-1, 0.5, 1.5, -2.5])),
    ),
    Case("rpow", lambda x: 2.0**x, lambda x: 2.0**x, unary()),
    Case("x_times_x", lambda x: x * x, lambda x: x * x, unary()),
    # elementwise functions
    Case("exp", Tensor.exp, np.exp, unary()),
    Case("log", Tensor.log, np.log, unary(positive)),
    Case("log1p", Tensor.log1p, np.log1p, unary(positive)),
    Case("sqrt", Tensor.sqrt, np.sqrt, unary(positive)),
    Case("abs", Tensor.abs, np.abs, unary(off_zero)),
    Case("relu", Tensor.relu, lambda x: np.maximum(x, 0), unary(off_zero)),
    Case("sigmoid", Tensor.sigmoid, np_sigmoid, unary()),
    Case("tanh", Tensor.tanh, np.tanh, unary()),
    Case(
        "leaky_relu",
        lambda x, negative_slope: x.leaky_relu(negative_slope),
        lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
        unary(off_zero, negative_slope=st.sampled_from([0.01, 0.2, -0.5])),
    ),
    Case(
        "elu",
        lambda x, alpha: x.elu(alpha),
        lambda x, alpha: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
        unary(off_zero, alpha=st.sampled_from([1.0, 0.5, 2.0])),
    ),
    Case(
        "clip",
        lambda x, low, high: x.clip(low, high),
        lambda x, low, high: np.clip(x, low, high),
        clip_inputs(),
    ),
    Case("maximum", tg.maximum, np.maximum, binary(even_grid, odd_grid)),
    Case("minimum", tg.minimum, np.minimum, binary(odd_grid, even_grid)),
    Case(
        "maximum_number",
        lambda x: tg.maximum(x, 0.5),
        lambda x: np.maximum(x, 0.5),
        unary(away_from(0.5)),
    ),
    Case(
        "minimum_number",
        lambda x: tg.minimum(x, 0.5),
        lambda x: np.minimum(x, 0.5),
        unary(away_from(0.5)),
    ),
    Case(
        "where_number",
        lambda x: tg.where(x.data > 0, x, 0.0),
        lambda x: np.where(x > 0, x, 0.0),
        unary(),
    ),
    Case(
        "where",
        lambda a, b, condition: tg.where(condition, a, b),
        lambda a, b, condition: np.where(condition, a, b),
        where_inputs(),
    ),
    # reductions
    Case(
        "sum",
        lambda x, axis, keepdims: x.sum(axis, keepdims),
        lambda x, axis, keepdims: np.sum(x, np_axis(axis), keepdims=keepdims),
        reduction(),
    ),
    Case(
        "mean",
        lambda x, axis, keepdims: x.mean(axis, keepdims),
        lambda x, axis, keepdims: np.mean(x, np_axis(axis), keepdims=keepdims),
        reduction(),
    ),
    Case(
        "max",
        lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
        lambda x, axis, keepdims: np.max(x, np_axis(axis), keepdims=keepdims),
        reduction(distinct),
    ),
    Case(
        "min",
        lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
        lambda x, axis, keepdims: np.min(x, np_axis(axis), keepdims=keepdims),
        reduction(distinct),
    ),
    Case(
        "var",
        lambda x, axis, keepdims, ddof: x.var(axis=axis, keepdims=keepdims, ddof=ddof),
        lambda x, axis, keepdims, ddof: np.var(x, np_axis(axis), keepdims=keepdims, ddof=ddof),
        reduction(ddof=True),
    ),
    Case(
        "std",
        lambda x, axis, keepdims, ddof: x.std(axis=axis, keepdims=keepdims, ddof=ddof),
        lambda x, axis, keepdims, ddof: np.std(x, np_axis(axis), keepdims=keepdims, ddof=ddof),
        reduction(distinct, min_dims=1, min_side=2, ddof=True),
    ),
    Case(
        "logsumexp",
        lambda x, axis, keepdims: x.logsumexp(axis, keepdims),
        np_logsumexp,
        reduction(),
    ),
    Case("softmax", lambda x, axis: x.softmax(axis), np_softmax, along_axis()),
    Case(
        "log_softmax",
        lambda x, axis: x.log_softmax(axis),
        lambda x, axis: np.log(np_softmax(x, axis)),
        along_axis(),
    ),
    # matrix product
    Case("matmul", lambda a, b: a @ b, np.matmul, matmul_inputs()),
    Case("matmul_function", tg.matmul, np.matmul, matmul_inputs()),
    Case(
        "rmatmul_array",
        lambda x: np.array([[1.0, -2.0], [0.5, 3.0]]) @ x,
        lambda x: np.array([[1.0, -2.0], [0.5, 3.0]]) @ x,
        unary(shape_strategy=st.sampled_from([(2,), (2, 1), (2, 3), (4, 2, 2)])),
    ),
    # shapes and indexing
    Case(
        "reshape",
        lambda x, shape: x.reshape(shape),
        lambda x, shape: x.reshape(shape),
        reshape_inputs(),
    ),
    Case(
        "reshape_varargs",
        lambda x, shape: x.reshape(*shape),
        lambda x, shape: x.reshape(shape),
        reshape_inputs(),
    ),
    Case(
        "transpose",
        lambda x, dim0, dim1: x.transpose(dim0, dim1),
        lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
        transpose_inputs(),
    ),
    Case(
        "permute",
        lambda x, axes: x.permute(*axes),
        lambda x, axes: np.transpose(x, axes),
        permute_inputs(),
    ),
    Case("T", lambda x: x.T, lambda x: x.T, unary()),
    Case(
        "flatten",
        lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),
        np_flatten,
        flatten_inputs(),
    ),
    Case("squeeze", lambda x, axis: x.squeeze(axis), np_squeeze, squeeze_inputs()),
    Case(
        "unsqueeze",
        lambda x, axis: x.unsqueeze(axis),
        lambda x, axis: np.expand_dims(x, axis),
        unsqueeze_inputs(),
    ),
    Case("expand", lambda x, shape: x.expand(*shape), np.broadcast_to, expand_inputs()),
    Case("broadcast_to", lambda x, shape: x.broadcast_to(shape), np.broadcast_to, expand_inputs()),
    Case("index", lambda x, index: x[index], lambda x, index: x[index], index_inputs()),
    Case(
        "cat",
        lambda *xs, axis: tg.cat(xs, axis),
        lambda *xs, axis: np.concatenate(xs, axis),
        cat_inputs(),
    ),
    Case(
        "stack",
        lambda *xs, axis: tg.stack(list(xs), axis),
        lambda *xs, axis: np.stack(xs, axis),
        stack_inputs(),
    ),
    Case("astype", lambda x: x.astype(np.float64), lambda x: x.astype(np.float64), unary()),
    Case("double", lambda x: x.double(), lambda x: x.astype(np.float64), unary()),
    Case("clone", lambda x: x.clone(), np.copy, unary()),
    # compositions, to see gradients flow through several nodes
    Case(
        "mlp_layer",
        lambda x, w, b: (x @ w + b).tanh(),
        lambda x, w, b: np.tanh(x @ w + b),
        st.builds(
            lambda s: Example(
                (
                    real(np.random.default_rng(s), (4, 3)),
                    real(np.random.default_rng(s + 1), (3, 2)),
                    real(np.random.default_rng(s + 2), (2,)),
                )
            ),
            seeds,
        ),
    ),
    Case(
        "normalise",
        lambda x: (x - x.mean(0)) / (x.std(0, unbiased=False) + 0.1),
        lambda x: (x - x.mean(0)) / (x.std(0) + 0.1),
        unary(distinct, hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=3)),
    ),
]
IDS = [case.name for case in CASES]


def tensors_of(example: Example, dtype: Any = np.float64, requires_grad: bool = True) -> list:
    return [Tensor(a.astype(dtype), requires_grad=requires_grad) for a in example.arrays]


# ---- gradients ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(case: Case, data: st.DataObject) -> None:
    """The full Jacobian of backward against central differences."""
    example = data.draw(case.inputs)
    inputs = tensors_of(example)
    assert tg.gradcheck(lambda *xs: case.fn(*xs, **example.kwargs), inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_backward_with_random_upstream_gradient(case: Case, data: st.DataObject) -> None:
    """``out.backward(G)`` with a random G through the public path (leaves' .grad) against the
    numerical directional derivative of sum(G * f) along a random direction."""
    example = data.draw(case.inputs)
    rng = np.random.default_rng(data.draw(seeds))
    inputs = tensors_of(example)
    out = case.fn(*inputs, **example.kwargs)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)

    directions = [rng.standard_normal(a.shape) for a in example.arrays]
    eps = 1e-6

    def weighted(step: float) -> float:
        moved = [Tensor(a + step * d) for a, d in zip(example.arrays, directions)]
        return float(np.sum(upstream * case.fn(*moved, **example.kwargs).data))

    numerical = (weighted(eps) - weighted(-eps)) / (2 * eps)
    analytical = sum(float(np.sum(x.grad.data * d)) for x, d in zip(inputs, directions))
    assert analytical == pytest.approx(numerical, rel=1e-5, abs=1e-6)
    for x, a in zip(inputs, example.arrays):
        assert x.grad.shape == x.shape and x.grad.dtype == np.float64
        np.testing.assert_array_equal(x.data, a)  # inputs untouched


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SECOND_ORDER
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    """Second derivatives, from backward(create_graph=True), against finite differences."""
    example = data.draw(case.inputs)
    inputs = tensors_of(example)
    assert tg.gradgradcheck(lambda *xs: case.fn(*xs, **example.kwargs), inputs)


# ---- forward values and dtypes ----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_forward_matches_numpy_float64(case: Case, data: st.DataObject) -> None:
    example = data.draw(case.inputs)
    out = case.fn(*tensors_of(example, requires_grad=False), **example.kwargs)
    expected = np.asarray(case.ref(*example.arrays, **example.kwargs))
    assert isinstance(out, Tensor)
    assert out.dtype == np.float64
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    """float32 inputs give float32 values (close to float64's) and float32 gradients. The
    result's dtype is NumPy's: float32 with Python numbers, float64 with a float64 array."""
    example = data.draw(case.inputs)
    inputs32 = tensors_of(example, np.float32)
    out32 = case.fn(*inputs32, **example.kwargs)
    arrays32 = [a.astype(np.float32) for a in example.arrays]
    expected_dtype = np.asarray(case.ref(*arrays32, **example.kwargs)).dtype
    assert out32.dtype == expected_dtype, f"{case.name} gave {out32.dtype}, NumPy {expected_dtype}"
    expected = np.asarray(case.ref(*example.arrays, **example.kwargs))
    np.testing.assert_allclose(out32.data, expected, rtol=1e-4, atol=1e-5)

    inputs64 = tensors_of(example)
    out64 = case.fn(*inputs64, **example.kwargs)
    upstream = np.random.default_rng(0).standard_normal(out64.shape)
    out32.backward(upstream.astype(out32.dtype))
    out64.backward(upstream)
    for x32, x64 in zip(inputs32, inputs64):
        assert x32.grad.dtype == np.float32
        np.testing.assert_allclose(x32.grad.data, x64.grad.data, rtol=1e-3, atol=1e-4)


def test_every_case_name_is_unique() -> None:
    assert len(set(IDS)) == len(IDS)


def test_permute_backward_is_the_inverse_permutation() -> None:
    """A 3-cycle is not its own inverse (unlike a swap or .T): its backward must undo it."""
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3, 4)), requires_grad=True)
    upstream = np.random.default_rng(2).standard_normal((3, 4, 2))
    x.permute(1, 2, 0).backward(upstream)
    np.testing.assert_array_equal(x.grad.data, upstream.transpose(2, 0, 1))
    assert tg.gradcheck(lambda t: t.permute(2, 0, 1), [Tensor(x.data, requires_grad=True)])


def test_repeated_integer_indices_accumulate() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].backward(np.array([1.0, 10.0, 100.0, 1000.0]))
    np.testing.assert_array_equal(x.grad.data, [1101.0, 0.0, 10.0])


def test_boolean_mask_gradient_goes_to_the_selected_elements() -> None:
    x = Tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    (x[x.data > 0] * Tensor([5.0, 7.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[5.0, 0.0], [0.0, 7.0]])


def test_broadcast_gradient_is_summed_back_to_the_input_shape() -> None:
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.ones((2, 1, 4)), requires_grad=True)
    upstream = np.arange(24.0).reshape(2, 3, 4)
    (a * b).backward(upstream)
    np.testing.assert_array_equal(a.grad.data, upstream.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(b.grad.data, upstream.sum(axis=1, keepdims=True))


def test_tensors_as_indices():
    x = Tensor([[1.0, -2.0], [3.0, -4.0]], requires_grad=True)
    x[x > 0].sum().backward()  # a boolean tensor as a mask
    np.testing.assert_array_equal(x.grad.data, [[1.0, 0.0], [1.0, 0.0]])
    x.grad = None
    x[Tensor([1, 1, 0])].sum().backward()  # an integer tensor, with a repeat
    np.testing.assert_array_equal(x.grad.data, [[1.0, 1.0], [2.0, 2.0]])
    assert x[[0, 0]].shape == (2, 2) and x[Tensor(1)].shape == (2,)


# ---- the backward of indexing: each way of adding values at an index against np.add.at -------


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 6),
    picks=st.lists(st.integers(-6, 5), min_size=0, max_size=12),
    trailing=st.sampled_from([(3,), (2, 4)]),
)
def test_index_add_of_rows_equals_numpy_add_at(rows, picks, trailing):
    """An embedding's gradient: repeated and negative rows add up, as np.add.at adds them."""
    index = np.array([p % rows if p >= rows else max(p, -rows) for p in picks], dtype=np.int64)
    index = index.reshape((2, -1)) if len(index) % 2 == 0 and len(index) else index
    values = np.random.default_rng(len(picks)).standard_normal(index.shape + trailing)
    expected = np.zeros((rows,) + trailing)
    np.add.at(expected, index, values)
    got = ops.ArrayMath.index_add((rows,) + trailing, index, values)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("limit", [0, ops._ONE_HOT_LIMIT], ids=["sorted", "one-hot"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_index_add_of_rows_takes_either_way_to_the_same_sums(monkeypatch, limit, dtype):
    """Rows added through a one-hot matrix product (small tables) and by sorting (larger
    ones): both equal np.add.at's sums, for an embedding's shapes in float32 and float64."""
    monkeypatch.setattr(ops, "_ONE_HOT_LIMIT", limit)
    rng = np.random.default_rng(3)
    index = rng.integers(-65, 65, (16, 32))  # repeated rows, and negative ones
    values = rng.standard_normal((16, 32, 64)).astype(dtype)
    expected = np.zeros((65, 64))
    np.add.at(expected, index, values.astype(np.float64))
    got = ops.ArrayMath.index_add((65, 64), index, values)
    assert got.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_index_add_of_rows_keeps_inf_and_nan_to_their_rows():
    """0 * inf is NaN: a one-hot product would spread an inf or a NaN in the values to every
    row. The rows that did not receive one keep their exact sums."""
    values = np.array([[1.0, 2.0], [np.inf, 1.0], [3.0, np.nan], [4.0, 5.0]], np.float32)
    got = ops.ArrayMath.index_add((4, 2), np.array([0, 1, 2, 0]), values)
    np.testing.assert_array_equal(got, [[5, 7], [np.inf, 1], [3, np.nan], [0, 0]])


@pytest.mark.parametrize(
    "index", [(slice(None), slice(1, 3)), (Ellipsis, 0), (1, slice(None, None, -2)), (None, 2)]
)
def test_index_add_of_a_basic_index_equals_numpy_add_at(index):
    shape = (4, 5)
    values = np.ones(shape)[index] * 2.5
    expected = np.zeros(shape)
    np.add.at(expected, index, values)
    np.testing.assert_array_equal(ops.ArrayMath.index_add(shape, index, values), expected)


def test_stacked_matmul_with_a_transposed_right_operand() -> None:
    """A stack of transposed matrices on the right (``q @ k.transpose(-2, -1)``) is copied row
    major before the product (`ops.row_major`, a speed trick): values and gradients are those
    of the product of the contiguous arrays, and the inputs are left as they were."""
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5))
    upstream = rng.standard_normal((2, 3, 4, 6))
    q_t, k_t = Tensor(q, requires_grad=True), Tensor(k, requires_grad=True)
    k_transposed = k_t.transpose(-2, -1)
    assert k_transposed.data.strides[-1] != k_transposed.data.itemsize
    out = q_t @ k_transposed
    out.backward(Tensor(upstream))
    np.testing.assert_allclose(out.data, q @ k.swapaxes(-1, -2), rtol=1e-13)
    np.testing.assert_allclose(q_t.grad.data, upstream @ k, rtol=1e-13)
    np.testing.assert_allclose(k_t.grad.data, (q.swapaxes(-1, -2) @ upstream).swapaxes(-1, -2), rtol=1e-13)
    copied = ops.row_major(k.swapaxes(-1, -2), 0.5)
    assert copied.flags.c_contiguous and copied.shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(copied, k.swapaxes(-1, -2) * 0.5)
    assert ops.row_major(k) is k  # already row major: no copy
