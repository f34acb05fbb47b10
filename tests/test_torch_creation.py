"""Creating tensors as PyTorch lecture code does: dtypes, tg.tensor, the constants, ranges and
random functions, Generators, devices, tg.cuda and tg.utils.data.

Most tests are written in PyTorch's idiom against ``lib`` and run twice, on tinygrad_edu and
on torch (when it is installed), so each says what PyTorch does and checks that tinygrad_edu
does it too. The default dtype differs on purpose (float64 here, float32 in PyTorch): tests
compare with ``lib.get_default_dtype()``. Random streams differ (NumPy's, not PyTorch's), so
random functions are checked by shape, dtype, range, statistics and reproducibility.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.utils.data as tg_data

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
LIBS = [pytest.param(tg, id="tg"), pytest.param(torch, marks=needs_torch, id="torch")]


@pytest.fixture(params=LIBS)
def lib(request):
    """The library under test; its default dtype and default generator are restored after."""
    module = request.param
    default = module.get_default_dtype()
    state = module.get_rng_state()
    yield module
    module.set_default_dtype(default)
    module.set_rng_state(state)


def arr(t):
    return np.asarray(t.detach().numpy())


def name(dtype):
    """'float32' for tg.float32 and torch.float32."""
    return str(dtype).removeprefix("torch.")


def data_module(lib):
    if lib is tg:
        return tg_data
    import torch.utils.data

    return torch.utils.data


# ---- dtypes ------------------------------------------------------------------------------------


def test_dtype_names_are_pytorchs(lib):
    assert lib.float == lib.float32 and lib.double == lib.float64
    assert lib.long == lib.int64 and lib.int == lib.int32 and lib.short == lib.int16
    names = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]
    assert [name(getattr(lib, n)) for n in names] == names
    assert lib.zeros(2, dtype=lib.float32).dtype == lib.float32
    assert lib.zeros(2, dtype=lib.long).dtype == lib.int64
    assert lib.ones(2, dtype=lib.bool).dtype == lib.bool
    assert lib.tensor([1], dtype=float).dtype == lib.float64  # Python's float is 64 bits


def test_dtypes_are_numpy_dtypes_with_readable_names():
    assert tg.float32 == np.float32 and tg.int64 == np.dtype("int64")
    assert str(tg.float32) == "float32" and str(tg.long) == "int64"
    assert tg.zeros(2, dtype=np.float32).dtype == tg.float32  # NumPy's names still work
    x = tg.tensor([1.0]).astype(tg.float32)
    assert x.dtype is tg.float32


@pytest.mark.parametrize("bad", [np.complex128, object, "nonsense", str])
def test_a_dtype_a_tensor_cannot_hold_is_a_type_error(bad):
    with pytest.raises(TypeError, match="dtype"):
        tg.tensor([1.0], dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        tg.zeros(2, dtype=bad)
    with pytest.raises(TypeError, match="dtype"):
        tg.set_default_dtype(bad)


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_default_dtype_is_used_by_every_creation_function(lib, default):
    lib.set_default_dtype(getattr(lib, default))
    assert lib.get_default_dtype() == getattr(lib, default)
    floats = [
        lib.tensor([1.5, 2]),
        lib.tensor(3.0),
        lib.zeros(2),
        lib.ones(2),
        lib.empty(2),
        lib.full((2,), 1.5),
        lib.arange(0, 1, 0.5),
        lib.arange(3.0),
        lib.linspace(0, 1, 3),
        lib.eye(2),
        lib.rand(2),
        lib.randn(2),
        lib.normal(0.0, 1.0, (2,)),
    ]
    assert [name(t.dtype) for t in floats] == [default] * len(floats)
    ints = [lib.tensor([1, 2]), lib.arange(3), lib.full((2,), 7), lib.randint(3, (2,))]
    assert [name(t.dtype) for t in ints] == ["int64"] * len(ints)
    assert lib.tensor(np.zeros(2, np.float32)).dtype == lib.float32  # arrays keep theirs


def test_default_dtype_is_float64_here():
    assert tg.get_default_dtype() == tg.float64


@pytest.mark.parametrize("which", ["int64", "bool", "uint8"])
def test_default_dtype_must_be_floating(lib, which):
    with pytest.raises(TypeError):
        lib.set_default_dtype(getattr(lib, which))


# ---- tg.tensor -------------------------------------------------------------------------------

INFERENCE = [  # data, the dtype PyTorch infers ("default" = the default float dtype), shape
    ([1.0, 2.0], "default", (2,)),
    ([1, 2], "int64", (2,)),
    ([True, False], "bool", (2,)),
    ([True, 2], "int64", (2,)),
    ([1, 2.5], "default", (2,)),
    ([True, 2.5], "default", (2,)),
    (3.0, "default", ()),
    (7, "int64", ()),
    (False, "bool", ()),
    ([[1, 2], [3, 4]], "int64", (2, 2)),
    (((1, 2), (3, 4)), "int64", (2, 2)),
    (range(3), "int64", (3,)),
    ([], "default", (0,)),
    ([[]], "default", (1, 0)),
    (np.zeros((2, 3), np.float32), "float32", (2, 3)),
    (np.zeros(2, np.int32), "int32", (2,)),
    (np.zeros(2, np.uint8), "uint8", (2,)),
    (np.zeros(2, np.bool_), "bool", (2,)),
    (np.float32(1.5), "float32", ()),
    (np.float64(1.5), "float64", ()),
    (np.int32(4), "int32", ()),
    ([np.float32(1), np.float32(2)], "float32", (2,)),
    ([np.int32(1), np.int32(2)], "int32", (2,)),
]


@pytest.mark.parametrize("data, expected, shape", INFERENCE)
def test_tensor_infers_pytorchs_dtype(lib, data, expected, shape):
    t = lib.tensor(data)
    wanted = lib.get_default_dtype() if expected == "default" else getattr(lib, expected)
    assert t.dtype == wanted and tuple(t.shape) == shape
    np.testing.assert_array_equal(arr(t), np.asarray(data, dtype=arr(t).dtype))


def test_tensor_follows_the_default_dtype_for_python_floats_only(lib):
    lib.set_default_dtype(lib.float32)
    assert lib.tensor([1.0, 2]).dtype == lib.float32
    assert lib.tensor(np.ones(2)).dtype == lib.float64  # a float64 array stays float64
    assert lib.tensor(np.float64(1)).dtype == lib.float64


def test_tensor_converts_to_a_given_dtype(lib):
    assert lib.tensor([1.7, -1.7], dtype=lib.int64).tolist() == [1, -1]
    assert lib.tensor([2, 0], dtype=lib.bool).tolist() == [True, False]
    assert lib.tensor([1, 2], dtype=lib.float32).dtype == lib.float32
    assert lib.tensor(np.ones(2, np.float32), dtype=lib.float64).dtype == lib.float64


def test_tensor_copies_its_data(lib):
    source = np.array([1.0, 2.0])
    t = lib.tensor(source)
    source[0] = 99.0
    assert t.tolist() == [1.0, 2.0]
    nested = [[1.0, 2.0]]
    u = lib.tensor(nested)
    nested[0][0] = 5.0
    assert u.tolist() == [[1.0, 2.0]]


def test_tensor_of_a_tensor_is_a_detached_copy_with_a_warning(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="detach"):
        y = lib.tensor(x)
    assert y is not x and not y.requires_grad and y.is_leaf and y.dtype == x.dtype
    with lib.no_grad():
        x += 1.0
    assert y.tolist() == [1.0, 2.0]
    with pytest.warns(UserWarning):
        z = lib.tensor(lib.tensor([1, 2], dtype=lib.int32))
    assert z.dtype == lib.int32


def test_tensor_requires_grad(lib):
    w = lib.tensor([[1.0, 2.0]], requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    assert w.grad.tolist() == [[2.0, 4.0]]
    with pytest.raises((RuntimeError, TypeError), match="floating"):
        lib.tensor([1, 2], requires_grad=True)


def test_tensor_of_a_list_of_0d_tensors(lib):
    parts = [lib.tensor(1.0), lib.tensor(2.0)]
    t = lib.tensor(parts)
    assert t.tolist() == [1.0, 2.0] and t.dtype == lib.get_default_dtype()


@pytest.mark.parametrize(
    "data, error",
    [
        ([[1, 2], [3]], ValueError),  # ragged
        ([[1.0], [2.0, 3.0]], ValueError),
        ("1.0", TypeError),  # a string
        (None, (TypeError, RuntimeError)),  # PyTorch: RuntimeError, tg: TypeError
        ({"a": 1}, (TypeError, RuntimeError)),
        (object(), (TypeError, RuntimeError)),
        (["a", "b"], (TypeError, ValueError)),  # PyTorch: ValueError, tg: TypeError
    ],
)
def test_tensor_refuses_what_is_not_numbers(lib, data, error):
    with pytest.raises(error):
        lib.tensor(data)


def test_tensor_error_messages_say_what_was_wrong():
    with pytest.raises(ValueError, match="ragged"):
        tg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="string"):
        tg.tensor("1.0")
    with pytest.raises(ValueError, match="int64"):
        tg.tensor([2**63])


def test_as_tensor_and_from_numpy_share_memory(lib):
    a = np.arange(3.0)
    t = lib.from_numpy(a)
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0] and t.dtype == lib.float64
    u = lib.as_tensor(a)
    a[1] = 8.0
    assert u.tolist() == [7.0, 8.0, 2.0]
    x = lib.tensor([1.0])
    assert lib.as_tensor(x) is x
    assert lib.as_tensor([1, 2]).dtype == lib.int64
    assert lib.as_tensor(a, dtype=lib.float32).dtype == lib.float32
    with pytest.raises(TypeError):
        lib.from_numpy([1.0, 2.0])


# ---- constants ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["zeros", "ones", "empty", "rand", "randn"])
def test_sizes_as_varargs_tuple_list_or_keyword(lib, make):
    f = getattr(lib, make)
    for t in [f(2, 3), f((2, 3)), f([2, 3]), f(size=(2, 3)), f(np.int64(2), 3)]:
        assert tuple(t.shape) == (2, 3)
    assert tuple(f(lib.tensor(4)).shape) == (4,)  # a 0-d integer tensor is a size
    assert tuple(f(()).shape) == () and tuple(f(0).shape) == (0,) and tuple(f(2, 0).shape) == (2, 0)


@pytest.mark.parametrize("make", ["zeros", "ones", "empty", "rand", "randn"])
def test_bad_sizes(lib, make):
    f = getattr(lib, make)
    with pytest.raises(TypeError):
        f()
    with pytest.raises(TypeError):
        f(2.5)
    with pytest.raises(TypeError):
        f(True)
    with pytest.raises(TypeError):
        f((2,), 3)
    with pytest.raises(RuntimeError):
        f(-1)
    with pytest.raises(RuntimeError):
        f(2, -3)


def test_zeros_ones_values(lib):
    assert lib.zeros(2, 2).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert lib.ones(3, dtype=lib.int64).tolist() == [1, 1, 1]
    z = lib.zeros(2, requires_grad=True)
    assert z.requires_grad and z.is_leaf


@pytest.mark.parametrize(
    "fill, expected",
    [
        (3, "int64"),
        (True, "bool"),
        (2.5, "default"),
        (np.int64(3), "int64"),
        (np.float32(2), "default"),
    ],
)
def test_full_infers_its_dtype_from_the_fill(lib, fill, expected):
    t = lib.full((2, 3), fill)
    wanted = lib.get_default_dtype() if expected == "default" else getattr(lib, expected)
    assert t.dtype == wanted and tuple(t.shape) == (2, 3)
    assert arr(t).tolist() == [[fill] * 3] * 2


def test_full_with_a_dtype_and_errors(lib):
    assert lib.full((2,), 2.7, dtype=lib.int64).tolist() == [2, 2]
    assert lib.full((2,), 7, dtype=lib.float32).dtype == lib.float32
    assert lib.full([2, 2], 1.0, requires_grad=True).requires_grad
    assert lib.full((), 4.0).tolist() == 4.0
    with pytest.raises((RuntimeError, TypeError)):
        lib.full((2,), 3, requires_grad=True)  # an int64 tensor cannot require grad
    with pytest.raises(TypeError):
        lib.full((2,), "a")
    with pytest.raises(RuntimeError):
        lib.full((-2,), 1.0)


def test_full_also_takes_an_int_size():
    assert tg.full(3, 2.5).tolist() == [2.5, 2.5, 2.5]  # PyTorch wants (3,)


# ---- like another tensor -------------------------------------------------------------------------


def test_like_functions_keep_shape_and_dtype(lib):
    x = lib.ones(2, 3, dtype=lib.float32)
    i = lib.ones(4, dtype=lib.int32)
    for make in ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]:
        t = getattr(lib, make)(x)
        assert tuple(t.shape) == (2, 3) and t.dtype == lib.float32 and not t.requires_grad
        t64 = getattr(lib, make)(x, dtype=lib.float64, requires_grad=True)
        assert t64.dtype == lib.float64 and t64.requires_grad and t64.is_leaf
    assert lib.zeros_like(i).dtype == lib.int32 and lib.zeros_like(i).tolist() == [0] * 4
    assert lib.ones_like(i, dtype=lib.bool).tolist() == [True] * 4
    assert lib.full_like(i, 2.7).tolist() == [2] * 4  # the fill is converted to int32
    assert lib.full_like(x, True).tolist() == [[1.0] * 3] * 2
    assert not lib.zeros_like(lib.ones(2, requires_grad=True)).requires_grad


def test_randint_like(lib):
    t = lib.randint_like(lib.zeros(1000), 10)
    assert t.dtype == lib.get_default_dtype() and tuple(t.shape) == (1000,)
    values = arr(t)
    assert np.all(values == np.round(values)) and values.min() >= 0 and values.max() < 10
    u = lib.randint_like(lib.zeros(500, dtype=lib.int32), 3, 10)
    assert u.dtype == lib.int32 and set(u.tolist()) == set(range(3, 10))
    assert set(lib.randint_like(lib.zeros(300), high=3).tolist()) == {0.0, 1.0, 2.0}


def test_like_functions_errors(lib):
    with pytest.raises(TypeError):
        lib.zeros_like([1.0, 2.0])
    with pytest.raises(RuntimeError):  # PyTorch: NotImplementedError, a RuntimeError
        lib.rand_like(lib.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        lib.randn_like(lib.tensor([1, 2]))


# ---- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, expected, values",
    [
        ((5,), {}, "int64", [0, 1, 2, 3, 4]),
        ((1, 7, 2), {}, "int64", [1, 3, 5]),
        ((5, 0, -2), {}, "int64", [5, 3, 1]),
        ((0, 1, 0.25), {}, "default", [0.0, 0.25, 0.5, 0.75]),
        ((3.0,), {}, "default", [0.0, 1.0, 2.0]),
        ((4,), {"dtype": "float32"}, "float32", [0.0, 1.0, 2.0, 3.0]),
        ((), {"end": 3}, "int64", [0, 1, 2]),
        ((), {"start": 1, "end": 3}, "int64", [1, 2]),
        ((np.int64(3),), {}, "int64", [0, 1, 2]),
        ((0, 0), {}, "int64", []),
        ((0.5, 3), {"dtype": "int64"}, "int64", [0, 1, 2]),
    ],
)
def test_arange(lib, args, kwargs, expected, values):
    kwargs = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
    t = lib.arange(*args, **kwargs)
    wanted = lib.get_default_dtype() if expected == "default" else getattr(lib, expected)
    assert t.dtype == wanted
    np.testing.assert_allclose(arr(t), values)


def test_arange_of_a_0d_tensor(lib):
    assert lib.arange(lib.tensor(3)).tolist() == [0, 1, 2]
    assert lib.arange(0, 1, 0.1).shape[0] == 10
    assert lib.arange(1, 2.0000001, 0.1, dtype=lib.float32).shape[0] == 11


@pytest.mark.parametrize(
    "args", [(0, 1, 0), (0, 1, -1), (1, 0), (0, float("nan")), (0, float("inf")), (5, 2, 1)]
)
def test_arange_errors(lib, args):
    with pytest.raises(RuntimeError):
        lib.arange(*args)


def test_arange_with_an_integer_dtype_truncates_the_step_first(lib):
    with pytest.raises(ValueError):  # PyTorch: step 0.5 -> 0 "step must be nonzero"
        lib.arange(0, 2.5, 0.5, dtype=lib.int64)


def test_linspace(lib):
    np.testing.assert_allclose(arr(lib.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1])
    assert lib.linspace(0, 1, 5).dtype == lib.get_default_dtype()
    assert lib.linspace(-3, 0, 1).tolist() == [-3.0]
    assert lib.linspace(0, 1, 0).tolist() == []
    assert lib.linspace(0, 10, 5, dtype=lib.int64).tolist() == [0, 2, 5, 7, 10]
    assert lib.linspace(1.5, -2.25, 4, dtype=lib.int64).tolist() == [1, 0, -1, -2]
    assert lib.linspace(0, 1, 3, dtype=lib.float32).dtype == lib.float32
    ends = arr(lib.linspace(0.1, 0.7, 50))
    assert ends[0] == 0.1 and ends[-1] == 0.7  # both ends exact
    with pytest.raises(RuntimeError):
        lib.linspace(0, 1, -1)
    with pytest.raises(TypeError):
        lib.linspace(0, 1, 2.0)
    with pytest.raises(TypeError):
        lib.linspace(0, 1)


def test_eye(lib):
    assert lib.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert lib.eye(2).dtype == lib.get_default_dtype()
    assert lib.eye(2, dtype=lib.int64).tolist() == [[1, 0], [0, 1]]
    assert tuple(lib.eye(0).shape) == (0, 0)
    with pytest.raises(RuntimeError):
        lib.eye(-1)
    with pytest.raises(RuntimeError):
        lib.eye(2, -1)
    with pytest.raises(TypeError):
        lib.eye(2.0)


RANGES = [
    ("arange", (0, 1, 0.1)),
    ("arange", (-3, 5, 0.3)),
    ("arange", (0.5, 7.25, 0.75)),
    ("arange", (-1, 1, 1 / 3)),
    ("arange", (10, 0, -3)),
    ("linspace", (0, 1, 7)),
    ("linspace", (-3, 0, 1000)),
    ("linspace", (1.5, -2.25, 13)),
    ("linspace", (-1e3, 1e-3, 101)),
    ("linspace", (0, 10, 5)),
]


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
@pytest.mark.parametrize("make, args", RANGES)
def test_ranges_match_torch(make, args, dtype):
    if make == "arange" and dtype.startswith("int") and any(a != int(a) for a in args):
        return  # PyTorch itself is not consistent there (int32 keeps step 0.3, int64 refuses)
    ours = arr(getattr(tg, make)(*args, dtype=getattr(tg, dtype)))
    theirs = getattr(torch, make)(*args, dtype=getattr(torch, dtype)).numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    # PyTorch's values depend on its SIMD width (a value is start + step * i within a vector
    # of 4, 8 or 16); ours are start + step * i for every i: equal up to rounding
    tol = {"float64": 1e-12, "float32": 1e-5}.get(dtype, 0)
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * np.abs(theirs).max(initial=1))


# ---- tril and triu ------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", ["tril", "triu"])
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2), (2, 3, 3), (0, 3)])
def test_tril_triu_values(lib, fn, diagonal, shape):
    x = lib.tensor(np.arange(1.0, 1.0 + math.prod(shape)).reshape(shape))
    t = getattr(lib, fn)(x, diagonal)
    np.testing.assert_array_equal(arr(t), getattr(np, fn)(arr(x), diagonal))
    assert getattr(lib, fn)(x, diagonal=diagonal).tolist() == t.tolist()


def test_tril_keeps_the_dtype_and_makes_the_causal_mask(lib):
    mask = lib.tril(lib.ones(4, 4))
    assert mask.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert lib.tril(lib.ones(2, 2, dtype=lib.bool)).dtype == lib.bool
    assert lib.triu(lib.ones(2, 2, dtype=lib.int64)).tolist() == [[1, 1], [0, 1]]
    assert lib.tril(lib.ones(2, 2, dtype=lib.float32)).dtype == lib.float32


def test_tril_triu_errors(lib):
    for fn in (lib.tril, lib.triu):
        with pytest.raises(RuntimeError):
            fn(lib.ones(3))
        with pytest.raises(TypeError):
            fn([[1.0, 2.0]])
        with pytest.raises(TypeError):
            fn(lib.ones(2, 2), 1.0)


def test_tril_triu_gradients_flow_to_the_kept_elements(lib):
    x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (lib.tril(x, 1) * lib.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 0.0], [1.0, 2.0, 3.0]]
    y = lib.tensor(np.ones((2, 2)), requires_grad=True)
    lib.triu(y).sum().backward()
    assert y.grad.tolist() == [[1.0, 1.0], [0.0, 1.0]]


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple),
    diagonal=st.integers(-4, 4),
    upper=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_tril_triu_gradcheck(shape, diagonal, upper, seed):
    fn = tg.triu if upper else tg.tril
    x = tg.tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)
    tg.gradcheck(lambda a: fn(a, diagonal) * fn(a, diagonal), [x])
    tg.gradgradcheck(lambda a: fn(a, diagonal) * fn(a, diagonal), [x])


# ---- Generators and seeds ------------------------------------------------------------------------


def test_generator_manual_seed_returns_the_generator(lib):
    g = lib.Generator().manual_seed(2147483647)
    assert isinstance(g, lib.Generator) and g.initial_seed() == 2147483647
    assert lib.Generator().initial_seed() == 67280421310721  # PyTorch's initial seed
    assert lib.Generator(device="cpu").device == lib.device("cpu")
    assert isinstance(lib.manual_seed(3), lib.Generator) and lib.initial_seed() == 3


def test_generator_seeds(lib):
    assert lib.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    assert lib.manual_seed(1.9).initial_seed() == 1  # torch.manual_seed converts with int()
    with pytest.raises(ValueError):
        lib.Generator().manual_seed(2**64)
    with pytest.raises(ValueError):
        lib.Generator().manual_seed(-(2**63) - 1)
    with pytest.raises((RuntimeError, TypeError)):
        lib.Generator().manual_seed(1.5)
    with pytest.raises((RuntimeError, TypeError)):
        lib.Generator().manual_seed("1")
    g = lib.Generator()
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    assert isinstance(lib.seed(), int)


def test_a_generator_reproduces_and_two_are_independent(lib):
    a = lib.randn(5, generator=lib.Generator().manual_seed(7))
    b = lib.randn(5, generator=lib.Generator().manual_seed(7))
    c = lib.randn(5, generator=lib.Generator().manual_seed(8))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    g, h = lib.Generator().manual_seed(1), lib.Generator().manual_seed(1)
    lib.rand(3, generator=g)
    lib.rand(100, generator=h)  # drawing from h does not move g
    lib.rand(100)  # nor does drawing from the default generator
    second = lib.rand(3, generator=g)
    reference = lib.Generator().manual_seed(1)
    lib.rand(3, generator=reference)
    assert lib.rand(3, generator=reference).tolist() == second.tolist()


def test_a_generator_does_not_move_the_default_one(lib):
    lib.manual_seed(0)
    expected = lib.rand(4).tolist()
    lib.manual_seed(0)
    lib.randn(50, generator=lib.Generator().manual_seed(3))
    lib.randint(0, 5, (50,), generator=lib.Generator())
    assert lib.rand(4).tolist() == expected


def test_generator_state_round_trip(lib):
    g = lib.Generator().manual_seed(11)
    lib.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype == lib.uint8 and state.ndim == 1
    a = lib.randn(4, generator=g).tolist()
    lib.randn(10, generator=g)
    g.set_state(state)
    assert lib.randn(4, generator=g).tolist() == a and g.initial_seed() == 11
    saved = lib.get_rng_state()
    b = lib.rand(3).tolist()
    lib.set_rng_state(saved)
    assert lib.rand(3).tolist() == b
    with pytest.raises(RuntimeError):
        g.set_state(lib.zeros(3, dtype=lib.uint8))
    with pytest.raises(TypeError):
        g.set_state(lib.zeros(state.shape[0]))


def test_generator_on_another_device_is_refused(lib):
    with pytest.raises(RuntimeError):
        lib.Generator(device="cuda")


def test_generator_keyword_must_be_a_generator(lib):
    with pytest.raises(TypeError):
        lib.rand(2, generator=5)


RANDOM = {  # name -> call(lib, **kw); every random function takes generator=
    "rand": lambda lib, **kw: lib.rand(3, 4, **kw),
    "randn": lambda lib, **kw: lib.randn((3, 4), **kw),
    "randint": lambda lib, **kw: lib.randint(0, 100, (3, 4), **kw),
    "randint_high": lambda lib, **kw: lib.randint(100, (12,), **kw),
    "randperm": lambda lib, **kw: lib.randperm(20, **kw),
    "multinomial": lambda lib, **kw: lib.multinomial(lib.ones(3, 50), 10, **kw),
    "multinomial_replacement": lambda lib, **kw: lib.multinomial(
        lib.tensor([0.2, 0.3, 0.5]), 20, replacement=True, **kw
    ),
    "normal": lambda lib, **kw: lib.normal(2.0, 3.0, (3, 4), **kw),
    "normal_tensors": lambda lib, **kw: lib.normal(lib.zeros(3, 1), lib.ones(4), **kw),
    "bernoulli": lambda lib, **kw: lib.bernoulli(lib.full((20,), 0.5), **kw),
    "rand_like": lambda lib, **kw: lib.rand_like(lib.zeros(5), **kw),
    "randn_like": lambda lib, **kw: lib.randn_like(lib.zeros(5), **kw),
}


@pytest.mark.parametrize("fn", RANDOM.values(), ids=RANDOM.keys())
def test_every_random_function_reproduces_with_a_seed_or_a_generator(lib, fn):
    lib.manual_seed(123)
    a = fn(lib)
    lib.manual_seed(123)
    b = fn(lib)
    assert a.tolist() == b.tolist()
    c = fn(lib, generator=lib.Generator().manual_seed(5))
    d = fn(lib, generator=lib.Generator().manual_seed(5))
    e = fn(lib, generator=lib.Generator().manual_seed(6))
    assert c.tolist() == d.tolist() and c.tolist() != e.tolist()
    assert c.dtype == a.dtype and tuple(c.shape) == tuple(a.shape)


def test_a_seed_gives_the_same_numbers_as_a_generator_of_that_seed():
    tg.manual_seed(42)
    a = tg.randn(4)
    b = tg.randn(4, generator=tg.Generator().manual_seed(42))
    assert a.tolist() == b.tolist()


# ---- rand, randn, normal, uniform ----------------------------------------------------------------


def test_rand_and_randn_statistics(lib):
    lib.manual_seed(0)
    u = arr(lib.rand(200_000))
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = arr(lib.randn(200_000))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert lib.rand(2, dtype=lib.float32).dtype == lib.float32
    assert lib.randn(2, 3, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError):
        lib.rand(2, dtype=lib.int64)


def test_rand_in_float32_stays_below_one(monkeypatch):
    class AlmostOne:  # the largest float64 below 1, which rounds up to 1.0 in float32
        def random(self, size):
            return np.full(size, np.nextafter(1.0, 0.0))

    monkeypatch.setattr(tg.creation.default_generator, "numpy_generator", AlmostOne())
    x = tg.rand(10, dtype=tg.float32)
    assert x.dtype == tg.float32 and float(x.data.max()) < 1.0


def test_normal_forms(lib):
    lib.manual_seed(1)
    t = lib.normal(2.0, 3.0, (100_000,))
    assert t.dtype == lib.get_default_dtype()
    assert abs(arr(t).mean() - 2.0) < 0.05 and abs(arr(t).std() - 3.0) < 0.05
    assert tuple(lib.normal(2.0, 3.0, size=(1, 4)).shape) == (1, 4)
    assert lib.normal(0.0, 1.0, (2,), dtype=lib.float32).dtype == lib.float32
    assert tuple(lib.normal(lib.zeros(3), lib.ones(3)).shape) == (3,)
    assert tuple(lib.normal(lib.zeros(3, 1), lib.ones(2)).shape) == (3, 2)
    assert tuple(lib.normal(lib.zeros(3)).shape) == (3,)
    assert tuple(lib.normal(0.0, lib.ones(3)).shape) == (3,)
    assert lib.normal(lib.zeros(2, dtype=lib.float64), 1.0).dtype == lib.float64
    m = arr(lib.normal(lib.tensor([0.0, 100.0]).expand(50_000, 2), lib.tensor([1.0, 0.01])))
    assert abs(m[:, 0].mean()) < 0.05 and abs(m[:, 1].mean() - 100) < 0.01
    assert abs(m[:, 1].std() - 0.01) < 0.001


def test_normal_errors(lib):
    with pytest.raises(RuntimeError, match="std"):
        lib.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="std"):
        lib.normal(lib.zeros(2), -lib.ones(2))
    with pytest.raises(RuntimeError):
        lib.normal(lib.zeros(2, dtype=lib.int64), 1.0)


def test_uniform():
    tg.manual_seed(2)
    u = tg.uniform(-2.0, 3.0, (50_000,))
    assert -2.0 <= u.data.min() and u.data.max() < 3.0 and abs(u.data.mean() - 0.5) < 0.05
    assert tg.uniform(size=(2,), dtype=tg.float32).dtype == tg.float32
    assert tg.uniform(0.0, 1.0, generator=tg.Generator()).shape == ()
    with pytest.raises(ValueError, match="low"):
        tg.uniform(1.0, 0.0, (2,))


# ---- randint, randperm --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, low, high",
    [
        (lambda lib: lib.randint(10, (1000,)), 0, 10),
        (lambda lib: lib.randint(2, 10, (1000,)), 2, 10),
        (lambda lib: lib.randint(10, size=(1000,)), 0, 10),
        (lambda lib: lib.randint(high=10, size=(1000,)), 0, 10),
        (lambda lib: lib.randint(low=-3, high=3, size=(1000,)), -3, 3),
        (lambda lib: lib.randint(0, 2, (1000,), dtype=lib.bool), 0, 2),
        (lambda lib: lib.randint(0, 256, (6000,), dtype=lib.uint8), 0, 256),
    ],
)
def test_randint_forms(lib, call, low, high):
    t = call(lib)
    values = arr(t).astype(np.int64)
    assert values.min() >= low and values.max() < high
    assert set(values.tolist()) == set(range(low, high))  # every value turns up


def test_randint_dtypes(lib):
    assert lib.randint(0, 10, (3,)).dtype == lib.int64
    f = lib.randint(0, 10, (50,), dtype=lib.float32)
    assert f.dtype == lib.float32 and np.all(arr(f) == np.round(arr(f)))
    assert lib.randint(0, 10, (3,), dtype=lib.float32, requires_grad=True).requires_grad
    assert tuple(lib.randint(5, (2, 3)).shape) == (2, 3)
    assert lib.randint(lib.tensor(10), (3,)).dtype == lib.int64


def test_randint_errors(lib):
    with pytest.raises(RuntimeError, match="from"):
        lib.randint(5, 5, (3,))
    with pytest.raises(RuntimeError):
        lib.randint(5, 3, (3,))
    with pytest.raises(TypeError):
        lib.randint(0, 10)  # no size
    with pytest.raises(TypeError):
        lib.randint(0.5, 10.5, (3,))
    with pytest.raises(RuntimeError):
        lib.randint(0, 300, (3,), dtype=lib.uint8)
    with pytest.raises(RuntimeError):
        lib.randint(0, 10, (-1,))
    with pytest.raises((RuntimeError, TypeError)):
        lib.randint(0, 10, (3,), requires_grad=True)


def test_randperm(lib):
    p = lib.randperm(100)
    assert p.dtype == lib.int64 and sorted(p.tolist()) == list(range(100))
    assert p.tolist() != list(range(100))
    assert lib.randperm(0).tolist() == []
    assert lib.randperm(3, dtype=lib.float32).dtype == lib.float32
    with pytest.raises(RuntimeError):
        lib.randperm(-1)
    with pytest.raises(TypeError):
        lib.randperm(3.0)


# ---- multinomial ---------------------------------------------------------------------------------


def chi_square(counts, probabilities):
    expected = np.asarray(probabilities) * np.sum(counts)
    return float(np.sum((np.asarray(counts) - expected) ** 2 / expected))


CHI2_999 = {3: 16.27, 4: 18.47, 5: 20.52}  # 99.9% quantiles of chi-square by degrees of freedom


def test_multinomial_shapes_and_dtype(lib):
    p = lib.tensor([0.1, 0.2, 0.7])
    assert tuple(lib.multinomial(p, 2).shape) == (2,)
    assert tuple(lib.multinomial(p, 5, replacement=True).shape) == (5,)
    rows = lib.multinomial(lib.ones(4, 6), 3)
    assert tuple(rows.shape) == (4, 3) and rows.dtype == lib.int64
    assert tuple(lib.multinomial(lib.ones(0, 3), 1).shape) == (0, 1)
    assert lib.multinomial(lib.ones(3, dtype=lib.float32), 1).dtype == lib.int64
    assert not lib.multinomial(lib.ones(3, requires_grad=True), 1).requires_grad


def test_multinomial_without_replacement_draws_distinct_categories(lib):
    drawn = arr(lib.multinomial(lib.rand(50, 10) + 0.01, 10))
    assert all(sorted(row) == list(range(10)) for row in drawn.tolist())
    # fewer categories of positive weight than draws: those first, then the zero ones
    for _ in range(20):
        row = lib.multinomial(lib.tensor([0.0, 3.0, 0.0, 1.0]), 4).tolist()
        assert sorted(row[:2]) == [1, 3] and sorted(row[2:]) == [0, 2]


def test_multinomial_never_draws_a_zero_weight(lib):
    w = lib.tensor([[0.0, 1.0, 0.0, 2.0, 0.0], [5.0, 0.0, 0.0, 0.0, 0.0]])
    drawn = arr(lib.multinomial(w, 2000, replacement=True))
    assert set(drawn[0].tolist()) == {1, 3} and set(drawn[1].tolist()) == {0}
    assert set(arr(lib.multinomial(w[0], 2)).tolist()) == {1, 3}


def test_multinomial_with_replacement_follows_the_weights(lib):
    weights = [1.0, 2.0, 3.0, 4.0]  # need not sum to 1
    g = lib.Generator().manual_seed(0)
    drawn = arr(lib.multinomial(lib.tensor(weights), 20_000, replacement=True, generator=g))
    counts = np.bincount(drawn, minlength=4)
    assert chi_square(counts, np.array(weights) / 10) < CHI2_999[3]


def test_multinomial_without_replacement_follows_the_weights(lib):
    w = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    g = lib.Generator().manual_seed(1)
    drawn = arr(lib.multinomial(lib.tensor(w).expand(20_000, 5), 2, generator=g))
    first = np.bincount(drawn[:, 0], minlength=5)
    assert chi_square(first, w / w.sum()) < CHI2_999[4]
    # the second draw: P(j) = sum over i != j of P(first i) * w_j / (S - w_i)
    s = w.sum()
    second_p = [sum(w[i] / s * w[j] / (s - w[i]) for i in range(5) if i != j) for j in range(5)]
    second = np.bincount(drawn[:, 1], minlength=5)
    assert chi_square(second, second_p) < CHI2_999[4]
    assert np.all(drawn[:, 0] != drawn[:, 1])


def test_makemore_sampling_loop(lib):
    """The bigram lecture's sampler: one draw at a time from a row of counts."""
    g = lib.Generator().manual_seed(2147483647)
    N = lib.randint(0, 20, (27, 27), generator=g).float() + 1  # noqa: N806
    P = N / N.sum(axis=1, keepdims=True)  # noqa: N806
    ix, out = 0, []
    for _ in range(30):
        ix = lib.multinomial(P[ix], num_samples=1, replacement=True, generator=g).item()
        out.append(ix)
    assert all(isinstance(i, int) and 0 <= i < 27 for i in out)


