"""Every operation against PyTorch in float64: values and gradients, for broadcast and 0-d
shapes, with random upstream gradients; and the kinks, exactly at the kink.

Skipped where PyTorch is not installed (``pip install torch`` to run it).
"""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.usefixtures("grad_mode_restored")

UNARY_SHAPES = [(), (3,), (2, 3), (2, 1, 3)]
BINARY_SHAPES = [((), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), ()), ((4, 1, 3), (2, 1))]


def real(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def off_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)


def distinct(rng, shape):
    size = int(np.prod(shape, dtype=np.int64))
    return rng.permutation(size).reshape(shape) * 0.3 - 1.0


def dims(x, axis):
    """torch's dim for NumPy's axis (None: every axis)."""
    return tuple(range(x.ndim)) if axis is None else axis


# name: (tinygrad_edu function, torch function, input domains)
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, real),
    "exp": (Tensor.exp, torch.exp, real),
    "log": (Tensor.log, torch.log, positive),
    "log1p": (Tensor.log1p, torch.log1p, positive),
    "sqrt": (Tensor.sqrt, torch.sqrt, positive),
    "abs": (Tensor.abs, torch.abs, off_zero),
    "relu": (Tensor.relu, torch.relu, off_zero),
    "sigmoid": (Tensor.sigmoid, torch.sigmoid, real),
    "tanh": (Tensor.tanh, torch.tanh, real),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1), off_zero),
    "leaky_relu_default": (Tensor.leaky_relu, F.leaky_relu, off_zero),
    "elu": (lambda x: x.elu(0.7), lambda x: F.elu(x, 0.7), off_zero),
    "clip": (lambda x: x.clip(-0.55, 0.65), lambda x: torch.clamp(x, -0.55, 0.65), real),
    "clip_min": (lambda x: x.clip(min=0.05), lambda x: torch.clamp(x, min=0.05), real),
    "pow_2": (lambda x: x**2, lambda x: x**2, real),
    "pow_half": (lambda x: x**0.5, lambda x: x**0.5, positive),
    "pow_minus_1_5": (lambda x: x**-1.5, lambda x: x**-1.5, positive),
    "rpow": (lambda x: 3.0**x, lambda x: 3.0**x, real),
    "rsub": (lambda x: 1.0 - x, lambda x: 1.0 - x, real),
    "rdiv": (lambda x: 2.0 / x, lambda x: 2.0 / x, off_zero),
    "maximum_number": (lambda x: tg.maximum(x, 0.3), lambda x: torch.clamp(x, min=0.3), real),
    "sum": (Tensor.sum, torch.sum, real),
    "mean": (Tensor.mean, torch.mean, real),
    "max": (Tensor.max, torch.amax, distinct),
    "min": (Tensor.min, torch.amin, distinct),
    "var": (lambda x: x.var(correction=0), lambda x: torch.var(x, correction=0), distinct),
    "std": (lambda x: x.std(correction=0), lambda x: torch.std(x, correction=0), distinct),
    "logsumexp": (Tensor.logsumexp, lambda x: torch.logsumexp(x, dims(x, None)), real),
    "flatten": (Tensor.flatten, torch.flatten, real),
    "T": (lambda x: x.T, lambda x: x.permute(tuple(reversed(range(x.ndim)))), real),
    "clone": (Tensor.clone, torch.clone, real),
    "index_repeated": (lambda x: x[..., [0, 0, -1]], lambda x: x[..., [0, 0, -1]], real),
}

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, real, real),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, real, real),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, real, real),
    "div": (lambda a, b: a / b, lambda a, b: a / b, real, off_zero),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, positive, real),
    "maximum": (tg.maximum, torch.maximum, distinct, lambda rng, s: distinct(rng, s) + 0.1),
    "minimum": (tg.minimum, torch.minimum, distinct, lambda rng, s: distinct(rng, s) + 0.1),
    "where": (
        lambda a, b: tg.where(a.data > b.data, a, b),
        lambda a, b: torch.where(a > b, a, b),
        real,
        real,
    ),
}

AXIS_OPS = {
    # name: (tinygrad_edu(x, axis, keepdims), torch(x, axis, keepdims))
    "sum": (Tensor.sum, lambda x, a, k: torch.sum(x, dims(x, a), keepdim=k)),
    "mean": (Tensor.mean, lambda x, a, k: torch.mean(x, dims(x, a), keepdim=k)),
    "amax": (Tensor.amax, lambda x, a, k: torch.amax(x, dims(x, a), keepdim=k)),
    "amin": (Tensor.amin, lambda x, a, k: torch.amin(x, dims(x, a), keepdim=k)),
    "var_biased": (
        lambda x, a, k: x.var(a, keepdim=k, correction=0),
        lambda x, a, k: torch.var(x, dims(x, a), correction=0, keepdim=k),
    ),
    "var": (  # unbiased by default, as in PyTorch
        lambda x, a, k: x.var(a, keepdim=k),
        lambda x, a, k: torch.var(x, dims(x, a), keepdim=k),
    ),
    "std_biased": (
        lambda x, a, k: x.std(a, keepdim=k, unbiased=False),
        lambda x, a, k: torch.std(x, dims(x, a), unbiased=False, keepdim=k),
    ),
    "std": (
        lambda x, a, k: x.std(a, keepdim=k),
        lambda x, a, k: torch.std(x, dims(x, a), keepdim=k),
    ),
    "logsumexp": (Tensor.logsumexp, lambda x, a, k: torch.logsumexp(x, dims(x, a), keepdim=k)),
}
AXES = [None, 0, -1, (0, 2), (1,)]

