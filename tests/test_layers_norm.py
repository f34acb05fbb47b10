"""Embedding, BatchNorm1d/2d, LayerNorm and Module buffers and forward hooks.

Against PyTorch in float64 (skipped where it is not installed): outputs, input and parameter
gradients, running statistics after several training steps, evaluation mode, state_dict keys
and shapes, and state dicts moved between the two libraries with strict=True in both
directions. Then gradcheck / gradgradcheck over random shapes, the buffer and hook machinery
of Module, and every error these layers raise.
"""

import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn
from tinygrad_edu.nn.layers import BatchNorm1d, BatchNorm2d, Embedding, LayerNorm, Linear
from tinygrad_edu.nn.modules import Module, Parameter, RemovableHandle

RTOL, ATOL = 1e-10, 1e-12


def torch_or_skip():
    return pytest.importorskip("torch")


def to_torch(state):
    """Our state dict as PyTorch's: every array through torch.from_numpy."""
    torch = torch_or_skip()
    return OrderedDict((k, torch.from_numpy(v)) for k, v in state.items())


def from_torch(module):
    """A PyTorch module's state dict as arrays, through .numpy()."""
    return OrderedDict((k, v.detach().numpy()) for k, v in module.state_dict().items())


def assert_close(ours, theirs, what=""):
    ours = ours.data if isinstance(ours, tg.Tensor) else ours
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert np.shape(ours) == np.shape(theirs), what
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_same_state(ours, theirs):
    """Same keys in the same order, same shapes, same values."""
    state, expected = ours.state_dict(), from_torch(theirs)
    assert list(state) == list(expected)
    for key in state:
        assert state[key].shape == expected[key].shape, key
        assert_close(state[key], expected[key], key)


def pair(ours_cls, theirs_cls, *args, **kwargs):
    """Our layer and PyTorch's with the same arguments, in float64, with PyTorch's
    (random) parameters loaded into ours."""
    torch = torch_or_skip()
    theirs = theirs_cls(*args, **kwargs).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1.5, 1.5)
    ours = ours_cls(*args, **kwargs)
    ours.load_state_dict(from_torch(theirs))
    return ours, theirs


def step_both(ours, theirs, x, seed):
    """Forward both on x, backpropagate one random upstream gradient, and compare the
    output, the input gradient and every parameter gradient."""
    torch = torch_or_skip()
    xs = tg.Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, tout = ours(xs), theirs(xt)
    upstream = np.random.default_rng(seed).normal(size=tout.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    assert_close(out, tout, "output")
    assert_close(xs.grad, xt.grad, "input gradient")
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, their_params[name].grad, f"gradient of {name}")
    return out


# ---- BatchNorm against PyTorch ----------------------------------------------------------------

BATCH_NORMS = [
    ("1d (N, C)", BatchNorm1d, "BatchNorm1d", (6, 4), {}),
    ("1d (N, C, L)", BatchNorm1d, "BatchNorm1d", (5, 4, 7), {}),
    ("2d", BatchNorm2d, "BatchNorm2d", (3, 4, 5, 6), {}),
    ("momentum 0.3", BatchNorm1d, "BatchNorm1d", (6, 4), {"momentum": 0.3}),
    ("cumulative", BatchNorm2d, "BatchNorm2d", (2, 4, 3, 3), {"momentum": None}),
    ("eps", BatchNorm1d, "BatchNorm1d", (4, 4, 2), {"eps": 1e-2}),
    ("not affine", BatchNorm1d, "BatchNorm1d", (6, 4), {"affine": False}),
    ("no bias", BatchNorm2d, "BatchNorm2d", (2, 4, 3, 2), {"bias": False}),
    ("no running stats", BatchNorm1d, "BatchNorm1d", (6, 4, 3), {"track_running_stats": False}),
]


@pytest.mark.parametrize(
    "ours_cls, theirs_name, shape, kwargs",
    [b[1:] for b in BATCH_NORMS],
    ids=[b[0] for b in BATCH_NORMS],
)
def test_batch_norm_matches_pytorch_in_training_and_evaluation(
    ours_cls, theirs_name, shape, kwargs
):
    torch = torch_or_skip()
    ours, theirs = pair(ours_cls, getattr(torch.nn, theirs_name), 4, **kwargs)
    lr = 0.1
    rng = np.random.default_rng(0)
    for step in range(5):  # training steps: forward, backward, an SGD update on both sides
        x = rng.normal(size=shape) * 2 + rng.normal(size=(1, 4) + (1,) * (len(shape) - 2))
        step_both(ours, theirs, x, seed=step)
        with tg.no_grad(), torch.no_grad():
            their_params = dict(theirs.named_parameters())
            for name, p in ours.named_parameters():
                p -= lr * p.grad
                their_params[name] -= lr * their_params[name].grad
                p.grad, their_params[name].grad = None, None
        assert_same_state(ours, theirs)  # running statistics and num_batches_tracked too
    if kwargs.get("track_running_stats", True):
        assert int(ours.num_batches_tracked) == 5
    ours.eval()
    theirs.eval()
    step_both(ours, theirs, rng.normal(size=shape), seed=9)
    assert_same_state(ours, theirs)  # evaluation changes no statistics
    # one sample is fine in evaluation
    if kwargs.get("track_running_stats", True):
        step_both(ours, theirs, rng.normal(size=(1,) + shape[1:]), seed=10)


