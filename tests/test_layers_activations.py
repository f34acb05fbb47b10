"""GELU, SiLU, Softplus, Hardtanh, ReLU6, Mish, CELU, Softsign, Hardswish and the Erf primitive.

Against PyTorch in float64 (skipped where it is not installed): values and gradients on random
inputs, at the kinks (where the conventions are PyTorch's) and far out (no overflow), module
reprs; then gradcheck / gradgradcheck over random shapes with Hypothesis, and the errors.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu.nn import layers

RTOL, ATOL = 1e-10, 1e-12

# name, our function, PyTorch's (by name in torch.nn.functional, with the same arguments)
# and the points where it is not smooth (for the finite differences to keep away from)
FUNCTIONS = [
    ("gelu", lambda x: F.gelu(x), ("gelu", {}), []),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), ("gelu", {"approximate": "tanh"}), []),
    ("silu", F.silu, ("silu", {}), []),
    ("softplus", F.softplus, ("softplus", {}), [20.0]),
    (
        "softplus beta 2",
        lambda x: F.softplus(x, beta=2.0, threshold=5.0),
        ("softplus", {"beta": 2.0, "threshold": 5.0}),
        [2.5],
    ),
    (
        "softplus beta 0.5",
        lambda x: F.softplus(x, 0.5, 3.0),
        ("softplus", {"beta": 0.5, "threshold": 3.0}),
        [6.0],
    ),
    ("hardtanh", F.hardtanh, ("hardtanh", {}), [-1.0, 1.0]),
    (
        "hardtanh -2 3",
        lambda x: F.hardtanh(x, -2.0, 3.0),
        ("hardtanh", {"min_val": -2.0, "max_val": 3.0}),
        [-2.0, 3.0],
    ),
    ("relu6", F.relu6, ("relu6", {}), [0.0, 6.0]),
    ("mish", F.mish, ("mish", {}), []),
    ("celu", F.celu, ("celu", {}), []),
    ("celu 2", lambda x: F.celu(x, alpha=2.0), ("celu", {"alpha": 2.0}), []),
    ("celu 0.5", lambda x: F.celu(x, 0.5), ("celu", {"alpha": 0.5}), []),
    ("softsign", F.softsign, ("softsign", {}), []),
    ("hardswish", F.hardswish, ("hardswish", {}), [-3.0, 3.0]),
]
IDS = [f[0] for f in FUNCTIONS]

# the kinks of every function above, and values where exp(x) overflows or underflows
SPECIAL = [0.0, -1.0, 1.0, -2.0, 3.0, -3.0, 6.0, 2.5, 5.0, 20.0, 20.000001, 19.99999, 6.0]
SPECIAL += [50.0, -50.0, 800.0, -800.0, 1e-9, -1e-9, -1e-7, 1e100, -1e100]


def torch_function(spec):
    torch = pytest.importorskip("torch")
    name, kwargs = spec
    fn = getattr(torch.nn.functional, name)
    return lambda t: fn(t, **kwargs)


def inputs():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(size=200) * 5, SPECIAL]).reshape(-1, 3)


def compare(ours, theirs, x):
    """Values and input gradients (for one random upstream gradient) of both, in float64."""
    torch = pytest.importorskip("torch")
    xs = tg.Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, tout = ours(xs), theirs(xt)
    upstream = np.random.default_rng(1).normal(size=x.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    assert out.shape == tuple(tout.shape) and out.dtype == np.float64
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, ours, theirs, kinks", FUNCTIONS, ids=IDS)
def test_functions_match_pytorch(name, ours, theirs, kinks):
    compare(ours, torch_function(theirs), inputs())  # (a RuntimeWarning fails the test)


@pytest.mark.parametrize("name, ours, theirs, kinks", FUNCTIONS, ids=IDS)
def test_slopes_at_the_kinks_are_pytorchs(name, ours, theirs, kinks):
    """Exactly the same gradient at the points where the function is not smooth."""
    torch = pytest.importorskip("torch")
    theirs = torch_function(theirs)
    for point in kinks + [0.0]:
        x = tg.Tensor([point], requires_grad=True)
        xt = torch.tensor([point], dtype=torch.float64, requires_grad=True)
        ours(x).sum().backward()
        theirs(xt).sum().backward()
        assert x.grad.data[0] == pytest.approx(xt.grad.item(), rel=1e-12, abs=1e-15), point


MODULES = [
    ("GELU", (), {}),
    ("GELU", ("tanh",), {}),
    ("SiLU", (), {}),
    ("SiLU", (), {"inplace": True}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 10.0), {}),
    ("Hardtanh", (), {}),
    ("Hardtanh", (-2.0, 3.0), {"inplace": True}),
    ("ReLU6", (), {}),
    ("ReLU6", (True,), {}),
    ("Mish", (), {}),
    ("CELU", (), {}),
    ("CELU", (2.0,), {"inplace": True}),
    ("Softsign", (), {}),
    ("Hardswish", (), {}),
]


@pytest.mark.parametrize(
    "name, args, kwargs", MODULES, ids=[f"{m[0]}{m[1]}{m[2]}" for m in MODULES]
)
def test_modules_match_pytorch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    ours = getattr(layers, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = inputs()
    compare(ours, lambda t: theirs(t.clone()), x)  # (theirs may work in place)


def test_erf_matches_pytorch_and_math():
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-6, 6, 121), [0.0, 1e-300, -1e-9, 30.0, -30.0]])
    compare(F.Erf.apply, torch.erf, x)
    assert F.Erf.apply(tg.Tensor(0.5)).item() == math.erf(0.5)  # 0-d
    out = F.Erf.apply(tg.Tensor(np.array([0.5, -1.0], dtype=np.float32)))
    assert out.dtype == np.float32
    assert F.Erf.apply(tg.Tensor(np.zeros((0, 3)))).shape == (0, 3)


def test_erf_in_float32_is_within_four_units_in_the_last_place():
    """float32 takes the polynomial path: against math.erf (double precision, rounded) on a
    dense grid, on tiny values (where erf(x) ~ 2x/sqrt(pi)) and at the ends."""
    x = np.concatenate(
        [np.linspace(-6, 6, 100001), np.geomspace(1e-30, 1, 500), -np.geomspace(1e-30, 1, 500)]
    ).astype(np.float32)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    got = F.Erf.apply(tg.Tensor(x)).data
    assert got.dtype == np.float32
    units = np.abs(got.astype(np.float64) - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert units.max() <= 4  # (2.6 measured; NumPy's float32 exp may differ by a unit by CPU)
    ends = F.Erf.apply(tg.Tensor(np.array([np.inf, -np.inf, 0.0, -0.0, np.nan], np.float32)))
    np.testing.assert_array_equal(ends.data, [1, -1, 0, 0, np.nan])
    assert np.signbit(ends.data[3])  # erf(-0) = -0
    float16 = F.Erf.apply(tg.Tensor(np.array([0.5, -2.0], np.float16))).data
    assert float16.dtype == np.float16
    np.testing.assert_allclose(float16, [math.erf(0.5), math.erf(-2.0)], rtol=1e-3)


def test_horner_evaluates_polynomials():
    """`_horner` against np.polyval: with a leading coefficient of 1, a constant of 0 (not
    added), degree 1 and an array left unchanged."""
    v = np.linspace(-3, 3, 13)
    kept = v.copy()
    for coefficients in ([2.0, -1.0, 0.5, 1.0], [0.0, 3.0, 1.0], [1.5, 1.0], [0.0, -2.0, 4.0, 0.25]):
        np.testing.assert_allclose(
            F._horner(np.array(coefficients), v), np.polyval(coefficients[::-1], v), rtol=1e-13
        )
    np.testing.assert_array_equal(v, kept)


def test_the_normal_cdf_in_float32_is_accurate_into_the_lower_tail():
    """GELU's Phi in float32: within 16 ulp (1e-6 relatively) where |x| <= 2, and 5e-5
    relatively out to x = -12, where 1 + erf(x / sqrt(2)) would have cancelled to 0 (the
    rounding of x^2 / 2 in float32 grows there by exp); exactly 1/2 at 0, 0 and 1 at the
    infinities. exp(-x^2 / 2), computed beside it, within 4 ulp of the exact value where
    |x| <= 2 (that rounding again) and 1e-5 relatively out to |x| = 12."""
    x = np.concatenate([np.linspace(-12, 12, 48001), np.linspace(-2, 2, 100001)])
    x = x.astype(np.float32)
    wide = x.astype(np.float64)
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in wide])
    got, gauss = (a.astype(np.float64) for a in F._normal_cdf_float32(x))
    near = np.abs(x) <= 2
    units = np.abs(got - exact) / np.spacing(exact.astype(np.float32))
    assert units[near].max() <= 16  # (9.3 measured)
    assert (np.abs(got - exact) / exact).max() <= 5e-5  # (7.7e-6 measured)
    exact_gauss = np.exp(-0.5 * wide * wide)
    gauss_units = np.abs(gauss - exact_gauss) / np.spacing(exact_gauss.astype(np.float32))
    assert gauss_units[near].max() <= 4
    assert (np.abs(gauss - exact_gauss) / exact_gauss).max() <= 1e-5
    cdf_ends, gauss_ends = F._normal_cdf_float32(
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)
    )
    np.testing.assert_array_equal(cdf_ends, [0.5, 0.5, 1, 0, np.nan])
    np.testing.assert_array_equal(gauss_ends, [1, 1, 0, 0, np.nan])
    # NaN, an infinity or a huge value take the path that clamps |x| at 16: the rest unchanged
    mixed = np.array([np.nan, -1.5, 1e7, -3.0, 30.0, -1e30], np.float32)
    cdf_mixed, gauss_mixed = F._normal_cdf_float32(mixed)
    normal_cdf = [0.5 * math.erfc(-v / math.sqrt(2)) for v in (-1.5, -3.0)]
    np.testing.assert_allclose(cdf_mixed[[1, 3]], normal_cdf, rtol=1e-6)
    np.testing.assert_array_equal(cdf_mixed[[2, 4, 5]], [1, 1, 0])
    np.testing.assert_allclose(gauss_mixed[[1, 3]], np.exp(-0.5 * mixed[[1, 3]] ** 2), rtol=1e-6)
    np.testing.assert_array_equal(gauss_mixed[[2, 4, 5]], 0)
    assert np.isnan(cdf_mixed[0]) and np.isnan(gauss_mixed[0])
    # the continued fraction is the fitted P / Q: evaluated level by level, as the passes do
    numerator, denominator = F._normal_tail_rational()
    shifts, numerators, scale = F._normal_tail_fraction()
    assert numerator[0] / denominator[0] == 0.5 and len(shifts) == 4 and len(numerators) == 3
    a = np.linspace(0, 14, 1401)
    levels = a + shifts[3].astype(np.float64)
    for k in (2, 1, 0):
        levels = a + shifts[k] + numerators[k] / levels
    polynomials = np.polynomial.polynomial.polyval(a, numerator) / np.polynomial.polynomial.polyval(
        a, denominator
    )
    np.testing.assert_allclose(scale / levels, polynomials, rtol=2e-6)
    cdf_0d, gauss_0d = F._normal_cdf_float32(np.float32(-1.5))  # a 0-d value (a NumPy scalar)
    assert cdf_0d.shape == gauss_0d.shape == () and cdf_0d.dtype == np.float32
    assert float(cdf_0d) == pytest.approx(0.5 * math.erfc(1.5 / math.sqrt(2)), rel=1e-6)


def test_gelu_in_float32_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    leaf = tg.Tensor(x, requires_grad=True)
    ours = F.gelu(leaf)
    ours.sum().backward()
    theirs_leaf = torch.tensor(x, requires_grad=True)
    theirs = torch.nn.functional.gelu(theirs_leaf)
    theirs.sum().backward()
    # (both compute 1 + erf(x / sqrt(2)) in float32, which cancels for x < -4: hence atol)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(leaf.grad.data, theirs_leaf.grad.numpy(), rtol=2e-6, atol=1e-6)


def test_gelu_in_float32_is_accurate_in_the_lower_tail_where_pytorch_cancels():
    """The README's difference from PyTorch: gelu(-5) and gelu(-6) in float32 to 1e-5
    relatively here, where PyTorch's 1 + erf cancels (checked too when it is installed)."""
    x = np.array([-5.0, -6.0], np.float32)
    exact = [v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in (-5.0, -6.0)]
    ours = F.gelu(tg.Tensor(x)).data
    np.testing.assert_allclose(ours, exact, rtol=1e-5)
    torch = pytest.importorskip("torch")
    theirs = torch.nn.functional.gelu(torch.tensor(x)).numpy()
    assert theirs[1] == 0 and abs(theirs[0] / exact[0] - 1) > 0.01  # (4% on an AVX2 CPU, over 10% on AVX-512)


