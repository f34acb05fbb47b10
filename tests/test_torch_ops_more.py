"""More of PyTorch's tensor API against PyTorch in float64: elementwise math (floor ... cosh,
atan2, lerp, clamp with tensor bounds), the method forms of arithmetic, the logical and
bitwise operators, gathering and scattering, running sums and products, einsum, pad, and the
free functions of ``tinygrad_edu.functions`` (``torch.exp(x)`` ...). Values, gradients and
dtypes; gradcheck and gradgradcheck over random shapes (Hypothesis) for every differentiable
one; and the errors.

Skipped where PyTorch is not installed.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu import dtypes as tg_dtypes
from tinygrad_edu import functions as tgf

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = pytest.mark.usefixtures("grad_mode_restored")

SHAPES = [(), (3,), (2, 3)]


def real(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def unit(rng, shape):
    return rng.uniform(-0.9, 0.9, shape)


def off_integers(rng, shape):
    """Away from the steps of floor, ceil, round and trunc (and from 0 for sign)."""
    return rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape) * rng.choice([1, -1], shape)


@pytest.fixture(params=["float32", "float64"])
def default_dtype(request):
    """One default float dtype in both libraries (PyTorch's own is float32, ours float64)."""
    ours, theirs = tg_dtypes.get_default_dtype(), torch.get_default_dtype()
    tg_dtypes.set_default_dtype(np.dtype(request.param))
    torch.set_default_dtype(getattr(torch, request.param))
    yield np.dtype(request.param)
    tg_dtypes.set_default_dtype(ours)
    torch.set_default_dtype(theirs)


def compare(tg_fn, torch_fn, arrays, seed=0, rtol=1e-10, grad=True):
    """Same inputs, same random upstream gradient: same values and same gradients."""
    ours = [Tensor(a, requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    out, ref = tg_fn(*ours), torch_fn(*theirs)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == torch_dtype(ref.dtype)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    if not grad:
        return
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for x, t in zip(ours, theirs):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(x.grad.data, expected, rtol=rtol, atol=1e-12)


def torch_dtype(dtype):
    return np.dtype(str(dtype).removeprefix("torch."))


def same(ours, theirs):
    """Same values and the same dtype."""
    theirs = theirs if isinstance(theirs, torch.Tensor) else torch.tensor(theirs)
    assert ours.dtype == torch_dtype(theirs.dtype), (ours.dtype, theirs.dtype)
    assert ours.shape == tuple(theirs.shape)
    rtol = 1e-6 if ours.dtype == np.float32 else 1e-10  # float32: NumPy's and torch's ulps
    np.testing.assert_allclose(np.asarray(ours.data), theirs.numpy(), rtol=rtol, atol=1e-12)


def checks(fn, arrays):
    """gradcheck and gradgradcheck of fn at float64 ``arrays``."""
    inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert tg.gradcheck(fn, inputs)
    assert tg.gradgradcheck(fn, inputs)


# ---- elementwise math --------------------------------------------------------------------------

UNARY = {
    # name: (ours, torch's, domain)
    "floor": (Tensor.floor, torch.floor, off_integers),
    "ceil": (Tensor.ceil, torch.ceil, off_integers),
    "trunc": (Tensor.trunc, torch.trunc, off_integers),
    "round": (Tensor.round, torch.round, off_integers),
    "round_decimals": (lambda x: x.round(1), lambda x: torch.round(x, decimals=1), real),
    "round_builtin": (round, torch.round, off_integers),
    "sign": (Tensor.sign, torch.sign, off_integers),
    "rsqrt": (Tensor.rsqrt, torch.rsqrt, positive),
    "log2": (Tensor.log2, torch.log2, positive),
    "log10": (Tensor.log10, torch.log10, positive),
    "exp2": (Tensor.exp2, torch.exp2, real),
    "expm1": (Tensor.expm1, torch.expm1, real),
    "sin": (Tensor.sin, torch.sin, real),
    "cos": (Tensor.cos, torch.cos, real),
    "tan": (Tensor.tan, torch.tan, unit),
    "asin": (Tensor.asin, torch.asin, unit),
    "acos": (Tensor.acos, torch.acos, unit),
    "atan": (Tensor.atan, torch.atan, real),
    "sinh": (Tensor.sinh, torch.sinh, real),
    "cosh": (Tensor.cosh, torch.cosh, real),
    "square": (Tensor.square, torch.square, real),
    "neg": (Tensor.neg, torch.neg, real),
    "reciprocal": (Tensor.reciprocal, torch.reciprocal, positive),
    "abs_builtin": (abs, torch.abs, positive),
    "clamp_numbers": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), real),
    "clamp_min": (lambda x: x.clamp_min(0.2), lambda x: x.clamp_min(0.2), real),
    "clamp_max": (lambda x: x.clamp_max(0.2), lambda x: x.clamp_max(0.2), real),
    "clip": (lambda x: x.clip(max=0.1), lambda x: x.clip(max=0.1), real),
    "cumsum": (lambda x: x.cumsum(-1), lambda x: x.cumsum(-1), real),
    "cumprod": (lambda x: x.cumprod(0), lambda x: x.cumprod(0), real),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_against_torch(name, shape):
    ours, theirs, domain = UNARY[name]
    compare(ours, theirs, [domain(np.random.default_rng(1), shape)])


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "sign"])
def test_piecewise_constant_at_their_steps_have_zero_gradient(name):
    """At the steps too: PyTorch's gradient is 0 everywhere."""
    compare(UNARY[name][0], UNARY[name][1], [np.array([-1.5, -1.0, 0.0, 0.5, 1.0, 2.5])])


def test_round_halves_to_even_as_torch():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.125, 0.375])
    same(Tensor(x).round(), torch.round(torch.tensor(x)))
    same(Tensor(x).round(2), torch.round(torch.tensor(x), decimals=2))
    same(tgf.round(Tensor(x), decimals=2), torch.round(torch.tensor(x), decimals=2))


def test_rounding_keeps_integers():
    ints = np.array([-3, 0, 4])
    for name in ["floor", "ceil", "trunc", "round", "sign"]:
        same(getattr(Tensor(ints), name)(), getattr(torch.tensor(ints), name)())
    same(Tensor(np.array([True, False])).sign(), torch.tensor([True, False]).sign())


@pytest.mark.parametrize(
    "name",
    [
        "rsqrt",
        "log2",
        "log10",
        "exp2",
        "expm1",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "sinh",
        "cosh",
        "reciprocal",
        "square",
        "neg",
    ],
)
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32", "float64"])
def test_result_dtypes_as_torch(name, dtype, default_dtype):
    """Integers give the default dtype (float32 in PyTorch unless set, float64 here)."""
    values = np.array([1, 2, 3]) if name not in ("asin", "acos") else np.array([0, 1, 0])
    ours = getattr(Tensor(values.astype(dtype)), name)()
    theirs = getattr(torch.tensor(values.astype(dtype)), name)()
    same(ours, theirs)


