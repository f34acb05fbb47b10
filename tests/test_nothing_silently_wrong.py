"""Cases that once gave a wrong answer without a word: each is now right, or a clear error.

(Checkpoints are in test_checkpoints.py; binary_cross_entropy's inputs and module cycles in
test_silent_errors_nn.py.)"""

import tracemalloc

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
MODIFIED = "modified by an inplace operation"


# ---- in-place changes to values a graph saved ---------------------------------------------------


def test_a_constant_changed_after_forward_is_refused():
    w = tg.Tensor([1.0, 1.0], requires_grad=True)
    c = tg.Tensor([2.0, 3.0], name="c")
    y = (w * c).sum()
    c += 100
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: input 1 of Mul, the tensor 'c'"):
        y.backward()
    assert w.grad is None  # nothing half-done


def test_an_input_changed_under_no_grad_is_refused():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with tg.no_grad():
        x *= 10
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: input 0 of Mul.*version 1"):
        y.backward()


def test_an_optimizer_step_between_forward_and_backward_is_refused():
    tg.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    x = tg.randn(4, 3)
    (model(x) ** 2).sum().backward()
    opt.step()
    loss = (model(x) ** 2).sum()
    opt.step()  # the weights change in place after the forward that saved them
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: input 1 of Linear"):
        loss.backward()


def test_a_batch_changed_after_a_layer_saw_it_is_refused():
    tg.manual_seed(0)
    layer = nn.Linear(3, 2)
    xb = tg.randn(4, 3)
    loss = layer(xb).sum()
    xb *= 100
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: input 0 of Linear"):
        loss.backward()


def test_a_product_by_a_number_saves_nothing_and_allows_later_changes_as_pytorch():
    """x * 3.0 keeps only the number (its derivative): x may change in place afterwards, as in
    PyTorch, whose product by a scalar saves the scalar alone."""
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    assert y.grad_fn.name == "Mul" and y.grad_fn._saved == ()
    loss = (y + 0.5 * x).sum()  # (0.5 * x: the number on the left)
    with tg.no_grad():
        x *= 10
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, [3.5, 3.5])
    if torch is not None:
        tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        tloss = (tx * 3.0 + 0.5 * tx).sum()
        with torch.no_grad():
            tx *= 10
        tloss.backward()
        np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
    for number in (2, True, -1.5):  # ints and bools are numbers too
        for make in (lambda t, c=number: t * c, lambda t, c=number: c * t):
            leaf = tg.Tensor([[1.0, -2.0]], requires_grad=True)
            make(leaf).sum().backward()
            np.testing.assert_array_equal(leaf.grad.data, [[float(number)] * 2])
            assert tg.gradcheck(make, [tg.Tensor([[0.3, -0.7]], requires_grad=True)])
            assert tg.gradgradcheck(make, [tg.Tensor([[0.3, -0.7]], requires_grad=True)])


def test_a_detached_alias_shares_the_version():
    x = tg.Tensor([0.5, 1.5], requires_grad=True)
    y = x.exp()  # Exp saves its output
    d = y.detach()
    assert np.shares_memory(d.data, y.data)
    d *= 0
    assert y._version == 1 and d._version == 1
    with pytest.raises(RuntimeError, match=rf"{MODIFIED}: its output of Exp"):
        y.sum().backward()


def test_assignment_and_init_into_a_saved_tensor_are_refused():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    y = (x * c).sum()
    c[0] = 10.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
    w = nn.Parameter(tg.ones(2, 2))
    loss = (w * w).sum()
    nn.init.zeros_(w)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_changes_that_no_saved_value_sees_are_fine():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    y = (x + c).sum()  # addition saves nothing
    c += 1
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    z = (x * x).sum()
    z.backward()
    with tg.no_grad():
        x *= 2  # after the backward that needed it
    assert x._version == 1


def test_edits_through_data_bypass_the_version_as_in_pytorch():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data += 1  # invisible to autograd, as in PyTorch: backward uses the new values
    assert x._version == 0
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 6.0])


def test_a_numpy_operand_is_copied_so_later_changes_do_not_reach_the_graph():
    w = tg.Tensor([1.0, 1.0], requires_grad=True)
    c = np.array([2.0, 3.0])
    y = (w * c).sum()
    c += 100
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])


@needs_torch
def test_the_version_counts_as_pytorchs():
    ours, theirs = tg.Tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    for step in (lambda t: t.__iadd__(1), lambda t: t.__imul__(2), lambda t: t.__setitem__(0, 5.0)):
        step(ours)
        step(theirs)
        assert ours._version == theirs._version


# ---- attributes that check what they are given --------------------------------------------------


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_the_micrograd_update_works_for_every_shape(shape):
    p = tg.Tensor(np.full(shape, 1.0), requires_grad=True)
    (p * p).sum().backward()
    p.data += -0.1 * p.grad
    assert isinstance(p.data, (np.ndarray, np.generic)) and p.data.shape == shape
    np.testing.assert_allclose(p.data, np.full(shape, 0.8))
    p.data = p.data - 0.1 * p.grad
    assert isinstance(p.data, (np.ndarray, np.generic)) and p.data.shape == shape
    np.testing.assert_allclose(p.data, np.full(shape, 0.6))
    if shape == ():
        assert p.item() == pytest.approx(0.6)