def test_gelu_primitive_equals_its_composition():
    """GELU's one node against x * (1 + erf(x / sqrt(2))) / 2, values and gradients."""
    rng = np.random.default_rng(11)
    data, upstream = rng.standard_normal((4, 6)) * 3, rng.standard_normal((4, 6))
    fused_x, composed_x = tg.Tensor(data, requires_grad=True), tg.Tensor(data, requires_grad=True)
    fused = F.gelu(fused_x)
    assert fused.grad_fn.name == "Gelu"
    composed = composed_x * 0.5 * (1 + F.Erf.apply(composed_x * math.sqrt(0.5)))
    fused.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fused_x.grad.data, composed_x.grad.data, rtol=1e-13, atol=1e-14)


def test_float32_stays_float32():
    x = tg.Tensor(np.linspace(-5, 5, 11, dtype=np.float32), requires_grad=True)
    for name, ours, _, _ in FUNCTIONS:
        out = ours(x)
        assert out.dtype == np.float32, name
        out.sum().backward()
        assert x.grad.dtype == np.float32, name
        x.grad = None


def test_mlp_takes_the_new_activations_by_name():
    mlp = layers.MLP([2, 4, 1], activation="gelu", output_activation="softplus")
    assert isinstance(mlp[1], layers.GELU) and isinstance(mlp[3], layers.Softplus)
    for name in ["silu", "mish", "softsign", "hardtanh", "relu6", "hardswish", "celu"]:
        assert layers.MLP([2, 3, 1], activation=name)(tg.randn(5, 2)).shape == (5, 1)