@pytest.mark.parametrize("name", UNARY)
def test_float32_stays_float32_with_its_gradient(name):
    x = Tensor(np.array([0.3, -0.6], dtype=np.float32), requires_grad=True)
    out = UNARY[name][0](x * np.float32(0.5) + np.float32(0.5))  # in every domain above
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_integers_give_the_default_dtype_here_float64():
    assert Tensor([1, 2]).sin().dtype == np.float64
    assert tgf.where(Tensor([True]), 1.0, 0.0).dtype == np.float64
    assert tgf.where(Tensor([True]), 1, 0).dtype == np.int64


def test_square_of_bools_is_int64():
    same(Tensor([True, False]).square(), torch.tensor([True, False]).square())


def test_ends_of_the_domain_give_torchs_infinities_without_warnings():
    x = np.array([0.0, 1.0, -1.0])
    same(Tensor(x).rsqrt(), torch.rsqrt(torch.tensor(x)))
    same(Tensor(x).log2(), torch.log2(torch.tensor(x)))
    same(Tensor(x).log10(), torch.log10(torch.tensor(x)))
    same(Tensor(np.array([2.0, -1.0])).asin(), torch.asin(torch.tensor([2.0, -1.0]).double()))
    ours = Tensor(np.array([1.0, 0.5]), requires_grad=True)
    ours.asin().sum().backward()
    theirs = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    theirs.asin().sum().backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)


BINARY = {
    # name: (ours, torch's, domain of a, domain of b)
    "atan2": (Tensor.atan2, torch.atan2, real, real),
    "lerp_number": (lambda a, b: a.lerp(b, 0.3), lambda a, b: a.lerp(b, 0.3), real, real),
    "lerp_number_high": (lambda a, b: a.lerp(b, 0.8), lambda a, b: a.lerp(b, 0.8), real, real),
    "add_alpha": (lambda a, b: a.add(b, alpha=2.5), lambda a, b: a.add(b, alpha=2.5), real, real),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=-2), lambda a, b: a.sub(b, alpha=-2), real, real),
    "mul": (Tensor.mul, torch.mul, real, real),
    "div": (Tensor.div, torch.div, real, positive),
    "true_divide": (Tensor.true_divide, torch.true_divide, real, positive),
    "pow": (Tensor.pow, torch.pow, positive, real),
    "div_floor": (
        lambda a, b: a.div(b, rounding_mode="floor"),
        lambda a, b: a.div(b, rounding_mode="floor"),
        real,
        positive,
    ),
    "div_trunc": (
        lambda a, b: a.div(b, rounding_mode="trunc"),
        lambda a, b: a.div(b, rounding_mode="trunc"),
        real,
        positive,
    ),
    "remainder": (lambda a, b: a % b, lambda a, b: a % b, real, positive),
    "remainder_negative": (lambda a, b: a % -b, lambda a, b: a % -b, real, positive),
    "clamp_tensors": (
        lambda a, b: a.clamp(b - 0.5, b + 0.5),
        lambda a, b: a.clamp(b - 0.5, b + 0.5),
        real,
        real,
    ),
    "clamp_tensor_min": (lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), real, real),
    "clamp_tensor_max": (lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b), real, real),
    "clamp_crossed": (  # min > max: the result is max, whose gradient is everywhere
        lambda a, b: a.clamp(b + 0.5, b - 0.5),
        lambda a, b: a.clamp(b + 0.5, b - 0.5),
        real,
        real,
    ),
}
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_against_torch(name, shapes):
    ours, theirs, domain_a, domain_b = BINARY[name]
    rng = np.random.default_rng(2)
    compare(ours, theirs, [domain_a(rng, shapes[0]), domain_b(rng, shapes[1])])


def test_lerp_with_a_tensor_weight():
    rng = np.random.default_rng(3)
    arrays = [real(rng, (2, 3)), real(rng, (2, 3)), rng.uniform(-0.2, 1.2, (3,))]
    compare(lambda a, b, w: a.lerp(b, w), lambda a, b, w: torch.lerp(a, b, w), arrays)
    compare(lambda a, b, w: tgf.lerp(a, b, w), torch.lerp, arrays)


def test_clamp_gradients_at_ties_as_torch():
    """x equal to a bound: x keeps the gradient, the bound gets none; min == max."""
    x = np.array([0.0, 1.0, 0.5, 2.0, -1.0])
    low = np.array([0.0, 0.0, 0.5, 1.0, 0.0])
    high = np.array([1.0, 1.0, 0.5, 1.0, 1.0])
    compare(lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c), [x, low, high])
    compare(lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), [x, low])
    compare(lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b), [x, high])


def test_clamp_with_a_tensor_bound_and_a_number():
    rng = np.random.default_rng(4)
    arrays = [real(rng, (2, 3)), real(rng, (3,))]
    bound = torch.tensor(0.5, dtype=torch.float64)  # torch takes no number beside a tensor
    compare(lambda a, b: a.clamp(b, 0.5), lambda a, b: a.clamp(b, bound), arrays)
    compare(lambda a, b: tgf.clamp(a, -0.5, b), lambda a, b: torch.clamp(a, -bound, b), arrays)


def test_clamp_keeps_float32_with_a_0d_float64_bound():
    x = Tensor(np.array([1.0, -2.0], dtype=np.float32))
    same(
        x.clamp(Tensor(0.0), Tensor(0.5)),
        torch.tensor([1.0, -2.0]).clamp(
            torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
        ),
    )