def test_data_assignment_checks_what_it_is_given():
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    p.data = tg.Tensor([3.0, 4.0])
    assert isinstance(p.data, np.ndarray)
    np.testing.assert_array_equal(p.data, [3.0, 4.0])
    with pytest.raises(TypeError, match=r"\.data must be an array, a number or a Tensor"):
        p.data = "abc"
    with pytest.raises(TypeError, match="floating point"):
        p.data = np.array([1, 2])
    np.testing.assert_array_equal(p.data, [3.0, 4.0])  # unchanged by the refusals


def test_requires_grad_is_a_checked_property():
    n = tg.Tensor([1, 2])
    with pytest.raises(TypeError, match="floating point dtype can require gradients.*int64"):
        n.requires_grad = True
    assert not n.requires_grad
    x = tg.Tensor([1.0, 2.0])
    x.requires_grad = True
    h = x * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        h.requires_grad = False
    assert h.requires_grad and h.grad_fn is not None


def test_grad_assignment_checks_shape_and_refuses_numbers():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3, 2\), but the tensor has"):
        x.grad = tg.ones(3, 2)
    assert x.grad is None
    p = tg.Tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"\.grad = None or call zero_grad"):
        p.grad = 0.0
    x.grad = np.array([1.0, 1.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])


@needs_torch
def test_attribute_errors_are_where_pytorch_has_them():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad = True
    with pytest.raises(TypeError, match="floating point"):  # the type is what is wrong
        tg.Tensor([1, 2]).requires_grad = True
    x, t = tg.Tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (t * 2).requires_grad = False
    with pytest.raises(RuntimeError):
        (x * 2).requires_grad = False


# ---- dtypes --------------------------------------------------------------------------------------


def test_a_float32_forward_stays_float32():
    x = tg.randn(4, 8, dtype=np.float32, requires_grad=True)
    scale = tg.Tensor(2.0)  # float64, 0-d
    outputs = [
        x / np.sqrt(64),
        x * np.float64(2),
        x * scale,
        np.float64(2) * x,
        x - np.float64(1),
        x**np.float64(2),
        tg.where(x > 0, x, np.float64(0)),
        tg.maximum(x, np.float64(0)),
    ]
    for out in outputs:
        assert out.dtype == np.float32
    attention = (x @ x.T) / np.sqrt(8)
    assert attention.dtype == np.float32
    loss = sum(out.sum() for out in outputs)
    scaled = (x * scale).sum()
    (loss + scaled).backward()
    assert x.grad.dtype == np.float32


@needs_torch
def test_zero_dim_promotion_matches_pytorch():
    cases = [
        (np.float32, np.float64, True),  # dims float32, 0-d float64
        (np.int64, np.float32, True),
        (np.int32, np.int64, True),
        (np.float64, np.float32, True),
        (np.float32, np.float64, False),  # both with dims: ordinary promotion
    ]
    for dims_dtype, other_dtype, zero_d in cases:
        shape = () if zero_d else (3,)
        ours = tg.Tensor(np.ones(3, dims_dtype)) * tg.Tensor(np.full(shape, 2, other_dtype))
        theirs = torch.from_numpy(np.ones(3, dims_dtype)) * torch.from_numpy(
            np.full(shape, 2, other_dtype)
        )
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_creation_builds_float32_directly():
    tracemalloc.start()
    try:
        z = tg.zeros(2000, 1000, dtype=np.float32)
        r = tg.randn(2000, 1000, dtype=np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert z.dtype == r.dtype == np.float32
    size32 = 2000 * 1000 * 4
    # both tensors, plus one chunk of float64 random numbers; never a float64 copy of the size
    assert peak < 2 * size32 + 9 * 2**20


def test_a_seed_gives_the_same_numbers_in_any_dtype():
    tg.manual_seed(3)
    a = tg.randn(3, 5)
    tg.manual_seed(3)
    b = tg.randn(3, 5, dtype=np.float32)
    np.testing.assert_array_equal(a.data.astype(np.float32), b.data)


# ---- max and min with NaN, empty tensors ---------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_and_min_send_the_gradient_to_the_nan(op):
    data = [1.0, np.nan, 3.0]
    ours = tg.Tensor(data, requires_grad=True)
    getattr(ours, op)().backward()
    theirs = torch.tensor(data, requires_grad=True)
    getattr(theirs, op)().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
    np.testing.assert_array_equal(ours.grad.data, [0.0, 1.0, 0.0])


@needs_torch
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_and_minimum_with_nan_and_ties_as_pytorch(op):
    a_data, b_data = [1.0, np.nan, 3.0, 2.0, np.nan], [2.0, 2.0, 2.0, 2.0, np.nan]
    a, b = tg.Tensor(a_data, requires_grad=True), tg.Tensor(b_data, requires_grad=True)
    getattr(tg, op)(a, b).sum().backward()
    ta, tb = torch.tensor(a_data, requires_grad=True), torch.tensor(b_data, requires_grad=True)
    getattr(torch, op)(ta, tb).sum().backward()
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.data, tb.grad.numpy())