def test_batch_norm_state_dict_keys_shapes_and_dtypes_match_pytorch():
    torch = torch_or_skip()
    for ours, theirs in [
        (BatchNorm1d(3), torch.nn.BatchNorm1d(3)),
        (BatchNorm2d(5, affine=False), torch.nn.BatchNorm2d(5, affine=False)),
        (BatchNorm1d(2, bias=False), torch.nn.BatchNorm1d(2, bias=False)),
        (
            BatchNorm1d(4, track_running_stats=False),
            torch.nn.BatchNorm1d(4, track_running_stats=False),
        ),
    ]:
        state, expected = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(expected)
        for key, value in expected.items():
            assert state[key].shape == tuple(value.shape), key
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert repr(ours) == repr(theirs)
    assert BatchNorm1d(3).state_dict()["num_batches_tracked"].dtype == np.int64


def test_batch_norm_initialisation_is_pytorchs():
    bn = BatchNorm2d(3)
    assert np.array_equal(bn.weight.data, np.ones(3)) and np.array_equal(bn.bias.data, np.zeros(3))
    assert np.array_equal(bn.running_mean.data, np.zeros(3))
    assert np.array_equal(bn.running_var.data, np.ones(3))
    assert int(bn.num_batches_tracked) == 0 and bn.num_batches_tracked.dtype == np.int64
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.weight.dtype == np.float64
    bn(tg.randn(4, 3, 2, 2))
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_var.data == 1)


def test_state_dicts_move_between_the_libraries_with_strict_loading():
    """A model saved by either library loads into the other (strict=True), and both then
    compute the same thing in evaluation mode."""
    torch = torch_or_skip()

    def ours_model():
        return nn.Sequential(
            Embedding(10, 4, padding_idx=0),
            LayerNorm(4),
            nn.Flatten(),
            Linear(12, 6),
            BatchNorm1d(6),
            nn.ReLU(),
            Linear(6, 2),
        )

    def their_model():
        T = torch.nn
        return T.Sequential(
            T.Embedding(10, 4, padding_idx=0),
            T.LayerNorm(4),
            T.Flatten(),
            T.Linear(12, 6),
            T.BatchNorm1d(6),
            T.ReLU(),
            T.Linear(6, 2),
        ).double()

    idx = np.random.default_rng(0).integers(0, 10, size=(8, 3))
    theirs = their_model()
    theirs.train()
    with torch.no_grad():
        for _ in range(3):  # give the running statistics values of their own
            theirs(torch.from_numpy(idx))
    theirs.eval()

    ours = ours_model()
    result = ours.load_state_dict(from_torch(theirs), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    ours.eval()
    assert_close(ours(idx), theirs(torch.from_numpy(idx)), "torch -> ours")

    # and back: train ours a little, load its state into a fresh PyTorch model
    ours.train()
    for _ in range(2):
        ours(idx)
    ours.eval()
    fresh = their_model()
    fresh.load_state_dict(to_torch(ours.state_dict()), strict=True)
    fresh.eval()
    assert_close(ours(idx), fresh(torch.from_numpy(idx)), "ours -> torch")
    assert int(fresh[4].num_batches_tracked) == 5
    assert list(ours.state_dict()) == list(fresh.state_dict())


def test_functional_batch_norm_matches_pytorch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3, 4))
    w, b = rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    for training in (True, False):
        ours_rm, ours_rv = tg.Tensor(rm), tg.Tensor(rv)
        their_rm, their_rv = torch.tensor(rm), torch.tensor(rv)
        xs, ws, bs = (tg.Tensor(a, requires_grad=True) for a in (x, w, b))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.batch_norm(xs, ours_rm, ours_rv, ws, bs, training, 0.2, 1e-3)
        tout = TF.batch_norm(xt, their_rm, their_rv, wt, bt, training, 0.2, 1e-3)
        upstream = rng.normal(size=x.shape)
        out.backward(upstream)
        tout.backward(torch.tensor(upstream))
        assert_close(out, tout, f"output, training={training}")
        for a, e in [(xs, xt), (ws, wt), (bs, bt)]:
            assert_close(a.grad, e.grad, f"gradient, training={training}")
        assert_close(ours_rm, their_rm, "running_mean")
        assert_close(ours_rv, their_rv, "running_var")
    # batch statistics without running ones
    assert_close(
        F.batch_norm(tg.Tensor(x), None, None, training=True),
        TF.batch_norm(torch.tensor(x), None, None, training=True),
    )