MULTINOMIAL_ERRORS = [  # (call, exception): the same type for tg and torch
    (lambda lib: lib.multinomial(lib.tensor(1.0), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, float("nan")]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, float("inf")]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([[1.0, 0.0], [0.0, 0.0]]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1, replacement=True), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, 1.0]), 3), RuntimeError),
    (lambda lib: lib.multinomial(lib.ones(0), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, 1.0]), 0), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, 1.0]), -1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1, 1]), 1), RuntimeError),
    (lambda lib: lib.multinomial(lib.tensor([1.0, 1.0]), 1.0), TypeError),
    (lambda lib: lib.multinomial([1.0, 2.0], 1), TypeError),
]

MULTINOMIAL_MESSAGES = [
    "1 or 2 dim",
    "1 or 2 dim",
    "element < 0",
    "nan",
    "inf",
    "sum of probabilities <= 0",
    "sum of probabilities <= 0",
    "sum of probabilities <= 0",
    "without replacement",
    "without replacement",
    "n_sample <= 0",
    "n_sample <= 0",
    "floating",
    "num_samples",
    "Tensor",
]


@pytest.mark.parametrize("case", range(len(MULTINOMIAL_ERRORS)))
def test_multinomial_errors_are_pytorchs(lib, case):
    call, error = MULTINOMIAL_ERRORS[case]
    with pytest.raises(error, match=MULTINOMIAL_MESSAGES[case]):
        call(lib)