def test_rounded_division_and_remainder_as_python_and_torch():
    a = np.array([1.0, -1.0, 7.5, -7.5, 5.0])
    b = np.array([0.1, 0.1, 2.0, 2.0, -3.0])
    ta, tb = torch.tensor(a), torch.tensor(b)
    same(Tensor(a) // Tensor(b), ta // tb)  # 1.0 // 0.1 is 9.0, as in Python
    same(Tensor(a) % Tensor(b), ta % tb)
    same(Tensor(a).div(Tensor(b), rounding_mode="trunc"), ta.div(tb, rounding_mode="trunc"))
    same(3.0 // Tensor(b), 3.0 // tb)
    same(3.0 % Tensor(b), 3.0 % tb)
    ints = np.array([7, -7, 7, -7, 0])
    divisors = np.array([2, 2, -2, -2, 3])
    ti, td = torch.tensor(ints), torch.tensor(divisors)
    same(Tensor(ints) // Tensor(divisors), ti // td)
    same(Tensor(ints) % Tensor(divisors), ti % td)
    for mode in ("trunc", "floor"):
        same(Tensor(ints).div(Tensor(divisors), rounding_mode=mode), ti.div(td, rounding_mode=mode))
    same(Tensor(ints) // 2, ti // 2)
    same(Tensor(ints.astype(np.int32)) % 3, torch.tensor(ints.astype(np.int32)) % 3)
    same(Tensor(a) // 0.0, ta // 0.0)  # inf and -inf, as in torch


def test_integer_division_by_zero_is_an_error():
    with pytest.raises(ZeroDivisionError):
        Tensor([1, 2]) // 0
    with pytest.raises(ZeroDivisionError):
        Tensor([1, 2]) % Tensor([1, 0])


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode"):
        Tensor([1.0]).div(2.0, rounding_mode="round")


def test_numpy_scalars_and_arrays_mix_with_the_new_operators():
    x = Tensor(np.array([3.5, -1.0], dtype=np.float32))
    assert (x // np.float64(2)).dtype == np.float32  # a 0-d operand keeps the tensor's dtype
    assert (x % 2).dtype == np.float32
    same(x // np.array([2.0, 2.0]), torch.tensor([3.5, -1.0]) // torch.tensor([2.0, 2.0]).double())


# ---- logical and bitwise -----------------------------------------------------------------------

BOOLS = np.array([True, False, True, False])
OTHER_BOOLS = np.array([True, True, False, False])
INTS = np.array([12, -3, 5, 0])
OTHER_INTS = np.array([10, 6, -1, 7])


@pytest.mark.parametrize(
    "values",
    [(BOOLS, OTHER_BOOLS), (INTS, OTHER_INTS), (INTS, BOOLS)],
    ids=["bool", "int", "int_bool"],
)
def test_bitwise_operators_as_torch(values):
    a, b = values
    ta, tb = torch.tensor(a), torch.tensor(b)
    for op in ("__and__", "__or__", "__xor__"):
        same(getattr(Tensor(a), op)(Tensor(b)), getattr(ta, op)(tb))
    same(Tensor(a) & Tensor(b), ta & tb)
    same(Tensor(a) | Tensor(b), ta | tb)
    same(Tensor(a) ^ Tensor(b), ta ^ tb)
    same(~Tensor(a), ~ta)
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        same(getattr(Tensor(a), name)(Tensor(b)), getattr(ta, name)(tb))
        same(getattr(tgf, name)(Tensor(a), Tensor(b)), getattr(torch, name)(ta, tb))
    same(Tensor(a).bitwise_not(), ta.bitwise_not())
    same(tgf.bitwise_not(Tensor(a)), torch.bitwise_not(ta))


def test_bitwise_with_python_numbers_and_reflected():
    same(Tensor(INTS) & 6, torch.tensor(INTS) & 6)
    same(6 | Tensor(INTS), 6 | torch.tensor(INTS))
    same(True ^ Tensor(BOOLS), True ^ torch.tensor(BOOLS))
    same(Tensor(BOOLS) & True, torch.tensor(BOOLS) & True)
    same(Tensor(INTS.astype(np.int32)) & 3, torch.tensor(INTS.astype(np.int32)) & 3)
    same(~Tensor(INTS.astype(np.int32)), ~torch.tensor(INTS.astype(np.int32)))


def test_masks_combine_as_in_lecture_code():
    x = Tensor([-2.0, 0.5, 3.0])
    t = torch.tensor([-2.0, 0.5, 3.0])
    same((x > 0) & (x < 1), (t > 0) & (t < 1))
    same((x < 0) | (x > 2), (t < 0) | (t > 2))
    same(~(x > 0), ~(t > 0))


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_as_torch(name):
    a, b = np.array([0.0, 1.5, -2.0, 0.0]), np.array([1.0, 0.0, 3.0, 0.0])
    same(getattr(Tensor(a), name)(Tensor(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))
    same(
        getattr(tgf, name)(Tensor(INTS), Tensor(BOOLS)),
        getattr(torch, name)(torch.tensor(INTS), torch.tensor(BOOLS)),
    )
    same(Tensor(a).logical_not(), torch.tensor(a).logical_not())
    same(tgf.logical_not(Tensor(INTS)), torch.logical_not(torch.tensor(INTS)))


def test_bitwise_on_floats_is_a_type_error():
    x = Tensor([1.0, 2.0])
    for do in (
        lambda: x & x,
        lambda: x | True,
        lambda: 1 ^ x,
        lambda: Tensor([1]) & 1.5,
        lambda: x.bitwise_and(Tensor([1, 2])),
    ):
        with pytest.raises(TypeError, match="only for bool and integer tensors"):
            do()
    with pytest.raises(TypeError, match="integer and Boolean"):
        _ = ~x
    with pytest.raises(TypeError, match="integer and Boolean"):
        x.bitwise_not()


def test_logical_and_bitwise_carry_no_gradient():
    x = Tensor([1.0, 0.0], requires_grad=True)
    assert not x.logical_and(x).requires_grad
    assert not x.logical_not().requires_grad
    assert not ((x > 0) & (x < 2)).requires_grad


def test_bitwise_shapes_must_broadcast():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        Tensor([True, False]) & Tensor([True, False, True])


# ---- masked_fill, gather, scatter, index_select --------------------------------------------------


def test_masked_fill_as_torch():
    rng = np.random.default_rng(5)
    x = real(rng, (2, 3))
    mask = x > 0
    compare(
        lambda t: t.masked_fill(mask, -1.5), lambda t: t.masked_fill(torch.tensor(mask), -1.5), [x]
    )
    compare(
        lambda t: t.masked_fill(Tensor(mask[0]), 0.0),  # a broadcast mask
        lambda t: t.masked_fill(torch.tensor(mask[0]), 0.0),
        [x],
    )
    compare(
        lambda t, v: t.masked_fill(Tensor(mask), v),  # a 0-d value tensor gets a gradient
        lambda t, v: t.masked_fill(torch.tensor(mask), v),
        [x, np.array(0.25)],
    )
    compare(
        lambda t: tgf.masked_fill(t, Tensor(mask), float("-inf")).softmax(-1),
        lambda t: t.masked_fill(torch.tensor(mask), float("-inf")).softmax(-1),
        [x],
    )


def test_masked_fill_dtypes_and_broadcasting_as_torch():
    ints = np.array([[1, 2, 3]])
    mask = np.array([[True], [False]])
    same(
        Tensor(ints).masked_fill(Tensor(mask), 2.7),
        torch.tensor(ints).masked_fill(torch.tensor(mask), 2.7),
    )
    x32 = np.array([1.0, 2.0], dtype=np.float32)
    same(
        Tensor(x32).masked_fill(Tensor([True, False]), Tensor(5.0)),
        torch.tensor(x32).masked_fill(torch.tensor([True, False]), torch.tensor(5.0).double()),
    )


def test_masked_fill_errors():
    x = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="boolean masks"):
        x.masked_fill(Tensor([1, 0]), 0.0)
    with pytest.raises(ValueError, match="0-dimensional value tensor"):
        x.masked_fill(Tensor([True, False]), Tensor([1.0]))
    with pytest.raises(TypeError, match="value must be a number"):
        x.masked_fill(Tensor([True, False]), "zero")


GATHER_CASES = [
    # x shape, dim, index
    ((3, 4), 0, [[0, 1, 2, 0], [2, 2, 1, 0]]),
    ((3, 4), 1, [[3, 0], [1, 1], [0, 2]]),
    ((3, 4), -1, [[3], [3], [0]]),
    ((2, 3, 4), 1, np.array([[[0, 2, 1, 1]], [[2, 2, 0, 1]]])),
    ((5,), 0, [4, 4, 0]),
]


@pytest.mark.parametrize("case", GATHER_CASES, ids=str)
def test_gather_as_torch(case):
    shape, dim, index = case
    x = real(np.random.default_rng(6), shape)
    compare(
        lambda t: t.gather(dim, Tensor(index)), lambda t: t.gather(dim, torch.tensor(index)), [x]
    )
    compare(
        lambda t: tgf.gather(t, dim, np.array(index)),
        lambda t: torch.gather(t, dim, torch.tensor(index)),
        [x],
    )


@pytest.mark.parametrize("case", GATHER_CASES, ids=str)
def test_scatter_and_scatter_add_as_torch(case):
    shape, dim, index = case
    index = np.array(index)
    rng = np.random.default_rng(7)
    x, src = real(rng, shape), real(rng, tuple(n + 1 for n in index.shape))  # src is larger
    unique = index
    if dim % len(shape) == 0 and len(shape) == 1:
        unique = np.array([4, 1, 0])  # scatter's written value is undefined for repeated indices
    elif len(np.unique(index)) != index.size:
        unique = np.argsort(rng.random(shape), axis=dim)
        unique = unique[tuple(slice(0, n) for n in index.shape)]
    i_tg, i_t = Tensor(unique), torch.tensor(unique)
    # torch's backward fails for a src larger than the index: its gradients with one that fits
    compare(
        lambda a, s: a.scatter(dim, i_tg, s),
        lambda a, s: a.scatter(dim, i_t, s),
        [x, src],
        grad=False,
    )
    fitting = src[tuple(slice(0, n) for n in unique.shape)]
    compare(lambda a, s: a.scatter(dim, i_tg, s), lambda a, s: a.scatter(dim, i_t, s), [x, fitting])
    compare(lambda a: a.scatter(dim, i_tg, 2.5), lambda a: a.scatter(dim, i_t, 2.5), [x])
    compare(
        lambda a: tgf.scatter(a, dim, i_tg, value=-1.0),
        lambda a: torch.scatter(a, dim, i_t, value=-1.0),
        [x],
    )
    compare(
        lambda a, s: a.scatter_add(dim, Tensor(index), s),
        lambda a, s: a.scatter_add(dim, torch.tensor(index), s),
        [x, src],
        grad=False,
    )
    compare(
        lambda a, s: tgf.scatter_add(a, dim, Tensor(index), s),
        lambda a, s: torch.scatter_add(a, dim, torch.tensor(index), s),
        [x, src[tuple(slice(0, n) for n in index.shape)]],
    )


def test_scatter_add_accumulates_repeated_indices_as_torch():
    index = np.array([0, 2, 0, 0, 1])
    compare(
        lambda a, s: a.scatter_add(0, Tensor(index), s),
        lambda a, s: a.scatter_add(0, torch.tensor(index), s),
        [np.zeros(3), np.arange(5.0)],
    )


def test_scatter_builds_one_hot_as_in_lecture_code():
    labels = np.array([2, 0, 1])
    ours = tg.zeros(3, 4, dtype=np.float32).scatter(1, Tensor(labels).unsqueeze(1), 1.0)
    same(ours, torch.zeros(3, 4).scatter(1, torch.tensor(labels).unsqueeze(1), 1.0))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select_as_torch(dim):
    x = real(np.random.default_rng(8), (3, 4))
    index = [2, 0, 2]
    compare(
        lambda t: t.index_select(dim, Tensor(index)),
        lambda t: t.index_select(dim, torch.tensor(index)),
        [x],
    )
    compare(
        lambda t: tgf.index_select(t, dim, Tensor(1)),
        lambda t: torch.index_select(t, dim, torch.tensor(1)),
        [x],
    )


def test_gathering_on_integer_tensors_keeps_their_dtype():
    ints = np.arange(6).reshape(2, 3)
    index = np.array([[1, 0, 1]])
    same(Tensor(ints).gather(0, Tensor(index)), torch.tensor(ints).gather(0, torch.tensor(index)))
    same(
        Tensor(ints).scatter(0, Tensor(index), 9),
        torch.tensor(ints).scatter(0, torch.tensor(index), 9),
    )
    same(
        Tensor(ints).scatter_add(0, Tensor(index), Tensor(ints)),
        torch.tensor(ints).scatter_add(0, torch.tensor(index), torch.tensor(ints)),
    )
    same(
        Tensor(ints).index_select(1, Tensor([2, 2])),
        torch.tensor(ints).index_select(1, torch.tensor([2, 2])),
    )


def test_gather_and_scatter_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same number of dimensions"):
        x.gather(0, Tensor([0, 1, 0]))
    with pytest.raises(ValueError, match=r"Expected index \[1, 4\] to be no larger than self"):
        x.gather(0, Tensor([[0, 0, 0, 0]]))
    with pytest.raises(IndexError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x.gather(0, Tensor([[0, 2, 0]]))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        x.gather(1, Tensor([[-1]]))
    with pytest.raises(TypeError, match="Expected dtype int64 for index"):
        x.gather(0, Tensor([[0.0]]))
    with pytest.raises((IndexError, ValueError), match="out of range"):
        x.gather(2, Tensor([[0]]))
    with pytest.raises(ValueError, match="no larger than src"):
        x.scatter(0, Tensor([[0, 1]]), Tensor(np.zeros((1, 1))))
    with pytest.raises(TypeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter_add(0, Tensor([[0]]), Tensor(np.zeros((1, 1), dtype=np.float32)))
    with pytest.raises(TypeError, match="src must be a Tensor"):
        x.scatter_add(0, Tensor([[0]]), 1.0)
    with pytest.raises(TypeError, match="give src"):
        x.scatter(0, Tensor([[0]]))
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        x.index_select(0, Tensor([0, 3]))
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_select(0, Tensor([-1]))
    with pytest.raises(ValueError, match="supposed to be a vector"):
        x.index_select(0, Tensor([[0]]))


# ---- running sums and products, prod -------------------------------------------------------------

RUNNING_CASES = [((4,), 0), ((2, 3), 1), ((2, 3), 0), ((2, 3, 2), -2), ((), 0)]


@pytest.mark.parametrize("case", RUNNING_CASES, ids=str)
def test_cumsum_and_cumprod_as_torch(case):
    shape, dim = case
    x = real(np.random.default_rng(9), shape)
    compare(lambda t: t.cumsum(dim), lambda t: t.cumsum(dim), [x])
    compare(lambda t: tgf.cumprod(t, dim), lambda t: torch.cumprod(t, dim), [x])


@pytest.mark.parametrize("zeros", [[1], [0, 2], [0, 1, 3]], ids=str)
def test_cumprod_and_prod_with_zeros_as_torch(zeros):
    x = real(np.random.default_rng(10), (2, 4))
    x[:, zeros] = 0.0
    compare(lambda t: t.cumprod(1), lambda t: t.cumprod(1), [x])
    compare(lambda t: tgf.prod(t, 1), lambda t: torch.prod(t, 1), [x])
    compare(lambda t: tgf.prod(t[:1]), lambda t: torch.prod(t[:1]), [x])


def test_prod_as_torch():
    x = real(np.random.default_rng(11), (2, 3))
    compare(tgf.prod, torch.prod, [x])
    compare(lambda t: tgf.prod(t, 0, keepdim=True), lambda t: torch.prod(t, 0, keepdim=True), [x])
    compare(lambda t: tgf.prod(t, -1), lambda t: torch.prod(t, -1), [x])
    same(tgf.prod(Tensor(np.zeros((2, 0)))), torch.prod(torch.zeros(2, 0, dtype=torch.float64)))
    same(tgf.prod(Tensor(np.ones((2, 0))), 1), torch.prod(torch.ones(2, 0).double(), 1))
    same(
        tgf.prod(Tensor(np.array([2, 3], dtype=np.int32))),
        torch.prod(torch.tensor([2, 3], dtype=torch.int32)),
    )


def test_running_dtypes_as_torch():
    for values in (np.array([True, False, True]), np.array([1, 2, 3], dtype=np.int32)):
        same(Tensor(values).cumsum(0), torch.tensor(values).cumsum(0))
        same(Tensor(values).cumprod(0), torch.tensor(values).cumprod(0))
    same(
        Tensor([1, 2]).cumsum(0, dtype=np.float32),
        torch.tensor([1, 2]).cumsum(0, dtype=torch.float32),
    )


# ---- einsum ------------------------------------------------------------------------------------

EINSUM_CASES = [
    # equation, shapes
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("...ij->...ji", [(2, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 4, 2)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("i,ij,j->", [(2,), (2, 3), (3,)]),
    ("ab,cd->abcd", [(1, 2), (2, 1)]),
    ("bA,Ba", [(2, 3), (4, 1)]),
    ("i...,j...", [(2, 3), (4, 1)]),
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),
    ("ij,k->", [(2, 3), (2,)]),
]


@pytest.mark.parametrize("case", EINSUM_CASES, ids=str)
def test_einsum_as_torch(case):
    equation, shapes = case
    rng = np.random.default_rng(12)
    arrays = [real(rng, s) for s in shapes]
    compare(lambda *ts: tgf.einsum(equation, *ts), lambda *ts: torch.einsum(equation, *ts), arrays)


def test_einsum_takes_a_list_of_operands_and_the_sublist_form():
    rng = np.random.default_rng(13)
    a, b = real(rng, (2, 3)), real(rng, (3, 4))
    compare(
        lambda x, y: tgf.einsum("ij,jk->ik", [x, y]),
        lambda x, y: torch.einsum("ij,jk->ik", [x, y]),
        [a, b],
    )
    compare(
        lambda x, y: tgf.einsum(x, [0, 1], y, [1, 2], [0, 2]),
        lambda x, y: torch.einsum(x, [0, 1], y, [1, 2], [0, 2]),
        [a, b],
    )
    compare(lambda x: tgf.einsum(x, [Ellipsis, 1]), lambda x: torch.einsum(x, [Ellipsis, 1]), [a])


def test_einsum_dtypes_and_views():
    x32 = Tensor(np.ones((2, 2), dtype=np.float32))
    assert tgf.einsum("ij,jk", x32, x32).dtype == np.float32
    assert tgf.einsum("ij,jk", x32, x32.double()).dtype == np.float64
    assert tgf.einsum("i,i", Tensor([1, 2]), Tensor([3, 4])).dtype == np.int64
    x = Tensor(np.arange(4.0).reshape(2, 2))
    transposed = tgf.einsum("ij->ji", x)
    transposed.data[0, 0] = 100.0  # a copy, never a view of the input
    assert x.data[0, 0] == 0.0


@pytest.mark.parametrize(
    "equation, shapes, message",
    [
        ("ij,jk", [(2, 3)], "fewer operands"),
        ("ij", [(2, 3), (3,)], "more operands"),
        ("ijk", [(2, 3)], r"number of subscripts in the equation \(3\) does not match"),
        ("ii->i", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match"),
        ("ij->ii", [(2, 3)], "appears more than once"),
        ("ij->k", [(2, 3)], "does not appear in the equation"),
        ("i1->i", [(2, 3)], "invalid subscript given at index 1"),
        ("ij,jk", [(2, 3), (4, 2)], "subscript j has size 3 in one operand and 4"),
        ("...ijk", [(2, 3)], "more than the number of dimensions"),
    ],
)
def test_einsum_errors(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        tgf.einsum(equation, *[Tensor(np.zeros(s)) for s in shapes])


# ---- pad ---------------------------------------------------------------------------------------

PAD_CASES = [
    ((2, 3), (1, 2), "constant"),
    ((2, 3), (1, 0, 0, 2), "constant"),
    ((2, 3, 4), (-1, 1, 2, -1), "constant"),
    ((2, 3, 4), (0, 0, 0, 0, 1, 1), "constant"),
    ((2, 5), (-2, -1), "constant"),
    ((1, 2, 4), (2, 3), "reflect"),
    ((1, 3, 3), (1, 2, 2, 1), "reflect"),
    ((1, 2, 3), (2, 4), "replicate"),
    ((1, 1, 2, 3), (1, 1, 2, 0), "replicate"),
    ((1, 2, 4), (3, 2), "circular"),
    ((1, 1, 3, 3), (1, 2, 3, 0), "circular"),
    ((1, 2, 4), (2, -1), "circular"),  # cut first, then wrapped around what is left
    ((1, 2, 4), (-1, 2), "reflect"),
    ((1, 2, 4), (3, -2), "replicate"),
]


@pytest.mark.parametrize("case", PAD_CASES, ids=str)
def test_pad_as_torch(case):
    shape, widths, mode = case
    x = real(np.random.default_rng(14), shape)
    compare(lambda t: tgf.pad(t, widths, mode), lambda t: TF.pad(t, widths, mode), [x])


def test_pad_with_a_value_and_on_integers():
    x = real(np.random.default_rng(15), (2, 3))
    compare(
        lambda t: tgf.pad(t, (1, 1, 1, 0), value=-2.5),
        lambda t: TF.pad(t, (1, 1, 1, 0), value=-2.5),
        [x],
    )
    ints = np.arange(6).reshape(2, 3)
    same(tgf.pad(Tensor(ints), (1, 1), value=7), TF.pad(torch.tensor(ints), (1, 1), value=7))


def test_pad_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="divisible by 2"):
        tgf.pad(x, (1,))
    with pytest.raises(ValueError, match="padding length 6 and input of dimension 2"):
        tgf.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="negative output size"):
        tgf.pad(x, (-2, -2))
    with pytest.raises(ValueError, match="unrecognised padding mode"):
        tgf.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="doesn't take in value"):
        tgf.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(ValueError, match="reflect padding must be less"):
        tgf.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="last 1, 2 or 3 dimensions"):
        tgf.pad(Tensor(np.zeros(3)), (1, 1), mode="replicate")


# ---- the free functions --------------------------------------------------------------------------

ELEMENTWISE_FUNCTIONS = [
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "abs",
    "neg",
    "sign",
    "floor",
    "ceil",
    "trunc",
    "round",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "sigmoid",
    "relu",
    "square",
    "reciprocal",
    "absolute",
    "negative",
    "arcsin",
    "arccos",
    "arctan",
    "fix",
]


@pytest.mark.parametrize("name", ELEMENTWISE_FUNCTIONS)
def test_elementwise_functions_as_torch(name):
    domain = unit if name in ("asin", "acos", "arcsin", "arccos") else positive
    x = domain(np.random.default_rng(16), (2, 3))
    compare(getattr(tgf, name), getattr(torch, name), [x])


BINARY_FUNCTIONS = {
    "atan2": {},
    "arctan2": {},
    "add": {"alpha": 2},
    "sub": {},
    "subtract": {"alpha": 0.5},
    "mul": {},
    "multiply": {},
    "div": {},
    "divide": {},
    "true_divide": {},
    "pow": {},
    "maximum": {},
    "minimum": {},
    "remainder": {},
}


@pytest.mark.parametrize("name", BINARY_FUNCTIONS)
def test_binary_functions_as_torch(name):
    kwargs = BINARY_FUNCTIONS[name]
    rng = np.random.default_rng(17)
    arrays = [positive(rng, (2, 3)), positive(rng, (3,))]
    compare(
        lambda a, b: getattr(tgf, name)(a, b, **kwargs),
        lambda a, b: getattr(torch, name)(a, b, **kwargs),
        arrays,
    )


def test_functions_with_numbers():
    x = positive(np.random.default_rng(18), (3,))
    compare(lambda t: tgf.pow(2.0, t), lambda t: torch.pow(2.0, t), [x])
    compare(lambda t: tgf.pow(t, 3), lambda t: torch.pow(t, 3), [x])
    compare(lambda t: tgf.clamp(t, min=0.6), lambda t: torch.clamp(t, min=0.6), [x])
    compare(lambda t: tgf.clip(t, 0.6, 1.0), lambda t: torch.clip(t, 0.6, 1.0), [x])
    compare(lambda t: tgf.clamp_min(t, 0.9), lambda t: torch.clamp_min(t, 0.9), [x])
    compare(lambda t: tgf.clamp_max(t, 0.9), lambda t: torch.clamp_max(t, 0.9), [x])
    compare(
        lambda t: tgf.div(t, 0.3, rounding_mode="floor"),
        lambda t: torch.div(t, 0.3, rounding_mode="floor"),
        [x],
    )
    same(tgf.floor_divide(Tensor([7, -7]), 2), torch.floor_divide(torch.tensor([7, -7]), 2))


REDUCTIONS = [
    # (name, kwargs)
    ("sum", {}),
    ("sum", {"dim": 1}),
    ("sum", {"dim": (0, 1), "keepdim": True}),
    ("mean", {"dim": 0}),
    ("mean", {"dim": -1, "keepdim": True}),
    ("prod", {}),
    ("prod", {"dim": 1}),
    ("amax", {}),
    ("amax", {"dim": 1}),
    ("amin", {"dim": (0, 1)}),
    ("max", {}),
    ("min", {}),
    ("logsumexp", {"dim": 1}),
    ("logsumexp", {"dim": 0, "keepdim": True}),
    ("var", {}),
    ("var", {"dim": 1}),
    ("var", {"dim": 1, "correction": 0}),
    ("std", {"dim": 0}),
    ("std", {"dim": 1, "keepdim": True, "unbiased": False}),
    ("softmax", {"dim": 1}),
    ("log_softmax", {"dim": 0}),
]


@pytest.mark.parametrize("case", REDUCTIONS, ids=str)
def test_reductions_as_torch(case):
    name, kwargs = case
    x = np.random.default_rng(19).permutation(6).reshape(2, 3) * 0.3 - 1.0  # no ties
    compare(
        lambda t: getattr(tgf, name)(t, **kwargs), lambda t: getattr(torch, name)(t, **kwargs), [x]
    )


def test_max_and_min_with_dim_give_values_and_indices():
    x = np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 6.0]])
    for name in ("max", "min"):
        values, indices = getattr(tgf, name)(Tensor(x), 1)
        expected = getattr(torch, name)(torch.tensor(x), 1)
        same(values, expected.values)
        same(indices, expected.indices)
        keep = getattr(tgf, name)(Tensor(x), dim=0, keepdim=True)
        same(keep.values, getattr(torch, name)(torch.tensor(x), dim=0, keepdim=True).values)
    compare(lambda a, b: tgf.max(a, b), lambda a, b: torch.max(a, b), [x, x.T[:1].T * 0 + 3.5])


def test_numpys_axis_and_keepdims_as_torch_takes_them():
    x = np.arange(6.0).reshape(2, 3)
    t = torch.tensor(x)
    same(tgf.sum(Tensor(x), axis=1, keepdims=True), torch.sum(t, axis=1, keepdims=True))
    same(tgf.mean(Tensor(x), axis=0), torch.mean(t, axis=0))
    same(tgf.prod(Tensor(x), axis=1), torch.prod(t, axis=1))
    same(tgf.max(Tensor(x), axis=1).values, torch.max(t, axis=1).values)
    same(tgf.argmin(Tensor(x), axis=0), torch.argmin(t, axis=0))
    same(tgf.logsumexp(Tensor(x), axis=1), torch.logsumexp(t, axis=1))
    same(tgf.var(Tensor(x), axis=1, keepdims=True), torch.var(t, axis=1, keepdims=True))
    same(tgf.cat([Tensor(x), Tensor(x)], axis=1), torch.cat([t, t], axis=1))
    same(tgf.stack([Tensor(x), Tensor(x)], axis=1), torch.stack([t, t], axis=1))
    with pytest.raises(TypeError, match="dim or axis"):
        tgf.sum(Tensor(x), 0, axis=1)


def test_positional_unbiased_of_var_and_std():
    x = np.arange(6.0).reshape(2, 3)
    same(tgf.var(Tensor(x), False), torch.var(torch.tensor(x), False))
    same(tgf.std(Tensor(x), True), torch.std(torch.tensor(x), True))


def test_reductions_with_dtype():
    ints = np.array([[1, 2], [3, 4]])
    same(
        tgf.sum(Tensor(ints), dtype=np.float32), torch.sum(torch.tensor(ints), dtype=torch.float32)
    )
    same(
        tgf.mean(Tensor(ints), 0, dtype=np.float64),
        torch.mean(torch.tensor(ints), 0, dtype=torch.float64),
    )
    same(
        tgf.softmax(Tensor(ints), 1, dtype=np.float64),
        torch.softmax(torch.tensor(ints), 1, dtype=torch.float64),
    )


def test_argmax_argmin_as_torch():
    x = np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 6.0]])
    for name in ("argmax", "argmin"):
        for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
            same(
                getattr(tgf, name)(Tensor(x), **kwargs),
                getattr(torch, name)(torch.tensor(x), **kwargs),
            )


def test_all_and_any_return_bool_tensors():
    x = np.array([[True, False], [True, True]])
    for name in ("all", "any"):
        for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
            same(
                getattr(tgf, name)(Tensor(x), **kwargs),
                getattr(torch, name)(torch.tensor(x), **kwargs),
            )
    same(tgf.all(Tensor([1.0, 2.0])), torch.all(torch.tensor([1.0, 2.0])))
    same(tgf.any(Tensor([0, 0])), torch.any(torch.tensor([0, 0])))


def test_allclose_isclose_equal():
    a = np.array([1.0, 2.0, np.nan])
    b = np.array([1.0 + 1e-9, 2.1, np.nan])
    ta, tb = torch.tensor(a), torch.tensor(b)
    assert tgf.allclose(Tensor(a), Tensor(b)) is torch.allclose(ta, tb) is False
    assert tgf.allclose(Tensor(a[:1]), Tensor(b[:1])) is True
    assert tgf.allclose(Tensor(a), Tensor(a), equal_nan=True) is True
    assert tgf.allclose(Tensor(a[:2]), Tensor(b[:2]), atol=0.2) is True
    same(tgf.isclose(Tensor(a), Tensor(b)), torch.isclose(ta, tb))
    same(
        tgf.isclose(Tensor(a), Tensor(b), equal_nan=True, rtol=0.1),
        torch.isclose(ta, tb, equal_nan=True, rtol=0.1),
    )
    assert tgf.equal(Tensor([1, 2]), Tensor([1, 2])) is True
    assert tgf.equal(Tensor([1, 2]), Tensor([1, 3])) is False
    assert tgf.equal(Tensor([1, 2]), Tensor([[1, 2]])) is False
    assert tgf.equal(Tensor(a), Tensor(a)) is torch.equal(ta, ta)  # nan != nan


def test_where_with_numbers_has_torchs_dtypes(default_dtype):
    cond = np.array([True, False, True])
    c, tc = Tensor(cond), torch.tensor(cond)
    x64, x32, ints = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0], np.float32), np.arange(3)
    cases = [
        (1.0, 0.0),
        (1, 0),
        (True, False),
        (1, 0.5),
        (Tensor(x64), 0.5),
        (Tensor(x32), 0.5),
        (Tensor(x32), 2),
        (Tensor(ints), 0.5),
        (Tensor(ints), 7),
        (3, Tensor(x32)),
        (Tensor(x32), Tensor(x64)),
    ]
    for a, b in cases:
        ta = torch.tensor(a.data) if isinstance(a, Tensor) else a
        tb = torch.tensor(b.data) if isinstance(b, Tensor) else b
        same(tgf.where(c, a, b), torch.where(tc, ta, tb))
    compare(lambda t: tgf.where(Tensor(cond), t, 0.0), lambda t: torch.where(tc, t, 0.0), [x64])
    (indices,) = tgf.where(c)
    same(indices, torch.where(tc)[0])
    rows, cols = tgf.where(Tensor(np.eye(2) > 0))
    same(cols, torch.where(torch.eye(2) > 0)[1])