def test_batch_norm_state_survives_save_and_load(tmp_path):
    bn = BatchNorm2d(3)
    for seed in range(3):
        bn(random_tensor(seed, (4, 3, 2, 2)))
    tg.save(bn.state_dict(), tmp_path / "bn.npz")
    fresh = BatchNorm2d(3)
    assert fresh.load_state_dict(tg.load(tmp_path / "bn.npz")) == ([], [])
    for (key, a), (_, b) in zip(bn.state_dict().items(), fresh.state_dict().items()):
        assert a.dtype == b.dtype and np.array_equal(a, b), key
    assert int(fresh.num_batches_tracked) == 3


def test_running_var_uses_the_unbiased_variance():
    bn = BatchNorm1d(1, momentum=1.0)
    x = np.array([[1.0], [2.0], [4.0]])
    bn(tg.Tensor(x))
    assert math.isclose(bn.running_var.item(), np.var(x, ddof=1))
    assert math.isclose(bn.running_mean.item(), np.mean(x))


def test_cumulative_average_with_momentum_none():
    bn = BatchNorm1d(2, momentum=None)
    batches = [np.random.default_rng(i).normal(size=(4, 2)) * (i + 1) for i in range(4)]
    for batch in batches:
        bn(tg.Tensor(batch))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(0) for b in batches], 0))
    np.testing.assert_allclose(bn.running_var.data, np.mean([b.var(0, ddof=1) for b in batches], 0))


def test_batch_norm_float32_stays_float32():
    bn = BatchNorm2d(2, dtype=np.float32)
    out = bn(tg.randn(3, 2, 2, 2))  # float64 data into a float32 layer
    assert out.dtype == np.float32 and bn.running_mean.dtype == np.float32


# ---- LayerNorm against PyTorch ----------------------------------------------------------------

LAYER_NORMS = [
    ("last", 5, (3, 5), {}),
    ("last of 3-d", 4, (2, 3, 4), {}),
    ("two dims", [3, 4], (2, 3, 4), {}),
    ("all dims", (2, 3), (2, 3), {"eps": 1e-3}),
    ("no affine", 6, (4, 6), {"elementwise_affine": False}),
    ("no bias", 6, (2, 2, 6), {"bias": False}),
]