# ---- bernoulli ----------------------------------------------------------------------------------


def test_bernoulli(lib):
    lib.manual_seed(3)
    p = lib.tensor([0.0, 1.0, 0.25]).expand(40_000, 3)
    b = lib.bernoulli(p)
    assert b.dtype == lib.get_default_dtype() and tuple(b.shape) == (40_000, 3)
    values = arr(b)
    assert set(np.unique(values).tolist()) <= {0.0, 1.0}
    assert values[:, 0].sum() == 0 and values[:, 1].all() and abs(values[:, 2].mean() - 0.25) < 0.01
    assert lib.bernoulli(lib.zeros(3), 1.0).tolist() == [1.0, 1.0, 1.0]
    assert lib.bernoulli(lib.ones(3), p=0.0).tolist() == [0.0, 0.0, 0.0]
    assert lib.bernoulli(lib.ones(2, dtype=lib.float32)).dtype == lib.float32


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda lib: lib.bernoulli(lib.tensor([0.0, 2.0])), RuntimeError),
        (lambda lib: lib.bernoulli(lib.tensor([-0.5])), RuntimeError),
        (lambda lib: lib.bernoulli(lib.tensor([float("nan")])), RuntimeError),
        (lambda lib: lib.bernoulli(lib.tensor([0, 1])), RuntimeError),
        (lambda lib: lib.bernoulli([0.5]), TypeError),
    ],
)
def test_bernoulli_errors(lib, call, error):
    with pytest.raises(error):
        call(lib)


