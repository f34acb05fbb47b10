"""Tensor basics: construction and dtype rules, what a tensor shows and converts to, hashing,
comparisons, in-place updates, and the creation functions."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

pytestmark = pytest.mark.usefixtures("grad_mode_restored")


# ---- dtypes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.0, np.float64),
        ([1.0, 2.0], np.float64),
        ([[1.0], [2.0]], np.float64),
        (1, np.int64),
        ([1, 2], np.int64),
        ([1, 2.5], np.float64),
        (True, np.bool_),
        (np.array([1.0, 2.0], dtype=np.float32), np.float32),
        (np.float32(1.5), np.float32),
        (np.arange(3), np.int64),
    ],
)
def test_dtype_follows_numpy(data, dtype):
    assert Tensor(data).dtype == dtype


def test_dtype_argument_and_copy_of_the_data():
    source = np.array([1.0, 2.0])
    t = Tensor(source, dtype=np.float32)
    assert t.dtype == np.float32
    u = Tensor(source)
    source[0] = 100.0
    assert u.data[0] == 1.0  # the tensor owns a copy, as torch.tensor does
    v = Tensor(u)
    v.data[1] = -1.0
    assert u.data[1] == 2.0
    assert Tensor([1, 2], dtype="float64").dtype == np.float64


def test_mixing_keeps_the_tensors_dtype():
    x32 = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    for result in (x32 + 1.0, 2.5 * x32, x32 / 3, x32**2, 1.0 - x32, x32 + 1):
        assert result.dtype == np.float32
    # a NumPy float64 scalar promotes in NumPy 2, but not in PyTorch's rule, which Tensor keeps
    assert (x32.data - np.float64(1.0)).dtype == np.float64
    assert (x32 - np.float64(1.0)).dtype == np.float32
    assert (x32 + Tensor([1.0, 1.0])).dtype == np.float64  # two tensors: NumPy's promotion
    n = Tensor([1, 2])
    assert (n + 1).dtype == np.int64
    assert (n * 2.5).dtype == np.float64
    assert (n / 2).dtype == np.float64


def test_float32_graph_gives_float32_gradients():
    x = Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    loss = ((x @ w).tanh() * 2.0 + 1.0).sigmoid().log().sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_conversions_between_dtypes():
    x = Tensor([1.5, -2.5], requires_grad=True)
    assert x.float().dtype == np.float32 and x.float().double().dtype == np.float64
    (x.float() * 2.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    as_int = x.astype(np.int64)
    assert as_int.dtype == np.int64 and not as_int.requires_grad and as_int.grad_fn is None
    np.testing.assert_array_equal(as_int.data, [1, -2])
    assert x.astype(bool).dtype == np.bool_


# ---- what a tensor shows -------------------------------------------------------------------


def test_repr_shows_values_dtype_and_grad_fn():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], dtype=float64, requires_grad=True)"
    assert repr(x * 2.0) == "Tensor([2., 4.], dtype=float64, grad_fn=<MulBackward>)"
    assert repr(Tensor(3)) == "Tensor(3, dtype=int64)"
    assert repr(Tensor([[1.0]], name="w")) == "Tensor([[1.]], dtype=float64, name='w')"
    assert "float32" in repr(Tensor(np.zeros(2, np.float32)))


def test_item_numpy_tolist_len_iteration():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.ndim == 2 and x.numel() == 4 and len(x) == 2
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert x.numpy() is x.data
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    s = x.sum()
    assert s.item() == 10.0 and isinstance(s.item(), float)
    assert isinstance(s.numpy(), np.ndarray) and s.numpy().shape == ()
    assert s.tolist() == 10.0 and float(s) == 10.0 and int(Tensor(7)) == 7
    assert Tensor(5).item() == 5 and isinstance(Tensor(5).item(), int)
    assert Tensor([2.5]).item() == 2.5
    with pytest.raises(TypeError):
        iter(Tensor(1.0))


def test_zero_d_scalars_carry_a_graph():
    a = Tensor(2.0, requires_grad=True)
    b = a * a + 1.0
    assert b.shape == () and b.ndim == 0 and b.item() == 5.0
    b.backward()
    assert a.grad.shape == () and a.grad.item() == 4.0


@pytest.mark.parametrize("value", [2.0, np.float32(2.0), np.array(2.0), np.array(2, np.int64)])
def test_a_zero_d_tensor_holds_a_numpy_scalar_of_its_dtype(value):
    t = Tensor(value)
    assert type(t.data) is np.dtype(np.asarray(value).dtype).type and t.data.shape == ()
    assert t.item() == 2 and type(t.numpy()) is np.ndarray and t.numpy().shape == ()
    assert type(Tensor([2.0]).data) is np.ndarray and type(Tensor(np.ones((1, 1))).data) is np.ndarray


def test_writing_into_a_zero_d_tensor():
    t = Tensor(2.0)
    t += 1.0
    assert t.item() == 3.0 and t.dtype == np.float64
    t[...] = 5.0
    assert t.item() == 5.0
    p = Tensor(np.float32(1.0), requires_grad=True)
    tg.nn.init.constant_(p, 0.25)
    assert p.item() == 0.25 and p.dtype == np.float32 and p.shape == ()


def test_detach_shares_data_and_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert d.data is y.data
    assert x.is_leaf and not y.is_leaf


def test_requires_grad_flag_and_name():
    x = Tensor([1.0], name="x")
    assert not x.requires_grad and x.name == "x"
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    assert not (x * 2.0).requires_grad


# ---- hashing and comparisons -----------------------------------------------------------------


def test_hash_by_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2
    assert hash(a) == hash(a) and a in [a]


def test_comparisons_return_tensors_without_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    results = [x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2, x < Tensor([3.0, 2.0, 1.0])]
    expected = [
        [True, False, False],
        [True, True, False],
        [False, False, True],
        [False, True, True],
        [False, True, False],
        [True, False, True],
        [True, False, False],
    ]
    for result, want in zip(results, expected):
        assert isinstance(result, Tensor) and result.dtype == np.bool_
        assert not result.requires_grad and result.grad_fn is None
        assert result.tolist() == want
    assert x.argmax().item() == 2 and x.argmin().item() == 0
    assert not x.argmax().requires_grad
    np.testing.assert_array_equal(Tensor([[1.0, 5.0], [7.0, 2.0]]).argmax(axis=1).data, [1, 0])
    assert (x == 2).any() and not (x == 5).any() and (x > 0).all()


def test_bool_of_a_tensor():
    assert bool(Tensor(1.0)) and not bool(Tensor([0.0]))
    assert bool(Tensor(2.0) > 1)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        if Tensor([1.0, 2.0]) == Tensor([1.0, 2.0]):
            pass


# ---- in-place ------------------------------------------------------------------------------


def test_in_place_on_a_tensor_requiring_grad_only_under_no_grad():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1.0
    with pytest.raises(RuntimeError, match="in-place"):
        w -= Tensor([1.0, 1.0])
    with pytest.raises(RuntimeError):
        w[0] = 3.0
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    with tg.no_grad():
        w -= 0.5 * Tensor([2.0, 2.0])
        w.zero_()
        w += 3.0
    np.testing.assert_array_equal(w.data, [3.0, 3.0])
    assert w.requires_grad and w.is_leaf


def test_in_place_with_a_tensor_requiring_grad_on_the_right_is_recorded():
    """As in PyTorch: the constant becomes a computed tensor, part of the graph."""
    c = Tensor([1.0, 2.0])
    w = Tensor([1.0, 1.0], requires_grad=True)
    c += w
    assert c.requires_grad and c.grad_fn is not None
    (c * c).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [4.0, 6.0])
    d = Tensor([1.0, 2.0])
    d += w.detach()
    np.testing.assert_array_equal(d.data, [2.0, 2.0 + 1.0])
    assert not d.requires_grad


def test_in_place_keeps_the_dtype():
    x = Tensor(np.zeros(2, dtype=np.float32))
    x += 1.5
    assert x.dtype == np.float32 and x.tolist() == [1.5, 1.5]
    s = Tensor([1.0, 2.0]).sum()  # a 0-d result whose data may be a NumPy scalar
    s += 1.0
    assert s.item() == 4.0


# ---- creation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda **kw: tg.zeros(2, 3, **kw), (2, 3)),
        (lambda **kw: tg.zeros((2, 3), **kw), (2, 3)),
        (lambda **kw: tg.ones(4, **kw), (4,)),
        (lambda **kw: tg.full((2, 2), 7.0, **kw), (2, 2)),
        (lambda **kw: tg.empty(3, 1, **kw), (3, 1)),
        (lambda **kw: tg.arange(0.0, 3.0, 0.5, **kw), (6,)),
        (lambda **kw: tg.linspace(0.0, 1.0, 5, **kw), (5,)),
        (lambda **kw: tg.eye(3, **kw), (3, 3)),
        (lambda **kw: tg.eye(2, 4, **kw), (2, 4)),
        (lambda **kw: tg.rand(2, 5, **kw), (2, 5)),
        (lambda **kw: tg.randn((3,), **kw), (3,)),
        (lambda **kw: tg.uniform(-1.0, 1.0, (2, 2), **kw), (2, 2)),
        (lambda **kw: tg.normal(0.0, 2.0, (4,), **kw), (4,)),
        (lambda **kw: tg.zeros_like(Tensor(np.ones((2, 1))), **kw), (2, 1)),
        (lambda **kw: tg.ones_like(Tensor(np.ones(3)), **kw), (3,)),
    ],
)
def test_creation_functions_take_dtype_and_requires_grad(make, shape):
    t = make()
    assert t.shape == shape and t.dtype == np.float64 and not t.requires_grad
    t32 = make(dtype=np.float32, requires_grad=True)
    assert t32.shape == shape and t32.dtype == np.float32 and t32.requires_grad and t32.is_leaf


def test_creation_values():
    np.testing.assert_array_equal(tg.zeros(2).data, [0.0, 0.0])
    np.testing.assert_array_equal(tg.ones(2).data, [1.0, 1.0])
    np.testing.assert_array_equal(tg.full(3, 2.5).data, [2.5, 2.5, 2.5])
    np.testing.assert_array_equal(tg.arange(4).data, [0, 1, 2, 3])
    assert tg.arange(4).dtype == np.int64 and tg.arange(4.0).dtype == np.float64
    np.testing.assert_array_equal(tg.arange(1, 7, 2).data, [1, 3, 5])
    np.testing.assert_allclose(tg.linspace(0.0, 1.0, 3).data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(tg.eye(2).data, [[1.0, 0.0], [0.0, 1.0]])
    assert tg.zeros_like(Tensor(np.ones(2, np.float32))).dtype == np.float32
    assert tg.ones_like(Tensor([1, 2])).dtype == np.int64
    r = tg.rand(1000)
    assert 0.0 <= r.data.min() and r.data.max() < 1.0
    u = tg.uniform(2.0, 3.0, (1000,))
    assert 2.0 <= u.data.min() and u.data.max() < 3.0
    n = tg.normal(5.0, 0.1, (2000,))
    assert abs(n.data.mean() - 5.0) < 0.05 and 0.05 < n.data.std() < 0.2


def test_manual_seed_reproduces_random_tensors():
    tg.manual_seed(123)
    first = [
        tg.rand(3).data,
        tg.randn(2, 2).data,
        tg.uniform(size=(2,)).data,
        tg.normal(size=3).data,
    ]
    tg.manual_seed(123)
    second = [
        tg.rand(3).data,
        tg.randn(2, 2).data,
        tg.uniform(size=(2,)).data,
        tg.normal(size=3).data,
    ]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(tg.rand(3).data, tg.rand(3).data)
    tg.manual_seed(124)
    assert not np.array_equal(tg.rand(3).data, first[0])


def test_manual_seed_leaves_numpys_global_generator_alone():
    np.random.seed(0)
    expected = np.random.random(3)
    np.random.seed(0)
    tg.manual_seed(5)
    tg.randn(10)
    np.testing.assert_array_equal(np.random.random(3), expected)


def test_int_creation_cannot_require_grad():
    with pytest.raises(TypeError):
        tg.zeros(2, dtype=np.int64, requires_grad=True)
    assert tg.zeros(2, dtype=np.int64).dtype == np.int64
