"""PyTorch's tensor API as lecture code writes it, run on both libraries: reductions with
dim/keepdim, unbiased var/std, max(dim) and sort as named tuples, conversions, shapes, and
in-place operations recorded in the graph."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=12, deadline=None)


def pair(data, requires_grad=True):
    """The same float64 values as a tinygrad_edu tensor and a PyTorch tensor."""
    array = np.array(data, dtype=np.float64)
    return (
        tg.Tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


def same(ours, theirs, tol=1e-12):
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(np.asarray(ours.data), theirs.detach().numpy(), rtol=tol, atol=tol)


def same_gradients(fn, data, upstream_seed=0):
    """fn on both libraries: values, and the gradient of a random projection of the output."""
    ours_x, theirs_x = pair(data)
    ours, theirs = fn(ours_x), fn(theirs_x)
    same(ours, theirs)
    weights = np.random.default_rng(upstream_seed).standard_normal(tuple(theirs.shape))
    (ours * tg.Tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    same(ours_x.grad, theirs_x.grad)


X = np.random.default_rng(0).standard_normal((3, 4, 5))


# ---- reductions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "mean", "logsumexp", "amax", "amin"])
@pytest.mark.parametrize("dim", [0, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_take_dim_and_keepdim(op, dim, keepdim):
    same_gradients(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim), X)
    same_gradients(lambda t: getattr(t, op)(dim, keepdim), X)


def test_numpy_names_stay_as_aliases():
    x = tg.Tensor(X)
    np.testing.assert_array_equal(x.sum(axis=1, keepdims=True).data, X.sum(axis=1, keepdims=True))
    with pytest.raises(TypeError, match="dim or axis, not both"):
        x.sum(dim=0, axis=0)


@pytest.mark.parametrize("kwargs", [{}, {"unbiased": False}, {"correction": 0}, {"correction": 2}])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_and_std_default_to_the_unbiased_estimate(op, dim, kwargs):
    same_gradients(lambda t: getattr(t, op)(dim=dim, **kwargs), X)


def test_the_documented_std_example():
    assert tg.Tensor([1.0, 2, 3, 4]).std().item() == pytest.approx(1.2909944487358056)
    assert tg.Tensor([1.0, 2, 3, 4]).std(ddof=0).item() == pytest.approx(1.118033988749895)


def test_a_correction_of_n_or_more_gives_inf_or_nan_as_pytorch():
    for correction in (4, 5):
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            ours = tg.Tensor([1.0, 2, 3, 4]).var(correction=correction)
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            theirs = torch.tensor([1.0, 2, 3, 4], dtype=torch.float64).var(correction=correction)
        assert np.isinf(ours.item()) and np.isinf(theirs.item())
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert np.isnan(tg.Tensor([2.0]).var().item())


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_and_min_of_a_dim_give_values_and_indices(op, dim):
    data = np.random.default_rng(1).integers(0, 3, (4, 5)).astype(float)  # with ties
    ours_x, theirs_x = pair(data)
    ours, theirs = getattr(ours_x, op)(dim), getattr(theirs_x, op)(dim)
    assert ours._fields == ("values", "indices")
    values, indices = ours
    same(values, theirs.values)
    np.testing.assert_array_equal(indices.data, theirs.indices.numpy())
    assert indices.dtype == np.int64
    values.sum().backward()
    theirs.values.sum().backward()
    same(ours_x.grad, theirs_x.grad)  # the gradient goes to the index, as in PyTorch


def test_max_with_a_tensor_is_maximum_and_without_arguments_the_value():
    a, b = tg.Tensor([1.0, 5.0]), tg.Tensor([3.0, 2.0])
    np.testing.assert_array_equal(a.max(b).data, [3.0, 5.0])
    np.testing.assert_array_equal(a.min(b).data, [1.0, 2.0])
    assert a.max().item() == 5.0 and a.argmax().item() == 1


@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort_and_topk(descending):
    data = np.random.default_rng(2).standard_normal((3, 6))
    same_gradients(lambda t: t.sort(1, descending=descending).values, data)
    ours, theirs = pair(data)
    np.testing.assert_array_equal(
        ours.argsort(1, descending=descending).data,
        theirs.argsort(1, descending=descending).numpy(),
    )
    for largest in (True, False):
        same_gradients(lambda t, largest=largest: t.topk(2, 1, largest=largest).values, data)
        np.testing.assert_array_equal(
            ours.topk(2, largest=largest).indices.data,
            theirs.topk(2, largest=largest).indices.numpy(),
        )


def test_all_and_any_return_tensors():
    a = tg.Tensor([[True, False], [True, True]])
    t = torch.tensor([[True, False], [True, True]])
    assert isinstance(a.all(), tg.Tensor) and a.all().item() == t.all().item()
    np.testing.assert_array_equal(a.all(1).data, t.all(1).numpy())
    np.testing.assert_array_equal(a.any(0).data, t.any(0).numpy())
    assert (tg.Tensor([1.0, 2.0]) == tg.Tensor([1.0, 2.0])).all().item()


def test_dims_of_a_zero_d_tensor():
    for dim in (0, -1):
        assert tg.Tensor(3.0).sum(dim).item() == torch.tensor(3.0).sum(dim).item()
    with pytest.raises(IndexError, match="dim 1 is out of range"):
        tg.Tensor(3.0).sum(1)
    with pytest.raises(IndexError):
        torch.tensor(3.0).sum(1)


def test_a_dim_out_of_range_is_an_index_error_as_in_pytorch():
    with pytest.raises(IndexError, match=r"mean: dim 3 is out of range .* \[-3, 2\]"):
        tg.Tensor(X).mean(3)
    with pytest.raises(IndexError):
        torch.tensor(X).mean(3)


# ---- conversions and what a tensor is ---------------------------------------------------------------


def test_dtype_conversions_as_pytorch():
    x, t = tg.Tensor([1.5, -2.5]), torch.tensor([1.5, -2.5], dtype=torch.float64)
    for method in ("float", "double", "long", "int", "bool"):
        ours, theirs = getattr(x, method)(), getattr(t, method)()
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert x.to(np.float32).dtype == np.float32 and x.to("cpu") is x
    assert x.to(tg.Tensor([1], dtype=np.int64)).dtype == np.int64
    assert x.type() == "torch.DoubleTensor" and x.float().type() == "torch.FloatTensor"
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_size_dim_numel_t_and_format():
    x = tg.Tensor(np.zeros((2, 3)))
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    assert x.dim() == 2 and x.numel() == x.nelement() == 6
    assert x.t().shape == (3, 2) and x.contiguous() is x
    loss = tg.Tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" == f"{torch.tensor(0.123456):.4f}"
    data = list(range(20))
    i = tg.Tensor(3)
    assert data[i : i + 2] == [3, 4]
    with pytest.raises(TypeError, match="integer tensors"):
        data[tg.Tensor(1.0)]


# ---- shapes ------------------------------------------------------------------------------------


SHAPE_OPS = {
    "view": lambda t: t.view(-1, 5),
    "squeeze_not_one": lambda t: t.squeeze(0),  # size 3: nothing happens, as in PyTorch
    "unsqueeze": lambda t: t.unsqueeze(1),
    "flip": lambda t: t.flip(0, 2),
    "narrow": lambda t: t.narrow(1, 1, 2),
    "repeat": lambda t: t.repeat(2, 1, 3),
    "repeat_interleave": lambda t: t.repeat_interleave(2, dim=1),
    "repeat_interleave_flat": lambda t: t.repeat_interleave(3),
    "unflatten": lambda t: t.unflatten(2, (5, 1)),
    "t_of_a_matrix": lambda t: t[0].t(),
    "unbind": lambda t: t.unbind(1)[2],
    "split": lambda t: t.split(2, dim=1)[1],
    "split_sizes": lambda t: t.split([1, 3], dim=1)[1],
    "chunk": lambda t: t.chunk(2, dim=2)[1],
}


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_operations_as_pytorch(name):
    same_gradients(SHAPE_OPS[name], X)


def test_split_and_chunk_give_pytorchs_pieces():
    x, t = tg.Tensor(X), torch.tensor(X)
    assert [p.shape for p in x.split(3, 2)] == [tuple(p.shape) for p in t.split(3, 2)]
    assert [p.shape for p in x.chunk(3, 1)] == [tuple(p.shape) for p in t.chunk(3, 1)]
    assert len(x.unbind(0)) == 3
    pieces = x.split([1, 3, 1], 2)  # the pieces' values, from their slices
    for piece, theirs in zip(pieces, t.split([1, 3, 1], 2)):
        np.testing.assert_array_equal(piece.data, theirs.numpy())
    with pytest.raises(ValueError, match="add up to 7"):
        x.split([3, 4], 2)
    with pytest.raises(ValueError, match="must not be negative"):
        x.split([6, -1], 2)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 1))
def test_new_shape_operations_pass_gradcheck(rows, cols, dim):
    x = tg.Tensor(np.random.default_rng(rows * cols).standard_normal((rows, cols)), requires_grad=True)
    for fn in (
        lambda t: t.flip(dim),
        lambda t: t.repeat(2, 1),
        lambda t: t.repeat_interleave(2, dim=dim),
        lambda t: t.narrow(dim, 0, 1),
        lambda t: t.sort(dim).values,
        lambda t: t.max(dim).values,
    ):
        assert tg.gradcheck(fn, [x])
        assert tg.gradgradcheck(fn, [x])


# ---- in-place operations inside a graph -----------------------------------------------------------


def test_micrograds_own_test_with_in_place_updates():
    def run(lib, tensor):
        a = tensor(-4.0, lib)
        b = tensor(2.0, lib)
        c = a + b
        d = a * b + b**3
        c += c + 1
        c += 1 + c + (-a)
        d += d * 2 + (b + a).relu()
        d += 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        g += 10.0 / f
        g.backward()
        return g.item(), a.grad.item(), b.grad.item()

    ours = run(tg, lambda v, lib: tg.Tensor(v, requires_grad=True))
    theirs = run(torch, lambda v, lib: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert ours[0] == pytest.approx(24.70408163265306)


def test_users_of_the_old_value_keep_it():
    def run(lib, x):
        y = x * 2
        z = y + 1  # uses y before it changes
        y *= 3
        (z.sum() + y.sum()).backward()
        return x.grad

    ours = run(tg, tg.Tensor([1.0, 2.0, 3.0], requires_grad=True))
    theirs = run(torch, torch.tensor([1.0, 2.0, 3.0], requires_grad=True))
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_manual_backprop_style_assignment_into_a_computed_tensor():
    logits = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    dlogits = logits.softmax(1)
    dlogits[[0, 1], [2, 0]] -= 1
    dlogits /= 2
    (dlogits * dlogits).sum().backward()
    probs = np.exp(logits.data) / np.exp(logits.data).sum(1, keepdims=True)
    reference = tg.Tensor(logits.data, requires_grad=True)
    onehot = np.zeros((2, 3))
    onehot[[0, 1], [2, 0]] = 1
    expected = ((reference.softmax(1) - onehot) / 2) ** 2
    expected.sum().backward()
    np.testing.assert_allclose(logits.grad.data, reference.grad.data, rtol=1e-12)
    np.testing.assert_allclose(dlogits.data, (probs - onehot) / 2, rtol=1e-12)


def test_assigning_a_value_that_requires_grad_records_it():
    w = tg.Tensor([2.0, 3.0], requires_grad=True)
    x = tg.zeros(4)
    x[1:3] = w * w
    assert x.requires_grad
    (x * tg.Tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [40.0, 600.0])


def test_a_leaf_that_requires_grad_cannot_change_in_place_outside_no_grad():
    ours = tg.Tensor([1.0], requires_grad=True)
    theirs = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        ours += 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        theirs += 1
    with tg.no_grad():
        ours += 1
    assert ours.item() == 2.0 and ours.is_leaf


def test_in_place_recorded_operations_pass_gradcheck():
    def fn(x):
        y = x * 1.0
        y += x * x
        y[0] = y[1] * 2
        y *= 3
        return y

    x = tg.Tensor([0.3, -0.7, 1.1], requires_grad=True)
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


def test_a_model_moves_to_the_cpu_and_changes_dtype_as_in_pytorch():
    model = tg.nn.Sequential(tg.nn.Linear(2, 3), tg.nn.BatchNorm1d(3))
    assert model.to("cpu") is model and model.to(torch.device("cpu")) is model
    model.to(tg.float32)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    assert model[1].running_mean.dtype == np.float32
    assert model[1].num_batches_tracked.dtype == np.int64  # integers stay
    assert model(tg.randn(4, 2)).dtype == np.float32
    model.double()
    assert model[0].weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")


def test_tensor_hooks_see_and_replace_gradients_as_in_pytorch():
    def run(lib, tensor):
        x = tensor([1.0, -2.0, 3.0])
        h = x * 2
        seen = []
        handle = h.register_hook(lambda g: seen.append(g.tolist()))
        h.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
        x.register_hook(lambda g: g + 1)  # a leaf: what goes into .grad
        (h * h).sum().backward()
        handle.remove()
        return seen, x.grad.tolist()

    ours = run(tg, lambda v: tg.tensor(v, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    assert ours == theirs
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.tensor([1.0]).register_hook(print)


def test_indexing_as_pytorch_where_it_could_differ_from_numpy():
    ours, theirs = tg.Tensor(X), torch.tensor(X)
    for index in (
        ([0, 1], slice(None), [1, 2]),  # advanced indices separated by a slice
        ([[0, 1], [1, 0]],),  # a nested list used as an index
        (slice(None), [0, 2], slice(1, 3)),
        (tg.Tensor(X[..., 0] > 0),),  # a boolean mask
    ):
        their_index = tuple(
            torch.from_numpy(np.asarray(i.data)) if isinstance(i, tg.Tensor) else i for i in index
        )
        same(ours[index], theirs[their_index])
    mask = X > 0.5
    ours[tg.Tensor(mask)] = 0.0
    theirs[torch.from_numpy(mask)] = 0.0
    same(ours, theirs)
    a = tg.Tensor([1.0, 2.0])
    assert tg.all(a == tg.Tensor([1.0, 2.0])).item() is True
    assert tg.any(a > 1.5).item() is True