# ---- devices and tg.cuda ------------------------------------------------------------------------


def test_device_objects(lib):
    cpu = lib.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and str(cpu) == "cpu"
    assert repr(cpu) == "device(type='cpu')"
    assert lib.device("cpu:0").index == 0 and lib.device("cpu", 0) == lib.device("cpu:0")
    assert lib.device("cpu") == lib.device(cpu) and lib.device("cpu") != lib.device("cpu:0")
    assert len({lib.device("cpu"), lib.device("cpu")}) == 1
    cuda = lib.device("cuda:1")  # naming a GPU is allowed; putting a tensor there is not
    assert cuda.type == "cuda" and cuda.index == 1 and str(cuda) == "cuda:1"
    assert repr(cuda) == "device(type='cuda', index=1)"
    with pytest.raises(RuntimeError):
        lib.device("gpu")


def test_cuda_is_not_available(lib):
    assert lib.cuda.is_available() is False and lib.cuda.device_count() == 0
    device = "cuda" if lib.cuda.is_available() else "cpu"
    assert lib.zeros(2, device=device).tolist() == [0.0, 0.0]
    tg.cuda.manual_seed(1)
    tg.cuda.manual_seed_all(1)
    assert tg.cuda.is_bf16_supported() is False


CREATION = {  # name -> call(lib, device)
    "tensor": lambda lib, d: lib.tensor([1.0], device=d),
    "as_tensor": lambda lib, d: lib.as_tensor([1.0], device=d),
    "zeros": lambda lib, d: lib.zeros(2, device=d),
    "ones": lambda lib, d: lib.ones(2, device=d),
    "empty": lambda lib, d: lib.empty(2, device=d),
    "full": lambda lib, d: lib.full((2,), 1.0, device=d),
    "arange": lambda lib, d: lib.arange(3, device=d),
    "linspace": lambda lib, d: lib.linspace(0, 1, 3, device=d),
    "eye": lambda lib, d: lib.eye(2, device=d),
    "rand": lambda lib, d: lib.rand(2, device=d),
    "randn": lambda lib, d: lib.randn(2, device=d),
    "randint": lambda lib, d: lib.randint(3, (2,), device=d),
    "randperm": lambda lib, d: lib.randperm(3, device=d),
    "zeros_like": lambda lib, d: lib.zeros_like(lib.ones(2), device=d),
    "ones_like": lambda lib, d: lib.ones_like(lib.ones(2), device=d),
    "empty_like": lambda lib, d: lib.empty_like(lib.ones(2), device=d),
    "full_like": lambda lib, d: lib.full_like(lib.ones(2), 3.0, device=d),
    "rand_like": lambda lib, d: lib.rand_like(lib.ones(2), device=d),
    "randn_like": lambda lib, d: lib.randn_like(lib.ones(2), device=d),
    "randint_like": lambda lib, d: lib.randint_like(lib.ones(2), 5, device=d),
    "normal": lambda lib, d: lib.normal(0.0, 1.0, (2,), device=d),
}