SHAPE_OPS = {
    # name: (tinygrad_edu, torch, input shape)
    "reshape": (lambda x: x.reshape(3, -1), lambda x: x.reshape(3, -1), (2, 3, 2)),
    "view": (lambda x: x.view(12), lambda x: x.view(12), (2, 3, 2)),
    "transpose": (lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), (2, 3, 4)),
    "transpose_default": (lambda x: x.transpose(), lambda x: x.transpose(-2, -1), (2, 3, 4)),
    "permute": (lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0), (2, 3, 4)),
    "T": (lambda x: x.T, lambda x: x.T, (2, 3)),
    "flatten": (lambda x: x.flatten(1), lambda x: x.flatten(1), (2, 3, 4)),
    "flatten_middle": (lambda x: x.flatten(1, 2), lambda x: x.flatten(1, 2), (2, 3, 4, 2)),
    "squeeze": (lambda x: x.squeeze(), lambda x: x.squeeze(), (1, 3, 1, 2)),
    "squeeze_axis": (lambda x: x.squeeze(2), lambda x: x.squeeze(2), (1, 3, 1, 2)),
    "unsqueeze": (lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1), (2, 3)),
    "unsqueeze_last": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), (2, 3)),
    "expand": (lambda x: x.expand(4, 2, 3), lambda x: x.expand(4, 2, 3), (2, 1)),
    "expand_minus_one": (lambda x: x.expand(3, -1, 4), lambda x: x.expand(3, -1, 4), (2, 1)),
    "broadcast_to": (lambda x: x.broadcast_to((2, 3)), lambda x: x.broadcast_to((2, 3)), (3,)),
    "softmax": (lambda x: x.softmax(), lambda x: torch.softmax(x, -1), (2, 3, 4)),
    "softmax_axis0": (lambda x: x.softmax(0), lambda x: torch.softmax(x, 0), (2, 3, 4)),
    "log_softmax": (lambda x: x.log_softmax(), lambda x: torch.log_softmax(x, -1), (2, 3, 4)),
    "log_softmax_axis1": (lambda x: x.log_softmax(1), lambda x: torch.log_softmax(x, 1), (2, 3, 4)),
    "index_int": (lambda x: x[1], lambda x: x[1], (3, 4)),
    "index_slices": (lambda x: x[::2, 1:], lambda x: x[::2, 1:], (3, 4)),
    "index_none_ellipsis": (lambda x: x[None, ..., 0], lambda x: x[None, ..., 0], (2, 3, 4)),
    "index_int_array": (
        lambda x: x[np.array([[0, 2], [2, 2]])],
        lambda x: x[torch.tensor([[0, 2], [2, 2]])],
        (3, 4),
    ),
    "index_two_arrays": (
        lambda x: x[np.array([0, 1, 0]), np.array([3, 3, 3])],
        lambda x: x[torch.tensor([0, 1, 0]), torch.tensor([3, 3, 3])],
        (3, 4),
    ),
    "index_mask": (
        lambda x: x[np.array([True, False, True])],
        lambda x: x[torch.tensor([True, False, True])],
        (3, 4),
    ),
    "index_full_mask": (lambda x: x[x.data > 0], lambda x: x[x > 0], (3, 4)),
    "astype_float32_and_back": (
        lambda x: x.astype(np.float32).astype(np.float64),
        lambda x: x.float().double(),
        (3,),
    ),
}

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (3,)),
]


def compare(tg_fn, torch_fn, arrays, seed=0, rtol=1e-10):
    """Same inputs, same random upstream gradient: same values and same gradients."""
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = tg_fn(*ours), torch_fn(*theirs)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, shape):
    ours, theirs, domain = UNARY[name]
    if name == "index_repeated" and shape == ():
        pytest.skip("a 0-d tensor has no last axis to index")
    if name in ("std",) and shape == ():
        shape = (1,)  # std of one value: 0, with gradient 0 in both
    compare(ours, theirs, [domain(np.random.default_rng(len(shape)), shape)])


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary(name, shapes):
    ours, theirs, domain_a, domain_b = BINARY[name]
    rng = np.random.default_rng(7)
    compare(ours, theirs, [domain_a(rng, shapes[0]), domain_b(rng, shapes[1])])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", AXIS_OPS)