@pytest.mark.parametrize(
    "normalized_shape, shape, kwargs",
    [n[1:] for n in LAYER_NORMS],
    ids=[n[0] for n in LAYER_NORMS],
)
def test_layer_norm_matches_pytorch(normalized_shape, shape, kwargs):
    torch = torch_or_skip()
    ours, theirs = pair(LayerNorm, torch.nn.LayerNorm, normalized_shape, **kwargs)
    x = np.random.default_rng(0).normal(size=shape) * 3 + 1
    step_both(ours, theirs, x, seed=1)
    assert repr(ours) == repr(theirs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    fresh = torch.nn.LayerNorm(normalized_shape, **kwargs).double()
    fresh.load_state_dict(to_torch(ours.state_dict()), strict=True)
    ours.eval()  # no difference between the modes
    ours.zero_grad()
    step_both(ours, fresh, x, seed=2)


def test_functional_layer_norm_matches_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(size=(3, 2, 5)), rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    xs, ws, bs = (tg.Tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.layer_norm(xs, (2, 5), ws, bs, eps=1e-4)
    tout = torch.nn.functional.layer_norm(xt, (2, 5), wt, bt, eps=1e-4)
    out.sum().backward()
    tout.sum().backward()
    assert_close(out, tout)
    for a, e in [(xs, xt), (ws, wt), (bs, bt)]:
        assert_close(a.grad, e.grad)


def test_layer_norm_initialisation():
    ln = LayerNorm([2, 3])
    assert ln.normalized_shape == (2, 3)
    assert np.array_equal(ln.weight.data, np.ones((2, 3)))
    assert np.array_equal(ln.bias.data, np.zeros((2, 3)))
    assert LayerNorm(3, elementwise_affine=False).weight is None
    assert list(LayerNorm(3, bias=False).state_dict()) == ["weight"]


# ---- Embedding against PyTorch ----------------------------------------------------------------


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
def test_embedding_matches_pytorch(padding_idx):
    torch = torch_or_skip()
    ours, theirs = pair(Embedding, torch.nn.Embedding, 7, 3, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx
    # repeated indices and the padding row, in a batch of any shape
    idx = np.array([[[0, 3, 3], [6, 6, 6]], [[1, 0, 3], [2, 5, 4]]])
    torch_idx = torch.from_numpy(idx)
    out, tout = ours(idx), theirs(torch_idx)
    upstream = np.random.default_rng(0).normal(size=tout.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    assert out.shape == (2, 2, 3, 3)
    assert_close(out, tout)
    assert_close(ours.weight.grad, theirs.weight.grad)
    if padding_idx is not None:
        assert np.all(ours.weight.grad.data[padding_idx] == 0)
    # indices as a Tensor and as a list give the same
    assert_close(ours(tg.Tensor(idx)), tout)
    assert_close(ours(idx.tolist()), tout)
    assert repr(ours) == repr(theirs)


def test_functional_embedding_matches_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    table = rng.normal(size=(6, 2))
    idx = np.array([5, 1, 1, 2, 1])
    for padding_idx in (None, 1):
        w = tg.Tensor(table, requires_grad=True)
        wt = torch.tensor(table, requires_grad=True)
        out = F.embedding(idx, w, padding_idx=padding_idx)
        tout = torch.nn.functional.embedding(torch.from_numpy(idx), wt, padding_idx=padding_idx)
        upstream = rng.normal(size=out.shape)
        out.backward(upstream)
        tout.backward(torch.tensor(upstream))
        assert_close(out, tout)  # the padding row is returned as it is (not zero here)
        assert_close(w.grad, wt.grad)
    scalar = F.embedding(np.int64(2), tg.Tensor(table))
    assert scalar.shape == (2,) and np.array_equal(scalar.data, table[2])


def test_embedding_initialisation_and_from_pretrained():
    tg.manual_seed(0)
    emb = Embedding(2000, 50, padding_idx=7)
    values = np.delete(emb.weight.data, 7, axis=0)
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01  # N(0, 1)
    assert np.all(emb.weight.data[7] == 0)
    assert emb.state_dict()["weight"].shape == (2000, 50)
    table = np.arange(6.0).reshape(3, 2)
    frozen = Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and np.array_equal(frozen(np.array([2])).data, [[4, 5]])
    assert Embedding.from_pretrained(tg.Tensor(table), freeze=False).weight.requires_grad


def test_embedding_backward_is_one_scatter_add():
    """Many repeated indices: the gradient adds up per row (no lost updates)."""
    emb = Embedding(3, 2)
    idx = np.array([0, 1, 0, 0, 2, 0] * 1000)
    emb(idx).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[:, 0], [4000, 1000, 1000])


# ---- gradcheck and gradgradcheck over random shapes -------------------------------------------


def random_tensor(seed, shape, scale=1.0, shift=0.0):
    data = np.random.default_rng(seed).normal(size=shape) * scale + shift
    return tg.Tensor(data, requires_grad=True)


@pytest.mark.parametrize(
    "shape, weight_shape, axes",
    [
        ((8, 3), (3,), (0,)),  # batch norm on (N, C): mean(values) * weight
        ((4, 3, 2, 2), (3, 1, 1), (0, 2, 3)),  # batch norm on images
        ((3, 4), (3, 4), (0, 1)),  # every axis, weight shaped like values
        ((4, 5, 6), (5, 1), (1, 2)),  # neither: the product's mean
        ((4, 5, 6), (5, 6), (1, 2)),  # the last axes, as layer norm's (which has `_row_means`)
    ],
)
def test_weighted_mean_of_normalisation_backward(shape, weight_shape, axes):
    """`ops._weighted_mean`, which spares batch_norm's backward an array: mean(values *
    weight) over axes, kept as length-1 axes, on each of its paths."""
    from tinygrad_edu import ops

    rng = np.random.default_rng(3)
    values, weight = rng.standard_normal(shape), rng.standard_normal(weight_shape)
    got = ops._weighted_mean(values, weight, axes)
    expected = (values * weight).mean(axis=axes, keepdims=True)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    unweighted = ops._weighted_mean(values, None, axes)
    np.testing.assert_allclose(unweighted, values.mean(axis=axes, keepdims=True), rtol=1e-12)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(2, 4),
    c=st.integers(1, 3),
    extra=st.lists(st.integers(1, 3), max_size=2),
    training=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_batch_norm_gradcheck(n, c, extra, training, seed):
    shape = (n, c, *extra)
    x = random_tensor(seed, shape, 2.0)
    w, b = random_tensor(seed + 1, (c,)), random_tensor(seed + 2, (c,))
    rng = np.random.default_rng(seed)
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)

    def fn(x, w, b):
        # fresh running statistics each call: the update must not change what is checked
        return F.batch_norm(x, tg.Tensor(rm), tg.Tensor(rv), w, b, training, 0.1, 1e-3)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(fn, [x, w, b])


@settings(max_examples=10, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), max_size=2),
    normalized=st.lists(st.integers(2, 4), min_size=1, max_size=2),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_gradcheck(lead, normalized, seed):
    x = random_tensor(seed, (*lead, *normalized), 2.0, 0.5)
    w = random_tensor(seed + 1, tuple(normalized))
    b = random_tensor(seed + 2, tuple(normalized))

    def fn(x, w, b):
        return F.layer_norm(x, normalized, w, b, eps=1e-3)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(fn, [x, w, b])


@settings(max_examples=10, deadline=None)
@given(
    rows=st.integers(1, 5),
    dim=st.integers(1, 3),
    index_shape=st.lists(st.integers(1, 4), max_size=2),
    pad=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_embedding_gradcheck(rows, dim, index_shape, pad, seed):
    w = random_tensor(seed, (rows, dim))
    pad = int(pad)
    idx = np.random.default_rng(seed).integers(0, rows + pad, size=tuple(index_shape))
    # The padding row (row 0 when pad) sends no gradient by design: it is kept out of the
    # checked input as a constant, so what is checked is the true derivative of the rest.
    pad_row = tg.Tensor(np.random.default_rng(seed + 1).normal(size=(pad, dim)))

    def fn(w):
        table = tg.cat([pad_row, w]) if pad else w
        looked_up = F.embedding(idx, table, padding_idx=0 if pad else None)
        return looked_up * w.sum()  # a non-linear use too

    assert tg.gradcheck(fn, [w])
    assert tg.gradgradcheck(fn, [w])


def test_batch_norm_module_gradcheck_in_both_modes():
    bn = BatchNorm1d(3, eps=1e-3)
    with tg.no_grad():
        bn.weight[...] = [0.5, 1.5, -1.0]
        bn.running_var[...] = [0.7, 1.3, 2.0]
    x = random_tensor(0, (4, 3, 2), 2.0)
    for mode in (True, False):
        bn.train(mode)
        assert tg.gradcheck(bn, [x])
        assert tg.gradgradcheck(bn, [x])


# ---- buffers ----------------------------------------------------------------------------------


class WithBuffers(Module):
    def __init__(self):
        super().__init__()
        self.fc = Linear(2, 2)
        self.register_buffer("steps", tg.Tensor(np.int64(0)))
        self.register_buffer("scale", tg.ones(2))
        self.register_buffer("cache", tg.zeros(3), persistent=False)
        self.register_buffer("empty", None)

    def forward(self, x):
        return self.fc(x) * self.scale


def test_buffers_are_listed_saved_and_not_parameters():
    model = nn.Sequential(WithBuffers(), BatchNorm1d(2))
    assert [n for n, _ in model.named_buffers()] == [
        "0.steps",
        "0.scale",
        "0.cache",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert len(list(model.buffers())) == 6
    assert [n for n, _ in model.named_buffers(recurse=False)] == []
    assert [n for n, _ in model[0].named_buffers(prefix="block")][0] == "block.steps"
    buffer_ids = {id(b) for b in model.buffers()}
    assert not buffer_ids & {id(p) for p in model.parameters()}
    assert list(model.state_dict()) == [
        "0.steps",
        "0.scale",
        "0.fc.weight",
        "0.fc.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]  # PyTorch's order: a module's parameters, then its persistent buffers, then its children
    assert model[0].empty is None


def test_buffer_order_and_keys_match_pytorch():
    torch = torch_or_skip()

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("first", torch.zeros(1))
            self.fc = torch.nn.Linear(2, 2)
            self.scale = torch.nn.Parameter(torch.ones(2))
            self.register_buffer("hidden", torch.zeros(1), persistent=False)
            self.register_buffer("last", torch.zeros(2))
            self.register_buffer("none", None)

    class Ours(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("first", tg.zeros(1))
            self.fc = Linear(2, 2)
            self.scale = Parameter(tg.ones(2))
            self.register_buffer("hidden", tg.zeros(1), persistent=False)
            self.register_buffer("last", tg.zeros(2))
            self.register_buffer("none", None)

    theirs = torch.nn.Sequential(Theirs(), torch.nn.Sequential(Theirs()))
    ours = nn.Sequential(Ours(), nn.Sequential(Ours()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict(to_torch(ours.state_dict()), strict=True)
    ours.load_state_dict(from_torch(theirs), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # PyTorch's tensors as they are

    # a module used twice: its buffers are listed once, but saved under both paths
    their_shared, our_shared = torch.nn.BatchNorm1d(2), BatchNorm1d(2)
    theirs = torch.nn.Sequential(their_shared, torch.nn.ReLU(), their_shared)
    ours = nn.Sequential(our_shared, nn.ReLU(), our_shared)
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    n_all = len(list(theirs.named_buffers(remove_duplicate=False)))
    assert len(list(ours.named_buffers(remove_duplicate=False))) == n_all


def test_buffer_assignment_replaces_and_checks():
    m = WithBuffers()
    new = tg.full((2,), 3.0)
    m.scale = new
    assert m.scale is new and dict(m.named_buffers())["scale"] is new
    m.steps += 1  # in place, then assigned back to itself
    assert int(m.state_dict()["steps"]) == 1
    m.scale = None
    assert "scale" not in m.state_dict() and "scale" not in dict(m.named_buffers())
    with pytest.raises(
        TypeError, match=r"cannot assign a ndarray to 'cache', which is a registered buffer"
    ):
        m.cache = np.zeros(3)
    m.cache = Parameter(tg.zeros(3))  # a Parameter takes the name over, as in PyTorch
    assert "cache" in dict(m.named_parameters()) and "cache" not in dict(m.named_buffers())
    del m.steps
    assert "steps" not in m.state_dict() and not hasattr(m, "steps")
    m.register_buffer("steps", tg.Tensor(5.0))  # the name is free again
    assert m.state_dict()["steps"] == 5.0
    m.register_buffer("steps", tg.Tensor(6.0))  # re-registering a buffer replaces it
    assert m.steps.item() == 6.0
    # a plain Tensor attribute that was never registered stays a plain attribute
    m.note = tg.zeros(1)
    assert "note" not in dict(m.named_buffers())


def test_register_buffer_errors():
    m = WithBuffers()
    with pytest.raises(KeyError, match="non-empty without '.'"):
        m.register_buffer("a.b", tg.zeros(1))
    with pytest.raises(KeyError, match="non-empty without '.'"):
        m.register_buffer("", tg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'fc' already exists"):
        m.register_buffer("fc", tg.zeros(1))
    with pytest.raises(TypeError, match="cannot register a ndarray as buffer 'x'"):
        m.register_buffer("x", np.zeros(1))
    with pytest.raises(TypeError, match="the name must be a str"):
        m.register_buffer(3, tg.zeros(1))

    class Early(Module):
        def __init__(self):
            self.register_buffer("x", tg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_load_state_dict_restores_buffers_and_checks_them():
    source, target = WithBuffers(), WithBuffers()
    source.steps += 4
    with tg.no_grad():
        source.scale[...] = [2.0, 3.0]
    scale = target.scale
    assert target.load_state_dict(source.state_dict()) == ([], [])
    assert target.scale is scale  # copied into, not replaced
    assert np.array_equal(target.scale.data, [2.0, 3.0]) and int(target.steps) == 4
    assert target.steps.dtype == np.int64
    # the non-persistent buffer is neither expected nor accepted
    with pytest.raises(RuntimeError, match="unexpected keys: 'cache'"):
        target.load_state_dict({**source.state_dict(), "cache": np.zeros(3)})
    before = target.state_dict()
    bad = source.state_dict()
    del bad["scale"]
    bad["steps"] = np.float64(2.5)
    with pytest.raises(RuntimeError) as info:
        target.load_state_dict(bad)
    message = str(info.value)
    assert "missing keys: 'scale'" in message
    assert "wrong dtype for 'steps'" in message and "integer buffer" in message
    bad = {**source.state_dict(), "scale": np.zeros(3)}
    with pytest.raises(RuntimeError, match=r"wrong shape for 'scale': the state has \(3,\)"):
        target.load_state_dict(bad)
    for key, value in target.state_dict().items():
        assert np.array_equal(value, before[key]), key  # nothing was loaded
    # not strict: a missing buffer is reported, not an error
    partial = source.state_dict()
    del partial["steps"]
    assert target.load_state_dict(partial, strict=False).missing_keys == ["steps"]


def test_batch_norm_missing_running_stats_is_an_error_when_strict():
    bn = BatchNorm1d(3)
    state = bn.state_dict()
    del state["running_var"], state["num_batches_tracked"]
    with pytest.raises(RuntimeError, match="missing keys: 'running_var', 'num_batches_tracked'"):
        bn.load_state_dict(state)


# ---- forward hooks ----------------------------------------------------------------------------


def test_forward_hooks_see_arguments_and_output_and_can_replace_them():
    model = nn.Sequential(Linear(3, 4), nn.ReLU(), Linear(4, 2))
    seen = []
    handle = model[0].register_forward_hook(lambda m, args, out: seen.append((m, args, out)))
    x = tg.randn(5, 3)
    y = model(x)
    ((module, args, out),) = seen
    assert module is model[0] and args[0] is x and out.shape == (5, 4)
    assert isinstance(handle, RemovableHandle)
    handle.remove()
    handle.remove()  # twice is harmless
    model(x)
    assert len(seen) == 1

    # replace the output; None keeps it
    h1 = model[2].register_forward_hook(lambda m, args, out: out * 0)
    h2 = model[2].register_forward_hook(lambda m, args, out: None)
    assert np.all(model(x).data == 0)
    h1.remove()
    h2.remove()
    np.testing.assert_array_equal(model(x).data, y.data)

    # pre-hooks replace the arguments: a tuple, or a single value
    order = []
    model[0].register_forward_pre_hook(lambda m, args: order.append("pre1") or (args[0] * 0,))
    model[0].register_forward_pre_hook(lambda m, args: order.append("pre2") or args[0] + 1)
    model[0].register_forward_hook(lambda m, args, out: order.append(("post", args[0].data[0, 0])))
    out = model[0](x)
    expected = model[0].forward(tg.ones(5, 3))
    np.testing.assert_allclose(out.data, expected.data)
    assert order == ["pre1", "pre2", ("post", 1.0)]  # in registration order, post sees new args


def test_forward_hook_handle_as_context_manager_and_graph_is_kept():
    layer = Linear(2, 2)
    x = tg.randn(3, 2)
    with layer.register_forward_hook(lambda m, args, out: out * 2):
        doubled = layer(x)
        assert doubled.grad_fn.scope is layer  # the hook's operations belong to the layer
        doubled.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.data, 2 * x.data.sum(0)[None].repeat(2, 0))
    np.testing.assert_allclose(layer(x).data * 2, doubled.data)  # removed on leaving
    with pytest.raises(TypeError, match="the hook must be callable"):
        layer.register_forward_hook("not a function")


# ---- errors -----------------------------------------------------------------------------------


def test_batch_norm_errors_name_the_layer_and_the_shapes():
    with pytest.raises(
        ValueError,
        match=r"BatchNorm1d\(4\): the input of shape \(8, 3\) has 3 "
        r"channels \(dimension 1\), expected num_features=4",
    ):
        BatchNorm1d(4)(tg.randn(8, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): the input of shape \(2, 4, 5, 5\)"):
        BatchNorm2d(3)(tg.randn(2, 4, 5, 5))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm1d\(3\): expected input of shape \(N, C\) or "
        r"\(N, C, L\), got shape \(2, 3, 4, 5\) \(4-D\)",
    ):
        BatchNorm1d(3)(tg.randn(2, 3, 4, 5))
    with pytest.raises(
        ValueError,
        match=r"BatchNorm2d\(3\): expected input of shape "
        r"\(N, C, H, W\), got shape \(2, 3, 4\) \(3-D\)",
    ):
        BatchNorm2d(3)(tg.randn(2, 3, 4))
    bn = BatchNorm1d(4)
    single = "Expected more than 1 value per channel when training"
    with pytest.raises(
        ValueError,
        match=rf"BatchNorm1d\(4\): {single}, got input of shape "
        r"\(1, 4\)",
    ):
        bn(tg.randn(1, 4))
    assert int(bn.num_batches_tracked) == 0  # the failed call counted no batch
    with pytest.raises(ValueError, match=single):
        BatchNorm2d(2)(tg.randn(1, 2, 1, 1))
    with pytest.raises(ValueError, match=single):
        F.batch_norm(tg.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=single):  # batch statistics in evaluation too
        BatchNorm1d(4, track_running_stats=False).eval()(tg.randn(1, 4))
    bn.eval()(tg.randn(1, 4))  # fine: running statistics
    BatchNorm1d(2)(tg.randn(1, 2, 3))  # fine: three values per channel
    with pytest.raises(ValueError, match="num_features must be a non-negative int, got 2.5"):
        BatchNorm1d(2.5)


def test_functional_batch_norm_errors():
    with pytest.raises(ValueError, match=r"running_mean and running_var must be given"):
        F.batch_norm(tg.randn(4, 3), None, None, training=False)
    with pytest.raises(
        ValueError,
        match=r"batch_norm: running_mean has shape \(4,\), but the "
        r"input of shape \(5, 3\) has 3 channels",
    ):
        F.batch_norm(tg.randn(5, 3), tg.zeros(4), tg.ones(4))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(2,\)"):
        F.batch_norm(tg.randn(5, 3), None, None, tg.ones(2), training=True)
    with pytest.raises(ValueError, match=r"at least 2-D, got shape \(5,\)"):
        F.batch_norm(tg.randn(5), None, None, training=True)


def test_layer_norm_errors():
    with pytest.raises(
        ValueError,
        match=r"LayerNorm\(\(5,\)\): expected an input of shape "
        r"\(\*, 5\).*got input of shape \(3, 4\)",
    ):
        LayerNorm(5)(tg.randn(3, 4))
    with pytest.raises(ValueError, match=r"layer_norm: expected an input of shape \(\*, 2, 3\)"):
        F.layer_norm(tg.randn(3), (2, 3))
    with pytest.raises(
        ValueError,
        match=r"layer_norm: weight has shape \(4,\), expected "
        r"normalized_shape \(3,\)",
    ):
        F.layer_norm(tg.randn(2, 3), 3, tg.ones(4))
    with pytest.raises(ValueError, match=r"layer_norm: bias has shape \(2,\), expected"):
        F.layer_norm(tg.randn(2, 3), 3, None, tg.zeros(2))
    layer = LayerNorm(3)  # a weight or bias replaced with one of another shape: the module too
    layer.weight = tg.nn.Parameter(tg.ones(1))
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(1,\), expected"):
        layer(tg.randn(2, 3))
    layer = LayerNorm(3)
    layer.bias = tg.nn.Parameter(tg.zeros(3, 1))
    with pytest.raises(ValueError, match=r"layer_norm: bias has shape \(3, 1\), expected"):
        layer(tg.randn(2, 3))
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be an int or"):
        LayerNorm([])
    with pytest.raises(ValueError, match="LayerNorm: normalized_shape must be an int or"):
        LayerNorm(2.5)


def test_embedding_errors_name_the_layer_the_index_and_num_embeddings():
    emb = Embedding(10, 3)
    with pytest.raises(
        IndexError,
        match=r"Embedding\(10, 3\): index 10 is out of range for "
        r"num_embeddings=10 \(valid indices: 0 \.\. 9\)",
    ):
        emb(np.array([[1, 10], [2, 3]]))
    with pytest.raises(
        IndexError,
        match=r"Embedding\(10, 3\): index -2 is out of range for "
        r"num_embeddings=10",
    ):
        emb(tg.Tensor([0, -2]))
    with pytest.raises(
        TypeError,
        match=r"Embedding\(10, 3\): indices must be integers, got "
        r"float64 indices such as 1\.5 \(for num_embeddings=10\)",
    ):
        emb(tg.Tensor([1.5, 2.0]))
    with pytest.raises(TypeError, match=r"got bool indices such as True"):
        emb(np.array([True]))
    with pytest.raises(
        IndexError,
        match=r"embedding: index 6 is out of range for "
        r"num_embeddings=6",
    ):
        F.embedding(np.array([6]), tg.randn(6, 2))
    with pytest.raises(
        ValueError,
        match=r"Embedding: padding_idx must be an int in \[-10, 10\) "
        r"\(within num_embeddings=10\), got 10",
    ):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match=r"padding_idx must be an int in \[-10, 10\)"):
        Embedding(10, 3, padding_idx=-11)
    with pytest.raises(ValueError, match=r"embedding: weight must be a 2-D table"):
        F.embedding(np.array([0]), tg.randn(6))
    with pytest.raises(ValueError, match="Embedding: embedding_dim must be a non-negative int"):
        Embedding(3, -1)
    with pytest.raises(ValueError, match=r"from_pretrained: embeddings must be 2-D"):
        Embedding.from_pretrained(np.zeros(3))
    assert emb(np.zeros((0, 2), dtype=np.int64)).shape == (0, 2, 3)  # no indices: no error


def test_layer_norm_with_only_the_bias_learning():
    """Input and weight frozen, the bias alone requires grad: its gradient is the upstream
    gradient summed over the rows, and nothing else is computed or handed out."""
    rng = np.random.default_rng(4)
    x, upstream = tg.tensor(rng.standard_normal((5, 6))), rng.standard_normal((5, 6))
    weight, bias = tg.tensor(rng.standard_normal(6)), tg.tensor(np.zeros(6), requires_grad=True)
    F.layer_norm(x, (6,), weight, bias).backward(tg.tensor(upstream))
    np.testing.assert_allclose(bias.grad.data, upstream.sum(axis=0), rtol=1e-13)
    assert x.grad is None and weight.grad is None