def test_maximum_and_minimum_on_bools_and_integers():
    a, b = np.array([True, False, False]), np.array([True, True, False])
    same(tgf.maximum(Tensor(a), Tensor(b)), torch.maximum(torch.tensor(a), torch.tensor(b)))
    same(tgf.minimum(Tensor(a), Tensor(b)), torch.minimum(torch.tensor(a), torch.tensor(b)))
    same(
        tgf.minimum(Tensor(INTS), Tensor(OTHER_INTS)),
        torch.minimum(torch.tensor(INTS), torch.tensor(OTHER_INTS)),
    )
    x32 = np.array([0.5, -3.0, 7.0, 2.0], dtype=np.float32)
    same(
        tgf.maximum(Tensor(x32), Tensor(INTS)), torch.maximum(torch.tensor(x32), torch.tensor(INTS))
    )


MATRIX_FUNCTIONS = [
    ("matmul", [(2, 3, 4), (4, 2)]),
    ("mm", [(2, 3), (3, 4)]),
    ("bmm", [(2, 2, 3), (2, 3, 2)]),
    ("mv", [(2, 3), (3,)]),
    ("dot", [(3,), (3,)]),
    ("outer", [(2,), (3,)]),
    ("ger", [(2,), (3,)]),
]


@pytest.mark.parametrize("case", MATRIX_FUNCTIONS, ids=str)
def test_matrix_functions_as_torch(case):
    name, shapes = case
    rng = np.random.default_rng(20)
    compare(getattr(tgf, name), getattr(torch, name), [real(rng, s) for s in shapes])