@pytest.mark.parametrize("make", CREATION.values(), ids=CREATION.keys())
def test_every_creation_function_takes_the_cpu(lib, make):
    for device in ["cpu", "cpu:0", lib.device("cpu"), None]:
        assert make(lib, device) is not None


@pytest.mark.parametrize("make", [*CREATION.values(), lambda lib, d: tg.uniform(size=2, device=d)])
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", "meta", 0])
def test_any_other_device_says_only_the_cpu_is_available(make, device):
    with pytest.raises(RuntimeError, match="CPU only"):
        make(tg, device)
    with pytest.raises(RuntimeError, match="CPU only"):
        make(tg, tg.device(device) if isinstance(device, str) else device)


@needs_torch
def test_a_torch_device_object_is_understood():
    assert tg.zeros(2, device=torch.device("cpu")).shape == (2,)
    with pytest.raises(RuntimeError, match="CPU only"):
        tg.zeros(2, device=torch.device("cuda"))


# ---- tg.utils.data -----------------------------------------------------------------------------


def test_utils_data_module_path():
    from tinygrad_edu.utils.data import DataLoader, Dataset, Subset, TensorDataset, random_split

    assert DataLoader is tg.data.DataLoader and TensorDataset is tg.data.TensorDataset
    assert tg.utils.data is tg_data and Dataset and Subset and random_split