@needs_torch
def test_empty_tensors_reduce_as_in_pytorch():
    x, t = tg.zeros(0, 3), torch.zeros(0, 3)
    assert x.softmax(0).shape == tuple(torch.softmax(t, 0).shape) == (0, 3)
    np.testing.assert_array_equal(x.logsumexp(0).data, torch.logsumexp(t, 0).numpy())
    assert x.max(1).values.shape == tuple(t.max(1).values.shape) == (0,)
    assert x.min(1).indices.shape == (0,)
    for op in ("max", "min"):
        with pytest.raises(IndexError, match=rf"{op}\(\): Expected reduction dim 1"):
            getattr(tg.zeros(3, 0), op)(1)
        with pytest.raises(ValueError, match=rf"{op}: the tensor is empty"):
            getattr(tg.zeros(0, 3), op)()
    with pytest.raises(IndexError):
        torch.zeros(3, 0).max(1)


# ---- grad mode on generators ---------------------------------------------------------------------


def test_no_grad_on_a_generator_runs_each_step_without_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    seen = []

    @tg.no_grad()
    def batches():
        for k in range(3):
            seen.append(tg.is_grad_enabled())
            yield x * k

    for y in batches():
        assert tg.is_grad_enabled()  # the consumer's code runs in its own mode
        assert not y.requires_grad
    assert seen == [False, False, False]


def test_enable_grad_and_set_grad_enabled_on_generators():
    @tg.enable_grad()
    def recorded(x):
        yield x * 2

    @tg.set_grad_enabled(False)
    def unrecorded(x):
        yield x * 2

    x = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        assert next(recorded(x)).requires_grad
    assert not next(unrecorded(x)).requires_grad
    assert tg.is_grad_enabled()


def test_a_generator_receives_sent_values_and_thrown_errors():
    @tg.no_grad()
    def echo():
        received = yield "ready"
        while True:
            try:
                received = yield (received, tg.is_grad_enabled())
            except KeyError:
                received = "caught"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send(5) == (5, False)
    assert gen.throw(KeyError) == ("caught", False)
    gen.close()
    assert tg.is_grad_enabled()


def test_log_softmax_and_cross_entropy_of_rows_with_infinities_match_pytorch():
    """Rows all -inf, or holding NaN or +inf, are NaN (PyTorch: x - inf is NaN at the inf);
    a -inf among finite logits is a probability of 0. Values and the loss per row, exactly."""
    torch = pytest.importorskip("torch")
    import tinygrad_edu.nn.functional as F

    x = np.array(
        [
            [0.5, -1.0, 2.0],
            [-np.inf, -np.inf, -np.inf],
            [np.nan, 1.0, 2.0],
            [np.inf, 1.0, 0.0],
            [-np.inf, 1.0, 0.0],
        ]
    )
    target = np.array([0, 1, 1, 1, 2])
    np.testing.assert_array_equal(
        tg.tensor(x).log_softmax(1).data, torch.tensor(x).log_softmax(1).numpy()
    )
    ours = F.cross_entropy(tg.tensor(x), tg.tensor(target), reduction="none")
    theirs = torch.nn.functional.cross_entropy(
        torch.tensor(x), torch.tensor(target), reduction="none"
    )
    np.testing.assert_array_equal(ours.data, theirs.numpy())


# ---- backwards that compute in place leave what their node saved unchanged --------------------

_TOKENS = np.array([[0, 1, 1], [2, 0, 3]])
_TARGETS = np.array([0, 4, 1, 1, 2, 3])
IN_PLACE_BACKWARDS = {
    "gelu": (lambda x: nn.functional.gelu(x), [(4, 8)]),
    "layer_norm": (lambda x, w, b: nn.functional.layer_norm(x, (8,), w, b), [(4, 8), (8,), (8,)]),
    "batch_norm": (lambda x: nn.functional.batch_norm(x, None, None, training=True), [(6, 3)]),
    "attention": (
        lambda q, k, v: nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 5, 4)] * 3,
    ),
    "cross_entropy": (lambda z: nn.functional.cross_entropy(z, tg.Tensor(_TARGETS)), [(6, 5)]),
    "embedding": (lambda w: nn.functional.embedding(tg.Tensor(_TOKENS), w), [(4, 3)]),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE_BACKWARDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_second_backward_through_an_in_place_backward_gives_the_same_gradients(name, dtype):
    """GELU's, attention's, cross-entropy's and normalisation's ordinary backwards compute in
    arrays they create, for speed: with retain_graph=True a second backward must find the values
    the node saved untouched, and add the same gradients again."""
    fn, shapes = IN_PLACE_BACKWARDS[name]
    rng = np.random.default_rng(1)
    inputs = [tg.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    out = fn(*inputs)
    upstream = tg.Tensor(rng.standard_normal(out.shape).astype(dtype))
    out.backward(upstream, retain_graph=True)
    first = [x.grad.data.copy() for x in inputs]
    out.backward(upstream)
    for x, gradient in zip(inputs, first):
        np.testing.assert_array_equal(x.grad.data, 2 * gradient)