def test_matrix_function_errors():
    with pytest.raises(ValueError, match="mm: input must be a matrix"):
        tgf.mm(Tensor(np.zeros(3)), Tensor(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="bmm: mat2 must be a 3-d tensor"):
        tgf.bmm(Tensor(np.zeros((2, 2, 3))), Tensor(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="same number of matrices"):
        tgf.bmm(Tensor(np.zeros((2, 2, 3))), Tensor(np.zeros((1, 3, 2))))
    with pytest.raises(ValueError, match="dot: other must be a vector"):
        tgf.dot(Tensor(np.zeros(3)), Tensor(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="same length"):
        tgf.dot(Tensor(np.zeros(3)), Tensor(np.zeros(2)))
    with pytest.raises(TypeError, match="outer: vec2 must be a Tensor"):
        tgf.outer(Tensor(np.zeros(3)), [1.0])


SHAPE_FUNCTIONS = [
    ("reshape", lambda f, t: f.reshape(t, (3, 2))),
    ("transpose", lambda f, t: f.transpose(t, 0, 1)),
    ("swapaxes", lambda f, t: f.swapaxes(t, 0, 1)),
    ("permute", lambda f, t: f.permute(t, (1, 0))),
    ("flatten", lambda f, t: f.flatten(t)),
    ("squeeze", lambda f, t: f.squeeze(f.unsqueeze(t, 0))),
    ("squeeze_dim", lambda f, t: f.squeeze(f.unsqueeze(t, 1), 1)),
    ("unsqueeze", lambda f, t: f.unsqueeze(t, -1)),
    ("cat", lambda f, t: f.cat([t, t * 2], dim=1)),
    ("concat", lambda f, t: f.concat([t, t], 0)),
    ("stack", lambda f, t: f.stack([t, t * 3], dim=-1)),
    ("split", lambda f, t: f.split(t, 2, dim=1)[1]),
    ("split_sizes", lambda f, t: f.split(t, [1, 2], 1)[0]),
    ("chunk", lambda f, t: f.chunk(t, 2, 1)[0]),
    ("unbind", lambda f, t: f.unbind(t, 1)[2]),
    ("flip", lambda f, t: f.flip(t, (0, 1))),
    ("flip_one", lambda f, t: f.flip(t, [1])),
]


@pytest.mark.parametrize("case", SHAPE_FUNCTIONS, ids=lambda c: c[0])
def test_shape_functions_as_torch(case):
    _, call = case
    x = real(np.random.default_rng(21), (2, 3))
    compare(lambda t: call(tgf, t), lambda t: call(torch, t), [x])


# ---- gradcheck and gradgradcheck over random shapes ------------------------------------------------

FEW = settings(max_examples=8, deadline=None)
small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
seeds = st.integers(0, 2**16)

SMOOTH = {
    # name: (function, domain)
    "rsqrt": (Tensor.rsqrt, positive),
    "log2": (Tensor.log2, positive),
    "log10": (Tensor.log10, positive),
    "exp2": (Tensor.exp2, real),
    "expm1": (Tensor.expm1, real),
    "sin": (Tensor.sin, real),
    "cos": (Tensor.cos, real),
    "tan": (Tensor.tan, unit),
    "asin": (Tensor.asin, unit),
    "acos": (Tensor.acos, unit),
    "atan": (Tensor.atan, real),
    "sinh": (Tensor.sinh, real),
    "cosh": (Tensor.cosh, real),
    "square": (Tensor.square, real),
    "reciprocal": (Tensor.reciprocal, positive),
    "floor": (Tensor.floor, off_integers),
    "round": (Tensor.round, off_integers),
    "sign": (Tensor.sign, off_integers),
    "ceil": (Tensor.ceil, off_integers),
    "trunc": (Tensor.trunc, off_integers),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), off_integers),
    "masked_fill": (lambda x: x.masked_fill(x.data > 0, 2.0), real),
}


@pytest.mark.parametrize("name", SMOOTH)
@FEW
@given(shape=small_shapes, seed=seeds)
def test_gradcheck_elementwise(name, shape, seed):
    fn, domain = SMOOTH[name]
    checks(fn, [domain(np.random.default_rng(seed), shape)])


TWO_INPUTS = {
    "atan2": (Tensor.atan2, off_integers, off_integers),
    "lerp": (lambda a, b: a.lerp(b, 0.3), real, real),
    "lerp_tensor_weight": (lambda a, w: a.lerp(a * 2 + 1, w), real, unit),
    "remainder": (lambda a, b: a % b, real, lambda rng, s: positive(rng, s) + 3.0),
    "div_floor": (
        lambda a, b: a.div(b, rounding_mode="floor"),
        real,
        lambda rng, s: positive(rng, s) + 3.0,
    ),
    "clamp_tensors": (lambda a, b: a.clamp(b - 0.3, b * 0 + 0.5), real, real),
    "clamp_crossed": (lambda a, b: a.clamp(b + 0.3, b), real, real),
    "masked_fill_value": (lambda a, v: a.masked_fill(a.data > 0, v.sum()), real, real),
}


@pytest.mark.parametrize("name", TWO_INPUTS)
@FEW
@given(shape=small_shapes, seed=seeds)
def test_gradcheck_two_inputs(name, shape, seed):
    fn, domain_a, domain_b = TWO_INPUTS[name]
    rng = np.random.default_rng(seed)
    a, b = domain_a(rng, shape), domain_b(rng, shape)
    if name.startswith("clamp"):  # keep finite differences off the kinks
        b = np.where(np.abs(a - b - 0.3) < 0.05, b + 0.2, b)
        b = np.where(np.abs(a - b) < 0.05, b - 0.2, b)
    checks(fn, [a, b])


@st.composite
def along(draw):
    """A shape, a dim, an index for gather (values in range), and one without repeats (for
    scatter, whose written value is undefined for repeated indices)."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = tuple(
        draw(st.integers(1, n)) if a != dim % len(shape) else draw(st.integers(1, 3))
        for a, n in enumerate(shape)
    )
    rng = np.random.default_rng(draw(seeds))
    index = rng.integers(0, shape[dim], index_shape)
    unique = np.argsort(rng.random(shape), axis=dim)
    unique = unique[tuple(slice(0, min(n, m)) for n, m in zip(index_shape, shape))]
    return shape, dim, index, unique, rng


@FEW
@given(case=along())
def test_gradcheck_gather_scatter(case):
    shape, dim, index, unique, rng = case
    x = real(rng, shape)
    checks(lambda t: t.gather(dim, index), [x])
    checks(lambda t: t.index_select(dim, index.reshape(-1)), [x])
    src = real(rng, index.shape)
    checks(lambda t, s: t.scatter_add(dim, index, s), [x, src])
    checks(lambda t, s: t.scatter(dim, unique, s), [x, src[tuple(map(slice, unique.shape))]])
    checks(lambda t, s: (t.scatter(dim, unique, 0.5) * s).cumsum(dim), [x, real(rng, shape)])


@FEW
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    seed=seeds,
    zeros=st.booleans(),
)
def test_gradcheck_cumsum_cumprod_prod(shape, seed, zeros):
    rng = np.random.default_rng(seed)
    x = real(rng, shape)
    if zeros:
        x.flat[rng.integers(0, x.size)] = 0.0
    dim = int(rng.integers(-len(shape), len(shape)))
    checks(lambda t: t.cumsum(dim), [x])
    checks(lambda t: t.cumprod(dim), [x])
    checks(lambda t: tgf.prod(t, dim), [x])
    checks(tgf.prod, [x])


TWICE = settings(max_examples=3, deadline=None)


@pytest.mark.parametrize("case", EINSUM_CASES, ids=str)
@TWICE
@given(seed=seeds)
def test_gradcheck_einsum(case, seed):
    equation, shapes = case
    rng = np.random.default_rng(seed)
    checks(lambda *ts: tgf.einsum(equation, *ts), [real(rng, s) for s in shapes])


@pytest.mark.parametrize("case", PAD_CASES, ids=str)
@TWICE
@given(seed=seeds)
def test_gradcheck_pad(case, seed):
    shape, widths, mode = case
    checks(lambda t: tgf.pad(t, widths, mode), [real(np.random.default_rng(seed), shape)])