def test_dataset_subclass_and_loader(lib):
    data = data_module(lib)

    class Squares(data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return lib.tensor([float(i)]), lib.tensor(i * i)

    batches = list(data.DataLoader(Squares(), batch_size=4))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 1), (4, 1), (2, 1)]
    assert batches[1][1].tolist() == [16, 25, 36, 49]
    X, y = lib.randn(10, 3), lib.arange(10)  # noqa: N806
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=4, shuffle=True)
    assert sorted(sum((b.tolist() for _, b in loader), [])) == list(range(10))


def test_random_split(lib):
    data = data_module(lib)
    dataset = data.TensorDataset(lib.arange(10))
    a, b = data.random_split(dataset, [7, 3], generator=lib.Generator().manual_seed(0))
    assert (len(a), len(b)) == (7, 3)
    items = [a[i][0].item() for i in range(7)] + [b[i][0].item() for i in range(3)]
    assert sorted(items) == list(range(10))
    again, _ = data.random_split(dataset, [7, 3], generator=lib.Generator().manual_seed(0))
    assert [again[i][0].item() for i in range(7)] == items[:7]
    parts = data.random_split(dataset, [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    parts = data.random_split(range(11), [0.5, 0.5])
    assert [len(p) for p in parts] == [6, 5]
    batches = list(data.DataLoader(a, batch_size=7))
    assert sorted(batches[0][0].tolist()) == sorted(items[:7])
    with pytest.raises(ValueError):
        data.random_split(dataset, [5, 3])
    with pytest.raises(ValueError):
        data.random_split(dataset, [1.5, -0.5])


def test_no_warning_from_ordinary_creation():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.tensor([1.0, 2.0])
        tg.tensor(np.ones(3))
        tg.multinomial(tg.tensor([1.0, 0.0, 0.0]), 3)