def test_reduction_along_axes(name, axis, keepdims):
    ours, theirs = AXIS_OPS[name]
    x = distinct(np.random.default_rng(3), (2, 3, 4))
    compare(lambda t: ours(t, axis, keepdims), lambda t: theirs(t, axis, keepdims), [x])


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_and_index_ops(name):
    ours, theirs, shape = SHAPE_OPS[name]
    rtol = 1e-6 if "float32" in name else 1e-10
    compare(ours, theirs, [real(np.random.default_rng(5), shape)], rtol=rtol)


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    rng = np.random.default_rng(11)
    compare(lambda a, b: a @ b, torch.matmul, [real(rng, shapes[0]), real(rng, shapes[1])])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cat_and_stack(axis):
    rng = np.random.default_rng(13)
    pieces = [real(rng, (2, 3)), real(rng, (2, 3)), real(rng, (2, 3))]
    compare(lambda *xs: tg.stack(xs, axis), lambda *xs: torch.stack(xs, axis), pieces)
    pieces = [real(rng, (2, 3)), real(rng, (2, 3))]
    compare(lambda *xs: tg.cat(xs, axis), lambda *xs: torch.cat(xs, axis), pieces)


def test_a_small_network_with_a_loss():
    rng = np.random.default_rng(17)
    x, w1, b1, w2 = real(rng, (5, 3)), real(rng, (3, 4)), real(rng, (4,)), real(rng, (4, 2))
    target = np.array([0, 1, 1, 0, 1])

    def ours(x, w1, b1, w2):
        logits = (x @ w1 + b1).elu() @ w2
        return -logits.log_softmax()[np.arange(5), target].mean()

    def theirs(x, w1, b1, w2):
        logits = F.elu(x @ w1 + b1) @ w2
        return F.cross_entropy(logits, torch.tensor(target))

    compare(ours, theirs, [x, w1, b1, w2])


# ---- exactly at the kinks ---------------------------------------------------------------


KINKS = {
    "relu": (Tensor.relu, torch.relu, [-1.0, 0.0, 1.0]),
    "abs": (Tensor.abs, torch.abs, [-1.0, 0.0, 1.0]),
    "leaky_relu": (lambda x: x.leaky_relu(0.2), lambda x: F.leaky_relu(x, 0.2), [-1.0, 0.0, 1.0]),
    "elu": (lambda x: x.elu(0.5), lambda x: F.elu(x, 0.5), [-1.0, 0.0, 1.0]),
    "clip": (
        lambda x: x.clip(-1.0, 1.0),
        lambda x: torch.clamp(x, -1.0, 1.0),
        [-2.0, -1.0, 1.0, 2.0],
    ),
    "maximum_tie": (
        lambda x: tg.maximum(x, 0.0),
        lambda x: torch.maximum(x, torch.tensor(0.0, dtype=torch.float64)),
        [-1.0, 0.0, 1.0],
    ),
    "minimum_tie": (
        lambda x: tg.minimum(x, 0.0),
        lambda x: torch.minimum(x, torch.tensor(0.0, dtype=torch.float64)),
        [-1.0, 0.0, 1.0],
    ),
    "max_ties": (Tensor.max, torch.amax, [[3.0, 1.0, 3.0], [3.0, 0.0, 2.0]]),
    "max_ties_full": (Tensor.max, torch.max, [[3.0, 1.0, 3.0], [3.0, 0.0, 2.0]]),
    "min_ties_axis": (
        lambda x: x.amin(1),
        lambda x: torch.amin(x, 1),
        [[1.0, 1.0, 3.0], [0.0, 0.0, 0.0]],
    ),
    "pow_square_at_zero": (lambda x: x**2, lambda x: x**2, [0.0, 1.0]),
    "pow_zero_at_zero": (lambda x: x**0, lambda x: x**0, [0.0, 1.0]),
    "std_of_equal_values": (Tensor.std, torch.std, [2.0, 2.0, 2.0]),
    "sigmoid_extremes": (Tensor.sigmoid, torch.sigmoid, [-800.0, 0.0, 800.0]),
    "softmax_extremes": (Tensor.softmax, lambda x: torch.softmax(x, -1), [1000.0, 0.0, -1000.0]),
    "logsumexp_extremes": (
        Tensor.logsumexp,
        lambda x: torch.logsumexp(x, 0),
        [1000.0, 1000.0, -1000.0],
    ),
}


@pytest.mark.parametrize("name", KINKS)
def test_kink(name):
    ours, theirs, values = KINKS[name]
    compare(ours, theirs, [np.array(values)], rtol=1e-12)


def test_pow_exponent_gradient_at_base_zero():
    def ours(b):
        return Tensor([0.0, 0.0, 0.0, 2.0]) ** b

    def theirs(b):
        return torch.tensor([0.0, 0.0, 0.0, 2.0], dtype=torch.float64) ** b

    compare(ours, theirs, [np.array([2.0, 0.0, 0.5, 1.5])])