# ---- gradcheck and gradgradcheck over random shapes -------------------------------------------


def away_from(values, kinks, margin=1e-3):
    """Move values within ``margin`` of a kink by 10 * margin, so finite differences do not
    straddle it."""
    for kink in kinks:
        near = np.abs(values - kink) < margin
        values = np.where(near, values + 10 * margin, values)
    return values


@pytest.mark.parametrize("name, fn, theirs, kinks", FUNCTIONS, ids=IDS)
@settings(max_examples=6, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), max_size=3),
    scale=st.sampled_from([0.5, 3.0, 8.0]),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_and_gradgradcheck(name, fn, theirs, kinks, shape, scale, seed):
    values = np.random.default_rng(seed).normal(size=tuple(shape)) * scale
    x = tg.Tensor(away_from(values, kinks), requires_grad=True)
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 4), max_size=3), seed=st.integers(0, 2**16))
def test_erf_gradcheck_and_gradgradcheck(shape, seed):
    x = tg.Tensor(np.random.default_rng(seed).normal(size=tuple(shape)) * 2, requires_grad=True)
    assert tg.gradcheck(F.Erf.apply, [x])
    assert tg.gradgradcheck(F.Erf.apply, [x])


def test_modules_gradcheck_inside_a_network():
    """The activations as layers of a small network, checked through the Linear layers."""
    tg.manual_seed(0)
    acts = [layers.GELU(), layers.SiLU(), layers.Mish(), layers.CELU(0.7), layers.Softsign()]
    net = layers.Sequential(*[m for act in acts for m in (layers.Linear(3, 3), act)])
    x = tg.Tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    assert tg.gradcheck(net, [x])
    assert tg.gradgradcheck(net, [x])


# ---- errors -----------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        layers.GELU("erf")
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh', got 'x'"):
        F.gelu(tg.randn(2), approximate="x")
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(1\) must be greater than min_val"):
        layers.Hardtanh(1, 1)
    with pytest.raises(ValueError, match="CELU: alpha must not be 0"):
        layers.CELU(0)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(tg.randn(2), 0.0)


def test_gelu_of_a_0d_tensor_holds_a_numpy_scalar_like_every_op():
    """A 0-d tensor holds a NumPy scalar (cheaper arithmetic); GELU, which computes in place,
    keeps to it in every float dtype, with the derivative Phi(x) + x phi(x)."""
    for dtype in (np.float64, np.float32, np.float16):
        x = tg.tensor(np.array(0.5, dtype), requires_grad=True)
        y = F.gelu(x)
        assert isinstance(y.data, np.generic) and y.data.dtype == dtype
        y.backward()
        phi = 0.5 * math.erfc(-0.5 / math.sqrt(2))
        expected = phi + 0.5 * math.exp(-0.125) / math.sqrt(2 * math.pi)
        assert float(x.grad.data) == pytest.approx(expected, rel=2e-3 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gelu_of_an_empty_tensor_is_empty(dtype):
    """No element, no reduction to fail on: an empty float32 or float16 input gives an empty
    output and an empty gradient (the CDF once took the max of its input)."""
    x = tg.Tensor(np.zeros((0, 3), dtype), requires_grad=True)
    y = F.gelu(x)
    y.sum().backward()
    assert y.shape == (0, 3) and y.dtype == dtype
    assert x.grad.shape == (0, 3) and x.grad.dtype == dtype
